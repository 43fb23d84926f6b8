"""Policy networks sized from a gymnax environment: ``policy_for(env_name) -> Flax model``.

The head has one output per discrete action (the rollout takes their argmax) or one per action
dimension of a continuous (``Box``) space (``prod(shape)``, scaled by tanh into the bounds; see
:mod:`evojax_ga.tasks.environments`). ``policy="auto"`` picks a :class:`~evojax_ga.models.CNNPolicy`
for image observations (3-D, such as MinAtar's ``10 x 10 x C``) and an :class:`~evojax_ga.models.MLP`
on the flattened observation otherwise; ``"mlp"`` and ``"cnn"`` force one (a CNN also takes 2-D
observations, as one-channel images).

:func:`policy_config` is the model's ``model.json`` record, which
:func:`evojax_ga.models.model_from_config` rebuilds.

    model = ega.tasks.policy_for("Breakout-MinAtar")            # CNNPolicy, 3 outputs
    task = ega.tasks.gymnax("Breakout-MinAtar", model, episodes=2)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn

from evojax_ga.models import ACTIVATIONS, MLP, CNNPolicy

__all__ = ["POLICIES", "policy_kind", "policy_for", "policy_from_shapes", "policy_config", "policy_widths"]

#: the values of ``policy``: "auto" (a CNN on image observations, else an MLP), "mlp", "cnn"
POLICIES = ("auto", "mlp", "cnn")


def _widths(values: Sequence[int], arg: str) -> tuple[int, ...]:
    out = tuple(values)
    if not out or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in out):
        raise ValueError(f"{arg} must be a non-empty sequence of positive ints, got {values!r}")
    return out


def policy_kind(obs_shape: Sequence[int], policy: str = "auto") -> str:
    """``"mlp"`` or ``"cnn"``: what ``policy`` means for observations of ``obs_shape``.

    ``"auto"``: ``"cnn"`` for 3-D (image) observations, else ``"mlp"``. ``"cnn"`` needs 2-D or 3-D
    observations (ValueError otherwise)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    shape = tuple(obs_shape)
    if policy == "auto":
        return "cnn" if len(shape) == 3 else "mlp"
    if policy == "cnn" and len(shape) not in (2, 3):
        raise ValueError(f"policy='cnn' needs image observations (2-D or 3-D), got observations of shape {shape}; "
                         f"use policy='mlp' or 'auto'")
    return policy


def policy_from_shapes(obs_shape: Sequence[int], outputs: int, hidden: Sequence[int] = (16, 16),
                       activation: str = "relu", policy: str = "auto", channels: Sequence[int] = (8,)) -> nn.Module:
    """The policy for observations of ``obs_shape`` and ``outputs`` outputs (see :func:`policy_for`)."""
    hidden = _widths(hidden, "hidden")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise ValueError(f"outputs must be an int >= 1, got {outputs!r}")
    if policy_kind(obs_shape, policy) == "cnn":
        return CNNPolicy(obs_shape=tuple(int(d) for d in obs_shape), out=outputs,
                         channels=_widths(channels, "channels"), features=hidden, activation=activation)
    return MLP(features=hidden, out=outputs, activation=activation)


def policy_for(env_name: str, hidden: Sequence[int] = (16, 16), activation: str = "relu", policy: str = "auto",
               channels: Sequence[int] = (8,), env_kwargs: dict | None = None) -> nn.Module:
    """A Flax policy sized for the gymnax environment ``env_name``.

    Returns an :class:`~evojax_ga.models.MLP` (``hidden`` widths, ``out`` = the number of discrete
    actions, or ``prod(shape)`` of a continuous action space) on observations flattened to
    ``[prod(obs_shape)]``, or, for image observations (``policy="auto"`` and 3-D observations, or
    ``policy="cnn"``), a :class:`~evojax_ga.models.CNNPolicy` (``channels`` 3x3 convolutions, then
    ``hidden`` dense layers, same head) that takes the same flat observations.
    Unknown environments and bad arguments raise ValueError naming them.
    """
    from evojax_ga.tasks.environments import env_shapes, make_env
    if policy not in POLICIES:   # before the environment is made
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    env, params, name = make_env(env_name, env_kwargs)
    obs_shape, spec = env_shapes(env, params, name)
    return policy_from_shapes(obs_shape, spec.num_outputs, hidden, activation, policy, channels)


def policy_config(model: nn.Module, input_shape: Sequence[int]) -> dict[str, Any]:
    """The ``model.json`` record of a policy from :func:`policy_for` (``input_shape``: the flat
    observation it takes, ``[obs_dim]``); :func:`evojax_ga.models.model_from_config` rebuilds it."""
    if isinstance(model, CNNPolicy):
        return {"kind": "CNNPolicy", "obs_shape": list(model.obs_shape), "channels": list(model.channels),
                "features": list(model.features), "kernel_size": int(model.kernel_size), "out": int(model.out),
                "activation": model.activation, "input_shape": list(input_shape)}
    if isinstance(model, MLP):
        return {"kind": "MLP", "features": list(model.features), "out": int(model.out),
                "activation": model.activation, "input_shape": list(input_shape)}
    raise TypeError(f"model must be an MLP or a CNNPolicy, got {type(model).__name__}")


def policy_widths(model: nn.Module) -> tuple[int, ...]:
    """Activations per observation of each hidden layer of a policy (the memory bound of an
    episode in flight): an MLP's widths; a CNN's feature maps ``H * W * channels``, then its widths."""
    if isinstance(model, CNNPolicy):
        pixels = math.prod(tuple(model.obs_shape)[:2])
        return tuple(pixels * int(c) for c in model.channels) + tuple(int(w) for w in model.features)
    if isinstance(model, MLP):
        return tuple(int(w) for w in model.features)
    raise TypeError(f"model must be an MLP or a CNNPolicy, got {type(model).__name__}")
