"""Mutation: random per-gene changes to a whole population at once.

A :class:`Mutation` holds traced ``params`` and a pure ``apply(key, params, pop, row_offset=0)``
(:class:`evojax_ga.types.MutateFn`). Every built-in operator has a ``rate`` (probability that a gene
mutates); any param may be a scalar or a ``[P]`` vector (one value per individual, e.g. the
self-adaptive sigmas of :func:`self_adaptive`). Rate 0 is the identity, bit for bit. The strategy
keeps elites and survivors by a row mask, so a user mutation needs no ``rate``.

A mutation may also carry an ``inherit(key, params, parent_index [P] int32, is_child [P] bool) ->
params`` hook (None for ordinary mutations): the strategy calls it once per generation, before
``apply``, to pass per-individual params from parents to the rows of the next population (kept rows
have ``is_child`` False and their own row as parent), and once in ``init`` with every row kept as
itself, which sizes the per-individual params to ``[P]``.

Randomness is counter-based and fused (:mod:`evojax_ga.prng`): one Threefry-2x32 block per gene
gives two words, one for the Bernoulli(rate) mask (``rate`` resolved to 2^-32) and one for the
value; the values are computed in registers inside the copy loop, so only the genes' own bytes move.
Draws depend on (key, leaf, global row, gene) only: chunked calls with ``row_offset`` reproduce the
whole-population result exactly.

Sources: additive Gaussian (Such et al. 2017, "Deep Neuroevolution"); shift / sign / swap with type
probabilities (Gursky, "The Zero Gradient Challenge", NumPy notebook — its ``mutate_layer``
intends: each weight mutates with ``mutation_prob``, the type is drawn per weight from
``type_probs``, shift multiplies by U(0, shift_max), swap replaces by U(-swap_max, swap_max));
categorical resampling (Harvey 2017: "randomly choose a parameter and a new value for it").
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import prng
from evojax_ga._checks import check_nonneg, check_prob, check_probs
from evojax_ga.operator_params import get_param, set_param
from evojax_ga.population import first_leaf, validate_population
from evojax_ga.types import MutateFn, Params, Population, PRNGKey

__all__ = ["Mutation", "InheritFn", "gaussian", "shift", "sign", "reset", "prune", "keep_zeros", "mixed", "categorical",
           "chain", "by_dtype", "self_adaptive", "scale_mixture", "set_param", "get_param", "count_nonfinite_params"]

#: ``(key, params, parent_index [P] int32, is_child [P] bool) -> params`` of the next population
InheritFn = Callable[[PRNGKey, Params, jax.Array, jax.Array], Params]


class Mutation(NamedTuple):
    """A mutation operator: ``apply(key, params, pop, row_offset=0) -> pop``; ``inherit``: see the module."""
    params: Params
    apply: MutateFn
    name: str = "mutation"
    inherit: InheritFn | None = None

    def __call__(self, key: PRNGKey, pop: Population, params: Params = None, row_offset: Any = 0) -> Population:
        """``apply`` with this operator's params by default; checks ``pop`` is a population."""
        validate_population(pop)
        return self.apply(key, self.params if params is None else params, pop, row_offset)


def _per_row(value: Any, x: jax.Array) -> jax.Array:
    """Broadcast a scalar or a ``[P]`` per-individual value against leaf ``x`` ``[P, ...]``."""
    v = jnp.asarray(value, jnp.float32)
    if v.ndim == 0:
        return v
    if v.ndim != 1 or v.shape[0] != x.shape[0]:
        raise ValueError(f"a per-individual parameter must have shape [{x.shape[0]}], got {v.shape}")
    return v.reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def _is_float(x: Any) -> bool:
    return bool(jnp.issubdtype(x.dtype, jnp.floating))


