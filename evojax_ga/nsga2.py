"""NSGA-II (Deb et al. 2002) as a strategy: ``init`` / ``ask`` / ``tell`` / fused ``step`` over fitness ``[P, M]``.

Fitness has one column per objective, each maximised (like single-objective fitness); a row with a
NaN ranks after every other row (:mod:`evojax_ga.pareto`). One generation:

1. ``ask``: ``P`` children, each from two parents drawn by binary crowded tournaments on the
   survivors (lower front first, then larger crowding distance; a tie keeps the first candidate),
   crossed over and mutated with this project's operators, unchanged;
2. ``tell``: elitist (mu + lambda) survival: children and survivors together (``2P`` rows, children
   first) are ranked into fronts and sorted by :func:`evojax_ga.pareto.crowded_order`; the best ``P``
   survive, with their front and crowding distance for the next tournament.

Before the first ``tell`` the state's fitness is all NaN (not evaluated), so the first ``ask`` hands
out the initial population unchanged and the first ``tell`` keeps it whole.

Runs: :func:`evojax_ga.evolve` / :func:`evojax_ga.evolve_blocks` drive it block by block like the GA
(one jitted ``lax.scan`` per block, metrics to the host between blocks). The state's scalar
``best_fitness`` is the hypervolume of the first front over ``ref`` (``-inf`` without ``ref``, so a
``target`` never stops the run); ``evolve(..., target=v)`` stops once the hypervolume reaches ``v``.
Per-generation metrics: ``front_size``, ``nan_rows`` and, with ``ref``, ``hypervolume``.
``chunk_size``: the block of rows :func:`evojax_ga.pareto.nondominated_ranks` compares at a time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import pareto
from evojax_ga._checks import check_int
from evojax_ga.population import check_like, concatenate, gather, validate_population
from evojax_ga.reproduction import keep_rows
from evojax_ga.strategy import Strategy
from evojax_ga.types import Population, PRNGKey, as_task, evaluate_task

__all__ = ["NSGA2State", "nsga2", "crowded_tournament", "survive", "front_hypervolume", "elitist_strategy",
           "check_options"]


@struct.dataclass
class NSGA2State:
    """Everything a run needs to continue; arrays only.

    population: leaves ``[P, ...]``, the survivors (parents of the next children).
    fitness: ``[P, M]`` of ``population`` (NaN before the first ``tell``).
    rank / crowding: ``[P]`` front index and crowding distance of every survivor (from survival).
    generation: number of ``tell`` calls so far (int32); params: ``{"crossover", "mutation"}`` (traced).
    best_fitness: float32 scalar, the exact hypervolume of the first front over ``ref`` after the last
    ``tell`` (higher is better; ``-inf`` without ``ref`` or before the first ``tell``): what
    :func:`evojax_ga.evolve` reads for ``target`` and the progress bar.
    key: None for NSGA-II; NSGA-III's survival key (uint32 ``[2]`` threefry key data, drawn by ``ask``).
    """
    population: Population
    fitness: jax.Array
    rank: jax.Array
    crowding: jax.Array
    generation: jax.Array
    params: Any
    best_fitness: jax.Array
    key: Any = None


def crowded_tournament(key: PRNGKey, rank: jax.Array, crowding: jax.Array, num: int) -> jax.Array:
    """``num`` int32 winners of binary tournaments (candidates uniform with replacement): lower
    ``rank`` wins, then larger ``crowding``; a tie keeps the first candidate."""
    n = rank.shape[0]
    c = jax.random.randint(key, (2, num), 0, n, dtype=jnp.int32)
    r0, r1 = rank[c[0]], rank[c[1]]
    second = (r1 < r0) | ((r1 == r0) & (crowding[c[1]] > crowding[c[0]]))
    return jnp.where(second, c[1], c[0])


def survive(population: Population, fitness: jax.Array, size: int, chunk_size: int | None = None
            ) -> tuple[Population, jax.Array, jax.Array, jax.Array]:
    """The best ``size`` rows by crowded order: ``(population, fitness, rank, crowding)``, each ``[size, ...]``.

    Ranks are those in the whole input; whole fronts survive before any part of the next, so a
    survivor's rank is also its rank among the survivors (peeling stops once ``size`` rows are ranked).
    ``chunk_size``: see :func:`evojax_ga.pareto.nondominated_ranks`.
    """
    rank = pareto.nondominated_ranks(fitness, chunk_size, stop_after=size)   # fronts past the survivors unranked
    crowd = pareto.crowding_distance(fitness, rank)
    keep = pareto.crowded_order(rank, crowd)[:size]
    return gather(population, keep), fitness[keep], rank[keep], crowd[keep]


def front_hypervolume(fitness: jax.Array, rank: jax.Array, ref: Any) -> jax.Array:
    """Exact hypervolume over ``ref [M]`` of the rows of ``fitness [P, M]`` with ``rank == 0`` (M = 2 or 3)."""
    front = jnp.where((rank == 0)[:, None], fitness, jnp.nan)
    return pareto.hypervolume(front, ref)


def _check_state(state: Any, fn: str, keyed: bool = False) -> int:
    if not isinstance(state, NSGA2State):
        raise TypeError(f"{fn}: state must be the NSGA2State returned by init, ask or tell, got {type(state).__name__}")
    if keyed and state.key is None:
        raise TypeError(f"{fn}: state has no key; it must come from this strategy's init (an NSGA-II state has none)")
    return validate_population(state.population, "state.population")


def check_options(num_objectives: Any, crossover: Any, mutate: Any, ref: Any, chunk_size: Any, name: str = "nsga2"
                  ) -> tuple[int, xo.Crossover, mu.Mutation, Any, int | None]:
    """The checked ``(M, crossover, mutate, ref, chunk_size)`` of an NSGA family strategy (defaults filled in)."""
    M = check_int(num_objectives, "num_objectives", minimum=1)
    chunk_size = pareto._check_chunk(chunk_size)
    crossover = xo.uniform(0.5) if crossover is None else crossover
    mutate = mu.gaussian(0.1, 0.02) if mutate is None else mutate
    for arg, obj, typ in (("crossover", crossover, xo.Crossover), ("mutate", mutate, mu.Mutation)):
        if not isinstance(obj, typ):
            raise TypeError(f"{arg} must be a {typ.__name__} (from evojax_ga.{typ.__module__.split('.')[-1]}), "
                            f"got {type(obj).__name__}")
    if mutate.inherit is not None:
        raise ValueError(f"mutate: {mutate.name} has per-individual parameters, which {name} does not carry "
                         f"through survival; use a mutation without them")
    if ref is not None:
        if M not in (2, 3):
            raise ValueError(f"ref: hypervolume is exact for 2 or 3 objectives, got num_objectives={M}")
        ref = pareto.check_ref(ref, M)
    return M, crossover, mutate, ref, chunk_size


def nsga2(num_objectives: int, crossover: xo.Crossover | None = None, mutate: mu.Mutation | None = None,
          ref: Any = None, chunk_size: int | None = None) -> Strategy:
    """NSGA-II over fitness ``[P, num_objectives]`` (maximised).

    crossover: default uniform 0.5; mutate: default gaussian rate 0.1, sigma 0.02 (a mutation with
    per-individual params, e.g. ``self_adaptive``, is refused: survival would have to carry them);
    ref: a reference point ``[num_objectives]`` (2 or 3 objectives): ``step`` then reports the
    survivors' exact ``hypervolume`` (also ``state.best_fitness``); chunk_size: rows compared a
    block at a time when ranking fronts (None: 256; the ranks do not depend on it).
    """
    M, crossover, mutate, ref, chunk_size = check_options(num_objectives, crossover, mutate, ref, chunk_size)
    config = dict(algorithm="nsga2", num_objectives=M, crossover=crossover.name, mutate=mutate.name,
                  ref=None if ref is None else [float(v) for v in ref], chunk_size=chunk_size)

    def parents(key: PRNGKey, state: NSGA2State, num: int) -> jax.Array:
        return crowded_tournament(key, state.rank, state.crowding, num)

    def survival(key: Any, population: Population, fitness: jax.Array, size: int) -> Any:
        return survive(population, fitness, size, chunk_size)

    return elitist_strategy(M, crossover, mutate, ref, config, parents, survival, keyed=False)


def elitist_strategy(M: int, crossover: xo.Crossover, mutate: mu.Mutation, ref: Any, config: dict,
                     parents: Any, survival: Any, keyed: bool) -> Strategy:
    """The NSGA family's ``init`` / ``ask`` / ``tell`` / ``step`` around ``parents(key, state, num) ->
    [num]`` survivor indices and ``survival(key, population, fitness, size) -> (population, fitness,
    rank, crowding)`` over children + survivors; ``keyed``: the state carries a key for survival (drawn
    in ``ask``: ``state.key``, two uint32 words of a threefry key, whatever the caller's key type)."""

    def _key_words(key: PRNGKey) -> jax.Array:
        return jax.random.bits(key, (2,), jnp.uint32)

    def init(key: PRNGKey, population: Population) -> NSGA2State:
        P = validate_population(population)
        if P < 2:
            raise ValueError(f"population must have at least 2 individuals (rows), got {P}")
        params = {"crossover": crossover.params, "mutation": mutate.params}
        params = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), params)
        return NSGA2State(population=population, fitness=jnp.full((P, M), jnp.nan, jnp.float32),
                          rank=jnp.zeros((P,), jnp.int32), crowding=jnp.zeros((P,), jnp.float32),
                          generation=jnp.int32(0), params=params, best_fitness=jnp.float32(-jnp.inf),
                          key=_key_words(key) if keyed else None)

    def ask(key: PRNGKey, state: NSGA2State) -> tuple[Population, NSGA2State]:
        """``P`` children of the parents ``parents`` picks (the initial population before the first tell)."""
        P = _check_state(state, "ask", keyed)
        k_a, k_b, k_x, k_m = jax.random.split(key, 4)
        first = state.generation == 0
        ident = jnp.arange(P, dtype=jnp.int32)
        ia = jnp.where(first, ident, parents(k_a, state, P))
        ib = jnp.where(first, ident, parents(k_b, state, P))
        a, b = gather(state.population, ia), gather(state.population, ib)
        children = crossover.apply(k_x, state.params["crossover"], a, b, 0)
        children = mutate.apply(k_m, state.params["mutation"], children, 0)
        if keyed:
            state = dataclasses.replace(state, key=_key_words(jax.random.fold_in(key, 1)))
        return keep_rows(jnp.broadcast_to(~first, (P,)), children, a), state

    def tell(state: NSGA2State, population: Population, fitness: Any) -> NSGA2State:
        """Elitist survival of the best ``P`` of children + survivors; ``fitness`` ``[P, M]`` of ``population``."""
        P = _check_state(state, "tell", keyed)
        check_like(population, state.population, "population", "the state's population")
        F = pareto.as_objectives(fitness, "fitness", P)
        if F.shape[1] != M:
            raise ValueError(f"fitness must have shape [{P}, {M}] (num_objectives={M}), got {tuple(F.shape)}")
        both = concatenate([population, state.population])
        Fc = jnp.concatenate([F.astype(jnp.float32), state.fitness])
        key = jax.random.wrap_key_data(state.key, impl="threefry2x32") if keyed else None
        pop, fit, rank, crowd = survival(key, both, Fc, P)
        hv = jnp.float32(-jnp.inf) if ref is None else front_hypervolume(fit, rank, ref)
        return dataclasses.replace(state, population=pop, fitness=fit, rank=rank, crowding=crowd,
                                   generation=state.generation + 1, best_fitness=hv)

    def step(key: PRNGKey, state: NSGA2State, task: Any) -> tuple[NSGA2State, dict]:
        """ask -> evaluate -> tell; metrics: front_size, nan_rows (of the children), hypervolume (with ref)."""
        k_ask, k_eval = jax.random.split(key)
        pop, state = ask(k_ask, state)
        fitness, extra = evaluate_task(as_task(task), k_eval, pop)
        nan_children = jnp.sum(pareto.nan_rows(pareto.as_objectives(fitness, "fitness")), dtype=jnp.int32)
        state = tell(state, pop, fitness)
        metrics = {"front_size": jnp.sum(state.rank == 0, dtype=jnp.int32), "nan_rows": nan_children}
        if ref is not None:
            metrics["hypervolume"] = state.best_fitness
        metrics.update(extra)
        return state, metrics

    return Strategy(init, ask, tell, step, config)
