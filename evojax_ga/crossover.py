"""Crossover: one child from two parents, for a whole population of pairs at once.

A :class:`Crossover` holds traced ``params`` and a pure
``apply(key, params, a, b, row_offset=0) -> child`` (:class:`evojax_ga.types.CrossoverFn`); ``a`` and
``b`` are populations of the same structure (leaves ``[C, ...]``), row ``i`` of each being the two
parents of child ``i``. Every gene of the child comes from ``a`` or ``b`` at the same position
(except :func:`blend`/:func:`arithmetic`/:func:`iso_line`, which take float leaves only: an integer or bool leaf is a
TypeError naming it).

Randomness is counter-based (:mod:`evojax_ga.prng`): the draw of gene ``g`` of child ``i`` depends on
the key, the leaf and the global row ``row_offset + i`` only, so chunked or sharded reproduction is
bit-identical to the whole-population call, and the bits are fused into the gene loop (no mask array
is written to memory).

Sources: uniform mask crossover per weight matrix (the MNIST-CNN GA article, "My experiments in
replacing deep learning backpropagation (SGD) with a genetic algorithm"); neuron crossover with
``max_crossover``/``crossover_prob`` (Gursky's NumPy neuroevolution notebook); k-point and blend
(BLX-alpha, Eshelman & Schaffer 1993) from the classic GA literature; iso+line-DD (Vassiliades &
Mouret 2018, "Discovering the elite hypervolume by leveraging interspecies correlation").
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import prng
from evojax_ga._checks import check_int, check_nonneg, check_prob
from evojax_ga.population import check_same_structure, first_leaf, validate_population
from evojax_ga.types import CrossoverFn, Params, Population, PRNGKey

__all__ = ["Crossover", "none", "uniform", "neuron", "layer", "k_point", "blend", "arithmetic", "iso_line",
           "chain", "default_unit_group", "self_adaptive"]


class Crossover(NamedTuple):
    """A crossover operator: ``apply(key, params, a, b, row_offset=0) -> child``; ``inherit``: None, or
    a hook passing per-individual params to the next population, as :class:`evojax_ga.mutation.Mutation`'s
    (see :func:`self_adaptive`)."""
    params: Params
    apply: CrossoverFn
    name: str = "crossover"
    inherit: Callable[[PRNGKey, Params, jax.Array, jax.Array], Params] | None = None

    def __call__(self, key: PRNGKey, a: Population, b: Population, params: Params = None,
                 row_offset: Any = 0) -> Population:
        """``apply`` with this operator's params by default; checks both parents are populations of one shape."""
        validate_population(a, "parent a")
        check_same_structure(a, b, "parent a", "parent b")
        return self.apply(key, self.params if params is None else params, a, b, row_offset)


def _map_gene_pairs(key: jax.Array, a: Population, b: Population, row_offset,
                    fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]) -> Population:
    """``fn(xa, xb, bits)`` per leaf, with one counter-based uint32 draw per gene (leaf ``j`` keyed
    by ``fold_in(key, j)``; small populations run all leaves as one fused loop, same bits)."""
    la, treedef = jax.tree_util.tree_flatten(a)
    lb = jax.tree_util.tree_leaves(b)
    out = prng.map_genes(key, (la, lb), row_offset, lambda xa, xb, h0, h1: fn(xa, xb, h0))
    return jax.tree_util.tree_unflatten(treedef, out)


def _require_float(a: Population, op: str) -> None:
    """TypeError naming the first non-float leaf (static: checked at trace time, free inside jit)."""
    bad = first_leaf(a, lambda x: not jnp.issubdtype(x.dtype, jnp.floating))
    if bad is not None:
        path, x = bad
        raise TypeError(f"crossover.{op} cannot cross population leaf {path} of dtype "
                        f"{x.dtype}: it mixes real values, so an integer gene would be truncated and a bool "
                        f"gene set to True; use crossover.uniform, k_point or layer for integer or bool genes")


def _row_bits(key: jax.Array, rows: int, width: int, row_offset) -> tuple[jax.Array, jax.Array]:
    """Per-row draws ``[rows, width]`` (two uint32 words each)."""
    return prng.counter_bits(key, (rows, width), row_offset)


def none() -> Crossover:
    """No crossover: the child is parent ``a``."""
    return Crossover({}, lambda key, params, a, b, row_offset=0: a, "none")


