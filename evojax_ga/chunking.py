"""Chunked evaluation: bound live memory by evaluating ``chunk_size`` individuals at a time.

One chunker, :func:`map_chunks`, serves every population loop of the library (gymnax rollouts,
classification, seed-encoded populations, hyper-parameter training, :func:`lift`). It cuts ``P``
rows into chunks of ``C = chunk_size`` rows, calls ``fn(chunk, rows)`` on each (``rows``: the
chunk's global row indices, for counter-based randomness) and puts the outputs back in row order.
The chunk size is a parameter, not a code path: per-individual randomness comes from the global
row, so results do not depend on it (up to float rounding where batch shapes change).

What happens to the last ``P mod C`` rows is the ``last`` mode:

* ``"pad"``: every call sees exactly ``C`` rows (even when ``C > P``), the last chunk padded with
  copies of row ``P - 1`` (its ``rows`` too); padded outputs are dropped. One program for any ``P``.
* ``"overlap"``: equal chunks of ``C`` rows, the last one shifted back to end at row ``P - 1`` (it
  re-evaluates rows of the chunk before it; the earlier chunk's outputs are kept). No copy of the
  population; ``fn`` must give a row the same output whichever chunk it is in.
* ``"tail"``: the ``P // C`` full chunks in one loop, then one call on the ``P mod C`` remaining rows
  (a second program of that shape). No padding, no recomputation.

With ``"overlap"`` and ``"tail"`` a ``chunk_size`` of None or ``>= P`` is a single call on all rows.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.population import validate_population
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["LAST_MODES", "ChunkPlan", "plan", "map_chunks", "split_chunks", "LiftedTask", "lift",
           "on_accelerator", "by_backend"]

#: what :func:`map_chunks` does with the rows that do not fill a whole chunk
LAST_MODES = ("pad", "overlap", "tail")


def on_accelerator() -> bool:
    """True when JAX's default backend is a GPU or TPU (not the CPU)."""
    return jax.default_backend() != "cpu"


def by_backend(cpu: Any, accelerator: Any) -> Any:
    """``cpu`` on the CPU backend, else ``accelerator``: for defaults tuned per kind of device
    (cache-sized chunks on a CPU, large ones that fill a GPU)."""
    return accelerator if on_accelerator() else cpu


def _check_chunk(chunk_size: int | None) -> int | None:
    return None if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)


class ChunkPlan(NamedTuple):
    """How :func:`map_chunks` cuts ``num_rows`` rows (static, host-side).

    size: rows per call in the loop (``C``; ``num_rows`` for a single call); starts: first row of
    each equal-size call; new_rows: rows each call adds that no earlier call covered (its weight in
    a sum over rows); tail: rows of the extra ``"tail"`` call (0: none); single: one call, no loop.
    """
    num_rows: int
    size: int
    last: str
    starts: tuple[int, ...]
    new_rows: tuple[int, ...]
    tail: int
    single: bool

    @property
    def num_calls(self) -> int:
        """Number of calls, the tail call included."""
        return len(self.starts) + (1 if self.tail else 0)

    def rows(self) -> np.ndarray:
        """``[len(starts), size]`` int32 global rows of the equal-size calls (pad: clamped to ``P - 1``)."""
        r = np.asarray(self.starts, np.int64)[:, None] + np.arange(self.size)[None, :]
        return np.minimum(r, self.num_rows - 1).astype(np.int32)


