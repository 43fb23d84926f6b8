"""Chunked evaluation: bound live memory by evaluating ``chunk_size`` individuals at a time.

The chunk size is a parameter, not a code path: results are identical for every chunk size because
per-individual randomness comes from ``fold_in(key, global_index)``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.population import validate_population

__all__ = ["lift", "chunked_apply", "on_accelerator", "by_backend"]

Population = Any


def on_accelerator() -> bool:
    """True when JAX's default backend is a GPU or TPU (not the CPU)."""
    return jax.default_backend() != "cpu"


def by_backend(cpu: Any, accelerator: Any) -> Any:
    """``cpu`` on the CPU backend, else ``accelerator``: for defaults tuned per kind of device
    (cache-sized chunks on a CPU, large ones that fill a GPU)."""
    return accelerator if on_accelerator() else cpu


def _check_chunk(chunk_size: int | None) -> int | None:
    return None if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)


def lift(f: Callable[[jax.Array, Any], Any], chunk_size: int | None = None) -> Callable[[jax.Array, Population], Any]:
    """Turn a per-individual ``f(key_i, params_i) -> scalar`` into ``evaluate(key, pop) -> [P]``.

    ``key_i = fold_in(key, i)`` with ``i`` the global index; ``chunk_size`` evaluates that many
    individuals per ``lax.map`` step (``None``: all at once with ``vmap``). ``f`` may also return
    ``(scalar, dict_of_scalars)``; the dict's entries are then averaged over the population and
    returned as extra metrics.
    """
    chunk_size = _check_chunk(chunk_size)

    def evaluate(key: jax.Array, pop: Population):
        P = validate_population(pop)
        idx = jnp.arange(P, dtype=jnp.int32)
        g = lambda args: f(jax.random.fold_in(key, args[0]), args[1])
        if chunk_size is None or chunk_size >= P:
            out = jax.vmap(g)((idx, pop))
        else:
            out = jax.lax.map(g, (idx, pop), batch_size=chunk_size)
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out[0], {k: jnp.mean(v) for k, v in out[1].items()}
        return out

    return evaluate


def chunked_apply(fn: Callable[[Population, jax.Array], Any], pop: Population, chunk_size: int | None) -> Any:
    """``fn(chunk, rows) -> outputs [C, ...]`` over the population in chunks of ``chunk_size``.

    ``rows`` are the chunk's global indices ``[C]`` (for counter-based randomness). The population
    is padded to a multiple of ``chunk_size`` by repeating row 0; padded outputs are dropped.
    """
    chunk_size = _check_chunk(chunk_size)
    P = validate_population(pop)
    if chunk_size is None or chunk_size >= P:
        return fn(pop, jnp.arange(P, dtype=jnp.int32))
    n_chunks = -(-P // chunk_size)
    padded = n_chunks * chunk_size
    rows = jnp.arange(padded, dtype=jnp.int32)
    src = jnp.where(rows < P, rows, 0)
    chunks = jax.tree_util.tree_map(
        lambda x: jnp.take(x, src, axis=0).reshape((n_chunks, chunk_size) + x.shape[1:]), pop)
    out = jax.lax.map(lambda a: fn(a[0], a[1]), (chunks, rows.reshape(n_chunks, chunk_size)))
    return jax.tree_util.tree_map(lambda y: y.reshape((padded,) + y.shape[2:])[:P], out)
