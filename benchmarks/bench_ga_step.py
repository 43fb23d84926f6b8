"""The reference GA step: 10^8 float32 genes, tournament(2) x 2, uniform crossover 0.5,
Gaussian mutation (rate 0.1, sigma 0.02), one elite — evojax_ga against its peers in one run.

The library's step is ``ask`` (the next population) then ``tell`` (its fitness, best-so-far) on a
``GAState``, fed back into itself. The state is not donated: the children are gathered from random
parent rows, so XLA cannot write them into the parents' buffer and donation would add a full copy
(measured: 1.17 s vs 0.35 s per 10^8-gene step). Peers
(evosax, EvoJAX, plain jax.random) come from :mod:`benchmarks.peers`.
"""

from __future__ import annotations

import gc
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks import harness, peers
from benchmarks.interleaved import Timed


def make_library_step(P: int, N: int):
    """``(step, state, key, fitness)``: ``step(state, key, fitness) -> state``."""
    import evojax_ga as ega

    k_step, population, fitness = peers._init_population(P, N)
    strategy = ega.presets.simple_ga(mutation_rate=peers.MUTATION_RATE, sigma=peers.SIGMA, tournament=2,
                                     crossover_prob=peers.CROSSOVER_P, elite=1)
    state = strategy.init(k_step, {"x": population})
    state = strategy.tell(state, state.population, jnp.array(fitness, copy=True))

    def step(state, key, fitness):
        pop, state = strategy.ask(key, state)
        return strategy.tell(state, pop, fitness)

    return jax.jit(step), state, k_step, fitness


def run(quick: bool, repeats: int) -> dict[str, Any]:
    P, N = (10_000, 1_000) if quick else (100_000, 1_000)
    roof = harness.roofline(quick=quick)
    notes: list[str] = []
    step, state, key, fitness = make_library_step(P, N)
    label = "evojax_ga simple_ga (fused counter-based PRNG)"
    notes.append("evojax_ga: reference semantics exactly (tournament of 2 per parent, Bernoulli(0.5) "
                 "crossover per gene, Bernoulli(0.1) mutation per gene with N(0, 0.02^2), best individual "
                 "kept bit-identical in row 0); Threefry-2x32-13 bits computed inside the fused copy loop.")
    ours_timed = Timed(step, (state, key, fitness), chained=True)
    del state
    # every contender once per repeat, in turn, so load drift moves all rows alike
    rows = peers.reference_step_peers(P, N, repeats, quick=quick, roof=roof, notes=notes,
                                      first=(label, ours_timed, harness.pkg_version("evojax-ga") or "dev"))
    del ours_timed
    gc.collect()
    ours = rows[0]["median_s"]
    for r in rows:
        r["speedup_vs_this"] = r["median_s"] / ours
    ev = [r for r in rows if r["impl"].startswith("evosax")]
    if ev:
        notes.append(f"evojax_ga is {ev[0]['median_s'] / ours:.1f}x evosax's genes per second in this run "
                     f"(target >= 4x).")
    return {"rows": rows, "notes": notes, "params": {"P": P, "N": N, "repeats": repeats}}
