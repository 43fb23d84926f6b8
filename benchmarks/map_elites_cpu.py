"""Evaluations per second of MAP-Elites vs the plain GA on the same task (rastrigin_qd), one process.

``python -m benchmarks.map_elites_cpu [--batch 1024] [--dim 10] [--bins 32] [--gens 50] [--repeats 3]``:
both strategies run ``gens`` generations of ``batch`` evaluations in one jitted ``lax.scan``; compile
time is reported apart; the figure is the median of ``repeats`` timed runs after a warm-up. The GA is
``ega.ga()`` (tournament, uniform crossover, Gaussian mutation, one elite) on the same population.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax

import evojax_ga as ega
from evojax_ga.tasks.qd_functions import rastrigin_qd


def timed(strategy, task, pop, gens: int, repeats: int) -> dict:
    state = strategy.init(jax.random.key(1), pop)
    keys = jax.random.split(jax.random.key(2), gens)
    run = jax.jit(lambda st: jax.lax.scan(lambda s, k: strategy.step(k, s, task), st, keys))
    t0 = time.perf_counter()
    compiled = run.lower(state).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(state))   # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out, m = compiled(state)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"compile_s": compile_s, "median_s": med, "evals_per_s": pop.shape[0] * gens / med}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--bins", type=int, default=32)
    p.add_argument("--gens", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    task = rastrigin_qd(a.dim)
    pop = jax.random.uniform(jax.random.key(0), (a.batch, a.dim), minval=-5.12, maxval=5.12)
    me = ega.map_elites.map_elites(task.lower, task.upper, a.bins, qd_offset=task.min_fitness)
    out = {"config": vars(a), "backend": jax.default_backend(), "devices": str(jax.devices()),
           "map_elites": timed(me, task, pop, a.gens, a.repeats), "ga": timed(ega.ga(), task, pop, a.gens, a.repeats)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
