"""Peer implementations of the reference GA step, timed side by side.

Reference step (from the project's issue): a dense float32 population P x N (100,000 x 1,000 =
10^8 genes; 10,000 x 1,000 in quick mode), binary tournament selection of two parents per
child, uniform crossover (mask probability 0.5), Gaussian mutation (rate 0.1, sigma 0.02), one
elite kept.

Each ``make_<peer>_step(P, N)`` returns ``(fn, args)`` such that ``fn(*args)`` runs one
generation (tell the fitness of the current population, produce the next population), or
``(None, reason)`` when the peer cannot run here. The peers do not all implement exactly the
reference semantics; :data:`PEER_SEMANTICS` says how each one differs.

``reference_step_peers(P, N, repeats)`` times every available peer, interleaved within each repeat
(:func:`benchmarks.interleaved.time_interleaved`).
"""

from __future__ import annotations

import gc
from typing import Any, Callable, Union

from benchmarks import harness
from benchmarks.interleaved import Timed, time_interleaved

StepSpec = Union[tuple[Callable[..., Any], tuple[Any, ...]], tuple[None, str]]

SIGMA = 0.02
MUTATION_RATE = 0.1
CROSSOVER_P = 0.5

#: how each peer's step differs from the reference step (for the benchmark's notes)
PEER_SEMANTICS: dict[str, str] = {
    "plain JAX (jax.random)": (
        "reference semantics written directly with jax.random: tournament of 2 per parent, "
        "bernoulli(0.5) crossover mask, bernoulli(0.1) mutation mask, normal*0.02 noise, "
        "best individual copied to row 0; 3 full-size random draws per gene; no buffer donation"
    ),
    "evosax SimpleGA": (
        "evosax's own tell + ask (SimpleGA, crossover_rate=0.5, constant std 0.02): truncation "
        "selection (parents drawn uniformly from the best 50%, argsort of P) instead of "
        "tournaments, uniform crossover, Gaussian noise on every gene (rate 1.0, not 0.1), "
        "no elite kept"
    ),
    "evojax SimpleGA": (
        "EvoJAX's own tell + ask (SimpleGA, sigma 0.02, truncation_divisor 2): the best 50% "
        "each copied twice, Gaussian noise on every gene, no crossover, no elite kept"
    ),
}


