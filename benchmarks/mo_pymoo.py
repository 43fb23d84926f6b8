"""NSGA-II against pymoo (issue 19, targets): sort + crowding time, hypervolume at equal evaluations,
wall-clock per generation at P = 10^4.

    python -m benchmarks.mo_pymoo [--part sort|hv|gen|nsga3|all] [--repeats N] [--seeds N]

Needs pymoo in the same environment (``pip install pymoo``). Parts:

* ``sort``: non-dominated ranks + crowding distance of uniform random fitness ``[P, 3]`` (float32
  values; pymoo gets the same values as float64), P = 10^4 (blocks of 128, 256 and 512 rows) and 10^5
  (blocks of 256, the default). pymoo: ``NonDominatedSorting().do``
  (moocore's ``pareto_rank``) then its ``"cd"`` crowding per front, as its ``RankAndCrowding``
  survival does. Interleaved repeats, medians after a warm-up call; this project's compile time
  apart; ranks checked equal.
* ``hv``: ZDT1-3 (30 genes) and DTLZ2 (12 genes, 3 objectives), population 100, 200 generations
  (20,000 evaluations each), seeds 0..N-1: this project's ``evojax-ga run zdt`` defaults against
  pymoo's ``NSGA2(pop_size=100)`` defaults (SBX + polynomial mutation); both final fronts scored by
  the same exact hypervolume (:func:`evojax_ga.pareto.hypervolume`, float32) over ref 1.1 per
  objective (minimised), cross-checked with pymoo's ``HV`` (float64).
* ``gen``: ZDT1 at P = 10^4: seconds per generation (ask, evaluate, survive, hypervolume metric for
  this project), interleaved, medians after two warm-up generations.

* ``nsga3``: DTLZ2 (3 objectives), population 92, 250 generations: this project's NSGA-II and NSGA-III
  against pymoo's NSGA2 and NSGA3 (91 Das-Dennis directions), hypervolume and directions reached.

Writes ``benchmarks/results/mo_pymoo.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "mo_pymoo.json"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor()} x {os.cpu_count()}"


def _pymoo_sort(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
    fronts, rank = NonDominatedSorting().do(F, return_rank=True)
    cd = get_crowding_function("cd")
    crowd = np.empty(len(F))
    for front in fronts:
        crowd[front] = cd.do(F[front])
    return rank, crowd


def part_sort(repeats: int) -> list[dict]:
    import jax

    from evojax_ga import pareto

    def ours(F: Any, chunk: int | None) -> Any:
        r = pareto.nondominated_ranks(F, chunk)
        return r, pareto.crowding_distance(F, r)

    rows = []
    for P, variants in ((10_000, (128, 256, 512)), (100_000, (256,))):
        F64 = np.random.default_rng(0).random((P, 3), dtype=np.float32).astype(np.float64)   # minimised (pymoo)
        F32 = -F64.astype(np.float32)                                                        # maximised (ours)
        fns, compile_s = {}, {}
        for c in variants:
            t = time.perf_counter()
            fns[c] = jax.jit(ours, static_argnums=1).lower(F32, c).compile()
            compile_s[c] = time.perf_counter() - t
        times: dict[Any, list[float]] = {c: [] for c in variants}
        times["pymoo"] = []
        ranks = {}
        for i in range(repeats + 1):   # the first round is the warm-up
            for c in variants:
                t = time.perf_counter()
                r, _ = jax.block_until_ready(fns[c](F32))
                if i:
                    times[c].append(time.perf_counter() - t)
                ranks[c] = np.asarray(r)
            t = time.perf_counter()
            pr, _ = _pymoo_sort(F64)
            if i:
                times["pymoo"].append(time.perf_counter() - t)
        pm = statistics.median(times["pymoo"])
        for c in variants:
            med = statistics.median(times[c])
            rows.append({"P": P, "M": 3, "impl": f"evojax_ga block C={c}",
                         "median_s": med, "compile_s": compile_s[c], "pymoo_median_s": pm, "speedup_vs_pymoo": pm / med,
                         "ranks_equal_pymoo": bool(np.array_equal(ranks[c], pr)), "fronts": int(pr.max()) + 1,
                         "repeats": repeats})
            print(rows[-1], flush=True)
    return rows


PROBLEMS = {"zdt1": 30, "zdt2": 30, "zdt3": 30, "dtlz2": 12}


def part_hv(seeds: int, pop: int = 100, gens: int = 200) -> list[dict]:
    import jax
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.indicators.hv import HV
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    from evojax_ga import pareto
    from evojax_ga.runs import multiobjective as mo

    rows = []
    for name, dim in PROBLEMS.items():
        M = 3 if name == "dtlz2" else 2
        ref = np.full(M, 1.1)
        problem = get_problem(name, n_var=dim, n_obj=3) if name == "dtlz2" else get_problem(name, n_var=dim)
        cfg = mo.MOConfig(problem=name, pop_size=pop, generations=gens, block=50)
        run = mo.make_run(cfg)
        for seed in range(seeds):
            t = time.perf_counter()
            state, _, _ = run(jax.random.key(seed))
            ours_s = time.perf_counter() - t
            ours_hv = float(state.best_fitness)
            t = time.perf_counter()
            res = minimize(problem, NSGA2(pop_size=pop), ("n_gen", gens), seed=seed, verbose=False)
            pm_s = time.perf_counter() - t
            pm_hv = float(pareto.hypervolume(-np.asarray(res.F, np.float32), -ref))
            rows.append({"problem": name, "seed": seed, "pop": pop, "generations": gens, "evaluations": pop * gens,
                         "ours_hv": ours_hv, "pymoo_hv": pm_hv,
                         "pymoo_hv_pymoo_indicator": float(HV(ref_point=ref)(res.F)),
                         "ours_s": ours_s, "pymoo_s": pm_s, "pymoo_evals": int(res.algorithm.evaluator.n_eval)})
            print(rows[-1], flush=True)
    return rows


def part_nsga3(seeds: int, pop: int = 92, gens: int = 250) -> list[dict]:
    """DTLZ2 (3 objectives, 12 genes): this project's NSGA-II and NSGA-III (91 directions, 12 divisions)
    against pymoo's NSGA2 and NSGA3 (the same 91 Das-Dennis directions), population 92, ``gens``
    generations, interleaved per seed; final fronts scored by the same exact hypervolume over 1.1 per
    objective, and by how many of the 91 directions the front's rows reach (nearest by angle)."""
    import jax
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem
    from pymoo.util.ref_dirs import get_reference_directions

    from evojax_ga import nsga3, pareto
    from evojax_ga.runs import multiobjective as mo

    problem = get_problem("dtlz2", n_var=12, n_obj=3)
    dirs = get_reference_directions("das-dennis", 3, n_partitions=12)
    u = nsga3.reference_directions(3, 12)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)

    def covered(F: np.ndarray) -> int:
        return len(set(np.argmax((F / np.linalg.norm(F, axis=1, keepdims=True)) @ u.T, axis=1).tolist()))

    runs = {a: mo.make_run(mo.MOConfig(problem="dtlz2", pop_size=pop, generations=gens, block=50, algorithm=a))
            for a in ("nsga2", "nsga3")}
    rows = []
    for seed in range(seeds):
        row: dict[str, Any] = {"problem": "dtlz2", "seed": seed, "pop": pop, "generations": gens}
        for a, run in runs.items():
            t = time.perf_counter()
            state, _, _ = run(jax.random.key(seed))
            F = -np.asarray(state.fitness)[np.asarray(state.rank) == 0]
            row.update({f"ours_{a}_hv": float(state.best_fitness), f"ours_{a}_s": time.perf_counter() - t,
                        f"ours_{a}_directions": covered(F)})
        for a, algo in (("nsga2", NSGA2(pop_size=pop)), ("nsga3", NSGA3(ref_dirs=dirs, pop_size=pop))):
            t = time.perf_counter()
            res = minimize(problem, algo, ("n_gen", gens), seed=seed, verbose=False)
            row.update({f"pymoo_{a}_hv": float(pareto.hypervolume(-np.asarray(res.F, np.float32), -np.full(3, 1.1))),
                        f"pymoo_{a}_s": time.perf_counter() - t, f"pymoo_{a}_directions": covered(np.asarray(res.F))})
        rows.append(row)
        print(row, flush=True)
    return rows


