"""Flax models used by the tasks, presets and baselines (any Flax module or pure function works too).

* :class:`MLP` — fully connected, any widths (the NumPy notebook's GeneticMLP is ``MLP((8,), 10,
  output_activation="relu")``: its ``feed_forward`` applies ReLU to the output layer too).
* :class:`ConvNet` — conv / max-pool stages then dense layers; :func:`mnist_deep` is TensorFlow's
  ``mnist_deep.py`` network used by the MNIST-CNN GA article (conv 5x5x32, pool 2, conv 5x5x64,
  pool 2, dense 1024, dense 10: 3,274,634 weights); :func:`evojax_cnn` EvoJAX's MNIST ConvNet (11,274
  weights); :func:`small_cnn` a ~2-9k-weight CNN.
* :class:`CNNPolicy` — a small CNN for image observations fed flat (rollouts flatten observations):
  it reshapes its input back to the observation shape it was built with.
* :func:`population_forward` — logits of a whole population on one shared batch. For an
  :class:`MLP` it uses a population-batched matmul formulation (one GEMM per layer per population
  chunk, samples on the fast axis); for a :class:`ConvNet` on the CPU one shared first convolution per
  chunk of members, then per-member layers (:mod:`evojax_ga.conv_population`); for anything else
  ``vmap(apply)`` over the population.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga.chunking import on_accelerator

__all__ = ["MLP", "member_forward", "UNROLL_MAX_FAN_IN", "ConvNet", "CNNPolicy", "ACTIVATIONS", "mnist_deep",
           "evojax_cnn", "small_cnn", "count_params", "mlp_flops", "population_forward", "conv_population_path",
           "mlp_layers", "MODEL_KINDS", "model_from_config"]

#: activation functions by name: the one table, used by :class:`MLP`, :class:`ConvNet` and the
#: hyper-parameter search's masked network (:mod:`evojax_ga.hparam.masked_mlp` selects from it by name)
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu, "tanh": jnp.tanh, "elu": nn.elu, "sigmoid": nn.sigmoid, "gelu": nn.gelu,
    "identity": lambda x: x,
}


def _activation(name: str, arg: str = "activation") -> Callable[[jax.Array], jax.Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"{arg} must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Fully connected network: ``features`` hidden widths, then ``out`` outputs (logits).

    Input ``[..., d]``; with ``flatten`` set, image inputs ``[..., H, W, C]`` are flattened over their
    last three axes. ``output_activation`` is applied to the output layer ("identity" = logits;
    the NumPy notebook uses "relu").
    """
    features: Sequence[int]
    out: int
    activation: str = "relu"
    flatten: bool = False
    output_activation: str = "identity"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = _activation(self.activation)
        out_act = _activation(self.output_activation, "output_activation")
        if self.flatten:
            x = x.reshape(x.shape[:-3] + (-1,)) if x.ndim >= 3 else x
        for w in self.features:
            x = act(nn.Dense(w)(x))
        return out_act(nn.Dense(self.out)(x))


class ConvNet(nn.Module):
    """Conv stages (``kernel_size`` x ``kernel_size``, SAME padding, activation, ``pool`` x ``pool``
    max-pool with stride ``pool``), then dense layers ``dense``, then ``out`` logits.

    Input ``[B, H, W, C]`` (or one image ``[H, W, C]``).
    """
    features: Sequence[int] = (32, 64)
    dense: Sequence[int] = (1024,)
    out: int = 10
    kernel_size: int = 5
    pool: int = 2
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = _activation(self.activation)
        if x.ndim not in (3, 4):
            raise ValueError(f"ConvNet input must be [B, H, W, C] or [H, W, C], got shape {x.shape}")
        single = x.ndim == 3
        if single:
            x = x[None]
        k, p = self.kernel_size, self.pool
        for f in self.features:
            x = act(nn.Conv(f, (k, k), padding="SAME")(x))
            if p > 1:
                x = nn.max_pool(x, (p, p), strides=(p, p), padding="SAME")
        x = x.reshape(x.shape[0], -1)
        for w in self.dense:
            x = act(nn.Dense(w)(x))
        x = nn.Dense(self.out)(x)
        return x[0] if single else x


