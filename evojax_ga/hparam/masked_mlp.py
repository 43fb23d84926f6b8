"""The masked maximum-size MLP: every candidate network of a search as one set of parameters.

Every candidate is a **maximum-size** MLP (``max(depth)`` hidden layers of ``max(width)`` units)
in which a candidate of depth ``d`` and width ``w`` uses

* the first ``w`` units of every hidden layer: the other units' activations are set to exactly 0
  (a select after the activation, so ``sigmoid(0) = 0.5`` does not leak), their parameters start at
  0, their gradients and updates are masked to 0 (:func:`param_mask`), so they never move and never
  enter an optimizer statistic;
* the first ``d`` hidden layers; hidden layers ``d..L-1`` pass their input through unchanged
  (``h_l = h_{l-1}``, a select), so the single output layer reads the ``d``-th hidden state. This is
  the formulation that keeps one set of parameters for every depth: all hidden layers have the same
  width (Harvey's "neurons per layer"), so the pass-through is shape-consistent, and the skipped
  layers contribute nothing to the output or to the gradients (the select's transpose gives them an
  exact 0 cotangent; the gradient mask makes it explicit).

The result is the small network built directly, with the same weights (summation over the extra
zero units changes only float rounding): see :func:`small_params` and the tests. Initialisation
draws one set of truncated-normal tensors for the maximum-size network (:func:`init_base`, shared by
all candidates: common random numbers) and scales each candidate's active block by its own fan-in
(:func:`candidate_params`), exactly Flax's ``lecun_normal`` law for the small network; biases start
at 0.

The activation is a ``lax.switch`` over names of :data:`evojax_ga.models.ACTIVATIONS` (the one
activation table), computed from shared transcendental terms (:func:`activate`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga.models import ACTIVATIONS

__all__ = ["Params", "init_base", "param_mask", "candidate_params", "check_activations", "activate", "masked_forward",
           "small_params"]

#: a masked network: ``{"hidden": [{"kernel", "bias"}, ...], "out": {"kernel", "bias"}}``
Params = dict[str, Any]

_TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2] (Flax's variance_scaling)


def init_base(key: jax.Array, in_dim: int, max_depth: int, max_width: int, num_classes: int) -> Params:
    """Unscaled draws for the maximum-size network: kernels ``truncated_normal(-2, 2)``, biases 0.

    ``{"hidden": [{"kernel": [in, H], "bias": [H]}, {"kernel": [H, H], ...}, ...], "out": {"kernel":
    [H, C], "bias": [C]}}`` with ``H = max_width`` and ``max_depth`` hidden layers.
    """
    keys = jax.random.split(key, max_depth + 1)
    hidden = []
    for li in range(max_depth):
        fan = in_dim if li == 0 else max_width
        hidden.append({"kernel": jax.random.truncated_normal(keys[li], -2.0, 2.0, (fan, max_width), jnp.float32),
                       "bias": jnp.zeros((max_width,), jnp.float32)})
    out = {"kernel": jax.random.truncated_normal(keys[-1], -2.0, 2.0, (max_width, num_classes), jnp.float32),
           "bias": jnp.zeros((num_classes,), jnp.float32)}
    return {"hidden": hidden, "out": out}


def param_mask(params: Params, depth: Any, width: Any) -> Params:
    """Boolean tree like ``params``: True where the entry belongs to the depth-``d``, width-``w`` net."""
    H = params["hidden"][0]["kernel"].shape[-1]
    m = jnp.arange(H) < width
    hidden = []
    for li, layer in enumerate(params["hidden"]):
        on = jnp.asarray(li < depth)
        rows = jnp.ones(layer["kernel"].shape[0], bool) if li == 0 else m
        hidden.append({"kernel": rows[:, None] & m[None, :] & on, "bias": m & on})
    C = params["out"]["bias"].shape[0]
    return {"hidden": hidden, "out": {"kernel": jnp.broadcast_to(m[:, None], (H, C)),
                                      "bias": jnp.ones((C,), bool)}}


def candidate_params(base: Params, depth: Any, width: Any) -> Params:
    """One candidate's initial parameters from :func:`init_base`: kernels scaled by
    ``sqrt(1 / fan_in) / 0.8796`` with the candidate's own fan-in (``in_dim``, then ``width``), the
    inactive entries set to 0."""
    w = jnp.asarray(width, jnp.float32)
    mask = param_mask(base, depth, width)
    hidden = []
    for li, layer in enumerate(base["hidden"]):
        fan = jnp.float32(layer["kernel"].shape[0]) if li == 0 else w
        hidden.append({"kernel": layer["kernel"] * (jnp.sqrt(1.0 / fan) / _TRUNC_STD), "bias": layer["bias"]})
    out = {"kernel": base["out"]["kernel"] * (jnp.sqrt(1.0 / w) / _TRUNC_STD), "bias": base["out"]["bias"]}
    p = {"hidden": hidden, "out": out}
    return jax.tree_util.tree_map(lambda x, k: jnp.where(k, x, 0.0), p, mask)


# Fused activations: under vmap a switch evaluates every branch, so the transcendental work is shared:
# one tanh(alpha z + beta z^3) serves tanh (1, 0), sigmoid (1/2, 0: 0.5 + 0.5 tanh(z/2)) and gelu
# (Flax's tanh approximation: sqrt(2/pi) (z + 0.044715 z^3)), one expm1 serves elu. The results equal
# the reference functions in ACTIVATIONS to float rounding (tested). Keyed by ACTIVATIONS' names; a
# name without an entry here is switched over its reference function instead.
_S2P = math.sqrt(2.0 / math.pi)
_TANH_ARGS = {"relu": (0.0, 0.0), "elu": (0.0, 0.0), "tanh": (1.0, 0.0), "sigmoid": (0.5, 0.0),
              "gelu": (_S2P, _S2P * 0.044715), "identity": (0.0, 0.0)}
_COMBINE: dict[str, Callable[[jax.Array, jax.Array, jax.Array], jax.Array]] = {
    "relu": lambda z, t, e: jnp.maximum(z, 0.0),
    "elu": lambda z, t, e: jnp.where(z > 0, z, e),
    "tanh": lambda z, t, e: t,
    "sigmoid": lambda z, t, e: 0.5 + 0.5 * t,
    "gelu": lambda z, t, e: 0.5 * z * (1.0 + t),
    "identity": lambda z, t, e: z,
}


def check_activations(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple; a ValueError for a name that is not in :data:`evojax_ga.models.ACTIVATIONS`."""
    for n in names:
        if n not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {n!r}")
    return tuple(names)