def plan(num_rows: int, chunk_size: int | None, last: str = "pad") -> ChunkPlan:
    """The :class:`ChunkPlan` of ``num_rows`` rows in chunks of ``chunk_size`` with mode ``last``."""
    if last not in LAST_MODES:
        raise ValueError(f"last must be one of {LAST_MODES}, got {last!r}")
    P = check_int(num_rows, "num_rows", minimum=1)
    c = _check_chunk(chunk_size)
    if c is None or (c >= P and last != "pad"):
        return ChunkPlan(P, P, last, (0,), (P,), 0, True)
    n = -(-P // c)
    if last == "pad":
        starts = tuple(j * c for j in range(n))
        return ChunkPlan(P, c, last, starts, tuple(min(c, P - s) for s in starts), 0, False)
    if last == "overlap":
        starts = tuple(min(j * c, P - c) for j in range(n))
        return ChunkPlan(P, c, last, starts, tuple(min(c, P - j * c) for j in range(n)), 0, False)
    full = P // c
    return ChunkPlan(P, c, last, tuple(j * c for j in range(full)), (c,) * full, P - full * c, False)


def split_chunks(tree: Any, size: int) -> tuple[Any, Any]:
    """Leaves ``[n, ...]`` -> (``[n // size, size, ...]`` full chunks, ``[n % size, ...]`` remaining rows)."""
    n = jax.tree_util.tree_leaves(tree)[0].shape[0]
    full = (n // size) * size
    head = jax.tree_util.tree_map(lambda x: x[:full].reshape((n // size, size) + x.shape[1:]), tree)
    tail = jax.tree_util.tree_map(lambda x: x[full:], tree)
    return head, tail


def _concat(parts: list) -> Any:
    """Concatenate leaves along axis 0 (numpy leaves stay numpy: host results keep their dtype)."""
    def cat(*xs):
        return np.concatenate(xs) if all(isinstance(x, np.ndarray) for x in xs) else jnp.concatenate(xs)
    return jax.tree_util.tree_map(cat, *parts)


def _stack(parts: list) -> Any:
    def st(*xs):
        return np.stack(xs) if all(isinstance(x, np.ndarray) for x in xs) else jnp.stack(xs)
    return jax.tree_util.tree_map(st, *parts)


def _pieces(p: ChunkPlan) -> list[tuple[int, int]]:
    """``(offset, n)`` per equal-size call: its rows ``offset .. offset + n - 1`` are new (kept)."""
    end, out = 0, []
    for s, n in zip(p.starts, p.new_rows, strict=True):
        out.append((end - s, n))
        end += n
    return out


def _take_rows(tree: Any, rows: np.ndarray) -> Any:
    return jax.tree_util.tree_map(lambda x: x[rows], tree)


def _slice_rows(tree: Any, start: int, n: int) -> Any:
    return jax.tree_util.tree_map(lambda y: y[start:start + n], tree)


def _assemble(p: ChunkPlan, stacked: Any) -> Any:
    """Row outputs ``[len(starts), C, ...]`` -> ``[rows covered, ...]`` in row order."""
    k = len(p.starts) - 1
    off, n = _pieces(p)[-1]

    def one(y):
        flat = y.reshape((-1,) + y.shape[2:])
        if off or n < p.size:            # the last call repeats (overlap) or pads rows: keep its new ones
            return jnp.concatenate([flat[:k * p.size], y[k, off:off + n]]) if k else y[k, off:off + n]
        return flat
    return jax.tree_util.tree_map(one, stacked)


def map_chunks(fn: Callable[[Any, Any], Any], tree: Any, chunk_size: int | None, *, last: str = "pad",
               num_rows: int | None = None, loop: str = "map", per_chunk: bool = False) -> Any:
    """``fn(chunk, rows)`` over the rows of ``tree`` in chunks of ``chunk_size``; outputs in row order.

    tree: a population (leaves ``[P, ...]``), or None with ``num_rows=P`` when ``fn`` builds its
    chunk from ``rows`` alone. rows: ``[C]`` int32 global indices. ``fn`` returns a pytree of per-row
    outputs (leaves ``[C, ...]``); the result has leaves ``[P, ...]``. With ``per_chunk=True`` ``fn``
    returns ``(row_outputs, chunk_outputs)`` and the result is ``(row_outputs [P, ...],
    chunk_outputs stacked [plan.num_calls, ...])`` (weigh them with :func:`plan`'s ``new_rows``).
    last: ``"pad"``, ``"overlap"`` or ``"tail"`` (module docstring). loop: ``"map"`` (``lax.map``,
    traceable) or ``"python"`` (a host loop: ``fn`` may call compiled programs and report progress;
    ``rows`` is then a numpy array).
    """
    if loop not in ("map", "python"):
        raise ValueError(f"loop must be 'map' or 'python', got {loop!r}")
    if tree is None:
        if num_rows is None:
            raise ValueError("num_rows is required when tree is None")
        P = check_int(num_rows, "num_rows", minimum=1)
    else:
        P = validate_population(tree)
    p = plan(P, chunk_size, last)
    host = loop == "python"
    xp = np if host else jnp

    def arange(a: int, b: int) -> Any:
        return xp.arange(a, b, dtype=xp.int32)

    if p.single:
        out = fn(tree, arange(0, P))
        if not per_chunk:
            return out
        return out[0], jax.tree_util.tree_map(lambda v: v[None], out[1])

    if host:
        calls = [*p.rows(), *([arange(P - p.tail, P)] if p.tail else [])]
        outs = [fn(None if tree is None else _take_rows(tree, r), r) for r in calls]
        row_parts = [o[0] if per_chunk else o for o in outs]
        pieces = _pieces(p) + ([(0, p.tail)] if p.tail else [])
        rows_out = _concat([_slice_rows(o, a, n) for o, (a, n) in zip(row_parts, pieces, strict=True)])
        return (rows_out, _stack([o[1] for o in outs])) if per_chunk else rows_out

    C = p.size
    if last == "pad":
        def call(r):
            sub = None if tree is None else jax.tree_util.tree_map(lambda x: jnp.take(x, r, axis=0), tree)
            return fn(sub, r)
        stacked = jax.lax.map(call, jnp.asarray(p.rows()))
    elif last == "overlap":
        def call_at(j):
            start = jnp.minimum(j * C, P - C)
            sub = jax.tree_util.tree_map(lambda x: jax.lax.dynamic_slice_in_dim(x, start, C, 0), tree)
            return fn(sub, start + jnp.arange(C, dtype=jnp.int32))
        stacked = jax.lax.map(call_at, jnp.arange(len(p.starts), dtype=jnp.int32))
    else:
        head, tail = split_chunks((tree, jnp.arange(P, dtype=jnp.int32)), C)
        stacked = jax.lax.map(lambda a: fn(a[0], a[1]), head)
    rows_st, chunk_st = stacked if per_chunk else (stacked, None)
    rows_out = _assemble(p, rows_st)
    if p.tail:
        t_out = fn(tail[0], tail[1])
        t_rows, t_chunk = t_out if per_chunk else (t_out, None)
        rows_out = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), rows_out, t_rows)
        if per_chunk:
            chunk_st = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]]), chunk_st, t_chunk)
    return (rows_out, chunk_st) if per_chunk else rows_out