def part_gen(P: int = 10_000, gens: int = 5, chunk: int | None = None) -> list[dict]:
    import jax
    import jax.numpy as jnp
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.problems import get_problem

    from evojax_ga.evolve import make_block_runner
    from evojax_ga.runs import multiobjective as mo

    cfg = mo.MOConfig(problem="zdt1", pop_size=P, generations=gens + 2, chunk_size=chunk, block=1)
    p = mo.build(cfg)
    runner = make_block_runner(p.strategy, p.task, 1)
    state = mo.make_run(cfg).init(jax.random.key(0))
    args = (jnp.int32(10**6), jnp.float32(np.inf), jnp.float32(np.inf))
    t = time.perf_counter()
    compiled = runner.lower(jax.random.key(1), state, *args).compile()
    compile_s = time.perf_counter() - t

    problem = get_problem("zdt1", n_var=30)
    algos = {}
    for dedup in (True, False):   # pymoo removes duplicate children by default (pairwise distances); we do not
        algos[dedup] = NSGA2(pop_size=P, eliminate_duplicates=dedup)
        algos[dedup].setup(problem, termination=("n_gen", 10**6), seed=0, verbose=False)
    ours: list[float] = []
    theirs: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(gens + 2):
        t = time.perf_counter()
        state, m, _ = jax.block_until_ready(compiled(jax.random.key(1), state, *args))
        ours.append(time.perf_counter() - t)
        for dedup, algo in algos.items():
            t = time.perf_counter()
            pop = algo.ask()
            algo.evaluator.eval(problem, pop)
            algo.tell(infills=pop)
            theirs[dedup].append(time.perf_counter() - t)
    o, q, q_nodup = (statistics.median(x[2:]) for x in (ours, theirs[True], theirs[False]))
    row = {"problem": "zdt1", "P": P, "chunk_size": chunk, "timed_generations": gens, "ours_s_per_gen": o,
           "ours_compile_s": compile_s, "pymoo_s_per_gen": q, "speedup_vs_pymoo": q / o,
           "pymoo_no_dedup_s_per_gen": q_nodup, "speedup_vs_pymoo_no_dedup": q_nodup / o,
           "ours_hv_last": float(np.asarray(m["hypervolume"])[-1])}
    print(row, flush=True)
    return [row]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("sort", "hv", "gen", "nsga3", "all"), default="all")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    import jax
    import pymoo
    out: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out["hardware"] = {"cpu": _cpu(), "platform": platform.platform(), "jax": jax.__version__,
                       "pymoo": pymoo.__version__, "backend": jax.default_backend()}
    for name, fn in (("sort", lambda: part_sort(a.repeats)), ("hv", lambda: part_hv(a.seeds)), ("gen", part_gen),
                     ("nsga3", lambda: part_nsga3(a.seeds))):
        if a.part in (name, "all"):
            before = os.getloadavg()[0]
            t = time.perf_counter()
            rows = fn()
            out[name] = {"rows": rows, "load_avg_1min_before": before, "load_avg_1min_after": os.getloadavg()[0],
                         "wall_s": time.perf_counter() - t, "args": vars(a)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
