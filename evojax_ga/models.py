"""Flax models used by the tasks and presets (any Flax module or pure function works too)."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["MLP", "ACTIVATIONS"]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu, "tanh": jnp.tanh, "elu": nn.elu, "sigmoid": nn.sigmoid, "gelu": nn.gelu,
    "identity": lambda x: x,
}


class MLP(nn.Module):
    """Fully connected network: ``features`` hidden widths, then ``out`` outputs (logits).

    Input ``[..., d]`` is flattened over its last axes when ``flatten`` is set (images).
    """
    features: Sequence[int]
    out: int
    activation: str = "relu"
    flatten: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.flatten:
            x = x.reshape(x.shape[:-3] + (-1,)) if x.ndim >= 3 else x
        act = ACTIVATIONS[self.activation]
        for w in self.features:
            x = act(nn.Dense(w)(x))
        return nn.Dense(self.out)(x)