def uniform(prob: float = 0.5) -> Crossover:
    """Per-gene mask: each gene is taken from ``b`` with probability ``prob``, else from ``a``.

    Exact Bernoulli(prob) per gene (``prob`` resolved to 2^-32), one counter-based Threefry draw per
    gene, fused into the copy loop. Works for float and integer (discrete) genomes alike.
    """
    check_prob(prob, "prob")

    def apply(key, params, a, b, row_offset=0):
        p = jnp.asarray(params["prob"], jnp.float32)

        def fn(xa, xb, h):
            pr = p.reshape((-1,) + (1,) * (xa.ndim - 1)) if p.ndim == 1 else p   # per-row probs: [rows, 1...]
            return jnp.where(prng.bernoulli_from_bits(h, pr), xb, xa)
        return _map_gene_pairs(key, a, b, row_offset, fn)
    return Crossover({"prob": jnp.float32(prob)}, apply, f"uniform({prob})")


def self_adaptive(base: Crossover, tau: float) -> Crossover:
    """Per-individual crossover ``prob`` (log-normal self-adaptation, as Prellberg & Kramer 2018 adapt
    their crossover rate): the params hold a ``[P]`` prob; a child inherits parent ``a``'s times
    ``exp(tau * N(0, 1))``, at most 1, and crosses with it; a kept individual keeps its own.

    base: a crossover with a per-row-capable ``prob`` parameter (:func:`uniform`); tau: >= 0.
    """
    if not isinstance(base, Crossover):
        raise TypeError(f"base must be a Crossover, got {type(base).__name__}")
    tau = check_nonneg(tau, "tau")
    if not (isinstance(base.params, dict) and "prob" in base.params and base.name.startswith("uniform")):
        raise ValueError(f"self_adaptive needs crossover.uniform (a per-gene 'prob'), got base={base.name}")

    def inherit(key, params, parent_index, is_child):
        n = parent_index.shape[0]
        prob = jnp.broadcast_to(jnp.asarray(params["prob"], jnp.float32), (n,))[parent_index]
        z = jax.random.normal(key, (n,), jnp.float32)
        return {**params, "prob": jnp.where(is_child, jnp.minimum(prob * jnp.exp(tau * z), 1.0), prob)}
    return Crossover(base.params, base.apply, f"self_adaptive({base.name}, tau={tau})", inherit)


def default_unit_group(path: tuple, leaf_shape: tuple[int, ...]) -> Hashable | None:
    """Which leaves share output units: those under the same parent node with the same last-axis size.

    For Flax ``Dense``/``Conv`` params this pairs ``kernel[..., j]`` with ``bias[j]``. Scalars (no
    unit axis) get ``None`` and are inherited from parent ``a``.
    """
    if len(leaf_shape) == 0:
        return None
    return (jax.tree_util.keystr(tuple(path[:-1])), leaf_shape[-1])


def _groups(a: Population, group_fn) -> tuple[list, dict]:
    paths_leaves = jax.tree_util.tree_flatten_with_path(a)[0]
    group_of: list[Hashable | None] = []
    order: dict[Hashable, tuple[int, int]] = {}
    for path, leaf in paths_leaves:
        g = group_fn(tuple(path), tuple(leaf.shape[1:]))
        if g is not None and g not in order:
            order[g] = (len(order), leaf.shape[-1])
        group_of.append(g)
    return group_of, order


