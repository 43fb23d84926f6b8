"""Per-generation metrics of a strategy: fitness statistics, parameter health and diversity.

Every function returns float32 (or int32 counts) scalars, cheap enough to compute inside the jitted
step every generation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga.types import Fitness, Params, Population

__all__ = ["DIVERSITY_ROWS", "ordered_sum", "population_diversity", "generation_metrics", "mutation_metrics"]

#: above this many individuals, diversity is estimated from this many evenly spaced ones
DIVERSITY_ROWS = 4096


def ordered_sum(x: jax.Array, axis: int | None = None) -> jax.Array:
    """Sum of ``x`` (over ``axis``, or every element) as float32, added in a fixed pairwise order
    (zero-padded to a power of two, neighbours first). The same bits whether ``x`` lives on one device
    or is split over the devices of several processes: a plain ``jnp.sum`` adds per-device partial
    sums, and XLA:CPU vectorises a row reduction differently for another number of rows, both of
    which round differently, so fitness and metrics would depend on how a population is sharded."""
    v = jnp.asarray(x).astype(jnp.float32)
    v = jnp.ravel(v)[None] if axis is None else jnp.moveaxis(v, axis, -1)
    n = v.shape[-1]
    if n == 0:
        return jnp.zeros(v.shape[:-1], jnp.float32) if axis is not None else jnp.float32(0.0)
    # the barrier keeps the terms' own arithmetic out of the additions (no fused multiply-add with
    # the first level, which one program would contract and another not)
    v = jax.lax.optimization_barrier(v)
    v = jnp.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, (1 << (n - 1).bit_length()) - n)])
    while v.shape[-1] > 1:
        v = v[..., 0::2] + v[..., 1::2]
    return v[..., 0] if axis is not None else v[0, 0]


def population_diversity(population: Population, max_rows: int = DIVERSITY_ROWS) -> jax.Array:
    """Mean over float genes of the per-gene standard deviation across individuals (float32 scalar).

    For ``P > max_rows`` it is estimated from ``max_rows`` evenly spaced individuals. Computed as a
    ``lax.scan`` over individuals with sums shifted by the first individual: a reduction over the
    population axis fused with its producer is very slow on XLA:CPU, the scan is memory-bound.
    """
    leaves = [x for x in jax.tree_util.tree_leaves(population) if jnp.issubdtype(x.dtype, jnp.floating)]
    if not leaves:
        return jnp.float32(0.0)
    P = leaves[0].shape[0]
    flat = [x.reshape(P, -1).astype(jnp.float32) for x in leaves]
    if P > max_rows:
        idx = jnp.arange(max_rows) * (P // max_rows)
        flat = [jnp.take(x, idx, axis=0) for x in flat]
        P = max_rows
    x = jnp.concatenate(flat, axis=1) if len(flat) > 1 else flat[0]
    x0 = x[0]

    def body(carry, row):
        d = row - x0
        return (carry[0] + d, carry[1] + d * d), None

    zeros = jnp.zeros_like(x0)
    (s1, s2), _ = jax.lax.scan(body, (zeros, zeros), x)
    m1 = s1 / P
    var = jnp.maximum(s2 / P - m1 * m1, 0.0)
    return jnp.mean(jnp.sqrt(var))


def generation_metrics(population: Population, fitness: Fitness, diversity: bool = True) -> dict:
    """Per-generation statistics over finite fitness values (all scalars, float32 unless noted).

    best / mean / std / worst of the finite fitness; nonfinite (int32): NaN or ±inf count;
    posinf (int32); nonfinite_params (int32): individuals with a NaN/inf weight; diversity: see
    :func:`population_diversity`.
    """
    f = jnp.asarray(fitness, jnp.float32)
    finite = jnp.isfinite(f)
    n = jnp.maximum(jnp.sum(finite), 1)
    fz = jnp.where(finite, f, 0.0)
    mean = ordered_sum(fz) / n   # (fixed order: the same on any number of devices)
    var = ordered_sum(jnp.where(finite, (f - mean) ** 2, 0.0)) / n
    out = {
        "best": jnp.max(sel.rank_key(f)),
        "mean": jnp.where(jnp.any(finite), mean, jnp.nan),
        "std": jnp.sqrt(var),
        "worst": jnp.min(jnp.where(finite, f, jnp.inf)),
        "nonfinite": sel.count_nonfinite(f),
        "posinf": jnp.sum(f == jnp.inf).astype(jnp.int32),
        "nonfinite_params": mu.count_nonfinite_params(population),
    }
    if diversity:
        out["diversity"] = population_diversity(population)
    return out


def mutation_metrics(params: Params) -> dict:
    """``mutation_rate`` when the mutation has a ``rate`` parameter; ``sigma_mean`` when it has a
    per-individual ``[P]`` sigma (e.g. :func:`evojax_ga.mutation.self_adaptive`)."""
    out = {}
    rate = mu.get_param(params, "rate")
    if rate is not None:
        out["mutation_rate"] = jnp.asarray(rate, jnp.float32)
    sigma = mu.get_param(params, "sigma")
    if sigma is not None and jnp.ndim(sigma) == 1:
        out["sigma_mean"] = ordered_sum(sigma) / jnp.size(sigma)
    return out