def _require_float(pop: Population, op: str, signed_ints: bool = False) -> None:
    """TypeError naming the first leaf whose dtype ``op`` cannot mutate (float only; signed integers
    too when ``signed_ints``). Dtypes are static: checked at trace time, free inside jit."""
    def mutable(x: Any) -> bool:
        return _is_float(x) or (signed_ints and bool(jnp.issubdtype(x.dtype, jnp.signedinteger)))

    bad = first_leaf(pop, lambda x: not mutable(x))
    if bad is not None:
        path, x = bad
        raise TypeError(f"mutation.{op} cannot mutate population leaf {path} of dtype "
                        f"{x.dtype}: it draws real values, so an integer gene would be truncated (a change below 1 "
                        f"is lost) and a bool gene set to True; use mutation.categorical(cardinalities) for "
                        f"integer or bool genes, and mutation.by_dtype(floating=..., integer=...) for a "
                        f"population with both")


def _map_genes(key, pop, row_offset, fn):
    """``fn(x, h0, h1)`` per leaf, bits keyed ``fold_in(key, j)`` for leaf ``j`` (one fused loop over
    all leaves where :func:`evojax_ga.prng.map_genes` finds that cheaper; the same bits either way)."""
    leaves, treedef = jax.tree_util.tree_flatten(pop)
    return jax.tree_util.tree_unflatten(treedef, prng.map_genes(key, (leaves,), row_offset, fn))


def _map_leaves(key, pop, row_offset, fn):
    """``fn(j, x, h0, h1)`` per leaf ``j`` (for operators whose rule depends on the leaf)."""
    leaves, treedef = jax.tree_util.tree_flatten(pop)
    out = []
    for j, x in enumerate(leaves):
        h0, h1 = prng.counter_bits(jax.random.fold_in(key, j), x.shape, row_offset)
        out.append(fn(j, x, h0, h1))
    return jax.tree_util.tree_unflatten(treedef, out)


def gaussian(rate: float = 1.0, sigma: float = 0.02) -> Mutation:
    """``w += sigma * N(0, 1)`` for each gene with probability ``rate``.

    ``rate=1`` is Such et al.'s deep-GA mutation (every weight perturbed). Float leaves only (as
    :func:`shift`, :func:`reset` and :func:`mixed`; :func:`sign` also takes signed integers): an
    integer or bool leaf is a TypeError naming it; use :func:`categorical` for those genes.
    """
    check_prob(rate, "rate")
    check_nonneg(sigma, "sigma")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "gaussian")

        def leaf(x, h0, h1):
            hit = prng.bernoulli_from_bits(h0, _per_row(params["rate"], x))
            z = prng.bits_to_normal(h1)
            return jnp.where(hit, x + (_per_row(params["sigma"], x) * z).astype(x.dtype), x)
        return _map_genes(key, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate), "sigma": jnp.float32(sigma)}, apply,
                    f"gaussian(rate={rate}, sigma={sigma})")


def shift(rate: float = 0.1, shift_max: float = 2.0) -> Mutation:
    """``w *= U(0, shift_max)`` for each gene with probability ``rate`` (a scale, despite the name)."""
    check_prob(rate, "rate")
    check_nonneg(shift_max, "shift_max")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "shift")

        def leaf(x, h0, h1):
            hit = prng.bernoulli_from_bits(h0, _per_row(params["rate"], x))
            s = prng.bits_to_unit(h1) * _per_row(params["shift_max"], x)
            return jnp.where(hit, (x * s).astype(x.dtype), x)
        return _map_genes(key, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate), "shift_max": jnp.float32(shift_max)}, apply,
                    f"shift(rate={rate}, shift_max={shift_max})")


def sign(rate: float = 0.1) -> Mutation:
    """``w = -w`` for each gene with probability ``rate``."""
    check_prob(rate, "rate")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "sign", signed_ints=True)

        def leaf(x, h0, h1):
            return jnp.where(prng.bernoulli_from_bits(h0, _per_row(params["rate"], x)), -x, x)
        return _map_genes(key, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate)}, apply, f"sign(rate={rate})")