class CNNPolicy(nn.Module):
    """A small CNN policy for image observations ``obs_shape = (H, W, C)`` (or ``(H, W)``: one channel).

    Input: flat observations ``[..., H * W * C]`` (what a rollout feeds a policy) or images
    ``[..., H, W, C]``; both give the same outputs ``[..., out]``. Layers: ``channels``
    ``kernel_size`` x ``kernel_size`` convolutions (SAME padding, stride 1, activation), flatten,
    ``features`` dense hidden layers (activation), then ``out`` outputs (logits / action values).
    """
    obs_shape: Sequence[int]
    out: int
    channels: Sequence[int] = (8,)
    features: Sequence[int] = (16,)
    kernel_size: int = 3
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = _activation(self.activation)
        shape = tuple(int(d) for d in self.obs_shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"obs_shape must be (H, W, C) or (H, W), got {shape}")
        image = shape if len(shape) == 3 else shape + (1,)
        if x.shape[x.ndim - len(shape):] == shape:
            batch = x.shape[:x.ndim - len(shape)]
        elif x.shape and x.shape[-1] == math.prod(shape):
            batch = x.shape[:-1]
        else:
            raise ValueError(f"CNNPolicy input must be [..., {math.prod(shape)}] or [..., "
                             f"{', '.join(map(str, shape))}] (obs_shape={shape}), got shape {x.shape}")
        k = self.kernel_size
        h = x.reshape((-1,) + image)
        for c in self.channels:
            h = act(nn.Conv(c, (k, k), padding="SAME")(h))
        h = h.reshape(h.shape[0], -1)
        for w in self.features:
            h = act(nn.Dense(w)(h))
        return nn.Dense(self.out)(h).reshape(batch + (self.out,))


def mnist_deep(out: int = 10) -> ConvNet:
    """TensorFlow's ``mnist_deep.py`` (the MNIST-CNN GA article's network), without dropout:
    conv 5x5x32, max-pool 2, conv 5x5x64, max-pool 2, dense 1024, dense ``out``.
    On 28x28x1 inputs: 3,274,634 weights."""
    return ConvNet(features=(32, 64), dense=(1024,), out=out, kernel_size=5, pool=2)


def evojax_cnn(out: int = 10) -> ConvNet:
    """EvoJAX's MNIST ConvNet (``evojax/policy/convnet.py``), without its final ``log_softmax`` (same
    accuracy and cross-entropy): conv 5x5x8, max-pool 2, conv 5x5x16, max-pool 2, dense ``out``.
    On 28x28x1 inputs: 11,274 weights."""
    return ConvNet(features=(8, 16), dense=(), out=out, kernel_size=5, pool=2)


def small_cnn(out: int = 10) -> ConvNet:
    """A small CNN: conv 3x3x8, pool 2, conv 3x3x16, pool 2, dense ``out``
    (1,898 weights on 8x8 digits, 9,098 on 28x28 MNIST)."""
    return ConvNet(features=(8, 16), dense=(), out=out, kernel_size=3, pool=2)


def count_params(params: Any) -> int:
    """Number of scalars in one individual's parameter pytree."""
    return int(sum(int(np.prod(np.shape(x))) for x in jax.tree_util.tree_leaves(params)))


