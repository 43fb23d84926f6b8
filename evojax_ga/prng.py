"""Counter-based random bits that XLA fuses into the operator that uses them.

`jax.random` materialises every draw as a fresh array, which makes random-number generation, not
memory traffic, the cost of a GA step on a large population (benchmarks/README.md has the figures).
Here a draw is a pure function of ``(key, row, column)``: Threefry-2x32 (Salmon et al., "Parallel
random numbers: as easy as 1, 2, 3", SC'11 — the same generator as JAX's default) applied to the
64-bit counter ``(column, row)`` under the operator's 64-bit key. Because it is elementwise, XLA
fuses it into the crossover/mutation loop and the bits never touch memory.

Rounds: JAX uses 20; Salmon et al. report that Threefry-2x32 with 13 rounds already passes the
whole TestU01 BigCrush battery ("Crush-resistant"), so 13 is used by default; pass ``rounds=20``
for JAX's safety margin (the output is then bit-identical to ``jax.random``'s threefry core).

Streams are independent per ``(row, column)`` by construction (a bijection of the counter), so the
value a gene draws depends only on the key and its global position — never on chunking or on the
number of devices.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["key_words", "threefry2x32", "counter_bits", "segment_bits", "map_genes", "FUSE_MAX_ELEMENTS",
           "bits_to_unit", "bits_to_normal", "bernoulli_from_bits"]

_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
DEFAULT_ROUNDS = 13


def key_words(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two uint32 scalars from a JAX PRNG key (a typed key of any impl, or raw ``uint32[2]``)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key).reshape(-1)
        if data.shape[0] != 2:  # e.g. rbg keys hold 4 words: derive two
            data = jax.random.bits(key, (2,), jnp.uint32)
    else:
        data = jnp.asarray(key).reshape(-1)
        if data.shape[0] != 2 or not jnp.issubdtype(data.dtype, jnp.unsignedinteger):
            raise TypeError(f"key must be a jax.random key or uint32[2], got {key.dtype}{list(key.shape)}")
    return data[0].astype(jnp.uint32), data[1].astype(jnp.uint32)


def _rotl(x: jax.Array, r: int) -> jax.Array:
    return (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))


def threefry2x32(k0, k1, c0, c1, rounds: int = DEFAULT_ROUNDS) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 block cipher on counters ``(c0, c1)`` under key ``(k0, k1)``; broadcasts.

    With ``rounds=20`` this equals JAX's ``threefry_2x32`` (checked in the tests).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    k0 = jnp.asarray(k0, jnp.uint32)
    k1 = jnp.asarray(k1, jnp.uint32)
    k2 = k0 ^ k1 ^ jnp.uint32(0x1BD11BDA)
    ks = (k0, k1, k2)
    x0 = jnp.asarray(c0, jnp.uint32) + k0
    x1 = jnp.asarray(c1, jnp.uint32) + k1
    for r in range(rounds):
        x0 = x0 + x1
        x1 = _rotl(x1, _ROTATIONS[r % 8])
        x1 = x1 ^ x0
        if r % 4 == 3:
            i = r // 4 + 1
            x0 = x0 + ks[i % 3]
            x1 = x1 + ks[(i + 1) % 3] + jnp.uint32(i)
    return x0, x1


def _global_rows(rows: int, row_offset) -> jax.Array:
    """uint32 ``[rows]`` global row indices: ``row_offset + arange(rows)`` for a scalar offset, or the
    ``[rows]`` vector itself."""
    offset = jnp.asarray(row_offset).astype(jnp.uint32)
    if offset.ndim == 0:
        return jnp.arange(rows, dtype=jnp.uint32) + offset
    if offset.shape == (rows,):
        return offset
    raise ValueError(f"row_offset must be a scalar or a [{rows}] vector of global rows, got shape {offset.shape}")


def counter_bits(key: jax.Array, shape: tuple[int, ...], row_offset=0,
                 rounds: int = DEFAULT_ROUNDS) -> tuple[jax.Array, jax.Array]:
    """Two independent uint32 arrays of ``shape`` = ``(rows, *gene_shape)``.

    Element ``(r, *g)`` is a function of ``key``, the global row index of ``r`` and the flat gene
    index of ``g`` only. The global row index is ``row_offset + r`` when ``row_offset`` is a scalar
    (traced is fine), or ``row_offset[r]`` when it is a ``[rows]`` integer vector — so chunks, shards
    and arbitrary subsets of a population reproduce the bits of the full population.
    """
    if len(shape) < 1:
        raise ValueError("counter_bits needs at least a row axis")
    k0, k1 = key_words(key)
    rows = shape[0]
    genes = 1
    for s in shape[1:]:
        genes *= s
    row = _global_rows(rows, row_offset)
    col = jnp.arange(genes, dtype=jnp.uint32).reshape(shape[1:]) if shape[1:] else jnp.uint32(0)
    row = row.reshape((rows,) + (1,) * (len(shape) - 1))
    h0, h1 = threefry2x32(k0, k1, col, row, rounds)
    h0 = jnp.broadcast_to(h0, shape)
    h1 = jnp.broadcast_to(h1, shape)
    return h0, h1


def segment_bits(keys: Sequence[jax.Array], sizes: Sequence[int], rows: int, row_offset=0,
                 rounds: int = DEFAULT_ROUNDS) -> tuple[jax.Array, jax.Array]:
    """``counter_bits(keys[j], (rows, sizes[j]), row_offset)`` for every ``j``, side by side: two
    uint32 arrays ``[rows, sum(sizes)]`` from one Threefry loop (per-column key words)."""
    if len(keys) != len(sizes) or not sizes:
        raise ValueError(f"keys and sizes must be non-empty and of equal length, got {len(keys)} and {len(sizes)}")
    words = [key_words(k) for k in keys]
    k0 = jnp.concatenate([jnp.broadcast_to(w0, (n,)) for (w0, _), n in zip(words, sizes)])
    k1 = jnp.concatenate([jnp.broadcast_to(w1, (n,)) for (_, w1), n in zip(words, sizes)])
    col = jnp.asarray(np.concatenate([np.arange(n, dtype=np.uint32) for n in sizes]))
    row = _global_rows(rows, row_offset)
    h0, h1 = threefry2x32(k0[None, :], k1[None, :], col[None, :], row[:, None], rounds)
    shape = (rows, col.shape[0])
    return jnp.broadcast_to(h0, shape), jnp.broadcast_to(h1, shape)


#: :func:`map_genes` fuses a population's leaves into one loop up to this many genes in all
#: (rows x genes per row), where compile time dominates: one fused loop traces and lowers faster and
#: shortens the CLI's cold start. Larger populations keep the per-leaf loops, faster to run there.
FUSE_MAX_ELEMENTS = 1 << 22


def map_genes(key: jax.Array, leaf_groups: Sequence[Sequence[jax.Array]], row_offset,
              fn: Callable[..., jax.Array], fuse: bool | None = None) -> list[jax.Array]:
    """``out[j] = fn(*[group[j] for group in leaf_groups], h0_j, h1_j)`` for every leaf ``j``.

    ``leaf_groups``: one or more lists of leaves ``[rows, ...]`` with equal shapes position by
    position (e.g. the two parents of a crossover). ``h0_j, h1_j`` are
    ``counter_bits(fold_in(key, j), leaf_shape, row_offset)``; ``fn`` must be elementwise in the
    genes (per-row values broadcast as ``[rows, 1]``). ``fuse`` (None: when every leaf has one dtype
    and there are at most :data:`FUSE_MAX_ELEMENTS` genes) runs all leaves as one ``[rows, N]``
    loop: the same bits, the same results, less to compile.
    """
    first = list(leaf_groups[0])
    rows = first[0].shape[0] if first else 0
    sizes = [int(np.prod(x.shape[1:], dtype=np.int64)) for x in first]
    one_dtype = len({x.dtype for g in leaf_groups for x in g}) <= 1
    if fuse is None:
        fuse = len(first) > 1 and one_dtype and rows * sum(sizes) <= FUSE_MAX_ELEMENTS
    elif fuse and not one_dtype:
        raise ValueError("fuse=True needs leaves of one dtype (a fused loop would cast them)")
    keys = [jax.random.fold_in(key, j) for j in range(len(first))]
    if not fuse or len(first) < 2:
        out = []
        for j, k in enumerate(keys):
            h0, h1 = counter_bits(k, first[j].shape, row_offset)
            out.append(fn(*[g[j] for g in leaf_groups], h0, h1))
        return out
    flat = [jnp.concatenate([x.reshape(rows, -1) for x in g], axis=1) for g in leaf_groups]
    h0, h1 = segment_bits(keys, sizes, rows, row_offset)
    y = fn(*flat, h0, h1)
    bounds = np.cumsum([0] + sizes)
    return [y[:, bounds[j]:bounds[j + 1]].reshape(first[j].shape) for j in range(len(first))]


def bits_to_unit(bits: jax.Array) -> jax.Array:
    """uint32 -> float32 uniform on [0, 1) with 23 random mantissa bits (as jax.random.uniform)."""
    return jax.lax.bitcast_convert_type((bits >> jnp.uint32(9)) | jnp.uint32(0x3F800000),
                                        jnp.float32) - 1.0


def bits_to_normal(bits: jax.Array) -> jax.Array:
    """uint32 -> standard normal float32 by the inverse error function (jax.random.normal's way)."""
    lo = jnp.nextafter(jnp.float32(-1.0), jnp.float32(0.0))
    u = bits_to_unit(bits) * 2.0 - 1.0
    u = jnp.maximum(u, lo)  # maps the single value -1 (prob 2^-23) to the next float, as jax does
    return jnp.float32(1.4142135623730951) * jax.lax.erf_inv(u)


def bernoulli_from_bits(bits: jax.Array, p) -> jax.Array:
    """Bernoulli(p) from uint32 bits: ``bits < p * 2^32`` (p resolved to 2^-32).

    p may be a traced scalar or an array broadcastable against ``bits``. p = 0 never fires, p = 1
    always does.
    """
    p = jnp.asarray(p, jnp.float32)
    # threshold in [0, 2^32]; compare in two halves to represent 2^32 (p == 1) exactly.
    thr = jnp.floor(jnp.clip(p, 0.0, 1.0) * jnp.float32(4294967296.0))
    always = p >= 1.0
    thr_u = jnp.minimum(thr, jnp.float32(4294967295.0)).astype(jnp.uint32)
    return jnp.logical_or(bits < thr_u, always)
