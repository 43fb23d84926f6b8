"""NSGA-III (Deb & Jain 2014): NSGA-II's elitist survival with reference-point niching in the last front.

Fitness ``[P, M]`` is maximised, as everywhere in this project (NSGA-III's formulas are written for
minimisation, so survival works on ``f = -fitness``). One generation:

1. ``ask``: ``P`` children of parents drawn uniformly from the survivors (the paper's random
   selection), crossed over and mutated with this project's operators; ``ask`` also draws the key
   survival's random tie-breaks use (``state.key``).
2. ``tell``: children + survivors (``2P`` rows) are ranked into fronts; whole fronts survive while they
   fit; the last front that does not fit whole is cut by **niching** (:func:`niche_survive`):

   * normalisation: ``f`` minus the ideal point (the best value per objective over the fronts
     considered), divided by the intercepts of the hyperplane through the extreme points (per axis,
     the row minimising the achievement scalarising function with weights ``e_m``, ``1e-6`` elsewhere);
     a degenerate hyperplane (singular, or an intercept not above ``1e-6``) falls back to the worst
     value of the first front per objective, then to the worst over the fronts considered;
   * association: every row to the reference direction with the smallest perpendicular distance;
   * niching: a direction's niche count is how many of the rows already surviving it holds. The
     paper's loop (add a member of the least-crowded direction, the closest one when its count is 0,
     else a random one; ties between directions broken at random) is one sort here: the ``k``-th
     member of direction ``j`` (closest first when the count is 0, then in random order) fills the
     slot of level ``count_j + k``, and the ``K`` slots of lowest level survive, random order within
     a level. Same distribution, no Python loop over picks.

Reference directions: :func:`reference_directions` (Das and Dennis's simplex lattice) or any ``[H, M]``
array of non-negative directions. NaN rows rank last; when the cut front is their front, ``K`` of them
survive at random. ``±inf`` values are ordinary for ranking; for association the normalised values are
made finite (``nan_to_num``), so a row with an infinite value joins the direction of its largest axis.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import pareto
from evojax_ga._checks import check_int
from evojax_ga.nsga2 import NSGA2State, check_options, elitist_strategy
from evojax_ga.population import gather
from evojax_ga.strategy import Strategy
from evojax_ga.types import Population, PRNGKey

__all__ = ["reference_directions", "normalize", "associate", "niche_survive", "nsga3"]

#: the most reference directions :func:`reference_directions` builds
MAX_DIRECTIONS = 1_000_000


def reference_directions(num_objectives: int, divisions: int) -> np.ndarray:
    """``[H, M]`` float32 Das-Dennis directions: every point of the unit simplex whose coordinates are
    multiples of ``1 / divisions`` (``H = C(divisions + M - 1, M - 1)``; e.g. M = 3, 12 divisions: 91)."""
    M = check_int(num_objectives, "num_objectives", minimum=1)
    p = check_int(divisions, "divisions", minimum=1)
    H = math.comb(p + M - 1, M - 1)
    if H > MAX_DIRECTIONS:
        raise ValueError(f"divisions: {p} divisions of {M} objectives make {H} reference directions, more than "
                         f"{MAX_DIRECTIONS}; use fewer divisions")
    rows = []
    for bars in itertools.combinations(range(p + M - 1), M - 1):   # stars and bars
        edges = (-1, *bars, p + M - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(M)])
    return (np.asarray(rows, np.float64).reshape(H, M) / p).astype(np.float32)


def check_directions(ref_dirs: Any, M: int) -> jax.Array:
    """``ref_dirs`` as a float32 ``[H, M]`` array of non-negative, non-zero directions (checked when concrete)."""
    d = jnp.asarray(ref_dirs, jnp.float32)
    if d.ndim != 2 or d.shape[1] != M or d.shape[0] < 1:
        raise ValueError(f"ref_dirs must be an [H, {M}] array (one direction per row, one column per objective), "
                         f"got shape {tuple(d.shape)}")
    if not isinstance(d, jax.core.Tracer):
        v = np.asarray(d)
        if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v.sum(axis=1) <= 0):
            raise ValueError("ref_dirs must be finite, non-negative, with a positive sum in every row")
    return d


def normalize(f: jax.Array, use: jax.Array, first: jax.Array) -> jax.Array:
    """``[n, M]`` normalised objectives of ``f`` (minimised) from the rows ``use`` (the fronts considered;
    ``first``: their first front): ``(f - ideal) / intercepts`` (see the module doc)."""
    M = f.shape[1]
    big = jnp.float32(jnp.inf)
    ideal = jnp.min(jnp.where(use[:, None], f, big), axis=0)
    fp = f - ideal
    w = jnp.where(jnp.eye(M, dtype=bool), 1.0, 1e-6)
    asf = jnp.max(fp[:, None, :] / w[None, :, :], axis=2)                  # [n, M]: one column per axis
    extreme = fp[jnp.argmin(jnp.where(use[:, None], asf, big), axis=0)]    # [M, M], row m for axis m
    b = jnp.linalg.solve(extreme, jnp.ones((M,), f.dtype))
    a = 1.0 / b
    worst_first = jnp.max(jnp.where(first[:, None], fp, -big), axis=0)
    worst = jnp.max(jnp.where(use[:, None], fp, -big), axis=0)
    bad = jnp.any(~jnp.isfinite(a)) | jnp.any(a <= 1e-6)
    a = jnp.where(bad, worst_first, a)
    a = jnp.where(a <= 1e-6, worst, a)
    a = jnp.where(jnp.isfinite(a) & (a > 1e-6), a, 1.0)
    return fp / a


def associate(fn: jax.Array, ref_dirs: jax.Array, chunk: int) -> tuple[jax.Array, jax.Array]:
    """``(direction [n] int32, perpendicular distance [n])`` of each row of ``fn`` to the nearest line of
    ``ref_dirs [H, M]``, ``chunk`` rows at a time (memory ``[chunk, H]``)."""
    n, M = fn.shape
    u = ref_dirs / jnp.linalg.norm(ref_dirs, axis=1, keepdims=True)
    x = jnp.nan_to_num(fn)
    m = -(-n // chunk) * chunk
    xp = jnp.concatenate([x, jnp.zeros((m - n, M), x.dtype)]).reshape(m // chunk, chunk, M)

    def one(rows: jax.Array) -> tuple[jax.Array, jax.Array]:
        proj = rows @ u.T                                                  # [chunk, H]
        d2 = jnp.sum(rows * rows, axis=1, keepdims=True) - proj * proj
        j = jnp.argmin(d2, axis=1).astype(jnp.int32)
        return j, jnp.sqrt(jnp.maximum(jnp.take_along_axis(d2, j[:, None], axis=1)[:, 0], 0.0))

    j, d = jax.lax.map(one, xp)
    return j.reshape(m)[:n], d.reshape(m)[:n]


def niche_survive(key: PRNGKey, population: Population, fitness: jax.Array, size: int, ref_dirs: jax.Array,
                  chunk_size: int | None = None) -> tuple[Population, jax.Array, jax.Array, jax.Array]:
    """The ``size`` survivors of ``fitness [n, M]`` by fronts, the last cut by niching:
    ``(population, fitness, rank, distance)``, each ``[size, ...]`` (distance: to the row's direction)."""
    n, M = fitness.shape
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= n:
        raise ValueError(f"size must be an int in [1, {n}] (the rows of fitness), got {size!r}")
    ref_dirs = check_directions(ref_dirs, M)
    H = ref_dirs.shape[0]
    rank = pareto.nondominated_ranks(fitness, chunk_size, stop_after=size)
    last = pareto.cut_front(rank, size)
    before, cut = rank < last, rank == last
    good = ~pareto.nan_rows(fitness)
    use = (rank <= last) & good
    fn = normalize(-fitness.astype(jnp.float32), use, (rank == 0) & good)
    direction, dist = associate(fn, ref_dirs, min(n, pareto._BLOCK if chunk_size is None else chunk_size))
    direction = jnp.where(use, direction, H)                               # NaN rows: one direction of their own
    dist = jnp.where(use, dist, jnp.inf)
    niche = jax.ops.segment_sum(before.astype(jnp.int32), direction, num_segments=H + 1)
    k_order, k_level = jax.random.split(key)
    closest = jax.ops.segment_min(jnp.where(cut, dist, jnp.inf), direction, num_segments=H + 1)
    first = cut & (niche[direction] == 0) & (dist == closest[direction])
    u = jax.random.uniform(k_order, (n,))
    idx = jnp.arange(n, dtype=jnp.int32)
    # cut rows by direction, each direction's closest first when its count is 0, then at random
    order = jnp.lexsort((u, ~first, direction, ~cut))
    pos = jnp.zeros((n,), jnp.int32).at[order].set(idx)
    start = jax.ops.segment_min(jnp.where(cut, pos, n), direction, num_segments=H + 1)
    level = niche[direction] + pos - start[direction]
    take = jnp.lexsort((jax.random.uniform(k_level, (n,)), level, ~cut))   # cut rows by level, random within
    picked = jnp.zeros((n,), bool).at[take].set(idx < size - jnp.sum(before, dtype=jnp.int32))
    keep = jnp.nonzero(before | (cut & picked), size=size, fill_value=0)[0]
    return gather(population, keep), fitness[keep], rank[keep], dist[keep]


def nsga3(num_objectives: int, ref_dirs: Any = None, divisions: int | None = None,
          crossover: xo.Crossover | None = None, mutate: mu.Mutation | None = None, ref: Any = None,
          chunk_size: int | None = None) -> Strategy:
    """NSGA-III over fitness ``[P, num_objectives]`` (maximised), state :class:`~evojax_ga.nsga2.NSGA2State`
    (``crowding`` holds each survivor's distance to its reference direction).

    ref_dirs: ``[H, M]`` reference directions, or None for ``reference_directions(M, divisions)``
    (``divisions`` default 12 for 3 objectives, 99 for 2, 6 for more; the paper sizes the population
    near ``H``); crossover, mutate, ref, chunk_size: as :func:`evojax_ga.nsga2.nsga2` (``chunk_size``
    also bounds the ``[chunk, H]`` association).
    """
    M, crossover, mutate, ref, chunk_size = check_options(num_objectives, crossover, mutate, ref, chunk_size, "nsga3")
    if ref_dirs is None:
        p = {2: 99, 3: 12}.get(M, 6) if divisions is None else divisions
        dirs = check_directions(reference_directions(M, p), M)
    else:
        if divisions is not None:
            raise ValueError("divisions: give ref_dirs or divisions, not both")
        dirs = check_directions(ref_dirs, M)
    config = dict(algorithm="nsga3", num_objectives=M, directions=int(dirs.shape[0]), crossover=crossover.name,
                  mutate=mutate.name, ref=None if ref is None else [float(v) for v in ref], chunk_size=chunk_size)

    def parents(key: PRNGKey, state: NSGA2State, num: int) -> jax.Array:
        return jax.random.randint(key, (num,), 0, state.rank.shape[0], dtype=jnp.int32)

    def survival(key: Any, population: Population, fitness: jax.Array, size: int) -> Any:
        return niche_survive(key, population, fitness, size, dirs, chunk_size)

    return elitist_strategy(M, crossover, mutate, ref, config, parents, survival, keyed=True)
