"""Pareto ranking of multi-objective fitness ``[P, M]`` (maximised): domination, fronts, crowding, hypervolume.

Every function is a jitted-friendly array program over the whole population (no Python loop over
individuals or fronts; the loop over objectives is static and M is small).

* Row ``i`` **dominates** row ``j`` when ``F[i] >= F[j]`` in every objective and ``F[i] > F[j]`` in at
  least one (Deb et al. 2002, NSGA-II). Equal rows do not dominate each other (same front).
* A row with a NaN in any objective is a **NaN row**: every other row dominates it and it dominates
  nothing, so NaN rows share one front after every front of NaN-free rows (``±inf`` are ordinary
  values).
* :func:`nondominated_ranks`: a row's front is one more than the largest front among the rows that
  dominate it. Rows sorted in descending lexicographic order have their dominators before them, so one
  pass over blocks of ``C`` sorted rows (a ``fori_loop``) settles each block against the blocks before
  it and then within itself: about ``P^2 / 2`` comparisons, memory ``[C, C]``, whatever the number of
  fronts. ``stop_after`` caps the ranks past the fronts NSGA-II survival needs.
* :func:`crowding_distance` per front and objective sorts by ``(rank, value, index)``; a front's two
  extreme rows in an objective get ``+inf``, interior rows add the gap between their neighbours over the
  front's range in that objective (a zero or non-finite range adds 0). Ties are broken by row index.
  NaN rows get 0.
* :func:`hypervolume`: the exact volume dominated by the NaN-free rows and bounded below by ``ref``
  (2 objectives: a sweep, ``O(P log P)``; 3: slices along the third objective, ``O(P^2 log P)``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_objectives", "check_ref", "nan_rows", "domination_matrix", "domination_counts", "nondominated_ranks",
           "cut_front", "crowding_distance",
           "crowded_order", "hypervolume", "hypervolume_2d", "hypervolume_3d"]


def as_objectives(fitness: Any, name: str = "fitness", size: int | None = None) -> jax.Array:
    """``fitness`` as a ``[P, M]`` array of real numbers (P >= 1, M >= 1; ``P == size`` when given).

    Static checks (free inside ``jit``): ValueError naming ``name`` for a wrong rank or shape,
    TypeError for a complex or non-numeric dtype. Nothing is cast silently.
    """
    try:
        f = jnp.asarray(fitness)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a [P, M] array of real numbers, got {type(fitness).__name__}") from None
    if f.ndim != 2 or f.shape[0] < 1 or f.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty [P, M] array (one row of M objectives per individual), "
                         f"got shape {tuple(f.shape)}")
    if size is not None and f.shape[0] != size:
        raise ValueError(f"{name} must have {size} rows (one per individual), got shape {tuple(f.shape)}")
    if not (jnp.issubdtype(f.dtype, jnp.floating) or jnp.issubdtype(f.dtype, jnp.integer)
            or jnp.issubdtype(f.dtype, jnp.bool_)):
        raise TypeError(f"{name} must be real numbers (float or int; higher is better), got dtype {f.dtype}")
    return f


def nan_rows(F: jax.Array) -> jax.Array:
    """``[P]`` bool: rows with a NaN in any objective."""
    F = as_objectives(F, "F")
    return jnp.any(jnp.isnan(F), axis=1)


def _dominates(Fa: jax.Array, bad_a: jax.Array, Fb: jax.Array, bad_b: jax.Array) -> jax.Array:
    """``[A, B]`` bool: row ``a`` of ``Fa`` dominates row ``b`` of ``Fb`` (NaN rows: dominated by every other row)."""
    ge = jnp.all(Fa[:, None, :] >= Fb[None, :, :], axis=2)
    gt = jnp.any(Fa[:, None, :] > Fb[None, :, :], axis=2)
    dom = ge & gt & ~bad_a[:, None] & ~bad_b[None, :]
    return dom | (~bad_a[:, None] & bad_b[None, :])


def domination_matrix(F: jax.Array) -> jax.Array:
    """``[P, P]`` bool, ``D[i, j]`` = row ``i`` dominates row ``j`` (NaN rows: dominated by every other row)."""
    F = as_objectives(F, "F")
    bad = nan_rows(F)
    return _dominates(F, bad, F, bad)


def _check_chunk(chunk_size: Any) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1 or None (the default), got {chunk_size!r}")
    return chunk_size


def _padded(F: jax.Array, C: int) -> tuple[jax.Array, jax.Array, int]:
    """``F`` padded with NaN rows to a multiple of ``C`` rows, its NaN-row mask, and the padded length."""
    P = F.shape[0]
    n = -(-P // C) * C
    Fp = jnp.concatenate([F, jnp.full((n - P, F.shape[1]), jnp.nan, F.dtype)]) if n > P else F
    return Fp, jnp.any(jnp.isnan(Fp), axis=1), n


def domination_counts(F: jax.Array, chunk_size: int | None = None) -> jax.Array:
    """``[P]`` int32: how many rows dominate each row; ``chunk_size`` columns at a time (None: dense)."""
    F = as_objectives(F, "F")
    C = _check_chunk(chunk_size)
    if C is None:
        return jnp.sum(domination_matrix(F), axis=0, dtype=jnp.int32)
    P = F.shape[0]
    bad = nan_rows(F)
    Fp, badp, n = _padded(F, C)
    cols = (Fp.reshape(n // C, C, -1), badp.reshape(n // C, C))
    counts = jax.lax.map(lambda c: jnp.sum(_dominates(F, bad, c[0], c[1]), axis=0, dtype=jnp.int32), cols)
    return counts.reshape(n)[:P]


def nondominated_ranks(F: jax.Array, chunk_size: int | None = None, stop_after: Any = None) -> jax.Array:
    """``[P]`` int32 front index of every row: 0 = non-dominated, NaN rows after every other front.

    chunk_size: rows compared a block at a time (memory ``[C, C]``; None: 256); the ranks do not
    depend on it.
    stop_after: None ranks every row; a number ``k`` gives every row past the first fronts that hold
    at least ``k`` rows the next front index (a lower bound on its own). NSGA-II survival (Deb et al.
    2002) fills the next population front by front and needs no more.
    """
    F = as_objectives(F, "F")
    C = _check_chunk(chunk_size)
    P = F.shape[0]
    ranks = _chain_ranks(F, min(P, _BLOCK if C is None else C))
    if stop_after is None:
        return ranks
    return jnp.minimum(ranks, jnp.where(stop_after > 0, cut_front(ranks, stop_after) + 1, 0))


def cut_front(ranks: jax.Array, k: Any) -> jax.Array:
    """int32 scalar: the front in which the rows of fronts ``0 .. r`` first number at least ``k`` (the
    front NSGA survival cuts when it keeps ``k`` rows); ``ranks`` ``[P]`` from :func:`nondominated_ranks`."""
    P = ranks.shape[0]
    counts = jax.ops.segment_sum(jnp.ones((P,), jnp.int32), ranks, num_segments=P + 1)
    return jnp.argmax(jnp.cumsum(counts) >= k).astype(jnp.int32)


#: rows per block of :func:`nondominated_ranks` (fastest of 128-1024 at P = 10^4 on a 2-core CPU)
_BLOCK = 256


def _chain_ranks(F: jax.Array, B: int) -> jax.Array:
    """Exact front indices by longest dominance chains, ``B`` rows at a time.

    A row's front is one more than the largest front among the rows that dominate it (0 when none
    does). Sorted in descending lexicographic order every dominator of a row comes before it, so one
    pass over blocks of ``B`` sorted rows settles each block against the blocks before it (a running
    maximum over ``[B, B]`` comparisons: about ``P^2 / 2`` pairs in all) and then within itself (a
    fixed point over the block's own ``[B, B]`` domination matrix). NaN rows (and the padding) sort
    last, dominate nothing, and get the front after the last one of the other rows.
    """
    P, M = F.shape
    bad = nan_rows(F)
    order = jnp.lexsort((*(F[:, m] for m in reversed(range(M))), ~bad))[::-1]   # ascending, reversed
    n = -(-P // B) * B
    Fs = jnp.concatenate([F[order], jnp.zeros((n - P, M), F.dtype)])
    bs = jnp.concatenate([bad[order], jnp.ones((n - P,), bool)])
    blocks, bad_blocks = Fs.reshape(n // B, B, M), bs.reshape(n // B, B)

    def dominates(a: int | jax.Array, b: int | jax.Array) -> jax.Array:
        Fa, Fb = blocks[a], blocks[b]
        ge = jnp.all(Fa[:, None, :] >= Fb[None, :, :], axis=2)
        gt = jnp.any(Fa[:, None, :] > Fb[None, :, :], axis=2)
        return ge & gt & ~bad_blocks[a][:, None]

    def block(b: jax.Array, ranks: jax.Array) -> jax.Array:
        def earlier(c: jax.Array, acc: jax.Array) -> jax.Array:
            rc = jax.lax.dynamic_slice(ranks, (c * B,), (B,))
            return jnp.maximum(acc, jnp.max(jnp.where(dominates(c, b), rc[:, None], -1), axis=0))

        base = jax.lax.fori_loop(0, b, earlier, jnp.full((B,), -1, jnp.int32)) + 1
        own = dominates(b, b)

        def settle(carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            r, _ = carry
            new = jnp.maximum(base, jnp.max(jnp.where(own, r[:, None] + 1, 0), axis=0))
            return new, jnp.any(new != r)

        r, _ = jax.lax.while_loop(lambda c: c[1], settle, (base, jnp.bool_(True)))
        return jax.lax.dynamic_update_slice(ranks, r, (b * B,))

    ranks = jax.lax.fori_loop(0, n // B, block, jnp.zeros((n,), jnp.int32))[:P]
    bad_s = bs[:P]
    ranks = jnp.where(bad_s, jnp.max(jnp.where(bad_s, -1, ranks)) + 1, ranks)
    return jnp.zeros((P,), jnp.int32).at[order].set(ranks)


def _check_ranks(ranks: Any, P: int) -> jax.Array:
    r = jnp.asarray(ranks)
    if tuple(r.shape) != (P,) or not jnp.issubdtype(r.dtype, jnp.integer):
        raise ValueError(f"ranks must be an integer [P] = [{P}] vector (from nondominated_ranks), got shape "
                         f"{tuple(r.shape)} and dtype {r.dtype}")
    return r.astype(jnp.int32)


def crowding_distance(F: jax.Array, ranks: jax.Array) -> jax.Array:
    """``[P]`` float32 crowding distance of every row within its front ``ranks`` (see module doc)."""
    F = as_objectives(F, "F")
    P, M = F.shape
    ranks = _check_ranks(ranks, P)
    Ff = F.astype(jnp.float32)
    idx = jnp.arange(P, dtype=jnp.int32)
    dist = jnp.zeros((P,), jnp.float32)
    for m in range(M):
        v = Ff[:, m]
        order = jnp.lexsort((idx, v, ranks))  # last key is the primary one
        r_s, v_s = ranks[order], v[order]
        lo = jax.ops.segment_min(v, ranks, num_segments=P)[r_s]
        hi = jax.ops.segment_max(v, ranks, num_segments=P)[r_s]
        same = r_s[1:] == r_s[:-1]
        interior = jnp.concatenate([jnp.zeros((1,), bool), same]) & jnp.concatenate([same, jnp.zeros((1,), bool)])
        gap = (jnp.roll(v_s, -1) - jnp.roll(v_s, 1)) / (hi - lo)
        gap = jnp.where(jnp.isfinite(gap), gap, 0.0)
        dist = dist.at[order].add(jnp.where(interior, gap, jnp.inf))
    return jnp.where(nan_rows(F), 0.0, dist)


def crowded_order(ranks: jax.Array, crowding: jax.Array) -> jax.Array:
    """``[P]`` int32 row indices best first: lower rank, then larger crowding distance, then lower index."""
    ranks = jnp.asarray(ranks, jnp.int32)
    P = ranks.shape[0]
    c = jnp.asarray(crowding, jnp.float32)
    return jnp.lexsort((jnp.arange(P), -c, ranks)).astype(jnp.int32)


def check_ref(ref: Any, M: int) -> jax.Array:
    """``ref`` as a float32 ``[M]`` reference point; ValueError naming ``ref`` for a wrong shape or a
    non-finite value (checked when ``ref`` is concrete)."""
    r = jnp.asarray(ref, jnp.float32)
    if tuple(r.shape) != (M,):
        raise ValueError(f"ref must be a [{M}] reference point (one value per objective), got shape {tuple(r.shape)}")
    if not isinstance(r, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(r))):
        raise ValueError(f"ref must be finite, got {np.asarray(r).tolist()}")
    return r


def _hv2d(x: jax.Array, y: jax.Array, r: jax.Array, keep: jax.Array) -> jax.Array:
    """Area dominated by points ``(x, y)[keep]`` above ``r`` (points at or below ``r`` add nothing)."""
    x = jnp.where(keep, jnp.maximum(x, r[0]), r[0])
    y = jnp.where(keep, jnp.maximum(y, r[1]), r[1])
    order = jnp.argsort(-x)
    xs, ys = x[order], y[order]
    nxt = jnp.concatenate([xs[1:], r[:1]])
    return jnp.sum((xs - nxt) * (jax.lax.cummax(ys) - r[1]))


def hypervolume_2d(F: jax.Array, ref: Any) -> jax.Array:
    """Exact float32 area dominated by the NaN-free rows of ``F [P, 2]`` and dominating ``ref [2]``."""
    F = as_objectives(F, "F")
    if F.shape[1] != 2:
        raise ValueError(f"hypervolume_2d needs F of shape [P, 2], got {tuple(F.shape)}")
    r = check_ref(ref, 2)
    Ff = F.astype(jnp.float32)
    return _hv2d(Ff[:, 0], Ff[:, 1], r, ~nan_rows(F))


def hypervolume_3d(F: jax.Array, ref: Any) -> jax.Array:
    """Exact float32 volume dominated by the NaN-free rows of ``F [P, 3]`` and dominating ``ref [3]``.

    Slices between consecutive third-objective values, each an exact 2-D area (vmapped).
    """
    F = as_objectives(F, "F")
    if F.shape[1] != 3:
        raise ValueError(f"hypervolume_3d needs F of shape [P, 3], got {tuple(F.shape)}")
    r = check_ref(ref, 3)
    Ff = F.astype(jnp.float32)
    ok = ~nan_rows(F)
    z = jnp.where(ok, jnp.maximum(Ff[:, 2], r[2]), r[2])
    order = jnp.argsort(-z)
    zs, xs, ys, oks = z[order], Ff[order, 0], Ff[order, 1], ok[order]
    P = F.shape[0]
    pos = jnp.arange(P)
    areas = jax.vmap(lambda k: _hv2d(xs, ys, r[:2], oks & (pos <= k)))(pos)
    nxt = jnp.concatenate([zs[1:], r[2:]])
    return jnp.sum((zs - nxt) * areas)


def hypervolume(F: jax.Array, ref: Any) -> jax.Array:
    """Exact hypervolume of ``F [P, M]`` (maximised) above ``ref [M]``, for M = 2 or 3."""
    F = as_objectives(F, "F")
    M = F.shape[1]
    if M == 2:
        return hypervolume_2d(F, ref)
    if M == 3:
        return hypervolume_3d(F, ref)
    raise ValueError(f"hypervolume is exact for 2 or 3 objectives, got F of shape {tuple(F.shape)}")
