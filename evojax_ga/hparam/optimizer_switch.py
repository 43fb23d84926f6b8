"""Several optax optimizers behind one padded state, chosen per candidate by ``lax.switch``.

The optimizers are those of :data:`evojax_ga.optimizers.OPTIMIZERS`, the learning rate a traced
value. Each optax state leaf is stored in a slot keyed by its shape and dtype, so ``adam`` (count, mu,
nu) and ``rmsprop`` (nu) use the same buffers and each candidate's update is bit-for-bit optax's. Under
``vmap`` a ``switch`` with a batched index evaluates every branch and selects, so the elementwise work
is paid per choice.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from evojax_ga.optimizers import OPTIMIZERS

__all__ = ["SwitchedOptimizer", "switched_optimizer"]

Params = Any


class SwitchedOptimizer(NamedTuple):
    """Several optax optimizers behind one padded state.

    init(index, params) -> padded state (a tuple of slot arrays);
    update(index, learning_rate, grads, state, params) -> (updates, state): optax's own update of
    optimizer ``names[index]`` on the unpacked state, repacked (slots it does not use pass through).
    unpack(index, state) -> that optimizer's optax state (for tests and inspection).
    """
    names: tuple[str, ...]
    init: Callable[[Any, Params], tuple[jax.Array, ...]]
    update: Callable[[Any, Any, Params, tuple[jax.Array, ...], Params], tuple[Params, tuple[jax.Array, ...]]]
    unpack: Callable[[int, tuple[jax.Array, ...]], Any]


def switched_optimizer(names: Sequence[str], params_template: Params) -> SwitchedOptimizer:
    """Build the padded layout from each optimizer's state shapes (``jax.eval_shape``, no compute).

    Every state leaf goes to slot ``(shape, dtype, k)``, ``k`` counting leaves of that shape within
    one optimizer's state; the padded state has, per shape and dtype, as many slots as the optimizer
    that needs most of them.
    """
    names = tuple(names)
    for n in names:
        if n not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {n!r}")
    layouts: list[tuple[Any, list[tuple[tuple, int]]]] = []
    need: dict[tuple, int] = {}
    for n in names:
        st = jax.eval_shape(OPTIMIZERS[n](1.0).init, params_template)
        leaves, treedef = jax.tree_util.tree_flatten(st)
        count: dict[tuple, int] = {}
        assign = []
        for leaf in leaves:
            k = (tuple(leaf.shape), jnp.dtype(leaf.dtype).name)
            assign.append((k, count.get(k, 0)))
            count[k] = count.get(k, 0) + 1
        for k, c in count.items():
            need[k] = max(need.get(k, 0), c)
        layouts.append((treedef, assign))
    slots = [(k, i) for k in sorted(need) for i in range(need[k])]
    pos = {s: j for j, s in enumerate(slots)}

    def zeros():
        return tuple(jnp.zeros(k[0], k[1]) for k, _ in slots)

    def pack(i, state, base):
        out = list(base)
        for leaf, s in zip(jax.tree_util.tree_leaves(state), layouts[i][1]):
            out[pos[s]] = leaf
        return tuple(out)

    def unpack(i, padded):
        treedef, assign = layouts[i]
        return jax.tree_util.tree_unflatten(treedef, [padded[pos[s]] for s in assign])

    def init(index, params):
        branches = [lambda p, i=i: pack(i, OPTIMIZERS[names[i]](1.0).init(p), zeros()) for i in range(len(names))]
        return jax.lax.switch(index, branches, params)

    def update(index, learning_rate, grads, state, params):
        def branch(i):
            def fn(ops):
                lr, g, st, p = ops
                upd, new = OPTIMIZERS[names[i]](lr).update(g, unpack(i, st), p)
                return upd, pack(i, new, st)
            return fn
        return jax.lax.switch(index, [branch(i) for i in range(len(names))], (learning_rate, grads, state, params))

    return SwitchedOptimizer(names, init, update, lambda index, state: unpack(index, state))
