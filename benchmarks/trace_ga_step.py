"""Device time per kernel of the reference GA step, from a JAX profiler trace.

    python -m benchmarks.trace_ga_step [OUTDIR] [P N]

Builds the reference step of ``bench_ga_step`` (default 100,000 x 1,000 genes), warms it up, traces
5 steps with ``jax.profiler.trace`` into ``OUTDIR`` (default ``/tmp/ga_step_trace``), prints the
wall-clock of 5 more steps and the device time per step of the 12 longest kernels, read back from
the trace's ``*.trace.json.gz``. On a CPU the trace has no device lanes and only the wall-clock
is printed.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import sys


def kernel_times(trace_dir: str, steps: int) -> list[tuple[str, float, float]]:
    """``(kernel, microseconds per step, launches per step)`` on device lanes, longest first."""
    files = sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True))
    if not files:
        return []
    with gzip.open(files[-1]) as fh:
        data = json.load(fh)
    events = data["traceEvents"] if isinstance(data, dict) else data
    procs = {e["pid"]: e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    dur: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and "/device:" in procs.get(e.get("pid"), ""):
            dur[e["name"]] += e.get("dur", 0.0)
            count[e["name"]] += 1
    return sorted(((k, v / steps, count[k] / steps) for k, v in dur.items()), key=lambda r: -r[1])


def main(argv: list[str]) -> int:
    import jax

    from benchmarks import harness
    from benchmarks.bench_ga_step import make_library_step

    out = argv[0] if argv else "/tmp/ga_step_trace"
    P, N = (int(argv[1]), int(argv[2])) if len(argv) >= 3 else (100_000, 1_000)
    step, state, key, fitness = make_library_step(P, N)
    for i in range(3):
        state = step(state, jax.random.fold_in(key, i), fitness)
    keys = [jax.random.fold_in(key, 100 + i) for i in range(5)]
    jax.block_until_ready((state, keys))
    with jax.profiler.trace(out, create_perfetto_trace=True):
        for k in keys:
            state = step(state, k, fitness)
        jax.block_until_ready(state)
    walls = harness.time_chained(step, state, keys[0], fitness, repeats=len(keys))["times_s"]
    print(f"{jax.devices()[0].device_kind}: P {P} x N {N}; wall-clock per step (ms): "
          + ", ".join(f"{w * 1e3:.3f}" for w in walls))
    rows = kernel_times(out, len(keys))
    if rows:
        print(f"device time per step: {sum(r[1] for r in rows):.1f} us in {sum(r[2] for r in rows):.0f} launches")
        for name, us, n in rows[:12]:
            print(f"{us:10.1f} us  x{n:.0f}  {name[:90]}")
    print(f"trace written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
