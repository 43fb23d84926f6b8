"""Early exit measured on the populations control runs see (issue 15, item 4).

For each control job (its CLI defaults, :func:`evojax_ga.runs.control.config_for`) the script times
one population evaluation with early exit on (``lax.while_loop`` that stops when every episode of a
chunk has ended) and off (``lax.scan`` of ``max_steps`` steps), on

* the generation-0 population of the job (its own initialisation, seed ``--seed``), and
* the populations after each of ``--generations`` generations of the job's GA from that state,

for each chunk size of ``--chunks``. Both contenders live in one process and are interleaved within
every repeat (the order alternates between repeats); each contender's first call (tracing,
compilation, one run) is timed apart as ``compile_s`` and one warm-up call per population is
excluded; a timed sample is ``inner`` calls (the same for both, chosen so a sample lasts about
50 ms) with the repeat's key (the same for both). Figures are medians over ``--repeats`` samples.
``sim_frac`` is the mean of ``sim_steps / (P * episodes * max_steps)`` with early exit (the share of
steps actually simulated); ``useful_frac`` the share of steps inside episodes (``env_steps``).
``identical``: the fitness of every repeat is bitwise equal on and off.

    python -m benchmarks.early_exit [--fast-compile on|off] [--repeats 7] [--load "what else ran"]

``--fast-compile on`` is XLA's CPU optimisation level 0, what the CLI uses for these jobs
(``--fast-compile auto``: pop_size x episodes <= 2048). Raw results go to
``benchmarks/early_exit/early_exit_<level>.json`` (not ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "early_exit"
JOBS = ("cartpole", "acrobot", "mountaincar", "pendulum")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.early_exit", description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", default=",".join(JOBS), help="comma-separated control jobs")
    ap.add_argument("--chunks", default="auto,64", help="comma-separated chunk sizes ('auto' or ints)")
    ap.add_argument("--generations", default="25",
                    help="comma-separated generation counts of the later populations (one GA run, snapshots)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fast-compile", choices=("on", "off"), default="on",
                    help="XLA CPU optimisation level 0 (on: what the CLI uses for these jobs)")
    ap.add_argument("--load", default="", help="what else shared the machine (recorded as is)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/early_exit/early_exit_<level>.json)")
    return ap.parse_args(argv)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    import jax
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0, out


def _populations(cfg: Any, generations: list[int], seed: int) -> tuple[dict[str, Any], float]:
    """``({"gen 0": population, "gen G": population, ...}, GA seconds)``: one GA run of the job from
    its generation-0 state, a snapshot at every ``G`` of ``generations``; keys derived as in ``make_run``."""
    import jax

    import evojax_ga as ega
    from evojax_ga.runs.control import build

    parts = build(cfg)
    k_train = jax.random.split(jax.random.key(seed))[0]
    k_init, k_evolve, _ = jax.random.split(k_train, 3)
    state0 = parts.strategy.init(k_init, parts.init_population(k_init))
    pops, state = {"gen 0": state0.population}, state0
    t0 = time.perf_counter()
    for g in sorted(generations):
        state, _ = ega.evolve(k_evolve, parts.strategy, parts.task, state, g - int(state.generation),
                              block=cfg.block, progress=False)
        pops[f"gen {int(state.generation)}"] = jax.block_until_ready(state.population)
    return pops, time.perf_counter() - t0


def _measure(cfg: Any, chunk: Any, pops: dict[str, Any], repeats: int) -> list[dict[str, Any]]:
    """Rows for one job and chunk size: early exit on vs off, interleaved, on every population."""
    import jax
    import numpy as np

    from evojax_ga.runs.control import build

    fns, compile_s, tasks = {}, {}, {}
    first = next(iter(pops.values()))
    for ee in (True, False):
        task = build(dataclasses.replace(cfg, chunk_size=chunk, early_exit=ee)).task
        tasks[ee] = task
        fns[ee] = jax.jit(task.evaluate)
        compile_s[ee], _ = _timed(fns[ee], jax.random.key(10**6), first)
    steps_full = cfg.pop_size * cfg.episodes * tasks[True].config["max_steps"]
    rows = []
    for n, (name, pop) in enumerate(pops.items()):
        k_pop = jax.random.fold_in(jax.random.key(cfg.pop_size), n)
        warm = {ee: _timed(fns[ee], k_pop, pop)[0] for ee in (True, False)}
        inner = max(1, math.ceil(0.05 / max(min(warm.values()), 1e-6)))
        times: dict[bool, list[float]] = {True: [], False: []}
        sim, useful, best, identical = [], [], [], True
        for r in range(repeats):
            key = jax.random.fold_in(k_pop, r + 1)
            outs = {}
            for ee in ((True, False) if r % 2 == 0 else (False, True)):
                t0 = time.perf_counter()
                for _ in range(inner):
                    outs[ee] = jax.block_until_ready(fns[ee](key, pop))
                times[ee].append((time.perf_counter() - t0) / inner)
            (fit_on, m_on), (fit_off, _) = outs[True], outs[False]
            identical &= bool(np.array_equal(np.asarray(fit_on), np.asarray(fit_off)))
            sim.append(float(m_on["sim_steps"]) / steps_full)
            useful.append(float(m_on["env_steps"]) / steps_full)
            best.append(float(np.max(np.asarray(fit_on))))
        med = {ee: statistics.median(times[ee]) for ee in (True, False)}
        rows.append({
            "job": None, "population": name, "P": cfg.pop_size, "episodes": cfg.episodes,
            "max_steps": tasks[True].config["max_steps"], "chunk": chunk if chunk == "auto" else int(chunk),
            "chunk_members": tasks[True].config["chunk_size"],
            "members_per_s_on": cfg.pop_size / med[True], "members_per_s_off": cfg.pop_size / med[False],
            "speedup_on_vs_off": med[False] / med[True], "median_s_on": med[True], "median_s_off": med[False],
            "sim_frac": statistics.fmean(sim), "useful_frac": statistics.fmean(useful),
            "best_fitness_median": statistics.median(best), "target": cfg.target,
            "compile_s_on": compile_s[True], "compile_s_off": compile_s[False], "identical": identical,
            "inner": inner, "repeats": repeats,
        })
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| job | population (best fitness) | chunk | members/s on | members/s off | on / off | simulated "
            "| in episodes | compile on / off s | identical |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        chunk = f"{r['chunk']} ({r['chunk_members']})" if r["chunk"] == "auto" else str(r["chunk"])
        best = r.get("best_fitness_median")
        pop = r["population"] if best is None else f"{r['population']} ({best:.0f})"
        lines.append(f"| {r['job']} | {pop} | {chunk} | {r['members_per_s_on']:,.0f} | "
                     f"{r['members_per_s_off']:,.0f} | {r['speedup_on_vs_off']:.2f}x | {r['sim_frac']:.0%} | "
                     f"{r['useful_frac']:.0%} | {r['compile_s_on']:.2f} / {r['compile_s_off']:.2f} | "
                     f"{'yes' if r['identical'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from evojax_ga._startup import set_fast_compile
    level0 = set_fast_compile(args.fast_compile == "on")   # before the first JAX computation

    from benchmarks.harness import env_info, hardware_line
    from evojax_ga.runs.control import config_for

    chunks = [c if c == "auto" else int(c) for c in args.chunks.split(",")]
    generations = [int(g) for g in args.generations.split(",")]
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    ga_s = {}
    for job in args.jobs.split(","):
        cfg = config_for(job)
        pops, ga_s[job] = _populations(cfg, generations, args.seed)
        for chunk in chunks:
            for row in _measure(cfg, chunk, pops, args.repeats):
                row["job"] = job
                rows.append(row)
                print(_table([row]).splitlines()[-1], flush=True)
    env = env_info()
    level = "O0" if level0 else "default"
    payload = {
        "name": "early_exit", "command": "python -m benchmarks.early_exit " + " ".join(sys.argv[1:] if argv is None
                                                                                       else argv),
        "xla_cpu_level": level, "hardware": hardware_line(env), "env": env,
        "load": {"note": args.load, "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "generations": generations, "seed": args.seed, "ga_s": ga_s,
        "total_s": time.perf_counter() - t_start, "rows": rows,
    }
    out = Path(args.out) if args.out else OUT_DIR / f"early_exit_{level}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(_table(rows))
    print(f"{payload['hardware']}\nload: {args.load} (loadavg {load_start} -> {payload['load']['loadavg_end']})\n"
          f"XLA CPU level {level}; total {payload['total_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
