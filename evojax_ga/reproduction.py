"""Reproduction: the next population from the evaluated one, in a single array program.

A :class:`Layout` (computed once from the population size) fixes which rows of the next population
are kept and which are children: rows ``0..elite-1`` are the elite, the next ``survivors`` rows
random survivors, the rest children. Every row goes through the same fused crossover and mutation
loop (kept rows with both parents equal to themselves), and :func:`keep_rows` then selects the kept
rows back from the parents by a per-row mask. Kept individuals are therefore bit-identical copies
whatever the operators and their parameter names are, and the population is written once.

With a split layout (``crossover_children`` set; Prellberg & Kramer 2018's offspring fractions) the
children are of two kinds: the first ``crossover_children`` rows are crossed over and not mutated,
the rest are mutated copies of one parent; each pair's parents are ordered so that ``a`` is the
fitter. :func:`inherited_fitness` gives every row of such a population the fitness it inherits
(for a fitness moving average).
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

__all__ = ["Layout", "make_layout", "keep_rows", "reproduce", "inherited_fitness", "Parents"]


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
    crossover_children: int | None = None   # split layout: children made by crossover alone (the rest: mutation)

    @property
    def kept(self) -> int:
        return self.elite + self.survivors


def make_layout(pop_size: int, elite: int, random_survivors: int, parent_pool: int | float | None,
                crossover_children: int | float | None = None) -> Layout:
    """The :class:`Layout` of a population of ``pop_size``; ValueError when the counts do not fit.

    crossover_children: None (every child is crossed over, then mutated), or the children made by
    crossover alone: an int, or a fraction of ``pop_size`` (rounded); the other children are mutated
    copies. It must leave room for the kept rows.
    """
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
    children = P - elite - random_survivors
    n_xo = None
    if crossover_children is not None:
        n_xo = (int(round(crossover_children * P)) if isinstance(crossover_children, float)
                else int(crossover_children))
        if not 0 <= n_xo <= children:
            raise ValueError(f"crossover_children ({n_xo}) must be between 0 and the {children} children of a "
                             f"population of {P} (elite {elite}, random_survivors {random_survivors})")
    return Layout(P, elite, random_survivors, children, pool, surv_start, n_xo)


class Parents(NamedTuple):
    """Where each row of a reproduced population came from: ``a``, ``b`` ``[P]`` int32 row indices into
    the previous population (a kept row: its own source twice) and ``is_child`` ``[P]`` bool."""
    a: jax.Array
    b: jax.Array
    is_child: jax.Array


def keep_rows(is_child: jax.Array, children: Population, parents: Population) -> Population:
    """Row ``i`` of ``children`` where ``is_child[i]`` ([P] bool), else row ``i`` of ``parents``."""
    def pick(c: jax.Array, p: jax.Array) -> jax.Array:
        return jnp.where(is_child.reshape((c.shape[0],) + (1,) * (c.ndim - 1)), c, p)
    return jax.tree_util.tree_map(pick, children, parents)


def reproduce(key: PRNGKey, layout: Layout, select: Selection, crossover: Crossover, mutate: Mutation,
              population: Population, fitness: Fitness, params: Params,
              first: Any) -> tuple[Population, Params, Parents]:
    """The next population ``[P, ...]``, the operator params it was made with and its :class:`Parents`.

    fitness: ``[P]`` of ``population``; params: ``{"selection", "crossover", "mutation"}``; first:
    scalar bool, True before the first evaluation: every row is then kept as itself (the initial
    population passes through the same fused loop unchanged, with no ``lax.cond`` whose branch
    outputs would cost a full copy). The returned params differ from ``params`` only in the
    mutation's / crossover's entry when that operator has an ``inherit`` hook.
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
    if layout.crossover_children is not None:
        pa, pb = _fitter_first(fitness, pa, pb)
    ia = jnp.where(first, ident, jnp.concatenate([kept_idx, pa]))
    ib = jnp.where(first, ident, jnp.concatenate([kept_idx, pb]))
    is_child = (ident >= layout.kept) & ~first
    mparams, cparams = params["mutation"], params["crossover"]
    if mutate.inherit is not None:
        mparams = mutate.inherit(k_inherit, mparams, ia, is_child)
    if crossover.inherit is not None:
        cparams = crossover.inherit(jax.random.fold_in(k_inherit, 1), cparams, ia, is_child)
    new_params = {**params, "mutation": mparams, "crossover": cparams}
    if layout.crossover_children is not None:
        return _split_children(layout, crossover, mutate, population, new_params, ia, ib, is_child,
                               k_x, k_m), new_params, Parents(ia, ib, is_child)
    a, b = gather(population, ia), gather(population, ib)
    children = crossover.apply(k_x, cparams, a, b, 0)
    children = mutate.apply(k_m, mparams, children, 0)
    return keep_rows(is_child, children, a), new_params, Parents(ia, ib, is_child)


def _fitter_first(fitness: Fitness, pa: jax.Array, pb: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each pair ordered so that ``pa`` is the fitter (ties and NaN: ``pa`` stays first)."""
    rk = sel.rank_key(fitness)
    swap = rk[pb] > rk[pa]
    return jnp.where(swap, pb, pa), jnp.where(swap, pa, pb)


def _rows(pop: Population, start: int, stop: int) -> Population:
    return jax.tree_util.tree_map(lambda x: x[start:stop], pop)


def _param_rows(params: Params, P: int, start: int, stop: int) -> Params:
    """Per-individual params (``[P]`` leaves) cut to rows ``start:stop``; scalars as they are."""
    return jax.tree_util.tree_map(lambda v: v[start:stop] if jnp.ndim(v) == 1 and jnp.shape(v)[0] == P else v,
                                  params)


def _split_children(layout: Layout, crossover: Crossover, mutate: Mutation, population: Population, params: Params,
                    ia: jax.Array, ib: jax.Array, is_child: jax.Array, k_x: PRNGKey, k_m: PRNGKey) -> Population:
    """The next population of a split layout: kept rows, crossover-only rows, mutation-only rows (draws
    use the global row, so they do not depend on the split)."""
    P, k0 = layout.pop_size, layout.kept
    k1 = k0 + int(layout.crossover_children or 0)
    a = gather(population, ia)
    parts = [_rows(a, 0, k0)]
    if k1 > k0:
        b = gather(population, ib[k0:k1])
        parts.append(crossover.apply(k_x, _param_rows(params["crossover"], P, k0, k1), _rows(a, k0, k1), b, k0))
    if P > k1:
        parts.append(mutate.apply(k_m, _param_rows(params["mutation"], P, k1, P), _rows(a, k1, P), k1))
    children = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, axis=0), *parts)
    return keep_rows(is_child, children, a)


def inherited_fitness(layout: Layout, fitness: Fitness, parents: Parents, weight_b: Any, first: Any) -> jax.Array:
    """``[P]``: the fitness each row of the next population inherits. Kept rows and mutated copies: their
    parent's; crossover children: ``(1 - weight_b) * F[a] + weight_b * F[b]``; before the first
    evaluation (``first``): NaN (nothing to inherit)."""
    ia, ib = parents.a, parents.b
    fa, fb = fitness[ia], fitness[ib]
    w = jnp.asarray(weight_b, jnp.float32)
    row = jnp.arange(layout.pop_size)
    if layout.crossover_children is None:
        is_xo = row >= layout.kept
    else:
        is_xo = (row >= layout.kept) & (row < layout.kept + layout.crossover_children)
    mixed = jnp.where(is_xo & (ia != ib), (1.0 - w) * fa + w * fb, fa)
    return jnp.where(first, jnp.nan, mixed)
