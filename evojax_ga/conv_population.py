"""Population forward of :class:`~evojax_ga.models.ConvNet`: logits of ``P`` ConvNets on one shared batch.

A chunk of ``c`` members is evaluated in two steps:

* the first convolution reads the batch every member shares, so it is **one** convolution for the
  whole chunk: the members' kernels ``[c, k, k, C, F]`` are stacked along the output-feature axis
  (``[k, k, C, c * F]``) and the bias, activation and max-pool run on ``[B, H, W, c * F]``;
* every later layer (convolutions, dense) has member-specific inputs, so it runs per member, a plain
  convolution / matmul of the member's own ``[B, ...]`` activations, in a ``lax.map`` over the chunk.

Why not one grouped convolution (``feature_group_count=c``) or batched im2col matmuls for the later
layers: XLA's CPU backend ran both several times slower than a loop of plain convolutions, and a plain
``jax.vmap`` of the Flax model produces exactly that grouped convolution (measured with
``python -m benchmarks.cnn_population``; figures in ``benchmarks/README.md``). The first layer,
shared, is where batching members pays: a per-member first convolution has only ``F`` (8-32) output
features. On a GPU/TPU :func:`evojax_ga.models.population_forward` keeps ``vmap`` (not measured here).

Same function as ``jax.vmap(model.apply, (0, None))`` up to float rounding (summation order).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks
from evojax_ga.models import ACTIVATIONS, ConvNet

__all__ = ["conv_layers", "conv_population_forward", "conv_population_logits", "conv_flops", "members_per_chunk",
           "FIRST_LAYER_CHANNELS"]

#: :func:`members_per_chunk` puts about this many output channels (members x first-layer features)
#: into the shared first convolution of a chunk
FIRST_LAYER_CHANNELS = 128

_DIMS = ("NHWC", "HWIO", "NHWC")
Layer = tuple[jax.Array, jax.Array]


def _sorted(p: Any, prefix: str) -> list[str]:
    return sorted((k for k in p if k.startswith(prefix)), key=lambda k: int(k[len(prefix):]))


def conv_layers(params: Any) -> tuple[list[Layer], list[Layer]]:
    """``(convs, dense)``: ``[(kernel, bias), ...]`` of a :class:`ConvNet`'s params (one individual or a
    population), in order. Conv kernels ``[..., k, k, C_in, C_out]``, dense kernels ``[..., d_in, d_out]``."""
    p = params["params"] if isinstance(params, dict) and "params" in params else params
    if not hasattr(p, "keys"):
        raise TypeError(f"params must be a ConvNet's parameter dict, got {type(params).__name__}")
    convs, dense = _sorted(p, "Conv_"), _sorted(p, "Dense_")
    if not convs or not dense or len(convs) + len(dense) != len(p):
        raise ValueError(f"params are not ConvNet params: expected keys Conv_0..Conv_n and Dense_0..Dense_m, "
                         f"got {sorted(p)}")
    return ([(p[n]["kernel"], p[n]["bias"]) for n in convs], [(p[n]["kernel"], p[n]["bias"]) for n in dense])


def _check_model(model: Any) -> ConvNet:
    if not isinstance(model, ConvNet):
        raise TypeError(f"model must be a ConvNet, got {type(model).__name__}")
    if not model.features:
        raise ValueError("model must have at least one convolution (ConvNet.features is empty)")
    if model.activation not in ACTIVATIONS:
        raise ValueError(f"model.activation must be one of {sorted(ACTIVATIONS)}, got {model.activation!r}")
    return model


def conv_population_forward(model: ConvNet) -> Callable[[Any, jax.Array], jax.Array]:
    """``forward(population, x [B, H, W, C]) -> logits [P, B, out]`` for a :class:`ConvNet` population
    (leaves ``[P, ...]``) on a shared batch: the first convolution once for all ``P`` members, the rest
    per member (module docstring). Call it on chunks of members (:func:`conv_population_logits`,
    or the classification task) to bound memory: the first layer's output is ``[B, H, W, P * F]``."""
    model = _check_model(model)
    act = ACTIVATIONS[model.activation]
    p = model.pool

    def conv(h: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
        h = act(jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=_DIMS) + b)
        return nn.max_pool(h, (p, p), strides=(p, p), padding="SAME") if p > 1 else h

    def member(args: tuple[jax.Array, Sequence[Layer], Sequence[Layer]]) -> jax.Array:
        h, convs, dense = args                       # h: [B, H', W', F] this member's activations
        for w, b in convs:
            h = conv(h, w, b)
        h = h.reshape(h.shape[0], -1)
        for i, (w, b) in enumerate(dense):
            h = h @ w + b
            h = h if i == len(dense) - 1 else act(h)
        return h

    def forward(pop: Any, x: jax.Array) -> jax.Array:
        if x.ndim != 4:
            raise ValueError(f"x must be a batch of images [B, H, W, C], got shape {x.shape}")
        convs, dense = conv_layers(pop)
        w0, b0 = convs[0]                            # [P, k, k, C, F], [P, F]
        P, k, _, c_in, f = w0.shape
        stacked = jnp.moveaxis(w0, 0, 3).reshape(k, k, c_in, P * f)     # output feature = member * F + f
        h = conv(x, stacked, b0.reshape(P * f))      # [B, H', W', P * F]
        B, H, W = h.shape[:3]
        h = jnp.moveaxis(h.reshape(B, H, W, P, f), 3, 0)                 # [P, B, H', W', F]
        return jax.lax.map(member, (h, convs[1:], dense))

    return forward


def conv_population_logits(model: ConvNet, population: Any, x: jax.Array,
                           chunk_size: int | None = None) -> jax.Array:
    """Logits ``[P, B, out]`` of a :class:`ConvNet` population on ``x [B, H, W, C]``, members in chunks of
    ``chunk_size`` (:func:`evojax_ga.chunking.map_chunks`, ``last="tail"``; None:
    :func:`members_per_chunk`). Chunk size changes speed and memory, not results (up to rounding)."""
    c = members_per_chunk(model) if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)
    forward = conv_population_forward(model)
    return map_chunks(lambda pop, rows: forward(pop, x), population, c, last="tail")


def members_per_chunk(model: ConvNet, channels: int = FIRST_LAYER_CHANNELS) -> int:
    """Members per chunk whose shared first convolution has about ``channels`` outputs (at least 1)."""
    model = _check_model(model)
    channels = check_int(channels, "channels", minimum=1)
    return max(1, round(channels / int(model.features[0])))


def conv_flops(model: ConvNet, image_shape: Sequence[int]) -> int:
    """FLOPs of one :class:`ConvNet` forward pass on one image ``image_shape = (H, W, C)``: 2 x the
    multiply-adds of the convolutions (SAME padding, stride 1) and dense layers; biases, activations
    and pooling not counted."""
    model = _check_model(model)
    if len(image_shape) != 3 or any(int(d) < 1 for d in image_shape):
        raise ValueError(f"image_shape must be (H, W, C) with positive sizes, got {tuple(image_shape)}")
    h, w, c = (int(d) for d in image_shape)
    k, p, flops = int(model.kernel_size), int(model.pool), 0
    for f in model.features:
        flops += 2 * h * w * k * k * c * int(f)
        h, w, c = (math.ceil(h / p), math.ceil(w / p), int(f)) if p > 1 else (h, w, int(f))
    d = h * w * c
    for width in (*model.dense, model.out):
        flops += 2 * d * int(width)
        d = int(width)
    return flops
