"""Sweep of the classification task's ``chunk_bytes`` against plain ``vmap`` (for choosing defaults).

    python -m benchmarks.chunk_sweep [P ...]

Digits MLP 64-32-10 on all 1,797 images, full batch, ``task.scores`` jitted; for each population
size (default 1,000 / 10,000 / 100,000) and each ``chunk_bytes`` the median of 5 timed calls after
a warm-up, and the GFLOP/s of the forward (:func:`evojax_ga.models.mlp_flops`). Plain ``jax.vmap``
of the per-individual forward is the peer (skipped where its activations exceed 8 GiB). Prints one
line per case and a table; writes nothing else.
"""

from __future__ import annotations

import sys

import numpy as np

CHUNKS_MIB = (2, 32, 128, 512, 2048, 8192)


def main(argv: list[str]) -> int:
    import jax
    import jax.numpy as jnp

    from benchmarks import harness
    from evojax_ga import data, models
    from evojax_ga.tasks.classification import classification, logits_scores

    sizes = [int(a) for a in argv] or [1000, 10000, 100000]
    digits = data.load_digits(flat=True)
    X = np.concatenate([digits.x_train, digits.x_test])
    y = np.concatenate([digits.y_train, digits.y_test])
    ds = data.Dataset("digits", X, y, X[:10], y[:10], 10)
    model = models.MLP((32,), 10)
    flops = models.mlp_flops(X.shape[1], (32,), 10)
    B = X.shape[0]
    print(f"backend {jax.default_backend()} {jax.devices()[0].device_kind}; digits {B} x {X.shape[1]}, MLP 64-32-10")

    def timed(fn, pop):
        return harness.time_fn(fn, pop, repeats=5)["median_s"]

    for P in sizes:
        base = classification(model, ds)
        pop = base.init_population(jax.random.key(P), P, initializer="normal", scale=0.1)
        xj, yj = base.x_train, base.y_train
        for mib in CHUNKS_MIB:
            task = classification(model, ds, chunk_bytes=mib * 2**20)
            t = timed(jax.jit(lambda p, task=task: task.scores(p, xj, yj)), pop)
            print(f"P {P:>7} chunk_bytes {mib:>5} MiB (chunks {task.chunks(P, B)}): {t * 1e3:9.3f} ms "
                  f"{P * B * flops / t / 1e12:7.2f} TFLOP/s", flush=True)
        if P * B * 32 * 4 <= 8 * 2**30:
            def one(p):
                c, n = logits_scores(model.apply(p, xj)[None], yj, 2)
                return jnp.mean(c), jnp.mean(n)
            t = timed(jax.jit(jax.vmap(one)), pop)
            print(f"P {P:>7} plain jax.vmap                           : {t * 1e3:9.3f} ms "
                  f"{P * B * flops / t / 1e12:7.2f} TFLOP/s", flush=True)
        del pop
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
