"""Seed-encoded populations: populations too large to hold densely (Such et al. 2017, "Deep
Neuroevolution", which stores each individual as its list of mutation seeds).

Only the ``K`` parents of the current generation are stored densely (``[K, N]``); individual ``i``
of a generation is the tuple ``(ia[i], ib[i])`` of parent indices plus the generation's key. Because
every random draw of the operators depends only on ``(key, global row, gene)``
(:mod:`evojax_ga.prng`), the child can be rebuilt exactly, at any time, chunk by chunk:
``child_i = mutate(crossover(parents[ia[i]], parents[ib[i]]))``. Generation 0 is
``init_fn(fold_in(key, i))``.

A step evaluates the population chunk by chunk (``chunk_size`` rows materialised at a time), keeps
the fitness vector ``[P]``, rebuilds the top ``K`` as the next parents, and draws the next parent
indices with the selection operator. Memory is ``O(K N + chunk_size N + P)``, not ``O(P N)``.
The first ``elite`` rows of every generation are the best ``elite`` parents, unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks
from evojax_ga.metrics import generation_metrics
from evojax_ga.population import check_like, gather, validate_population
from evojax_ga.reproduction import keep_rows
from evojax_ga.strategy import Strategy
from evojax_ga.types import Population, as_task, evaluate_task

__all__ = ["EncodedPopulation", "SeedEncodedState", "seed_encoded_ga", "materialize"]


@struct.dataclass
class EncodedPopulation:
    """A generation of ``P`` individuals without their weights.

    parents: leaves ``[K, ...]``; ia, ib: ``[P]`` int32 parent rows; keep: ``[P]`` bool (row is a
    parent copied unchanged); key: the generation's operator key; params: operator params;
    initial: scalar bool — generation 0, individuals come from ``init_fn``.
    """
    parents: Population
    ia: jax.Array
    ib: jax.Array
    keep: jax.Array
    key: jax.Array
    params: Any
    initial: jax.Array


@struct.dataclass
class SeedEncodedState:
    """State of a seed-encoded GA (every field O(K N + P))."""
    encoded: EncodedPopulation
    fitness: jax.Array          # [P] of ``encoded`` (-inf before evaluation)
    best_params: Any
    best_fitness: jax.Array
    generation: jax.Array


def materialize(encoded: EncodedPopulation, rows: jax.Array, init_fn: Callable[[jax.Array], Any],
                crossover: xo.Crossover, mutate: mu.Mutation, init_key: jax.Array) -> Population:
    """Rebuild individuals ``rows`` ([C] global indices) of an encoded generation: leaves ``[C, ...]``."""
    def initial(_):
        return jax.vmap(lambda i: init_fn(jax.random.fold_in(init_key, i)))(rows)

    def children(_):
        k_x, k_m = jax.random.split(encoded.key)
        a = gather(encoded.parents, encoded.ia[rows])
        b = gather(encoded.parents, encoded.ib[rows])
        c = crossover.apply(k_x, encoded.params["crossover"], a, b, rows)
        c = mutate.apply(k_m, encoded.params["mutation"], c, rows)
        return keep_rows(~encoded.keep[rows], c, a)   # kept parents are copied back by a row mask

    return jax.lax.cond(encoded.initial, initial, children, None)


def seed_encoded_ga(init_fn: Callable[[jax.Array], Any], pop_size: int, parents: int,
                    select: sel.Selection | None = None, crossover: xo.Crossover | None = None,
                    mutate: mu.Mutation | None = None, elite: int = 1, chunk_size: int = 1024,
                    diversity_metric: bool = False) -> Strategy:
    """A GA over ``pop_size`` individuals storing only ``parents`` of them densely.

    init_fn: ``key -> individual`` (e.g. ``lambda k: model.init(k, x)``); parents: K, the number
    kept densely and used as the parent pool (truncation); select: over the parents' fitness
    (default uniform: Such et al.'s deep GA); crossover (default none) and mutate (default Gaussian
    rate 1, sigma 0.002); elite: best parents copied unchanged into rows ``0..elite-1``;
    chunk_size: individuals materialised at once.

    ``init(key)`` -> state; ``ask(key, state)`` -> (EncodedPopulation, state);
    ``tell(state, encoded, fitness)``; ``step(key, state, task)`` evaluates chunk by chunk
    (the task gets the same key for every chunk, so use common random numbers inside it for
    chunk-size invariance) — works with :func:`evojax_ga.evolve`.
    """
    pop_size = check_int(pop_size, "pop_size", minimum=2)
    parents = check_int(parents, "parents", minimum=1, maximum=pop_size)
    elite = check_int(elite, "elite", minimum=0, maximum=min(parents, pop_size - 1))
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    select = sel.uniform() if select is None else select
    crossover = xo.none() if crossover is None else crossover
    mutate = mu.gaussian(1.0, 0.002) if mutate is None else mutate
    if mutate.inherit is not None:
        raise ValueError(f"seed_encoded_ga cannot carry per-individual mutation params; got mutate={mutate.name}")
    P, K = pop_size, parents
    config = dict(pop_size=P, parents=K, select=select.name, crossover=crossover.name, mutate=mutate.name,
                  elite=elite, chunk_size=chunk_size, encoding="seed")

    def _materialize(encoded, rows):
        return materialize(encoded, rows, init_fn, crossover, mutate, encoded.key)

    def init(key: jax.Array, population: Any = None) -> SeedEncodedState:
        """``population`` must be None: generation 0 is ``init_fn(fold_in(key, i))``."""
        if population is not None:
            raise TypeError("seed_encoded_ga builds its own initial population from init_fn; pass population=None")
        template = init_fn(key)
        stacked = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (K,) + jnp.shape(x)), template)
        validate_population(stacked, "parents")
        params = {"selection": select.params, "crossover": crossover.params, "mutation": mutate.params}
        zeros = jnp.zeros((P,), jnp.int32)
        enc = EncodedPopulation(parents=stacked, ia=zeros, ib=zeros, keep=jnp.zeros((P,), bool), key=key,
                                params=params, initial=jnp.bool_(True))
        return SeedEncodedState(encoded=enc, fitness=jnp.full((P,), -jnp.inf, jnp.float32),
                                best_params=template, best_fitness=jnp.float32(-jnp.inf),
                                generation=jnp.int32(0))

    def _evaluate_all(key, encoded, task):
        def one(_, rows):     # every chunk has chunk_size rows, the last padded with copies of row P - 1
            f, extra = evaluate_task(task, key, _materialize(encoded, rows))
            return jnp.asarray(f, jnp.float32), extra

        f, extra = map_chunks(one, None, chunk_size, last="pad", num_rows=P, per_chunk=True)
        return f, {k: jnp.mean(v) for k, v in extra.items()}

    def check_state(state: Any, fn: str) -> None:
        if not isinstance(state, SeedEncodedState):
            raise TypeError(f"{fn}: state must be the SeedEncodedState returned by init, ask or tell, "
                            f"got {type(state).__name__}")
        if tuple(state.fitness.shape) != (P,):
            raise ValueError(f"{fn}: state.fitness has shape {tuple(state.fitness.shape)}, this strategy has "
                             f"pop_size={P}")

    def tell(state: SeedEncodedState, encoded: EncodedPopulation, fitness: jax.Array) -> SeedEncodedState:
        """Record the fitness of ``encoded`` (the generation ``ask`` returned; checked statically)."""
        check_state(state, "tell")
        if not isinstance(encoded, EncodedPopulation):
            raise TypeError(f"encoded must be the EncodedPopulation returned by ask, got {type(encoded).__name__}")
        for field in ("ia", "ib", "keep"):
            if tuple(getattr(encoded, field).shape) != (P,):
                raise ValueError(f"encoded.{field} has shape {tuple(getattr(encoded, field).shape)}, this strategy "
                                 f"has pop_size={P}")
        check_like(encoded.parents, state.encoded.parents, "encoded.parents", "the state's parents")
        fitness = sel.as_fitness(fitness, P)
        order = sel.argsort_desc(fitness)
        top = order[:K]
        new_parents = _materialize(encoded, top)           # [K, ...] best first
        gen_best = sel.rank_key(fitness)[top[0]]
        better = gen_best > state.best_fitness
        best = jax.tree_util.tree_map(lambda n, o: jnp.where(better, n[0], o), new_parents, state.best_params)
        enc = dataclasses.replace(encoded, parents=new_parents)
        return SeedEncodedState(encoded=enc, fitness=fitness, best_params=best,
                                best_fitness=jnp.maximum(state.best_fitness, gen_best),
                                generation=state.generation + 1)

    def ask(key: jax.Array, state: SeedEncodedState) -> tuple[EncodedPopulation, SeedEncodedState]:
        """Encode the next generation (generation 0: the initial population)."""
        check_state(state, "ask")
        enc = state.encoded
        parent_fit = state.fitness[sel.argsort_desc(state.fitness)[:K]]
        k_a, k_b, k_gen = jax.random.split(key, 3)
        n_children = P - elite
        pa = select.apply(k_a, enc.params["selection"], parent_fit, n_children)
        pb = select.apply(k_b, enc.params["selection"], parent_fit, n_children)
        keep_idx = jnp.arange(elite, dtype=jnp.int32)
        ia = jnp.concatenate([keep_idx, pa])
        ib = jnp.concatenate([keep_idx, pb])
        keep = jnp.arange(P) < elite
        first = state.generation == 0
        # generation 0 keeps the init key: its individuals are init_fn(fold_in(key, i))
        gen_key = jax.lax.cond(first, lambda _: enc.key, lambda _: k_gen, None)
        new = EncodedPopulation(parents=enc.parents, ia=ia, ib=ib, keep=keep, key=gen_key, params=enc.params,
                                initial=first)
        return new, dataclasses.replace(state, encoded=new)

    def step(key: jax.Array, state: SeedEncodedState, task: Any) -> tuple[SeedEncodedState, dict]:
        k_ask, k_eval = jax.random.split(key)
        encoded, state = ask(k_ask, state)
        fitness, extra = _evaluate_all(k_eval, encoded, as_task(task))
        state = tell(state, encoded, fitness)
        # parameter statistics (diversity, non-finite weights) are over the K dense parents only
        metrics = generation_metrics(state.encoded.parents, fitness, diversity_metric)
        metrics["best_so_far"] = state.best_fitness
        metrics.update(extra)
        return state, metrics

    strategy = Strategy(init, ask, tell, step, config)
    return strategy
