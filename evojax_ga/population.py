"""Populations: a parameter pytree with a leading axis of size P on every leaf.

An individual is any pytree of arrays (what ``flax.linen.Module.init`` returns). A population is the
same pytree with every leaf stacked to ``[P, *leaf_shape]``. Nothing here loops over individuals:
construction is a ``vmap`` over per-individual keys ``fold_in(key, i)``, so individual ``i`` is the
same whatever the population size or chunking.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from evojax_ga.types import Population

PyTree = Any

__all__ = [
    "init_population", "from_template", "population_size", "validate_population", "gather",
    "concatenate", "ravel_population", "unravel_population", "individual", "stack",
    "check_same_structure", "check_like", "first_leaf", "num_genes",
]


def _check_size(pop_size: int, name: str = "pop_size") -> int:
    if isinstance(pop_size, bool) or not isinstance(pop_size, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 2, got {pop_size!r}")
    if pop_size < 2:
        raise ValueError(f"{name} must be >= 2 (a GA needs at least two individuals), got {pop_size}")
    return int(pop_size)


def init_population(key: jax.Array, init_fn: Callable[..., PyTree], *args: Any, pop_size: int,
                    **kwargs: Any) -> Population:
    """Build ``pop_size`` individuals with ``init_fn(key_i, *args, **kwargs)``, ``key_i = fold_in(key, i)``.

    ``init_fn`` is e.g. ``model.init`` (then ``args`` is a sample input). Returns the stacked pytree,
    every leaf ``[pop_size, *shape]``.
    """
    size = _check_size(pop_size)
    if not callable(init_fn):
        raise TypeError(f"init_fn must be callable (e.g. model.init), got {type(init_fn).__name__}")

    def one(i):
        return init_fn(jax.random.fold_in(key, i), *args, **kwargs)

    pop = jax.jit(jax.vmap(one))(jnp.arange(size))
    validate_population(pop)
    return pop


def _uniform_init(scale: float):
    def init(key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, -scale, scale)
    return init


def _normal_init(scale: float):
    def init(key, shape, dtype):
        return scale * jax.random.normal(key, shape, dtype)
    return init


def from_template(key: jax.Array, template: PyTree, pop_size: int, initializer: str | Callable = "normal",
                  scale: float = 0.1) -> Population:
    """A population shaped like ``template`` (one individual).

    initializer: ``"copy"`` (every individual equals the template), ``"uniform"`` (U(-scale, scale),
    the NumPy notebook's U(-0.15, 0.15) with scale=0.15), ``"normal"`` (N(0, scale^2)), ``"zeros"``,
    or a callable ``(key, shape, dtype) -> array`` for one leaf of one individual.
    Leaf ``j`` of individual ``i`` draws from ``fold_in(fold_in(key, i), j)``.
    """
    size = _check_size(pop_size)
    leaves, treedef = jax.tree_util.tree_flatten(template)
    for leaf in leaves:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise TypeError(f"template leaves must be arrays, got {type(leaf).__name__}")
    if initializer == "copy":
        return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(jnp.asarray(x), (size,) + x.shape), template)
    if initializer == "zeros":
        return jax.tree_util.tree_map(lambda x: jnp.zeros((size,) + x.shape, x.dtype), template)
    if isinstance(initializer, str):
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        table = {"uniform": _uniform_init, "normal": _normal_init}
        if initializer not in table:
            raise ValueError(f"initializer must be one of 'copy', 'zeros', 'uniform', 'normal' or a callable, "
                             f"got {initializer!r}")
        init = table[initializer](float(scale))
    elif callable(initializer):
        init = initializer
    else:
        raise TypeError(f"initializer must be a string or callable, got {type(initializer).__name__}")

    def one(i):
        k = jax.random.fold_in(key, i)
        new = [init(jax.random.fold_in(k, j), leaf.shape, leaf.dtype) for j, leaf in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(treedef, new)

    return jax.jit(jax.vmap(one))(jnp.arange(size))


def validate_population(pop: Population, name: str = "population") -> int:
    """Check that ``pop`` is a non-empty pytree of arrays sharing one leading axis; return P."""
    leaves = jax.tree_util.tree_leaves(pop)
    if not leaves:
        raise ValueError(f"{name} has no array leaves")
    sizes = set()
    for path, leaf in jax.tree_util.tree_flatten_with_path(pop)[0]:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise TypeError(f"{name} leaf {jax.tree_util.keystr(path)} is a {type(leaf).__name__}, "
                            f"expected an array with a leading population axis")
        if leaf.ndim < 1:
            raise ValueError(f"{name} leaf {jax.tree_util.keystr(path)} is a scalar; every leaf needs "
                             f"a leading population axis")
        sizes.add(leaf.shape[0])
    if len(sizes) != 1:
        detail = {jax.tree_util.keystr(p): l.shape[0] for p, l in jax.tree_util.tree_flatten_with_path(pop)[0]}
        raise ValueError(f"{name} leaves disagree on the population axis: {detail}")
    return int(sizes.pop())


def population_size(pop: Population) -> int:
    """P, the leading-axis size shared by every leaf (validated)."""
    return validate_population(pop)


def num_genes(pop: Population) -> int:
    """N, the number of scalar parameters of one individual."""
    return int(sum(int(np.prod(l.shape[1:])) for l in jax.tree_util.tree_leaves(pop)))


def check_same_structure(a: PyTree, b: PyTree, name_a: str = "a", name_b: str = "b") -> None:
    """Raise ValueError when two pytrees differ in structure or leaf shapes."""
    ta, tb = jax.tree_util.tree_structure(a), jax.tree_util.tree_structure(b)
    if ta != tb:  # type: ignore[operator]
        raise ValueError(f"{name_a} and {name_b} have different pytree structures: {ta} vs {tb}")
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree_util.tree_leaves(b)):
        if x.shape != y.shape:
            raise ValueError(f"{name_a} and {name_b} differ at leaf {jax.tree_util.keystr(path)}: "
                             f"shape {x.shape} vs {y.shape}")


def _dtype(x: Any) -> np.dtype:
    """The dtype an array leaf has inside JAX (float64 is float32 unless x64 is enabled)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(x.dtype))


