"""Gymnax environments: names, aliases, solved thresholds, action spaces and observation bounds.

``make_env(name) -> (env, default_params, canonical_name)`` accepts a gymnax id or an alias in
:data:`ENV_ALIASES`. Actions: discrete spaces take ``argmax`` of the policy output
(``num_outputs = n``); continuous (``Box``) spaces take ``low + (tanh(out) + 1) / 2 * (high - low)``
(``num_outputs = prod(shape)``), see :func:`scale_actions`. :func:`obs_affine` maps the finite
observation bounds onto [-1, 1] (observation normalisation).

Source: gymnax (Lange 2022).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ENV_ALIASES", "SOLVED_THRESHOLDS", "ActionSpec", "known_envs", "resolve_env", "make_env",
           "action_spec", "env_shapes", "scale_actions", "obs_affine"]

#: short names accepted besides gymnax's own ids
ENV_ALIASES: dict[str, str] = {
    "cartpole": "CartPole-v1",
    "acrobot": "Acrobot-v1",
    "mountaincar": "MountainCar-v0",
    "pendulum": "Pendulum-v1",
}

#: mean return over 100 fresh episodes that counts as solved (the issue's thresholds)
SOLVED_THRESHOLDS: dict[str, float] = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "MountainCar-v0": -110.0,
    "Pendulum-v1": -200.0,
}


def _gymnax() -> Any:
    import gymnax
    return gymnax


def known_envs() -> list[str]:
    """The environment ids registered with gymnax (plus runtime registrations)."""
    return list(_gymnax().registration.registered_envs)


def resolve_env(env_name: str, arg: str = "env_name") -> str:
    """The gymnax id that ``env_name`` names: a gymnax id (any case) or an alias in :data:`ENV_ALIASES`.

    Raises ValueError naming ``arg`` and listing the known environments when it names none of them.
    Makes no environment (nothing is downloaded).
    """
    if not isinstance(env_name, str):
        raise TypeError(f"{arg} must be a string (a gymnax environment id), got {env_name!r}")
    known = known_envs()
    name = ENV_ALIASES.get(env_name.lower(), env_name)
    if name not in known:
        lower = {k.lower(): k for k in known}
        name = lower.get(name.lower(), name)
    if name not in known:
        raise ValueError(f"{arg} must be a gymnax environment id; got {env_name!r}. Known environments: "
                         f"{', '.join(known)} (aliases: {', '.join(sorted(ENV_ALIASES))})")
    return name


def make_env(env_name: str, env_kwargs: dict | None = None) -> tuple[Any, Any, str]:
    """``(env, default_params, canonical_name)`` for a gymnax id or an alias in :data:`ENV_ALIASES`.

    Raises ValueError naming the known environments when ``env_name`` is not one of them, and
    ValueError naming the environment when making it needs a download that fails (gymnax's
    ``MNISTBandit-bsuite`` fetches MNIST) or a file that cannot be read.
    """
    name = resolve_env(env_name)
    try:
        env, params = _gymnax().make(name, **(env_kwargs or {}))
    except OSError as exc:   # urllib's URLError included: an environment that downloads its data
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ValueError(f"env_name={env_name!r}: making {name} needs a download or a file that is not "
                         f"available here ({type(exc).__name__}: {reason}); choose another environment") from None
    return env, params, name


class ActionSpec(NamedTuple):
    """An environment's action space as the policy sees it."""
    discrete: bool
    num_outputs: int
    shape: tuple[int, ...]
    low: Any   # numpy array (continuous) or None
    high: Any


def action_spec(env: Any, env_params: Any, name: str) -> ActionSpec:
    """The :class:`ActionSpec` of a gymnax ``Discrete`` or ``Box`` action space (ValueError otherwise)."""
    from gymnax.environments import spaces
    space = env.action_space(env_params)
    if isinstance(space, spaces.Discrete):
        return ActionSpec(True, int(space.n), (), None, None)
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in space.shape)
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape).copy()
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape).copy()
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{name}: continuous actions need finite bounds to scale tanh outputs, "
                             f"got low={low}, high={high}")
        return ActionSpec(False, max(1, math.prod(shape)), shape, low, high)
    raise ValueError(f"{name}: action space {type(space).__name__} is not supported "
                     f"(allowed: gymnax Discrete or Box)")


def env_shapes(env: Any, env_params: Any, name: str) -> tuple[tuple[int, ...], ActionSpec]:
    """``(observation shape, ActionSpec)`` of a made environment (traced only: nothing is computed)."""
    obs = jax.eval_shape(lambda k: env.reset_env(k, env_params)[0], jax.random.key(0))
    return tuple(int(d) for d in obs.shape), action_spec(env, env_params, name)


def scale_actions(out: jax.Array, spec: ActionSpec) -> jax.Array:
    """Policy outputs ``[..., num_outputs]`` -> actions (argmax, or tanh scaled into [low, high])."""
    if spec.discrete:
        return jnp.argmax(out, axis=-1).astype(jnp.int32)
    low, high = jnp.asarray(spec.low), jnp.asarray(spec.high)
    u = (jnp.tanh(out.astype(jnp.float32)) + 1.0) * 0.5
    u = u.reshape(out.shape[:-1] + spec.shape)
    return jnp.clip(low + u * (high - low), low, high)


def obs_affine(env: Any, env_params: Any, obs_dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(scale, shift)`` ``[obs_dim]`` mapping finite observation bounds onto [-1, 1] (identity
    elsewhere); None when the observation space is not a ``Box`` of ``obs_dim`` components."""
    try:
        space = env.observation_space(env_params)
        low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape).reshape(-1)
        high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape).reshape(-1)
    except Exception:  # no Box observation space: leave observations alone
        return None
    if low.shape[0] != obs_dim:
        return None
    width = high - low
    ok = np.isfinite(width) & (width > 0) & (width < 1e6)
    scale = np.where(ok, 2.0 / np.where(ok, width, 1.0), 1.0)
    shift = np.where(ok, -1.0 - low * scale, 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)
