"""The seed article's experiment (PyGAD + PyTorch on CartPole) in evojax_ga, and the scaled default.

Article: "How Genetic Algorithms Can Compete with Gradient Descent and Backpropagation" (hackernoon,
2021): a 4-16-16-2 ReLU MLP (386 weights), a population of 10, fitness = the summed reward of one
CartPole episode, actions by argmax; PyGAD's GA through ``pygad.torchga``.

Here, per seed, until the best member's mean return over 100 fresh episodes reaches 475 (the
benchmark's "solved"; the article stopped at one 200+ episode):

1. ``article``: that setup in this library. PyGAD's defaults as the article used them map to:
   steady-state selection of ``num_parents_mating=5`` parents, all kept (``keep_parents=-1``)
   -> ``parent_pool=5, elite=5`` with uniform parent choice; single-point crossover ->
   ``crossover.k_point(1)``; random mutation of 10% of the genes by ``+= U(-1, 1)`` -> Gaussian
   mutation with rate 0.1 and the same variance (sigma = 1/sqrt(3)); torchga's initial population
   (the model's initial weights + U(-1, 1)) -> ``model.init`` + ``from_template(..., "uniform", 1.0)``.
2. ``default``: what ``evojax-ga run cartpole`` uses (population 128, simple GA, see
   ``evojax_ga.runs.control.JOB_DEFAULTS``).
3. ``pygad`` (with ``--pygad``, when pygad and gymnasium are installed): the article's own pipeline
   (PyGAD + gymnasium, NumPy forward pass in place of PyTorch), from ``benchmarks/bench_control.py``.

Usage (from the repository root)::

    python scripts/pygad_cartpole.py [--seeds 5] [--generations 300] [--pygad]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def article_run(generations: int):
    """A control run with the article's network, population, fitness and PyGAD-like operators."""
    import jax

    import evojax_ga as ega
    from evojax_ga.runs import control

    cfg = control.config_for("cartpole", pop_size=10, episodes=1, hidden=(16, 16), generations=generations,
                             block=5, normalize_obs=False, elite=5)
    parts = control.build(cfg)
    strategy = ega.ga(select=ega.selection.uniform(), crossover=ega.crossover.k_point(1),
                      mutate=ega.mutation.gaussian(rate=0.1, sigma=3 ** -0.5), elite=5, parent_pool=5)
    model, task = parts.model, parts.task

    @jax.jit
    def init_population(key):
        k_model, k_noise = jax.random.split(key)
        template = model.init(k_model, task.sample_input)
        noise = ega.from_template(k_noise, template, cfg.pop_size, initializer="uniform", scale=1.0)
        return jax.tree_util.tree_map(lambda t, n: t[None] + n, template, noise)

    return control.make_run(cfg, parts._replace(strategy=strategy, init_population=init_population))


def run_seeds(name: str, run, seeds: list[int]) -> dict:
    import jax


    t0 = time.perf_counter()
    run(jax.random.key(10_000))  # compile
    compile_s = time.perf_counter() - t0
    res = []
    for s in seeds:
        _, _, info = run(jax.random.key(s))
        res.append(info)
        status = (f"solved at generation {info['solved_generation']} in {info['solve_wall_s']:.2f} s"
                  if info["solved"] else f"not solved in {info['generations']} generations ({info['wall_s']:.1f} s)")
        print(f"  {name} seed {s}: {status}", flush=True)
    solved = [r for r in res if r["solved"]]
    return {"name": name, "pop": run.config.pop_size, "solved": f"{len(solved)}/{len(seeds)}",
            "median_generations": statistics.median([r["solved_generation"] for r in solved]) if solved else None,
            "median_solve_s": statistics.median([r["solve_wall_s"] for r in solved]) if solved else None,
            "first_run_with_compile_s": compile_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    parser.add_argument("--generations", type=int, default=300, help="generation limit of the article setup")
    parser.add_argument("--pygad", action="store_true", help="also run the article's PyGAD + gymnasium pipeline")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.bench_control

    from evojax_ga.runs import control

    seeds = list(range(args.seeds))
    rows = []
    print("article setup (MLP 4-16-16-2, 386 weights, population 10, one episode per member):")
    rows.append(run_seeds("article", article_run(args.generations), seeds))
    print("scaled default (evojax-ga run cartpole):")
    rows.append(run_seeds("default", control.make_run(control.config_for("cartpole")), seeds))
    if args.pygad:
        from benchmarks.bench_control import pygad_pipeline
        print("PyGAD + gymnasium pipeline (the article's own code path, NumPy forward pass):")
        res = []
        for s in seeds:
            r = pygad_pipeline(s)
            res.append(r)
            print(f"  pygad seed {s}: solved={r['solved']} generations={r.get('generations')} {r['s']:.2f} s, "
                  f"{r['env_steps_per_s']:.0f} env steps/s", flush=True)
        solved = [r for r in res if r["solved"]]
        rows.append({"name": "pygad", "pop": 10, "solved": f"{len(solved)}/{len(seeds)}",
                     "median_generations": statistics.median([r["generations"] for r in solved]) if solved else None,
                     "median_solve_s": statistics.median([r["s"] for r in solved]) if solved else None,
                     "first_run_with_compile_s": None})
    print("\n| setup | pop | solved | median generations | median time to solve (s) | first run incl. compile (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        fmt = lambda v: "–" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))  # noqa: E731
        print(f"| {r['name']} | {r['pop']} | {r['solved']} | {fmt(r['median_generations'])} | "
              f"{fmt(r['median_solve_s'])} | {fmt(r['first_run_with_compile_s'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
