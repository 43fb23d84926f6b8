"""Weak scaling over processes: generation time with ``--per-process`` members on each of 1, 2, 4 processes.

Each configuration (n processes) is a fresh group of n processes of this script on 127.0.0.1
(``jax.distributed``, gloo); repeats are interleaved (1, 2, 4, 1, 2, 4, ...). Every process gets the same
XLA CPU threading: ``NPROC=1`` (the size of XLA:CPU's intra-op thread pool: one thread) and
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (single-threaded Eigen). TensorFlow's
``intra_op_parallelism_threads=1`` is not an XLA flag: jaxlib 0.10.2 aborts on ``--intra_op_parallelism_threads``
and silently ignores it without the dashes, so it is not used. On a 2-core machine 4 processes are
oversubscribed 2x.

In every process (timed with ``time.perf_counter``; the slowest process's median is reported):

1. the workload is built for ``n * per_process`` members, its state split over the processes with
   ``distributed.place_state`` (as a CLI run with ``--num-processes n``), the block runner
   (``ega.make_block_runner``) compiled (time recorded apart) and one block run as a warm-up;
   the same for the local-only workload (``per_process`` members on this process's device, a
   different initial population per process, no sharding, no collectives);
2. ``--blocks`` times, alternating: a barrier, one sharded block (runner, then ``replicate_rest`` as
   ``evolve_blocks`` does, until ready); a barrier, one local-only block (all processes at once). The
   generation time is the block's time over its generations; median over the blocks;
3. collectives: a barrier, then a jitted identity with replicated ``out_shardings`` on the mesh of
   (a) a fitness vector ``[n * per_process]`` split over the processes, (b) the whole population;
   median of ``--calls`` calls after one warm-up call.

The overhead share is ``1 - local / sharded``: the part of a sharded generation that the same compute
without communication does not take. The collectives XLA put in the compiled block program (their
result shapes) are listed from process 0. ``--task cartpole`` (default) is the CLI's CartPole job
(``control.config_for("cartpole", ...)``, no target, every block plays its generations) with
``early_exit`` off unless ``--early-exit``: every episode then runs its 500 steps, so a generation's
compute does not depend on how far the population has got (the sharded and local runs evolve
different populations). ``--task sphere`` is ``ega.ga()`` on ``ega.tasks.sphere(--genes)``: a GA
step on many genes, where moving members between processes costs the most.

    python -m benchmarks.weak_scaling [--per-process 256] [--processes 1,2,4] [--generations 5] [--blocks 20]
        [--repeats 3] [--task cartpole|sphere] [--genes 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.process_group import add_worker_arguments, free_port, run_workers

RESULTS = Path(__file__).parent / "results"
#: the same XLA CPU threading for every process in every configuration
THREAD_ENV = {"NPROC": "1", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}
COLLECTIVES = ("all-gather", "all-reduce", "all-to-all", "collective-permute", "reduce-scatter",
               "collective-broadcast")
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2, "u16": 2, "f32": 4, "s32": 4, "u32": 4,
          "f64": 8, "s64": 8, "u64": 8}


def _workload(a: argparse.Namespace, pop_size: int) -> tuple[Any, Any, Callable]:
    """``(strategy, task, init)`` of ``pop_size`` members; ``init(key)`` makes the initial state."""
    import jax

    import evojax_ga as ega
    if a.task == "sphere":
        strategy, task = ega.ga(), ega.tasks.sphere(a.genes)

        def init_sphere(key: Any) -> Any:
            return strategy.init(key, jax.random.normal(key, (pop_size, a.genes)))
        return strategy, task, init_sphere
    from evojax_ga.runs import control
    cfg = control.check_env(control.config_for("cartpole", pop_size=pop_size, target="none", block=a.generations,
                                               early_exit=a.early_exit))
    parts = control.build(cfg)

    def init_control(key: Any) -> Any:
        return parts.strategy.init(key, parts.init_population(key))
    return parts.strategy, parts.task, init_control


def _collectives(hlo: str) -> list[dict]:
    """Collective ops of a compiled HLO module: op, result shape, result bytes."""
    out = []
    for m in re.finditer(r"= (.+?) (" + "|".join(COLLECTIVES) + r")(-start)?\(", hlo):
        shapes = re.findall(r"([a-z]+\d*)\[([\d,]*)\]", m.group(1))
        nbytes = sum(_BYTES.get(t, 4) * math.prod(int(x) for x in d.split(",") if x) for t, d in shapes)
        out.append({"op": m.group(2), "shape": m.group(1), "bytes": nbytes})
    return out


def _median_call(fn: Callable[[], Any], calls: int, barrier: Callable[[str], None], tag: str) -> list[float]:
    """Seconds of ``calls`` calls of ``fn`` (each until ready, a barrier before each), after one warm-up."""
    import jax
    jax.block_until_ready(fn())
    times = []
    for i in range(calls):
        barrier(f"{tag}{i}")
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return times


def _worker(a: argparse.Namespace) -> None:
    """Process ``a.pid`` of ``a.n``: compile, warm up, time the sharded and the local-only blocks, the gathers."""
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    from evojax_ga import distributed as dist
    dist.initialize(coordinator_address=f"127.0.0.1:{a.port}", num_processes=a.n, process_id=a.pid)
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    import evojax_ga as ega
    total = a.n * a.per_process
    limit, never = jnp.int32(2**31 - 1), jnp.float32(np.inf)
    key = jax.random.key(a.seed)
    k_run = jax.random.split(key)[1]
    barrier = dist.barrier if a.n > 1 else (lambda name: None)

    def runner_and_state(pop_size: int, init_key: Any, place: Callable[[Any], Any]) -> tuple[Any, Any, float, str]:
        strategy, task, init = _workload(a, pop_size)
        state = place(jax.jit(init)(init_key))
        run = ega.make_block_runner(strategy, task, a.generations)
        t = time.perf_counter()
        compiled = run.lower(k_run, state, limit, never, never).compile()
        return run, state, time.perf_counter() - t, compiled.as_text() if a.pid == 0 else ""

    def block(run: Any, state: Any) -> tuple[Any, float, float]:
        t, c = time.perf_counter(), time.process_time()
        state, _, active = run(k_run, state, limit, never, never)
        state = dist.replicate_rest(state)   # as evolve_blocks: every process can read the fitness
        jax.block_until_ready((state, active))
        return state, time.perf_counter() - t, time.process_time() - c

    local_dev = jax.local_devices()[0]
    s_run, s_state, s_compile, hlo = runner_and_state(total, key, dist.place_state)
    l_run, l_state, l_compile, _ = runner_and_state(a.per_process, jax.random.fold_in(key, a.pid),
                                                    lambda s: jax.device_put(s, local_dev))
    barrier("warm")
    s_state, s_warm, _ = block(s_run, s_state)
    l_state, l_warm, _ = block(l_run, l_state)
    sharded, local, cpu = [], [], {"sharded": [0.0, 0.0], "local": [0.0, 0.0]}
    for b in range(a.blocks):
        barrier(f"s{b}")
        s_state, wall, c = block(s_run, s_state)
        sharded.append(wall / a.generations)
        cpu["sharded"] = [cpu["sharded"][0] + c, cpu["sharded"][1] + wall]
        barrier(f"l{b}")
        l_state, wall, c = block(l_run, l_state)
        local.append(wall / a.generations)
        cpu["local"] = [cpu["local"][0] + c, cpu["local"][1] + wall]

    mesh = dist.pop_mesh()
    gather = jax.jit(lambda tree: tree, out_shardings=NamedSharding(mesh, PartitionSpec()))
    fit = jax.make_array_from_callback((total,), NamedSharding(mesh, PartitionSpec(dist.AXIS)),
                                       lambda i: np.arange(total, dtype=np.float32)[i])
    pop_bytes = sum(int(x.size) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(s_state.population))
    fit_s = _median_call(lambda: gather(fit), a.calls, barrier, "f")
    pop_s = _median_call(lambda: gather(s_state.population), a.calls, barrier, "p")
    print(json.dumps({
        "process": a.pid, "compile_s": {"sharded": s_compile, "local": l_compile},
        "warmup_block_s": {"sharded": s_warm, "local": l_warm}, "sharded_gen_s": sharded, "local_gen_s": local,
        "cpu_per_wall": {k: c / w for k, (c, w) in cpu.items()}, "fitness_gather_s": fit_s,
        "population_gather_s": pop_s, "population_bytes": pop_bytes, "devices": jax.device_count(),
        "best_so_far": {"sharded": float(s_state.best_fitness), "local": float(l_state.best_fitness)},
        "collectives": _collectives(hlo) if a.pid == 0 else None}), flush=True)
    barrier("done")


def _spawn(a: argparse.Namespace, n: int) -> list[dict]:
    """Run ``n`` worker processes of this script; their JSON lines, by process id."""
    cmd = [sys.executable, "-m", "benchmarks.weak_scaling", "--worker", "--n", str(n), "--port", str(free_port()),
           "--per-process", str(a.per_process), "--generations", str(a.generations), "--blocks", str(a.blocks),
           "--calls", str(a.calls), "--task", a.task, "--genes", str(a.genes), "--seed", str(a.seed)]
    cmd += ["--early-exit"] if a.early_exit else []
    return run_workers(cmd, n, a.timeout, env={**os.environ, **THREAD_ENV}, what=f"worker of {n}")


def _summary(n: int, per_process: int, reps: list[list[dict]]) -> dict:
    """One row: per repeat the slowest process's median, then the median over repeats."""
    def slowest(field: str, rep: list[dict]) -> float:
        return max(statistics.median(o[field]) for o in rep)

    runs = {f: [slowest(f, rep) for rep in reps]
            for f in ("sharded_gen_s", "local_gen_s", "population_gather_s", "fitness_gather_s")}
    med = {f: statistics.median(v) for f, v in runs.items()}
    overheads = [1 - lo / sh for sh, lo in zip(runs["sharded_gen_s"], runs["local_gen_s"])]
    return {"processes": n, "members": n * per_process, "devices": reps[0][0]["devices"],
            "sharded_gen_s": med["sharded_gen_s"], "local_gen_s": med["local_gen_s"],
            "overhead_share": 1 - med["local_gen_s"] / med["sharded_gen_s"], "overhead_share_runs": overheads,
            "population_gather_s": med["population_gather_s"], "fitness_gather_s": med["fitness_gather_s"],
            "population_bytes": reps[0][0]["population_bytes"],
            "members_per_s": n * per_process / med["sharded_gen_s"], "runs": runs,
            "compile_s": {k: statistics.median(max(o["compile_s"][k] for o in rep) for rep in reps)
                          for k in ("sharded", "local")},
            "cpu_per_wall": {k: statistics.median(statistics.mean(o["cpu_per_wall"][k] for o in rep) for rep in reps)
                             for k in ("sharded", "local")},
            "collectives": reps[0][0]["collectives"]}