def neuron(max_fraction: float = 0.5, prob: float = 1.0, mode: str = "bernoulli",
           group_fn: Callable[[tuple, tuple], Hashable | None] = default_unit_group) -> Crossover:
    """Neuron-wise crossover: whole output units (a kernel's last-axis slice with its bias entry).

    Per child: with probability ``prob`` crossover happens (else the child is ``a``); then a fraction
    ``q ~ U(0, max_fraction)`` is drawn once and, in every layer, units are taken from ``b``:
    ``mode="bernoulli"`` takes each unit independently with probability ``q``;
    ``mode="seed"`` reproduces the notebook exactly: ``floor(n_units * q)`` unit indices drawn with
    replacement (so duplicates make the distinct count smaller).
    Every leaf of a layer (grouped by ``group_fn``) uses the same unit mask, so a unit's weights and
    bias always come from one parent.
    """
    check_prob(max_fraction, "max_fraction")
    check_prob(prob, "prob")
    if mode not in ("bernoulli", "seed"):
        raise ValueError(f"mode must be 'bernoulli' or 'seed', got {mode!r}")

    def apply(key, params, a, b, row_offset=0):
        la, treedef = jax.tree_util.tree_flatten(a)
        lb = jax.tree_util.tree_leaves(b)
        rows = la[0].shape[0]
        group_of, order = _groups(a, group_fn)
        k_child, k_units = jax.random.split(key)
        c0, c1 = _row_bits(k_child, rows, 1, row_offset)
        do = prng.bernoulli_from_bits(c0[:, 0], params["prob"])                 # [C]
        q = prng.bits_to_unit(c1[:, 0]) * params["max_fraction"]                # [C]
        masks = {}
        for g, (gi, n_units) in order.items():
            kg = jax.random.fold_in(k_units, gi)
            u0, _ = _row_bits(kg, rows, n_units, row_offset)
            if mode == "bernoulli":
                m = prng.bernoulli_from_bits(u0, q[:, None])
            else:
                count = jnp.floor(n_units * q).astype(jnp.int32)                # [C]
                picks = jnp.minimum((prng.bits_to_unit(u0) * n_units).astype(jnp.int32), n_units - 1)
                valid = jnp.arange(n_units)[None, :] < count[:, None]
                m = jax.vmap(lambda p, v: jnp.zeros((n_units,), bool).at[p].max(v))(picks, valid)
            masks[g] = m & do[:, None]                                          # [C, units]
        out = []
        for g, xa, xb in zip(group_of, la, lb):
            if g is None:
                out.append(xa)
                continue
            m = masks[g].reshape((rows,) + (1,) * (xa.ndim - 2) + (xa.shape[-1],))
            out.append(jnp.where(m, xb, xa))
        return jax.tree_util.tree_unflatten(treedef, out)
    return Crossover({"max_fraction": jnp.float32(max_fraction), "prob": jnp.float32(prob)}, apply,
                     f"neuron(max_fraction={max_fraction}, prob={prob}, mode={mode})")


def layer(prob: float = 0.5) -> Crossover:
    """Whole-layer swap: every leaf is taken from ``b`` with probability ``prob`` (per child, per leaf)."""
    check_prob(prob, "prob")

    def apply(key, params, a, b, row_offset=0):
        la, treedef = jax.tree_util.tree_flatten(a)
        lb = jax.tree_util.tree_leaves(b)
        rows = la[0].shape[0]
        h0, _ = _row_bits(key, rows, len(la), row_offset)
        take = prng.bernoulli_from_bits(h0, params["prob"])                     # [C, leaves]
        out = [jnp.where(take[:, j].reshape((rows,) + (1,) * (xa.ndim - 1)), xb, xa)
               for j, (xa, xb) in enumerate(zip(la, lb))]
        return jax.tree_util.tree_unflatten(treedef, out)
    return Crossover({"prob": jnp.float32(prob)}, apply, f"layer({prob})")


def k_point(k: int = 1) -> Crossover:
    """k-point crossover on the flattened genome (leaves in tree order, row-major inside a leaf).

    ``k`` cut points are drawn uniformly in ``[1, N)`` per child; the genome alternates between
    parents at each cut, starting with ``a``. Equal cuts cancel (as in the classic definition with
    replacement).
    """
    k = check_int(k, "k", minimum=1)

    def apply(key, params, a, b, row_offset=0):
        la, treedef = jax.tree_util.tree_flatten(a)
        lb = jax.tree_util.tree_leaves(b)
        rows = la[0].shape[0]
        sizes = [int(np.prod(x.shape[1:])) for x in la]
        n = sum(sizes)
        h0, _ = _row_bits(key, rows, k, row_offset)
        cuts = 1 + jnp.minimum((prng.bits_to_unit(h0) * (n - 1)).astype(jnp.int32), n - 2)  # [C, k]
        out, offset = [], 0
        for xa, xb, size in zip(la, lb, sizes):
            g = offset + jnp.arange(size, dtype=jnp.int32).reshape(xa.shape[1:])
            parity = jnp.zeros(xa.shape, jnp.int32)
            for j in range(k):
                c = cuts[:, j].reshape((rows,) + (1,) * (xa.ndim - 1))
                parity = parity + (g[None] >= c).astype(jnp.int32)
            out.append(jnp.where(parity % 2 == 1, xb, xa))
            offset += size
        return jax.tree_util.tree_unflatten(treedef, out)
    return Crossover({}, apply, f"k_point({k})")