def mlp_flops(in_dim: int, features: Sequence[int], out: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of one MLP forward pass on one sample (biases and
    activations not counted)."""
    dims = [int(in_dim), *[int(f) for f in features], int(out)]
    return int(sum(2 * a * b for a, b in zip(dims[:-1], dims[1:])))


# ------------------------------------------------------------------------------------------------
# population-batched forward
# ------------------------------------------------------------------------------------------------
def mlp_layers(params: Any) -> list[tuple[jax.Array, jax.Array]]:
    """``[(kernel, bias), ...]`` of an :class:`MLP`'s params (individual or population), in order."""
    p = params["params"] if isinstance(params, dict) and "params" in params else params
    names = sorted((k for k in p if k.startswith("Dense_")), key=lambda k: int(k.split("_")[1]))
    if not names or len(names) != len(p):
        raise ValueError(f"not MLP params: expected keys Dense_0..Dense_n, got {sorted(p)}")
    return [(p[n]["kernel"], p[n]["bias"]) for n in names]


def _mlp_prepare(model: MLP, x: jax.Array) -> jax.Array:
    """``x [B, ...]`` -> the feature-major ``[d, B]`` layout the population forward consumes."""
    x = x.reshape(x.shape[0], -1) if (model.flatten or x.ndim == 2) else x
    if x.ndim != 2:
        raise ValueError(f"MLP inputs must be [B, d] (or images with flatten=True), got shape {x.shape}")
    return x.T


def _mlp_population_logits_t(model: MLP, pop: Any, xt: jax.Array) -> jax.Array:
    """Logits of a population of MLPs, transposed: ``[P, out, B]`` for ``xt = [d, B]``.

    Samples sit on the fast (last) axis, so the bias, activation and softmax arithmetic vectorise
    over the batch, and every layer is a GEMM ``[P*out, in] @ [in, B]`` (batched over P after the
    first) with row-major operands: no transposes of the data inside the population loop.
    """
    act = _activation(model.activation)
    out_act = _activation(model.output_activation, "output_activation")
    layers = mlp_layers(pop)
    h = xt
    for i, (w, b) in enumerate(layers):            # w: [P, din, dout], b: [P, dout]
        if i == 0:
            z = jnp.einsum("pio,ib->pob", w, xt)     # [P, dout, B]
        else:
            z = jnp.einsum("pio,pib->pob", w, h)
        z = z + b[:, :, None]
        h = out_act(z) if i == len(layers) - 1 else act(z)
    return h


def conv_population_path(model: Any) -> bool:
    """True when :func:`population_forward` evaluates ``model`` with :mod:`evojax_ga.conv_population`:
    a :class:`ConvNet` with at least one convolution, on the CPU backend."""
    return isinstance(model, ConvNet) and bool(model.features) and not on_accelerator()


def population_forward(model: Any) -> tuple[Callable[[Any, Any], jax.Array], int, Callable[[jax.Array], Any]]:
    """``(forward, class_axis, prepare)``: ``forward(population, prepare(x))`` gives the logits of
    every individual on the shared batch ``x [B, ...]``, with classes on ``class_axis``.

    ``prepare`` runs once per batch, outside any loop over population chunks (a layout change).
    ``model``: an :class:`MLP` (fast path: ``prepare`` gives ``[d, B]``, logits ``[P, C, B]``,
    ``class_axis=1``), a :class:`ConvNet` (on the CPU:
    :func:`~evojax_ga.conv_population.conv_population_forward`, logits ``[P, B, C]``), any other Flax
    module, or a function ``apply(params, x) -> [B, C]``
    (``vmap`` over individuals: logits ``[P, B, C]``, ``class_axis=2``, ``prepare`` the identity).
    """
    if isinstance(model, MLP):
        return ((lambda pop, xt: _mlp_population_logits_t(model, pop, xt)), 1,
                (lambda x: _mlp_prepare(model, x)))
    if conv_population_path(model):
        from evojax_ga.conv_population import conv_population_forward  # imports this module
        return conv_population_forward(model), 2, (lambda x: x)
    apply = model.apply if isinstance(model, nn.Module) else model
    if not callable(apply):
        raise TypeError(f"model must be a Flax module or a function apply(params, x) -> logits, "
                        f"got {type(model).__name__}")
    forward = cast(Callable[[Any, Any], jax.Array], jax.vmap(apply, in_axes=(0, None)))
    return forward, 2, (lambda x: x)


# ------------------------------------------------------------------------------------------------
# per-member forward (every individual on its own inputs: rollouts)
# ------------------------------------------------------------------------------------------------
#: MLP layers with at most this many inputs are computed as unrolled multiply-adds in
#: :func:`member_forward`; wider ones as a batched ``einsum``
UNROLL_MAX_FAN_IN = 64


def member_forward(model: Any) -> Callable[[Any, jax.Array], jax.Array] | None:
    """``forward(population, x [P, E, d]) -> [P, E, out]``: member ``p`` applied to its own ``E``
    inputs ``x[p]`` (policies in rollouts), or None when ``model`` is not an :class:`MLP`.

    A layer with ``fan_in <= UNROLL_MAX_FAN_IN`` is ``bias + sum_i x[..., i] * W[:, i, :]`` written
    as ``fan_in`` broadcast multiply-adds over ``[P, E, out]``: XLA fuses them into one loop over the
    population, where the equivalent batched GEMM of tiny matrices (``vmap`` of ``Dense``) runs one
    small product per member (timings: ``benchmarks/bench_control.py``, ``benchmarks/README.md``).
    Same function as ``model.apply`` up to float rounding (summation order).
    """
    if not isinstance(model, MLP):
        return None
    act = _activation(model.activation)
    out_act = _activation(model.output_activation, "output_activation")

    def forward(pop: Any, x: jax.Array) -> jax.Array:
        if model.flatten and x.ndim > 3:
            x = x.reshape(x.shape[:2] + (-1,))
        layers = mlp_layers(pop)
        h = x
        for n, (w, b) in enumerate(layers):          # w [P, din, dout], b [P, dout]
            din = w.shape[1]
            if din <= UNROLL_MAX_FAN_IN:
                z = b[:, None, :] + h[..., 0:1] * w[:, None, 0, :]
                for i in range(1, din):
                    z = z + h[..., i:i + 1] * w[:, None, i, :]
            else:
                z = jnp.einsum("pei,pio->peo", h, w) + b[:, None, :]
            h = out_act(z) if n == len(layers) - 1 else act(z)
        return h

    return forward


# ------------------------------------------------------------------------------------------------
# model registry: ``model.json`` of a run folder -> the Flax model
# ------------------------------------------------------------------------------------------------
#: ``kind`` -> builder of the model from a ``model.json`` dict
MODEL_KINDS: dict[str, Callable[[Mapping[str, Any]], nn.Module]] = {
    "MLP": lambda mc: MLP(features=tuple(int(w) for w in mc["features"]), out=int(mc["out"]),
                          activation=mc.get("activation", "relu"), flatten=bool(mc.get("flatten", False)),
                          output_activation=mc.get("output_activation", "identity")),
    "CNNPolicy": lambda mc: CNNPolicy(obs_shape=tuple(int(d) for d in mc["obs_shape"]), out=int(mc["out"]),
                                      channels=tuple(int(c) for c in mc["channels"]),
                                      features=tuple(int(w) for w in mc["features"]),
                                      kernel_size=int(mc.get("kernel_size", 3)),
                                      activation=mc.get("activation", "relu")),
    "small_cnn": lambda mc: small_cnn(int(mc["out"])),
    "evojax_cnn": lambda mc: evojax_cnn(int(mc["out"])),
    "mnist_deep": lambda mc: mnist_deep(int(mc["out"])),
}


def model_from_config(model_config: Mapping[str, Any]) -> nn.Module:
    """Rebuild the Flax model a run folder's ``model.json`` describes (``kind``: a key of
    :data:`MODEL_KINDS`; an MLP's ``features``, ``out``, ``activation``, ``flatten``,
    ``output_activation``; a :class:`CNNPolicy`'s ``obs_shape``, ``channels``, ``features``, ``out``,
    ``kernel_size``, ``activation``; a CNN's ``out``)."""
    kind = model_config.get("kind")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {sorted(MODEL_KINDS)}, got {kind!r}")
    return MODEL_KINDS[kind](model_config)