def reset(rate: float = 0.1, swap_max: float = 2.0) -> Mutation:
    """Swap/reset: ``w = U(-swap_max, swap_max)`` for each gene with probability ``rate`` (float leaves)."""
    check_prob(rate, "rate")
    check_nonneg(swap_max, "swap_max")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "reset")

        def leaf(x, h0, h1):
            hit = prng.bernoulli_from_bits(h0, _per_row(params["rate"], x))
            m = _per_row(params["swap_max"], x)
            v = (2.0 * prng.bits_to_unit(h1) - 1.0) * m
            return jnp.where(hit, v.astype(x.dtype), x)
        return _map_genes(key, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate), "swap_max": jnp.float32(swap_max)}, apply,
                    f"reset(rate={rate}, swap_max={swap_max})")


def prune(rate: float = 0.01) -> Mutation:
    """``w = 0`` (exactly) for each gene with probability ``rate``; float leaves only.

    Makes sparse networks reachable: Gaussian steps never land on exactly 0. Chain it with a Gaussian
    (``chain(prune(0.01), gaussian(0.1, 0.05))`` perturbs some zeros again) and pass the chain's
    ``gaussian`` a rate below 1, or nothing stays pruned.
    """
    check_prob(rate, "rate")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "prune")

        def leaf(x, h0, h1):
            return jnp.where(prng.bernoulli_from_bits(h0, _per_row(params["rate"], x)), jnp.zeros((), x.dtype), x)
        return _map_genes(key, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate)}, apply, f"prune(rate={rate})")


def keep_zeros(base: Mutation) -> Mutation:
    """``base``, except that genes exactly 0 stay 0: pruned weights are not revived by mutation (crossover
    can still bring a non-zero gene back); ``chain(prune(r), keep_zeros(gaussian(...)))``."""
    if not isinstance(base, Mutation):
        raise TypeError(f"base must be a Mutation, got {type(base).__name__}")

    def apply(key, params, pop, row_offset=0):
        out = base.apply(key, params, pop, row_offset)
        return jax.tree_util.tree_map(lambda x, y: jnp.where(x == 0, x, y), pop, out)
    return Mutation(base.params, apply, f"keep_zeros({base.name})", base.inherit)


def mixed(rate: float = 0.1, type_probs: Sequence[float] = (0.8, 0.1, 0.1), shift_max: float = 2.0,
          swap_max: float = 2.0) -> Mutation:
    """The notebook's mutation: each gene mutates with prob ``rate``; its type is shift / sign / swap
    with probabilities ``type_probs`` (drawn per gene).

    Two Threefry blocks per gene: (mask, type) and (shift factor, swap value).
    """
    check_prob(rate, "rate")
    probs = check_probs(type_probs, "type_probs", length=3)
    check_nonneg(shift_max, "shift_max")
    check_nonneg(swap_max, "swap_max")

    def apply(key, params, pop, row_offset=0):
        _require_float(pop, "mixed")
        k_mask, k_val = jax.random.split(key)
        tp = jnp.asarray(params["type_probs"], jnp.float32)

        def leaf(j, x, h0, h1):
            hit = prng.bernoulli_from_bits(h0, _per_row(params["rate"], x))
            v0, v1 = prng.counter_bits(jax.random.fold_in(k_val, j), x.shape, row_offset)
            t = prng.bits_to_unit(h1)
            is_shift = t < tp[0]
            is_sign = (~is_shift) & (t < tp[0] + tp[1])
            shifted = x * (prng.bits_to_unit(v0) * _per_row(params["shift_max"], x))
            swapped = (2.0 * prng.bits_to_unit(v1) - 1.0) * _per_row(params["swap_max"], x)
            new = jnp.where(is_shift, shifted, jnp.where(is_sign, -x, swapped)).astype(x.dtype)
            return jnp.where(hit, new, x)
        return _map_leaves(k_mask, pop, row_offset, leaf)
    return Mutation({"rate": jnp.float32(rate), "type_probs": jnp.asarray(probs, jnp.float32),
                     "shift_max": jnp.float32(shift_max), "swap_max": jnp.float32(swap_max)}, apply,
                    f"mixed(rate={rate}, type_probs={probs})")


