"""Reproduction: the next population from the evaluated one, in a single array program.

A :class:`Layout` (computed once from the population size) fixes which rows of the next population
are kept and which are children: rows ``0..elite-1`` are the elite, the next ``survivors`` rows
random survivors, the rest children. Every row goes through the same fused crossover and mutation
loop (kept rows with both parents equal to themselves), and :func:`keep_rows` then selects the kept
rows back from the parents by a per-row mask. Kept individuals are therefore bit-identical copies
whatever the operators and their parameter names are, and the population is written once.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga import selection as sel
from evojax_ga.crossover import Crossover
from evojax_ga.mutation import Mutation
from evojax_ga.population import gather
from evojax_ga.selection import Selection
from evojax_ga.types import Fitness, Params, Population, PRNGKey

__all__ = ["Layout", "make_layout", "keep_rows", "reproduce"]


class Layout(NamedTuple):
    """Row counts of one generation (static ints).

    pop_size: P; elite: rows kept as the best; survivors: random survivors kept after them;
    children: ``P - elite - survivors``; pool: parents are drawn from the ``pool`` best (plus the
    survivors when the pool is restricted); survivor_start: rank from which survivors are drawn.
    """
    pop_size: int
    elite: int
    survivors: int
    children: int
    pool: int
    survivor_start: int

    @property
    def kept(self) -> int:
        return self.elite + self.survivors


def make_layout(pop_size: int, elite: int, random_survivors: int, parent_pool: int | float | None) -> Layout:
    """The :class:`Layout` of a population of ``pop_size``; ValueError when the counts do not fit."""
    P = pop_size
    if elite + random_survivors >= P:
        raise ValueError(f"elite ({elite}) + random_survivors ({random_survivors}) must leave room for "
                         f"at least one child in a population of {P}")
    if parent_pool is None:
        pool = P
    elif isinstance(parent_pool, float):
        pool = max(1, math.ceil(parent_pool * P))
    else:
        pool = parent_pool
    if pool > P:
        raise ValueError(f"parent_pool ({pool}) exceeds the population size {P}")
    # survivors are "losers": drawn from below the elite and, when the parent pool is restricted,
    # from outside it (Harvey's "keep a few of the rest"), so they never enter the pool twice
    surv_start = elite if pool >= P else max(elite, pool)
    if random_survivors > P - surv_start:
        raise ValueError(f"random_survivors ({random_survivors}) exceeds the {P - surv_start} individuals "
                         f"outside the elite and the parent pool (population {P})")
    return Layout(P, elite, random_survivors, P - elite - random_survivors, pool, surv_start)


def keep_rows(is_child: jax.Array, children: Population, parents: Population) -> Population:
    """Row ``i`` of ``children`` where ``is_child[i]`` ([P] bool), else row ``i`` of ``parents``."""
    def pick(c: jax.Array, p: jax.Array) -> jax.Array:
        return jnp.where(is_child.reshape((c.shape[0],) + (1,) * (c.ndim - 1)), c, p)
    return jax.tree_util.tree_map(pick, children, parents)


def reproduce(key: PRNGKey, layout: Layout, select: Selection, crossover: Crossover, mutate: Mutation,
              population: Population, fitness: Fitness, params: Params, first: Any) -> tuple[Population, Params]:
    """The next population ``[P, ...]`` and the mutation params it was made with.

    fitness: ``[P]`` of ``population``; params: ``{"selection", "crossover", "mutation"}``; first:
    scalar bool, True before the first evaluation: every row is then kept as itself (the initial
    population passes through the same fused loop unchanged, with no ``lax.cond`` whose branch
    outputs would cost a full copy). The returned mutation params differ from ``params["mutation"]``
    only for a mutation with an ``inherit`` hook.
    """
    P = layout.pop_size
    k_surv, k_pa, k_pb, k_x, k_m, k_inherit = jax.random.split(key, 6)
    order = sel.argsort_desc(fitness)
    surv = sel.random_survivors(k_surv, fitness, layout.survivor_start, layout.survivors)
    if layout.survivors == 0 or layout.pool >= P:
        pool_idx = order[:layout.pool]
    else:
        pool_idx = jnp.concatenate([order[:layout.pool], surv])
    pool_fit = fitness[pool_idx]
    sp = params["selection"]
    pa = pool_idx[select.apply(k_pa, sp, pool_fit, layout.children)]
    pb = pool_idx[select.apply(k_pb, sp, pool_fit, layout.children)]
    kept_idx = jnp.concatenate([order[:layout.elite], surv])
    ident = jnp.arange(P, dtype=jnp.int32)
    ia = jnp.where(first, ident, jnp.concatenate([kept_idx, pa]))
    ib = jnp.where(first, ident, jnp.concatenate([kept_idx, pb]))
    is_child = (ident >= layout.kept) & ~first
    a, b = gather(population, ia), gather(population, ib)
    children = crossover.apply(k_x, params["crossover"], a, b, 0)
    mparams = params["mutation"]
    if mutate.inherit is not None:
        mparams = mutate.inherit(k_inherit, mparams, ia, is_child)
    children = mutate.apply(k_m, mparams, children, 0)
    return keep_rows(is_child, children, a), mparams