def _init_population(P: int, N: int, seed: int = 0) -> tuple[Any, Any, Any]:
    """(key, population P x N float32, fitness P float32) for a step benchmark."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(seed)
    k_pop, k_fit, k_step = jax.random.split(key, 3)
    population = 0.1 * jax.random.normal(k_pop, (P, N), jnp.float32)
    fitness = jax.random.uniform(k_fit, (P,), jnp.float32)
    return k_step, population, fitness


# --------------------------------------------------------------------------------------------
# plain JAX (always available)
# --------------------------------------------------------------------------------------------
def plain_jax_step(key: Any, population: Any, fitness: Any) -> Any:
    """One reference generation written plainly with ``jax.random`` (fitness: higher is better).

    Binary tournament per parent (two parents per child), uniform crossover with a
    ``bernoulli(0.5)`` mask, mutation mask ``bernoulli(0.1)`` with ``normal * 0.02`` noise,
    and the best individual copied unchanged into row 0.
    """
    import jax
    import jax.numpy as jnp

    P, N = population.shape
    k_sel, k_cross, k_mask, k_noise = jax.random.split(key, 4)
    contestants = jax.random.randint(k_sel, (2, P, 2), 0, P)  # [parent, child, contestant]
    f = fitness[contestants]
    winners = jnp.where(f[..., 0] >= f[..., 1], contestants[..., 0], contestants[..., 1])
    parent_1 = population[winners[0]]
    parent_2 = population[winners[1]]
    cross = jax.random.bernoulli(k_cross, CROSSOVER_P, (P, N))
    child = jnp.where(cross, parent_1, parent_2)
    mutate = jax.random.bernoulli(k_mask, MUTATION_RATE, (P, N))
    noise = SIGMA * jax.random.normal(k_noise, (P, N), population.dtype)
    child = jnp.where(mutate, child + noise, child)
    elite = population[jnp.argmax(fitness)]
    return child.at[0].set(elite)


def make_plain_jax_step(P: int, N: int) -> StepSpec:
    """``(jit(plain_jax_step), (key, population, fitness))``."""
    import jax

    key, population, fitness = _init_population(P, N)
    return jax.jit(plain_jax_step), (key, population, fitness)


# --------------------------------------------------------------------------------------------
# evosax
# --------------------------------------------------------------------------------------------
def make_evosax_step(P: int, N: int) -> StepSpec:
    """evosax SimpleGA through its own API (evosax >= 0.2: ``SimpleGA(population_size, solution)``,
    ``init(key, population, fitness, params)``, ``tell(key, population, fitness, state, params)``,
    ``ask(key, state, params)``). One step = tell(fitness of the current population) + ask.
    """
    if not harness.peer_available("evosax"):
        return None, "evosax is not installed (pip install evosax)"
    try:
        import jax
        import jax.numpy as jnp
        import optax
        from evosax.algorithms import SimpleGA
    except Exception as exc:  # noqa: BLE001 - any import failure means "cannot run here"
        return None, f"evosax import failed: {type(exc).__name__}: {exc}"

    try:
        es = SimpleGA(
            population_size=P,
            solution=jnp.zeros((N,), jnp.float32),
            std_schedule=optax.constant_schedule(SIGMA),
        )
        params = es.default_params.replace(crossover_rate=CROSSOVER_P)
    except TypeError as exc:  # an evosax version with another constructor
        return None, f"unsupported evosax API (expected evosax>=0.2 SimpleGA): {exc}"

    key, population, fitness = _init_population(P, N)
    k_init, k_tell, k_ask = jax.random.split(key, 3)
    state = es.init(k_init, population, fitness, params)

    def evosax_step(state: Any, population: Any, fitness: Any) -> Any:
        state, _metrics = es.tell(k_tell, population, fitness, state, params)
        new_population, state = es.ask(k_ask, state, params)
        return new_population, state

    return evosax_step, (state, population, fitness)


# --------------------------------------------------------------------------------------------
# EvoJAX
# --------------------------------------------------------------------------------------------
def make_evojax_step(P: int, N: int) -> StepSpec:
    """EvoJAX SimpleGA through its own stateful API: one step = ``tell(fitness)`` + ``ask()``."""
    if not harness.peer_available("evojax"):
        return None, "evojax is not installed (pip install evojax)"
    try:
        import logging

        from evojax.algo import SimpleGA
    except Exception as exc:  # noqa: BLE001
        return None, f"evojax import failed: {type(exc).__name__}: {exc}"

    logger = logging.getLogger("benchmarks.evojax")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    algo = SimpleGA(param_size=N, pop_size=P, sigma=SIGMA, seed=0, logger=logger)
    _key, population, fitness = _init_population(P, N)
    algo.params = population  # EvoJAX starts from zeros; use the same start as the other peers

    def evojax_step(fitness: Any) -> Any:
        algo.tell(fitness)
        return algo.ask()

    return evojax_step, (fitness,)


#: (row label, factory) in table order
PEERS: list[tuple[str, Callable[[int, int], StepSpec]]] = [
    ("plain JAX (jax.random)", make_plain_jax_step),
    ("evosax SimpleGA", make_evosax_step),
    ("evojax SimpleGA", make_evojax_step),
]


def _peer_version(label: str) -> str | None:
    for pkg in ("evosax", "evojax"):
        if label.startswith(pkg):
            return harness.pkg_version(pkg)
    return harness.pkg_version("jax")


def reference_step_peers(
    P: int,
    N: int,
    repeats: int,
    *,
    quick: bool | None = None,
    roof: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    first: tuple[str, Timed, str | None] | None = None,
) -> list[dict[str, Any]]:
    """Time one reference GA step for every available peer, interleaved (``interleaved.time_interleaved``:
    A, B, C, A, B, C, ... within each repeat); one row per measured contender.

    ``first``: ``(label, Timed, version)`` of another contender timed in the same rotation, ahead of the
    peers (this project's step); its row comes first. Rows: ``impl, version, median_s, min_s, compile_s,
    genes_per_s, x_copy_roofline`` where ``x_copy_roofline`` = step time / (time to move 3*P*N*4 bytes
    at ``copy_donated_gbps``). ``roof`` defaults to ``harness.roofline(quick)`` (cached per process),
    with ``quick`` inferred as ``P*N < 10**8`` when not given. If ``notes`` is a list, a skip note for
    each missing peer and a semantics note for each measured one are appended to it.
    """
    if quick is None:
        quick = P * N < 100_000_000
    if roof is None:
        roof = harness.roofline(quick=quick)
    genes = P * N
    floor_s = 3 * genes * 4 / (roof["copy_donated_gbps"] * 1e9)

    contenders: dict[str, Timed] = {}
    versions: dict[str, str | None] = {}
    if first is not None:
        contenders[first[0]], versions[first[0]] = first[1], first[2]
    for label, factory in PEERS:
        fn, args = factory(P, N)
        if fn is None:
            if notes is not None:
                notes.append(harness.skip_note(label, str(args)))
            continue
        contenders[label], versions[label] = Timed(fn, tuple(args)), _peer_version(label)
        if notes is not None:
            notes.append(f"{label}: {PEER_SEMANTICS[label]}")
    timed = time_interleaved(contenders, repeats=repeats)
    rows = [{"impl": label, "version": versions[label], "median_s": t["median_s"], "min_s": t["min_s"],
             "compile_s": t["compile_s"], "genes_per_s": genes / t["median_s"],
             "x_copy_roofline": t["median_s"] / floor_s} for label, t in timed.items()]
    del contenders
    gc.collect()
    if notes is not None:
        notes.append(
            f"x_copy_roofline = step time / {floor_s * 1e3:.2f} ms, the time to move 3 x {P:,} x "
            f"{N:,} x 4 bytes at the donated-copy bandwidth {roof['copy_donated_gbps']:.1f} GB/s. "
            f"Contenders timed interleaved within each of {repeats} repeats."
        )
    return rows