def categorical(cardinalities: Any, rate: float = 0.1) -> Mutation:
    """Resample integer genes: with probability ``rate`` a gene becomes ``U{0, ..., card - 1}``.

    cardinalities: an int for every gene, or a pytree with one int array per leaf (shape of one
    individual's leaf, or broadcastable to it). The new value may equal the old (Harvey's rule).
    """
    check_prob(rate, "rate")
    cards_tree = cardinalities

    def apply(key, params, pop, row_offset=0):
        leaves = jax.tree_util.tree_leaves(pop)
        if isinstance(cards_tree, (int, np.integer)):
            cards = [cards_tree] * len(leaves)
        else:
            cards = jax.tree_util.tree_leaves(cards_tree)
            if len(cards) != len(leaves):
                raise ValueError(f"cardinalities has {len(cards)} leaves, the population has {len(leaves)}")

        def leaf(j, x, h0, h1):
            card = jnp.asarray(cards[j], jnp.int32)
            hit = prng.bernoulli_from_bits(h0, _per_row(params["rate"], x))
            new = jnp.minimum((prng.bits_to_unit(h1) * card).astype(jnp.int32), card - 1)
            return jnp.where(hit, new.astype(x.dtype), x)
        return _map_leaves(key, pop, row_offset, leaf)

    single = isinstance(cardinalities, (int, np.integer))
    for c in ([cardinalities] if single else jax.tree_util.tree_leaves(cardinalities)):
        if np.any(np.asarray(c) < 1):
            raise ValueError(f"cardinalities must all be >= 1, got {cardinalities!r}")
    return Mutation({"rate": jnp.float32(rate)}, apply, f"categorical(rate={rate})")


def chain(*mutations: Mutation) -> Mutation:
    """Apply mutations one after another (like ``optax.chain``), member ``i`` with the key
    ``fold_in(key, i)``; params are the tuple of theirs (and so is what their ``inherit`` hooks pass on)."""
    if not mutations:
        raise ValueError("chain needs at least one mutation, got none")
    for i, m in enumerate(mutations):
        if not isinstance(m, Mutation):
            raise TypeError(f"chain argument {i} must be a Mutation, got {type(m).__name__}")

    def apply(key, params, pop, row_offset=0):
        for i, (m, p) in enumerate(zip(mutations, params)):
            pop = m.apply(jax.random.fold_in(key, i), p, pop, row_offset)
        return pop

    inherit = None
    if any(m.inherit is not None for m in mutations):
        def inherit(key, params, parent_index, is_child):
            return tuple(p if m.inherit is None else m.inherit(jax.random.fold_in(key, i), p, parent_index, is_child)
                         for i, (m, p) in enumerate(zip(mutations, params)))
    return Mutation(tuple(m.params for m in mutations), apply,
                    "chain(" + ", ".join(m.name for m in mutations) + ")", inherit)


def by_dtype(floating: Mutation | None = None, integer: Mutation | None = None) -> Mutation:
    """Mutate float leaves with ``floating`` and integer and bool leaves with ``integer``, for populations
    with both (e.g. ``by_dtype(gaussian(0.1, 0.02), categorical(5))``); None leaves those leaves unchanged.

    Each member sees the list of its leaves (in tree order) as its population, with the key
    ``fold_in(key, i)`` (``i`` = 0 floating, 1 integer); params are the pair of theirs.
    """
    members = (floating, integer)
    for name, m in zip(("floating", "integer"), members):
        if m is not None and not isinstance(m, Mutation):
            raise TypeError(f"{name} must be a Mutation or None, got {type(m).__name__}")
    if floating is None and integer is None:
        raise ValueError("by_dtype needs a floating or an integer mutation, got neither")

    def apply(key, params, pop, row_offset=0):
        leaves, treedef = jax.tree_util.tree_flatten(pop)
        out = list(leaves)
        for i, (m, p) in enumerate(zip(members, params)):
            idx = [j for j, x in enumerate(leaves) if _is_float(x) == (i == 0)]
            if m is None or not idx:
                continue
            for j, y in zip(idx, m.apply(jax.random.fold_in(key, i), p, [leaves[j] for j in idx], row_offset)):
                out[j] = y
        return jax.tree_util.tree_unflatten(treedef, out)

    inherit = None
    if any(m is not None and m.inherit is not None for m in members):
        def inherit(key, params, parent_index, is_child):
            return tuple(p if m is None or m.inherit is None
                         else m.inherit(jax.random.fold_in(key, i), p, parent_index, is_child)
                         for i, (m, p) in enumerate(zip(members, params)))
    names = ", ".join(f"{n}={m.name}" for n, m in zip(("floating", "integer"), members) if m is not None)
    return Mutation(tuple(None if m is None else m.params for m in members), apply, f"by_dtype({names})", inherit)