def activate(index: Any, z: jax.Array, names: Sequence[str]) -> jax.Array:
    """``ACTIVATIONS[names[index]](z)`` as a ``lax.switch`` over cheap combiners of shared terms.

    index: int scalar (may be traced) into ``names``, names of :data:`evojax_ga.models.ACTIVATIONS`.
    """
    if len(names) == 1:
        return ACTIVATIONS[names[0]](z)
    if not all(n in _COMBINE for n in names):
        return jax.lax.switch(index, [ACTIVATIONS[n] for n in names], z)
    args = np.array([_TANH_ARGS[n] for n in names], np.float32)
    need_t = bool(np.any(args != 0))
    need_e = "elu" in names
    t = e = z
    if need_t:
        a, b = jnp.asarray(args[:, 0])[index], jnp.asarray(args[:, 1])[index]
        t = jnp.tanh(z * (a + b * z * z))
    if need_e:
        e = jnp.expm1(jnp.minimum(z, 0.0))
    return jax.lax.switch(index, [_COMBINE[n] for n in names], z, t, e)


def masked_forward(params: Params, depth: Any, width: Any, activation: Any, x: jax.Array,
                   activation_names: Sequence[str]) -> jax.Array:
    """Logits ``[B, C]`` of one candidate on ``x`` ``[B, D]``.

    depth, width: the candidate's (int scalars, may be traced); activation: index into
    ``activation_names`` (``lax.switch``).
    """
    H = params["hidden"][0]["kernel"].shape[-1]
    m = jnp.arange(H) < width
    h = x
    for li, layer in enumerate(params["hidden"]):
        a = activate(activation, h @ layer["kernel"] + layer["bias"], activation_names)
        a = jnp.where(m, a, 0.0)
        h = a if li == 0 else jnp.where(li < depth, a, h)
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def small_params(params: Params, depth: int, width: int) -> dict:
    """The small network inside a masked one, as :class:`evojax_ga.models.MLP` params
    ``{"params": {"Dense_0": ..., ..., "Dense_d": ...}}`` for ``MLP(features=(width,) * depth, out=C)``.
    ``depth``, ``width`` must be concrete ints."""
    depth, width = int(depth), int(width)
    out = {}
    for li in range(depth):
        k = params["hidden"][li]["kernel"]
        out[f"Dense_{li}"] = {"kernel": k[:, :width] if li == 0 else k[:width, :width],
                             "bias": params["hidden"][li]["bias"][:width]}
    out[f"Dense_{depth}"] = {"kernel": params["out"]["kernel"][:width], "bias": params["out"]["bias"]}
    return {"params": out}
