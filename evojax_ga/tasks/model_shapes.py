"""A classifier's shapes, found without computing (``jax.eval_shape``): outputs per sample, the head
check against a data set's classes, and the widest layer (for memory-bounded chunks)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga.data import Dataset
from evojax_ga.models import MLP

__all__ = ["output_size", "check_head", "activation_width"]


def _head_message(outputs: int, num_classes: int) -> str:
    return (f"the model has {outputs} outputs but the data have num_classes={num_classes}: it needs at least "
            f"one output (logit) per class (e.g. MLP(..., out={num_classes}))")


def output_size(model: Any, sample: Any) -> int | None:
    """Outputs (logits) per sample of ``model`` on ``sample [1, ...]``, found without computing
    (``jax.eval_shape``); None for a plain ``apply`` function (its parameters are not known)."""
    if isinstance(model, MLP):
        return int(model.out)
    if not isinstance(model, nn.Module):
        return None
    x = jnp.asarray(sample)
    out = jax.eval_shape(lambda k: model.apply(model.init(k, x), x), jax.random.PRNGKey(0))
    if not hasattr(out, "shape") or len(out.shape) != 2:
        raise ValueError(f"model must return logits [B, C], got {out}")
    return int(out.shape[-1])


def check_head(model: Any, data: Dataset) -> None:
    """Refuse a ``model`` with fewer outputs than ``data.num_classes`` (a label without a logit would
    never count as correct and its cross-entropy would be wrong). More outputs are allowed."""
    n = output_size(model, np.asarray(data.x_train[:1]))
    if n is not None and n < int(data.num_classes):
        raise ValueError(_head_message(n, int(data.num_classes)))


def activation_width(model: Any, sample: np.ndarray) -> int:
    """Largest number of activations one sample produces in any layer of ``model`` (floats).

    An :class:`~evojax_ga.models.MLP`: its widest layer; another Flax module: the largest
    intermediate output, found with ``jax.eval_shape`` (nothing is computed); a plain function: 1024.
    """
    if isinstance(model, MLP):
        return int(max([*model.features, model.out]))
    if not isinstance(model, nn.Module):
        return 1024
    x = jnp.asarray(sample)

    def probe(key):
        params = model.init(key, x)
        _, inter = model.apply(params, x, capture_intermediates=True, mutable=["intermediates"])
        return inter

    shapes = jax.eval_shape(probe, jax.random.PRNGKey(0))
    sizes = [int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes)]
    return max(sizes + [int(np.prod(x.shape[1:]))])
