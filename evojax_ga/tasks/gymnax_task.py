"""Gymnax control tasks: the fitness of a policy is its mean episode return.

``gymnax_task(env_name, policy, episodes, max_steps, chunk_size)`` builds a :class:`GymnaxTask` whose
``evaluate(key, population) -> (fitness [P], metrics)`` plays ``episodes`` episodes per individual
of any gymnax environment in one array program (:mod:`evojax_ga.tasks.rollout`: done-masked
episodes, early exit, the population in chunks of ``chunk_size``). The environment, its actions
and observation bounds come from :mod:`evojax_ga.tasks.environments`.

``policy`` is a function ``policy(params, obs) -> outputs`` for one individual, or a Flax model
(its ``apply`` is the policy). A population forward ``policy_forward(population, obs [B, E, d])``
may replace the vmapped policy; for an :class:`~evojax_ga.models.MLP` model it defaults to
:func:`~evojax_ga.models.member_forward` (unrolled multiply-adds instead of a vmapped ``Dense``),
used on a CPU by default (``fast_policy="auto"``). ``chunk_size="auto"`` uses cache-sized chunks
(:data:`AUTO_CHUNK`) on a CPU and one wide chunk (:data:`AUTO_CHUNK_ACCELERATOR`) on a GPU/TPU
(timings: ``benchmarks/README.md``).

Source: gymnax (Lange 2022); the setup of the seed article (PyGAD + PyTorch CartPole, fitness = the
summed reward of an episode, action = argmax of the network output).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, cast

import flax.linen as nn
import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.chunking import by_backend
from evojax_ga.metrics import ordered_sum
from evojax_ga.tasks.environments import (
    ENV_ALIASES,
    SOLVED_THRESHOLDS,
    env_shapes,
    known_envs,
    make_env,
    obs_affine,
    scale_actions,
)
from evojax_ga.tasks.rollout import Policy, PolicyForward, make_rollout, rollout_returns
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["AUTO_CHUNK", "AUTO_CHUNK_ACCELERATOR", "GymnaxTask", "gymnax_task", "make_env", "known_envs",
           "ENV_ALIASES", "SOLVED_THRESHOLDS", "scale_actions", "rollout_returns"]

#: members per chunk when ``chunk_size="auto"`` on a CPU: a chunk's weights stay in cache
AUTO_CHUNK = 256
#: members per chunk when ``chunk_size="auto"`` on a GPU/TPU: one chunk up to a million members
#: (about 2 KB of live state each for CartPole), so the device sees one wide batch
AUTO_CHUNK_ACCELERATOR = 2**20


class GymnaxTask(NamedTuple):
    """A gymnax environment as a GA task (a NamedTuple of pure functions and its configuration).

    evaluate(key, population) -> (fitness [P] float32 = mean return over ``episodes``,
        metrics {"episode_length": mean length, "env_steps": steps inside episodes,
        "sim_steps": steps simulated, including masked ones}) — use with ``ega.evolve``.
    returns(key, population) -> (returns [P, E] float32, lengths [P, E] int32).
    evaluate_individual(key, params, episodes=100) -> returns [episodes] (jitted; one individual,
        ``params`` without the population axis): the final check on fresh episodes.
    sample_input: ``[obs_dim]`` zeros, for ``model.init(key, task.sample_input)``.
    num_outputs: outputs the policy must produce (actions for argmax, or action dimensions).
    config: env name, episodes, max_steps, chunk_size, early_exit, action kind (JSON-able).
    env, env_params: the gymnax environment and the parameters used.
    """
    evaluate: Callable[[PRNGKey, Population], tuple[Fitness, Metrics]]
    returns: Callable[[PRNGKey, Population], tuple[jax.Array, jax.Array]]
    evaluate_individual: Callable[..., jax.Array]
    sample_input: jax.Array
    num_outputs: int
    config: dict
    env: Any
    env_params: Any


def rollout_options(chunk_size: int | str | None, fast_policy: bool | str) -> tuple[int | None, bool]:
    """``(chunk, fast_policy)`` of a rollout task's ``chunk_size`` (an int >= 1, None = the whole
    population, ``"auto"`` = :data:`AUTO_CHUNK` on a CPU, :data:`AUTO_CHUNK_ACCELERATOR` on a GPU/TPU)
    and ``fast_policy`` (True, False, ``"auto"`` = on a CPU only); ValueError naming a bad one."""
    if fast_policy == "auto":
        fast_policy = by_backend(True, False)
    if not isinstance(fast_policy, bool):
        raise ValueError(f"fast_policy must be True, False or 'auto', got {fast_policy!r}")
    if isinstance(chunk_size, str):
        if chunk_size != "auto":
            raise ValueError(f"chunk_size must be an int >= 1, None or 'auto', got {chunk_size!r}")
        return int(by_backend(AUTO_CHUNK, AUTO_CHUNK_ACCELERATOR)), fast_policy
    return (None if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)), fast_policy


def _policy_and_forward(policy: Any, policy_forward: PolicyForward | None) -> tuple[Policy, PolicyForward | None]:
    """``(per-observation policy, population forward or None)`` from a function or a Flax model."""
    if isinstance(policy, nn.Module):
        if policy_forward is None:
            from evojax_ga.models import member_forward
            policy_forward = member_forward(policy)
        return cast(Policy, policy.apply), policy_forward
    if not callable(policy):
        raise TypeError(f"policy must be callable (params, obs) -> outputs (e.g. model.apply) or a Flax model; "
                        f"got {type(policy).__name__}")
    if policy_forward is not None and not callable(policy_forward):
        raise TypeError(f"policy_forward must be None or callable (population, obs [B, E, d]) -> [B, E, outputs]; "
                        f"got {type(policy_forward).__name__}")
    return policy, policy_forward


def gymnax_task(env_name: str, policy: Policy | nn.Module, episodes: int = 1, max_steps: int | None = None,
                chunk_size: int | str | None = "auto", early_exit: bool = True, common_episodes: bool = False,
                normalize_obs: bool = False, env_kwargs: dict | None = None, env_params: Any = None,
                fast_policy: bool | str = "auto", policy_forward: PolicyForward | None = None) -> GymnaxTask:
    """Evaluate populations of policies on the gymnax environment ``env_name``.

    env_name: a gymnax id (``"CartPole-v1"``, ``"Acrobot-v1"``, ``"MountainCar-v0"``,
        ``"Pendulum-v1"``, ...) or an alias (``"cartpole"``); unknown names raise ValueError listing
        the known ones.
    policy: ``policy(params, obs [obs_dim]) -> [num_outputs]`` for one individual (e.g. a Flax
        ``model.apply``; observations are flattened to 1-D float32), or the Flax model itself (its
        ``apply``; an :class:`~evojax_ga.models.MLP` also brings its population forward).
    episodes: episodes per individual (fitness is their mean return); >= 1.
    max_steps: step limit per episode (default: the environment's ``max_steps_in_episode``; when
        given it replaces it, so the limit counts as truncation).
    chunk_size: evaluate at most this many individuals at once (``lax.map`` over chunks); ``None``
        = the whole population in one ``vmap``; ``"auto"`` = :data:`AUTO_CHUNK` on a CPU,
        :data:`AUTO_CHUNK_ACCELERATOR` on a GPU/TPU (the default backend when the task is built).
        Results do not depend on it.
    early_exit: stop the step loop when every episode of a chunk has ended (``while_loop``) instead
        of always running ``max_steps`` steps (``scan``). Same results either way. It saves time only
        when every episode of a chunk ends before ``max_steps`` (never on Pendulum, whose episodes end
        only there); otherwise its loop condition costs a little.
    common_episodes: every individual plays the same ``episodes`` start states (common random
        numbers: less noise when ranking, but a generation is judged on fewer distinct episodes).
    normalize_obs: map every observation component with finite bounds in the environment's
        observation space affinely onto [-1, 1] before the policy sees it (MountainCar's velocity
        lives in [-0.07, 0.07]); unbounded components are passed unchanged. The policy then expects
        normalised inputs: evaluate it through a task with the same setting.
    env_kwargs / env_params: passed to ``gymnax.make`` / used instead of the default parameters.
    policy_forward: ``forward(population [B, ...], obs [B, E, obs_dim]) -> [B, E, num_outputs]``,
        the same function as the vmapped ``policy`` (up to float rounding); default: the model's
        :func:`~evojax_ga.models.member_forward` when ``policy`` is an MLP model, else none.
    fast_policy: use ``policy_forward`` when there is one (True), never (False), or ``"auto"``: on
        a CPU only (on a GPU the vmapped ``Dense`` was faster).
    """
    episodes = check_int(episodes, "episodes", minimum=1)
    chunk, fast_policy = rollout_options(chunk_size, fast_policy)
    policy, forward = _policy_and_forward(policy, policy_forward)
    env, default_params, name = make_env(env_name, env_kwargs)
    params = default_params if env_params is None else env_params
    if max_steps is None:
        max_steps = int(params.max_steps_in_episode)
    else:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
        params = params.replace(max_steps_in_episode=max_steps)
    obs_shape, spec = env_shapes(env, params, name)
    sample_input = jnp.zeros((max(1, math.prod(obs_shape)),), jnp.float32)
    affine = obs_affine(env, params, sample_input.shape[0]) if normalize_obs else None
    fast = forward if fast_policy else None
    rollout = make_rollout(env, params, policy, spec, max_steps, bool(early_exit), int(sample_input.shape[0]),
                           affine, fast)

    def returns(key: PRNGKey, population: Population) -> tuple[jax.Array, jax.Array]:
        """``(returns [P, E] float32, lengths [P, E] int32)`` of ``episodes`` episodes per individual."""
        ret, length, _ = rollout_returns(rollout, key, population, episodes, chunk, common_episodes)
        return ret, length

    def evaluate(key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P] = mean return, metrics)`` (see :class:`GymnaxTask`)."""
        ret, length, sim = rollout_returns(rollout, key, population, episodes, chunk, common_episodes)
        steps = ordered_sum(length)   # (fixed order: the same on any number of devices)
        return jnp.mean(ret, axis=1), {"episode_length": steps / length.size, "env_steps": steps,
                                        "sim_steps": sim}

    @jax.jit
    def _individual(key, params_one, ep_index):
        one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], params_one)
        ret, _, _ = rollout(key, jnp.zeros((1,), jnp.int32), one, ep_index.shape[0], False)
        return ret[0]

    def evaluate_individual(key: PRNGKey, params_one: Any, episodes: int = 100) -> jax.Array:
        """Returns ``[episodes]`` of one individual (no population axis) on fresh episodes of ``key``."""
        episodes = check_int(episodes, "episodes", minimum=1)
        return _individual(key, params_one, jnp.zeros((episodes,), jnp.int8))

    config = {"env": name, "episodes": episodes, "max_steps": max_steps, "chunk_size": chunk,
              "normalize_obs": bool(normalize_obs),
              "fast_policy": fast is not None,
              "early_exit": bool(early_exit), "common_episodes": bool(common_episodes),
              "action": "discrete" if spec.discrete else "continuous", "num_outputs": spec.num_outputs,
              "obs_shape": list(obs_shape)}
    if not spec.discrete:
        config["action_low"] = spec.low.tolist()
        config["action_high"] = spec.high.tolist()
    return GymnaxTask(evaluate, returns, evaluate_individual, sample_input, spec.num_outputs, config, env, params)