def blend(alpha: float = 0.5) -> Crossover:
    """BLX-alpha: per gene ``child = a + u (b - a)``, ``u ~ U(-alpha, 1 + alpha)`` (float genomes)."""
    check_nonneg(alpha, "alpha")

    def apply(key, params, a, b, row_offset=0):
        _require_float(a, "blend")
        al = params["alpha"]

        def leaf(xa, xb, h):
            u = -al + (1.0 + 2.0 * al) * prng.bits_to_unit(h)
            return (xa + u * (xb - xa)).astype(xa.dtype)
        return _map_gene_pairs(key, a, b, row_offset, leaf)
    return Crossover({"alpha": jnp.float32(alpha)}, apply, f"blend({alpha})")


def arithmetic(weight: float = 0.5) -> Crossover:
    """Deterministic arithmetic crossover ``child = weight * a + (1 - weight) * b``."""
    check_prob(weight, "weight")

    def apply(key, params, a, b, row_offset=0):
        _require_float(a, "arithmetic")
        w = params["weight"]
        return jax.tree_util.tree_map(lambda xa, xb: (w * xa + (1.0 - w) * xb).astype(xa.dtype), a, b)
    return Crossover({"weight": jnp.float32(weight)}, apply, f"arithmetic({weight})")


def iso_line(sigma_iso: float = 0.01, sigma_line: float = 0.2) -> Crossover:
    """Iso+line-DD: ``child = a + sigma_iso * N(0, I) + sigma_line * N(0, 1) * (b - a)`` (float genomes).

    Vassiliades & Mouret 2018 (MAP-Elites' directional variation): an isotropic Gaussian step plus a
    step along the line from ``a`` to the second parent ``b``, whose N(0, 1) factor is one draw per
    child (shared by all its genes and leaves). A two-parent operator, so a :class:`Crossover`; it is
    not a copy of genes, so ``a`` crossed with itself moves by the isotropic step.
    """
    check_nonneg(sigma_iso, "sigma_iso")
    check_nonneg(sigma_line, "sigma_line")

    def apply(key, params, a, b, row_offset=0):
        _require_float(a, "iso_line")
        k_iso, k_line = jax.random.split(key)
        rows = jax.tree_util.tree_leaves(a)[0].shape[0]
        z_line = prng.bits_to_normal(_row_bits(k_line, rows, 1, row_offset)[0])   # [C, 1]

        def leaf(xa, xb, h):
            z = z_line.reshape((rows,) + (1,) * (xa.ndim - 1))
            step = params["sigma_iso"] * prng.bits_to_normal(h) + params["sigma_line"] * z * (xb - xa)
            return (xa + step).astype(xa.dtype)
        return _map_gene_pairs(k_iso, a, b, row_offset, leaf)
    return Crossover({"sigma_iso": jnp.float32(sigma_iso), "sigma_line": jnp.float32(sigma_line)}, apply,
                     f"iso_line(sigma_iso={sigma_iso}, sigma_line={sigma_line})")



def chain(*crossovers: Crossover) -> Crossover:
    """Apply crossovers in turn (like ``optax.chain``): the first crosses ``a`` with ``b``, each next one
    crosses the previous child with ``b``; member ``i`` gets the key ``fold_in(key, i)``; params are
    the tuple of theirs."""
    if not crossovers:
        raise ValueError("chain needs at least one crossover, got none")
    for i, c in enumerate(crossovers):
        if not isinstance(c, Crossover):
            raise TypeError(f"chain argument {i} must be a Crossover, got {type(c).__name__}")

    def apply(key, params, a, b, row_offset=0):
        child = a
        for i, (c, p) in enumerate(zip(crossovers, params)):
            child = c.apply(jax.random.fold_in(key, i), p, child, b, row_offset)
        return child
    return Crossover(tuple(c.params for c in crossovers), apply,
                     "chain(" + ", ".join(c.name for c in crossovers) + ")")
