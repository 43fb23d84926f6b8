#!/usr/bin/env bash
# The GPU benchmark suite in one command, for a machine with a CUDA build of JAX.
#
#   bash benchmarks/run_gpu.sh [OUTDIR]
#
# Runs (about 9 minutes on one H200), each under its own time cap so one slow part cannot starve the rest:
#   roofline, ga_step (with the peers when installed), control throughput + chunk sweep + evosax
#   throughput, scale (CartPole 10^3..10^6, digits dense and seed-encoded), classification throughput.
# Results land in benchmarks/results/*_gpu.json (see harness.write_result) and are copied to OUTDIR
# (default: $OUT, else nothing is copied).
set -u
export PYTHONUNBUFFERED=1
# parent and child processes share the GPU: allocate on demand instead of taking 75% up front
export XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}
OUTDIR=${1:-${OUT:-}}
cap() { local s=$1; shift; echo "=== $* (cap ${s}s) $(date -u +%T)"; timeout "$s" "$@" || echo "=== exit $? : $*"; }
copy() { [ -n "$OUTDIR" ] && cp benchmarks/results/*_gpu.json "$OUTDIR"/ 2>/dev/null; true; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"
cap 80  "$PY" -m benchmarks ga_step --repeats 5; copy
cap 170 env BENCH_CONTROL=throughput,sweep,evosax_throughput "$PY" -m benchmarks control --repeats 5; copy
cap 190 "$PY" -m benchmarks scale; copy
cap 110 env BENCH_CLASSIFICATION=throughput "$PY" -m benchmarks classification --repeats 3; copy
echo "=== done $(date -u +%T)"