def check_like(pop: PyTree, like: PyTree, name: str = "population",
               like_name: str = "the state's population") -> None:
    """Raise unless ``pop`` has the structure, leaf shapes and leaf dtypes of ``like``.

    Static checks only (structure, shapes and dtypes are known at trace time), so they cost nothing
    inside ``jit``. Errors name ``name`` and the first differing leaf path: ValueError for structure
    and shape, TypeError for dtype.
    """
    pa = jax.tree_util.tree_flatten_with_path(pop)[0]
    pb = jax.tree_util.tree_flatten_with_path(like)[0]
    ka = [jax.tree_util.keystr(p) for p, _ in pa]
    kb = [jax.tree_util.keystr(p) for p, _ in pb]
    if ka != kb or jax.tree_util.tree_structure(pop) != jax.tree_util.tree_structure(like):  # type: ignore[operator]
        extra, missing = [k for k in ka if k not in kb], [k for k in kb if k not in ka]
        detail = f"extra leaves {extra[:3]}, missing leaves {missing[:3]}" if extra or missing else \
            f"structure {jax.tree_util.tree_structure(pop)} vs {jax.tree_util.tree_structure(like)}"
        raise ValueError(f"{name} does not have the pytree structure of {like_name}: {detail}")
    for k, (_, x), (_, y) in zip(ka, pa, pb):
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"{name} leaf {k} is a {type(x).__name__}, expected an array")
        if tuple(x.shape) != tuple(y.shape):
            what = (f"has {x.shape[0]} rows" if len(x.shape) and len(y.shape) and x.shape[0] != y.shape[0]
                    else f"has shape {tuple(x.shape)}")
            raise ValueError(f"{name} leaf {k} {what}; {like_name} has shape {tuple(y.shape)}")
        if _dtype(x) != _dtype(y):
            raise TypeError(f"{name} leaf {k} has dtype {_dtype(x)}, {like_name} has dtype {_dtype(y)}")


def first_leaf(pop: PyTree, where: Callable[[Any], bool]) -> tuple[str, Any] | None:
    """``(path, leaf)`` of the first leaf of ``pop`` (tree order) for which ``where(leaf)`` holds, the
    path as :func:`jax.tree_util.keystr` writes it; None when there is none. For errors that name a
    leaf; on dtypes and shapes it is static (free inside ``jit``)."""
    for path, x in jax.tree_util.tree_flatten_with_path(pop)[0]:
        if where(x):
            return jax.tree_util.keystr(path), x
    return None


def gather(pop: Population, index: jax.Array) -> Population:
    """Individuals ``index`` ([K] int) of ``pop``: every leaf ``[K, ...]``."""
    return jax.tree_util.tree_map(lambda x: jnp.take(x, index, axis=0), pop)


def individual(pop: Population, i: int) -> PyTree:
    """Individual ``i`` as an unstacked pytree."""
    return jax.tree_util.tree_map(lambda x: x[i], pop)


def stack(individuals: Sequence[PyTree]) -> Population:
    """Stack a list of individuals into a population (for small, host-side construction)."""
    if len(individuals) == 0:
        raise ValueError("individuals must be a non-empty sequence")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *individuals)


def concatenate(pops: Sequence[Population]) -> Population:
    """Concatenate populations along the population axis."""
    if len(pops) == 0:
        raise ValueError("pops must be a non-empty sequence")
    for i, p in enumerate(pops[1:], 1):
        check_same_structure(jax.tree_util.tree_map(lambda x: x[0], pops[0]),
                             jax.tree_util.tree_map(lambda x: x[0], p), "pops[0]", f"pops[{i}]")
    return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, axis=0), *pops)


def ravel_population(pop: Population) -> tuple[jax.Array, Callable[[jax.Array], Population]]:
    """Flatten to a ``[P, N]`` matrix; returns it and ``unravel([P, N]) -> population``."""
    validate_population(pop)
    one = jax.tree_util.tree_map(lambda x: x[0], pop)
    _, unravel_one = ravel_pytree(one)
    flat = jax.vmap(lambda ind: ravel_pytree(ind)[0])(pop)

    def unravel(matrix: jax.Array) -> Population:
        return jax.vmap(unravel_one)(matrix)

    return flat, unravel


def unravel_population(matrix: jax.Array, template: PyTree) -> Population:
    """Inverse of ``ravel_population`` given one individual ``template``."""
    _, unravel_one = ravel_pytree(template)
    return jax.vmap(unravel_one)(matrix)
