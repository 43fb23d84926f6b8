"""MAP-Elites against a reference (QDax): QD-score and coverage at equal evaluations, evaluations/s.

``python -m benchmarks.qd_reference [--seeds 3] [--qdax-python /work/venv-qdax/bin/python] [--out FILE]``

Problems: ``rastrigin`` (:func:`evojax_ga.tasks.rastrigin_qd`, 10 genes, descriptors the first two
clipped genes, 32 x 32 grid, B = 128, 200 generations) and ``control``
(:func:`evojax_ga.tasks.gymnax_qd` on MountainCar-v0, descriptors final position and final velocity,
an MLP (16, 16) from ``policy_for``, 10 x 10 grid, B = 64, 100 generations, 200 steps, 1 episode).
Both engines get the same initial batch (per seed), the same grid (QDax's Euclidean centroids of a
regular grid are its cells), iso+line-DD with the same sigmas, uniform parents from filled cells, and
the same fitness and descriptor function: QDax's scoring function calls this project's jitted
``task.evaluate`` (so only the archive and variation logic differ). Equal evaluations: ours runs
``G`` generations of ``B`` (the first evaluates the initial batch), QDax ``init`` (the initial batch)
then ``G - 1`` updates. Each engine runs in its own process (QDax in its own venv: it is not a
dependency); per (problem, seed) the two are interleaved; compile time is measured apart
(``lower().compile()``), the figure is wall time of the compiled run after a warm-up, median of
``--repeats`` timed runs. QD-score offset: the task's lowest fitness; coverage: filled / cells.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "rastrigin": dict(bins=32, batch=128, gens=200, sigma_iso=0.05, sigma_line=0.2),
    "control": dict(bins=10, batch=64, gens=100, sigma_iso=0.05, sigma_line=0.2),
}


def problem(name: str):
    """``(task, initial batch of seed s -> population, lower, upper, qd_offset)``."""
    import jax

    import evojax_ga as ega
    if name == "rastrigin":
        task = ega.tasks.rastrigin_qd(10, 2)

        def init(seed: int):
            return jax.random.uniform(jax.random.key(seed), (SETTINGS[name]["batch"], 10), minval=-5.12,
                                      maxval=5.12)
        return task, init, task.lower, task.upper, task.min_fitness
    model = ega.tasks.policy_for("MountainCar-v0")
    task = ega.tasks.gymnax_qd("MountainCar-v0", model, descriptor="final_obs", episodes=1)

    def init_c(seed: int):
        return ega.init_population(jax.random.key(seed), model.init, task.sample_input,
                                   pop_size=SETTINGS[name]["batch"])
    return task, init_c, task.lower, task.upper, float(task.min_fitness)


def qd(fit, offset: float) -> dict:
    import numpy as np
    f = np.asarray(fit, np.float64).reshape(-1)
    filled = f > -np.inf
    return {"coverage": float(filled.mean()), "qd_score": float(np.sum(np.maximum(f[filled] - offset, 0.0))),
            "best": float(f[filled].max()) if filled.any() else float("-inf")}


def timed(run, arg, repeats: int) -> tuple[float, float, object]:
    import jax
    t0 = time.perf_counter()
    compiled = run.lower(arg).compile()
    compile_s = time.perf_counter() - t0
    out = jax.block_until_ready(compiled(arg))   # warm-up (and the result: same input, same output)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(arg))
        times.append(time.perf_counter() - t0)
    return compile_s, statistics.median(times), out


def worker_ours(name: str, seed: int, repeats: int) -> dict:
    import jax

    import evojax_ga as ega
    task, init, lo, hi, offset = problem(name)
    s = SETTINGS[name]
    variation = ega.crossover.iso_line(s["sigma_iso"], s["sigma_line"])
    strategy = ega.map_elites.map_elites(lo, hi, s["bins"], crossover=variation, qd_offset=offset)
    state = strategy.init(jax.random.key(seed), init(seed))
    keys = jax.random.split(jax.random.key(1000 + seed), s["gens"])
    run = jax.jit(lambda st: jax.lax.scan(lambda c, k: (strategy.step(k, c, task)[0], None), st, keys)[0])
    compile_s, wall_s, end = timed(run, state, repeats)
    return {"compile_s": compile_s, "wall_s": wall_s, **qd(end.archive_fitness, offset)}


def worker_qdax(name: str, seed: int, repeats: int) -> dict:
    import functools

    import jax
    from qdax.core.containers.mapelites_repertoire import compute_euclidean_centroids
    from qdax.core.emitters.mutation_operators import isoline_variation
    from qdax.core.emitters.standard_emitters import MixingEmitter
    from qdax.core.map_elites import MAPElites
    task, init, lo, hi, offset = problem(name)
    s = SETTINGS[name]

    def scoring(genotypes, key):
        fitness, metrics = task.evaluate(key, genotypes)
        return fitness, metrics["descriptors"], {}

    emitter = MixingEmitter(mutation_fn=None,
                            variation_fn=functools.partial(isoline_variation, iso_sigma=s["sigma_iso"],
                                                           line_sigma=s["sigma_line"]),
                            variation_percentage=1.0, batch_size=s["batch"])
    algo = MAPElites(scoring_function=scoring, emitter=emitter, metrics_function=lambda r: {})
    centroids = compute_euclidean_centroids((s["bins"], s["bins"]), minval=list(lo), maxval=list(hi))
    pop = init(seed)

    def run(key):
        k_init, k_run = jax.random.split(key)
        repertoire, emitter_state, _ = algo.init(pop, centroids, k_init)
        (repertoire, _, _), _ = jax.lax.scan(algo.scan_update, (repertoire, emitter_state, k_run), None,
                                             length=s["gens"] - 1)
        return repertoire.fitnesses
    compile_s, wall_s, fit = timed(jax.jit(run), jax.random.key(1000 + seed), repeats)
    return {"compile_s": compile_s, "wall_s": wall_s, **qd(fit, offset)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--problems", default="rastrigin,control")
    ap.add_argument("--qdax-python", default="/work/venv-qdax/bin/python")
    ap.add_argument("--out", default=None)
    ap.add_argument("--worker", nargs=3, metavar=("ENGINE", "PROBLEM", "SEED"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        engine, name, seed = a.worker
        fn = worker_ours if engine == "ours" else worker_qdax
        print(json.dumps(fn(name, int(seed), a.repeats)))
        return
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root)
    rows = []
    for name in a.problems.split(","):
        for seed in range(a.seeds):
            for engine, py in (("ours", sys.executable), ("qdax", a.qdax_python)):   # interleaved
                cmd = [py, "-m", "benchmarks.qd_reference", "--repeats", str(a.repeats), "--worker", engine, name,
                       str(seed)]
                out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
                r = {"problem": name, "seed": seed, "engine": engine, **json.loads(out.stdout.strip().splitlines()[-1])}
                s = SETTINGS[name]
                r["evaluations"] = s["batch"] * s["gens"]
                r["evals_per_s"] = r["evaluations"] / r["wall_s"]
                rows.append(r)
                print(json.dumps(r), flush=True)
    print("\n| problem | engine | QD-score (median of seeds) | coverage | best | evaluations | evals/s (median) "
          "| compile s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.problems.split(","):
        for engine in ("ours", "qdax"):
            rs = [r for r in rows if r["problem"] == name and r["engine"] == engine]
            med = lambda k: statistics.median(r[k] for r in rs)   # noqa: E731
            per_seed = ", ".join(f"{r['qd_score']:.5g}" for r in rs)
            print(f"| {name} | {engine} | {med('qd_score'):.5g} ({per_seed}) | {med('coverage'):.3f} | "
                  f"{med('best'):.4g} | {rs[0]['evaluations']} | {med('evals_per_s'):.3g} | {med('compile_s'):.2f} |")
    if a.out:
        Path(a.out).write_text(json.dumps({"rows": rows, "settings": SETTINGS}, indent=1))


if __name__ == "__main__":
    main()
