"""The classification task's shared minibatch: ``B`` of ``N`` training indices without replacement.

Contenders (jitted, interleaved within each repeat, medians after a warm-up call; compile apart):
``jax.random.choice(replace=False)`` (what the task used: a permutation of all ``N``), ``top_k`` of ``N``
uniform keys (what it uses now), and, for scale, one evaluation of a population of MLPs on such a batch
(``ClassificationTask.scores``) and the draw of the ``N`` uniform keys alone.

    python -m benchmarks.batch_sampling [--n 60000] [--batch 256] [--pop 200] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--pop", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=30)
    a = ap.parse_args()

    import evojax_ga as ega
    from evojax_ga.data import Dataset
    from evojax_ga.models import MLP

    N, B = a.n, a.batch
    rng = np.random.default_rng(0)
    ds = Dataset("synthetic", rng.random((N, 14, 14, 1), np.float32), rng.integers(0, 10, N).astype(np.int32),
                 rng.random((100, 14, 14, 1), np.float32), rng.integers(0, 10, 100).astype(np.int32), 10)
    task = ega.tasks.classification(MLP(features=(32,), out=10, flatten=True), ds, batch_size=B, test_samples=0)
    pop = task.init_population(jax.random.key(0), a.pop)
    x, y = task.sample_batch(jax.random.key(1))
    scores = jax.jit(task.scores)
    contenders = {
        "choice(replace=False)": jax.jit(lambda k: jax.random.choice(k, N, (B,), replace=False)),
        "top_k of uniform keys": jax.jit(lambda k: jax.lax.top_k(jax.random.uniform(k, (N,)), B)[1]),
        "uniform keys alone": jax.jit(lambda k: jax.random.uniform(k, (N,))),
        f"scores of P={a.pop} MLP 196-32-10 on the batch": lambda k: scores(pop, x, y),
    }
    for f in contenders.values():
        jax.block_until_ready(f(jax.random.key(0)))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(a.repeats):
        for name, f in contenders.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(jax.random.key(r)))
            times[name].append(time.perf_counter() - t0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"N {N}, B {B}, {a.repeats} interleaved repeats, jax {jax.__version__} on {jax.devices()[0].platform}, "
          f"{os.cpu_count()} cores, load {load:.1f}")
    print("| contender | median ms |\n|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts) * 1e3:.2f} |")
    # the draw is a uniform subset: every index equally likely (checked here on a small N)
    counts = np.zeros(1000)
    draw = jax.jit(lambda k: jax.lax.top_k(jax.random.uniform(k, (1000,)), 100)[1])
    for i in range(300):
        counts[np.asarray(draw(jax.random.key(i)))] += 1
    print(f"top_k draw, N 1000, B 100, 300 draws: per-index count mean {counts.mean():.1f} std {counts.std():.2f} "
          f"(binomial std {np.sqrt(300 * 0.1 * 0.9):.2f}); distinct per draw: "
          f"{len(set(np.asarray(draw(jax.random.key(7))).tolist()))} of 100")



if __name__ == "__main__":
    main()