def _table(rows: list[dict]) -> str:
    """The markdown table of ``rows`` (efficiency: generation s on 1 process over that on n)."""
    base = next((r["sharded_gen_s"] for r in rows if r["processes"] == 1), None)
    lines = ["| processes | members | generation s, sharded (runs) | generation s, local only | overhead share "
             "| population all-gather s (MB) | fitness all-gather s | members / s | weak-scaling efficiency "
             "| compile s (sharded) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        runs = ", ".join(f"{s:.3f}" for s in r["runs"]["sharded_gen_s"])
        eff = f"{base / r['sharded_gen_s']:.2f}" if base else "-"
        over = ", ".join(f"{o:+.2f}" for o in r["overhead_share_runs"])
        note = " (2x oversubscribed)" if r["processes"] > (os.cpu_count() or 1) else ""
        lines.append(f"| {r['processes']}{note} | {r['members']} | {r['sharded_gen_s']:.3f} ({runs}) "
                     f"| {r['local_gen_s']:.3f} | {r['overhead_share']:+.2f} ({over}) "
                     f"| {r['population_gather_s']:.4f} ({r['population_bytes'] / 1e6:.1f} MB) "
                     f"| {r['fitness_gather_s'] * 1e3:.2f} ms | {r['members_per_s']:.0f} | {eff} "
                     f"| {r['compile_s']['sharded']:.1f} |")
    lines.append("| GPU (any count) | - | not measured (no device lent) | - | - | - | - | - | - | - |")
    return "\n".join(lines)


def _collective_table(rows: list[dict]) -> str:
    """Collectives of the compiled sharded block program, counted by op and result shape."""
    lines = ["| processes | collective ops in the block program (count x op result shape) |", "|---|---|"]
    for r in rows:
        counts: dict[tuple[str, str], int] = {}
        for c in r["collectives"] or []:
            counts[(c["op"], c["shape"])] = counts.get((c["op"], c["shape"]), 0) + 1
        ops = "; ".join(f"{k} x {op} {shape}" for (op, shape), k in sorted(counts.items())) or "none"
        lines.append(f"| {r['processes']} | {ops} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-process", type=int, default=256, help="members per process")
    ap.add_argument("--processes", default="1,2,4", help="comma-separated process counts")
    ap.add_argument("--generations", type=int, default=5, help="generations per block")
    ap.add_argument("--blocks", type=int, default=20, help="timed blocks per run")
    ap.add_argument("--calls", type=int, default=5, help="timed calls of each all-gather")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--task", choices=("cartpole", "sphere"), default="cartpole")
    ap.add_argument("--genes", type=int, default=100_000, help="genes of --task sphere")
    ap.add_argument("--early-exit", action="store_true",
                    help="cartpole: end a chunk once its episodes end (the CLI default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    add_worker_arguments(ap)
    a = ap.parse_args()
    if a.worker:
        return _worker(a)
    counts = [int(c) for c in a.processes.split(",")]
    load_before = Path("/proc/loadavg").read_text().strip()
    t0 = time.perf_counter()
    runs: dict[int, list[list[dict]]] = {n: [] for n in counts}
    for r in range(a.repeats):
        for n in counts:   # interleaved: 1, 2, 4, 1, 2, 4, ...
            out = _spawn(a, n)
            runs[n].append(out)
            print(f"repeat {r}, {n} process(es): generation s sharded "
                  + " / ".join(f"{statistics.median(o['sharded_gen_s']):.3f}" for o in out) + ", local only "
                  + " / ".join(f"{statistics.median(o['local_gen_s']):.3f}" for o in out), flush=True)
    load_after = Path("/proc/loadavg").read_text().strip()
    import jax
    rows = [_summary(n, a.per_process, runs[n]) for n in counts]
    workload = (f"sphere, {a.genes} genes, ega.ga()" if a.task == "sphere" else
                f"CartPole CLI job, early_exit {a.early_exit}")
    cores = os.cpu_count() or 1
    over = [n for n in counts if n > cores]
    notes = [f"{workload}; {a.per_process} members per process, {a.generations} generations per block, "
             f"{a.blocks} timed blocks, {a.repeats} interleaved repeats; {cores} cores, jax {jax.__version__}",
             "every process: NPROC=1 (one intra-op thread), XLA_FLAGS=--xla_cpu_multi_thread_eigen=false "
             "(intra_op_parallelism_threads is not an XLA flag in jaxlib 0.10.2)",
             f"load average before: {load_before}; after: {load_after}; {time.perf_counter() - t0:.0f} s"]
    if over:
        notes.append(f"{', '.join(map(str, over))} processes share {cores} cores: oversubscribed "
                     f"{max(over) / cores:g}x on this machine")
    print("\n" + "\n".join(notes))
    print(_table(rows))
    print()
    print(_collective_table(rows))
    result = RESULTS / ("weak_scaling.json" if a.task == "cartpole" else f"weak_scaling_{a.task}.json")
    result.parent.mkdir(exist_ok=True)
    result.write_text(json.dumps({
        "name": "weak_scaling", "command": "python -m benchmarks.weak_scaling " + " ".join(sys.argv[1:]),
        "task": a.task, "genes": a.genes if a.task == "sphere" else None, "per_process": a.per_process,
        "generations_per_block": a.generations, "blocks": a.blocks, "repeats": a.repeats, "thread_env": THREAD_ENV,
        "load_before": load_before, "load_after": load_after, "rows": rows, "notes": notes,
        "raw": {str(n): reps for n, reps in runs.items()}}, indent=2) + "\n")
    print(f"wrote {result}")


if __name__ == "__main__":
    main()