def self_adaptive(base: Mutation, tau: float) -> Mutation:
    """Per-individual ``sigma`` (Schwefel's log-normal self-adaptation): ``base`` mutates each individual
    with its own sigma, a ``[P]`` array in the params; a child inherits parent ``a``'s sigma times
    ``exp(tau * N(0, 1))``, a kept individual keeps its own.

    base: a mutation with a ``sigma`` parameter (e.g. :func:`gaussian`); tau: >= 0 (0 = fixed sigmas).
    """
    if not isinstance(base, Mutation):
        raise TypeError(f"base must be a Mutation, got {type(base).__name__}")
    tau = check_nonneg(tau, "tau")
    if get_param(base.params, "sigma") is None:
        raise ValueError(f"self_adaptive needs a mutation with a 'sigma' parameter (e.g. mutation.gaussian), "
                         f"got base={base.name}")

    def inherit(key, params, parent_index, is_child):
        n = parent_index.shape[0]
        sigma = jnp.broadcast_to(jnp.asarray(get_param(params, "sigma"), jnp.float32), (n,))[parent_index]
        z = jax.random.normal(key, (n,), jnp.float32)
        return set_param(params, "sigma", jnp.where(is_child, sigma * jnp.exp(tau * z), sigma))
    return Mutation(base.params, base.apply, f"self_adaptive({base.name}, tau={tau})", inherit)


def scale_mixture(base: Mutation, spread: float) -> Mutation:
    """A fresh step size for every child each generation: ``base`` (a mutation with a scalar ``sigma``,
    e.g. :func:`gaussian`) mutates child ``i`` with ``sigma * exp(spread * U(-1, 1))``, so the population
    tries small and large steps at once (log-uniform over ``[sigma e^-spread, sigma e^spread]``, median
    ``sigma``); nothing is inherited. spread: >= 0 (0 = ``base`` itself). The params hold the ``[P]``
    sigmas of the last population handed out and ``sigma_base``, the scalar they are drawn around.
    """
    if not isinstance(base, Mutation):
        raise TypeError(f"base must be a Mutation, got {type(base).__name__}")
    spread = check_nonneg(spread, "spread")
    if not isinstance(base.params, dict) or "sigma" not in base.params or jnp.ndim(base.params["sigma"]) != 0:
        raise ValueError(f"scale_mixture needs a mutation with a scalar 'sigma' parameter (e.g. mutation.gaussian), "
                         f"got base={base.name}")
    params = {**base.params, "sigma_base": base.params["sigma"]}

    def apply(key, params, pop, row_offset=0):
        return base.apply(key, {k: v for k, v in params.items() if k != "sigma_base"}, pop, row_offset)

    def inherit(key, params, parent_index, is_child):
        u = jax.random.uniform(key, parent_index.shape, jnp.float32, -1.0, 1.0)
        return {**params, "sigma": params["sigma_base"] * jnp.exp(spread * u)}
    return Mutation(params, apply, f"scale_mixture({base.name}, spread={spread})", inherit)


def count_nonfinite_params(pop: Population) -> jax.Array:
    """Number of individuals with at least one NaN/inf parameter (int32 scalar)."""
    bad = None
    for x in jax.tree_util.tree_leaves(pop):
        if jnp.issubdtype(x.dtype, jnp.floating):
            b = ~jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
            bad = b if bad is None else bad | b
    return jnp.zeros((), jnp.int32) if bad is None else jnp.sum(bad).astype(jnp.int32)
