"""Where the reference GA step's time goes: the step with parts switched off (for profiling).

    python -m benchmarks.ga_step_parts [P N]

The reference step of ``bench_ga_step`` (tournament of 2, uniform crossover 0.5, Gaussian mutation
of rate 0.1 and sigma 0.02, one elite; default 100,000 x 1,000 genes) against the same step without
mutation, without crossover, with neither (selection and the parent gather only), and a plain
``x + 1`` of the population (the copy floor), each jitted with the state donated, median of 5 chained
calls after a warm-up (``harness.time_chained``: the same key every call). Prints one line per
variant; writes nothing.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import jax
    import jax.numpy as jnp

    import evojax_ga as ega
    from benchmarks import harness
    from evojax_ga import crossover, mutation, selection

    P, N = (int(argv[0]), int(argv[1])) if len(argv) == 2 else (100_000, 1_000)
    print(f"backend {jax.default_backend()} {jax.devices()[0].device_kind}; P {P} x N {N} = {P * N:.2e} genes")
    key = jax.random.key(0)
    fitness = jax.random.normal(jax.random.key(1), (P,))
    identity = mutation.Mutation({}, lambda k, params, pop, row_offset=0: pop, "identity")
    variants = {
        "reference step": (crossover.uniform(0.5), mutation.gaussian(0.1, 0.02)),
        "no mutation": (crossover.uniform(0.5), identity),
        "no crossover": (crossover.none(), mutation.gaussian(0.1, 0.02)),
        "selection + gather only": (crossover.none(), identity),
    }

    def chained(step, state):
        return harness.time_chained(step, state, key, repeats=5)["median_s"]

    for name, (xo, mu) in variants.items():
        s = ega.ga(select=selection.tournament(2), crossover=xo, mutate=mu, elite=1)
        pop = {"x": jax.random.normal(jax.random.key(2), (P, N))}
        state = s.tell(s.init(key, pop), pop, jnp.array(fitness, copy=True))

        def step(state, k, s=s):
            child, state = s.ask(k, state)
            return s.tell(state, child, fitness)

        t = chained(jax.jit(step, donate_argnums=0), state)
        print(f"{name:>26}: {t * 1e3:9.3f} ms  {P * N / t:.3e} genes/s", flush=True)
        del state, pop
    x = jnp.zeros((P, N))
    t = chained(jax.jit(lambda x, k: x + 1.0, donate_argnums=0), x)
    print(f"{'x + 1 (copy floor)':>26}: {t * 1e3:9.3f} ms  {2 * 4 * P * N / t / 1e9:.0f} GB/s read+write", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