class LiftedTask(NamedTuple):
    """A per-individual ``f(key_i, params_i)`` as a :class:`~evojax_ga.types.Task` (see :func:`lift`)."""
    f: Callable[[PRNGKey, Any], Any]
    chunk_size: int | None

    def evaluate(self, key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P], metrics)``: ``f(fold_in(key, i), params_i)`` for every row ``i``."""
        def rows_fn(chunk: Any, rows: jax.Array) -> Any:
            return jax.vmap(lambda i, x: self.f(jax.random.fold_in(key, i), x))(rows, chunk)

        out = map_chunks(rows_fn, population, self.chunk_size, last="tail")
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out[0], {k: jnp.mean(v) for k, v in out[1].items()}
        return out, {}


def lift(f: Callable[[PRNGKey, Any], Any], chunk_size: int | None = None) -> LiftedTask:
    """Turn a per-individual ``f(key_i, params_i) -> scalar`` into a task whose
    ``evaluate(key, pop) -> (fitness [P], metrics)``.

    ``key_i = fold_in(key, i)`` with ``i`` the global index; ``chunk_size`` evaluates that many
    individuals per step of a ``lax.map`` (``None``: all at once with ``vmap``). ``f`` may also return
    ``(scalar, dict_of_scalars)``; the dict's entries are then averaged over the population and
    returned as the metrics (else the metrics are ``{}``).
    """
    return LiftedTask(f, _check_chunk(chunk_size))
