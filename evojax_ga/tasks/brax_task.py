"""Brax locomotion tasks: the fitness of a policy is its mean episode return (an optional extra).

``brax_task(env_name, policy, episodes, max_steps, backend, normalize_obs, chunk_size)`` builds a
:class:`BraxTask`. Its rollout plays ``episodes`` episodes per member of a chunk of members in one
array program: ``env.reset`` / ``env.step`` of the bare Brax environment (no auto-reset or episode
wrapper) ``vmap``-ped over the ``B * E`` episodes, inside a ``lax.scan`` of exactly ``max_steps``
steps; an episode's rewards stop counting after its first ``done`` (done-masking; the finished
episode is still simulated, its reward and observations masked). The population runs
``chunk_size`` members at a time (:func:`evojax_ga.chunking.map_chunks`, ``last="overlap"``).
Actions are ``tanh`` of the policy's outputs (Brax actions live in [-1, 1]).

Keys: episode ``e`` of member ``i`` (global index) resets with ``fold_in(key, i * episodes + e)``;
Brax steps are deterministic. Results do not depend on ``chunk_size``.

Observation normalisation (``normalize_obs=True``, as EvoJAX and evosax do it): the policy sees
``clip((obs - mean) / sqrt(var + eps), -obs_clip, obs_clip)`` with running statistics
(:mod:`evojax_ga.tasks.obs_norm`). They are explicit state, not hidden in the task:
``evaluate_stateful(key, population, obs_stats) -> (fitness, metrics, obs_stats')`` normalises with
``obs_stats`` (one set for the whole generation) and returns them merged with every observation that
a live episode fed to its policy (per-member statistics gathered step by step inside the scan, then
merged over the population: a repeated row of the overlapping last chunk is counted once).
:func:`evojax_ga.tasks.obs_norm.with_obs_stats` carries them in the strategy state, so runs
checkpoint and resume them. ``evaluate(key, population)`` is the stateless view (the statistics the
task was built with, by default empty: observations only clipped).

Source: Brax (Freeman et al. 2021); EvoJAX's ``ObsNormalizer`` (Tang et al. 2022).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks
from evojax_ga.population import validate_population
from evojax_ga.tasks import obs_norm
from evojax_ga.tasks.gymnax_task import _policy_and_forward, rollout_options
from evojax_ga.tasks.obs_norm import ObsStats
from evojax_ga.tasks.rollout import Policy, PolicyForward
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["BraxTask", "brax_task", "BACKENDS", "DEFAULT_BACKEND", "MISSING", "import_brax", "known_envs"]

#: Brax physics pipelines accepted as ``backend``
BACKENDS = ("spring", "positional", "generalized", "mjx")
#: the cheapest backend on a CPU for ant and inverted_pendulum (benchmarks/README.md, "Brax on the CPU")
DEFAULT_BACKEND = "spring"
#: the one-line message when brax is absent
MISSING = 'brax is not installed: pip install -e ".[brax]"'


def import_brax() -> Any:
    """``brax.envs``, or ImportError with :data:`MISSING` when brax is not installed."""
    try:
        from brax import envs  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as exc:
        raise ImportError(MISSING) from exc
    return envs


def known_envs() -> list[str]:
    """Names of the registered Brax environments (needs brax)."""
    return sorted(import_brax()._envs)


@functools.lru_cache(maxsize=8)
def _make_env(name: str, backend: str, kwargs: tuple[tuple[str, Any], ...]) -> Any:
    """The bare Brax environment (building one parses its model: seconds; kept for reuse)."""
    envs = import_brax()
    if name not in envs._envs:
        raise ValueError(f"env_name must be one of {sorted(envs._envs)}, got {name!r}")
    return envs.get_environment(name, backend=backend, **dict(kwargs))


class BraxTask(NamedTuple):
    """A Brax environment as a GA task (a NamedTuple of pure functions and its configuration).

    evaluate(key, population) -> (fitness [P] float32 = mean return over ``episodes``, metrics
        {"episode_length": mean length, "env_steps": steps inside episodes, "sim_steps": steps
        simulated}), normalising with ``obs_stats`` (the task's fixed statistics).
    evaluate_stateful(key, population, obs_stats) -> (fitness [P], metrics, obs_stats merged with the
        observations of the live steps; unchanged when ``normalize_obs`` is off).
    returns(key, population, obs_stats) -> (returns [P, E] float32, lengths [P, E] int32).
    evaluate_individual(key, params, episodes=100, obs_stats=None) -> returns [episodes] (jitted; one
        member, no population axis; ``obs_stats`` default: the task's).
    sample_input: ``[obs_dim]`` zeros, for ``model.init(key, task.sample_input)``.
    num_outputs: the action dimension.
    obs_stats: the statistics ``evaluate`` uses (default: empty).
    config: env, backend, episodes, max_steps, chunk_size, normalize_obs, obs_clip, ... (JSON-able).
    env: the Brax environment.
    """
    evaluate: Callable[[PRNGKey, Population], tuple[Fitness, Metrics]]
    evaluate_stateful: Callable[[PRNGKey, Population, ObsStats], tuple[Fitness, Metrics, ObsStats]]
    returns: Callable[[PRNGKey, Population, ObsStats], tuple[jax.Array, jax.Array]]
    evaluate_individual: Callable[..., jax.Array]
    sample_input: jax.Array
    num_outputs: int
    obs_stats: ObsStats
    config: dict
    env: Any


def _check_stats(stats: Any, obs_dim: int, name: str = "obs_stats") -> ObsStats:
    if not isinstance(stats, ObsStats):
        raise TypeError(f"{name} must be an ObsStats (evojax_ga.tasks.obs_norm.init_obs_stats), "
                        f"got {type(stats).__name__}")
    if tuple(jnp.shape(stats.mean)) != (obs_dim,) or tuple(jnp.shape(stats.m2)) != (obs_dim,):
        raise ValueError(f"{name} must have mean and m2 of shape ({obs_dim},), got {tuple(jnp.shape(stats.mean))}")
    return stats


def brax_task(env_name: str, policy: Policy | nn.Module, episodes: int = 1, max_steps: int = 1000,
              backend: str = DEFAULT_BACKEND, normalize_obs: bool = True, obs_clip: float = obs_norm.DEFAULT_CLIP,
              chunk_size: int | str | None = "auto", obs_stats: ObsStats | None = None,
              env_kwargs: dict | None = None, fast_policy: bool | str = "auto",
              policy_forward: PolicyForward | None = None) -> BraxTask:
    """Evaluate populations of policies on the Brax environment ``env_name``.

    env_name: a Brax name (``"ant"``, ``"inverted_pendulum"``, ``"reacher"``, ``"halfcheetah"``, ...).
    policy: ``policy(params, obs [obs_dim]) -> [action_dim]`` for one member (actions are its tanh),
        or a Flax model (an :class:`~evojax_ga.models.MLP` also brings its population forward).
    episodes: episodes per member (fitness is their mean return); >= 1.
    max_steps: steps per episode (Brax's usual ``episode_length``); >= 1.
    backend: one of :data:`BACKENDS` (default :data:`DEFAULT_BACKEND`, the fastest on a CPU).
    normalize_obs: normalise observations with running statistics (module docstring); off: raw.
    obs_clip: normalised observations are clipped to ``[-obs_clip, obs_clip]``; > 0.
    chunk_size: members at once (``lax.map`` over chunks); None = all; ``"auto"`` = 256 on a CPU,
        2^20 on a GPU/TPU. Results do not depend on it.
    obs_stats: the statistics ``evaluate`` and ``evaluate_individual`` use by default (empty if None).
    env_kwargs: passed to ``brax.envs.get_environment``.
    fast_policy / policy_forward: as :func:`~evojax_ga.tasks.gymnax_task.gymnax_task`.
    """
    episodes = check_int(episodes, "episodes", minimum=1)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if isinstance(obs_clip, bool) or not isinstance(obs_clip, (int, float)) or not (0 < obs_clip < math.inf):
        raise ValueError(f"obs_clip must be a finite number > 0, got {obs_clip!r}")
    chunk, fast_policy = rollout_options(chunk_size, fast_policy)
    policy, forward = _policy_and_forward(policy, policy_forward)
    if not isinstance(env_name, str):
        raise TypeError(f"env_name must be a str, got {type(env_name).__name__}")
    env = _make_env(env_name, backend, tuple(sorted((env_kwargs or {}).items())))
    obs_dim, act_dim = int(env.observation_size), int(env.action_size)
    stats0 = obs_norm.init_obs_stats(obs_dim) if obs_stats is None else _check_stats(obs_stats, obs_dim)
    normalize = bool(normalize_obs)
    clip = float(obs_clip)

    def policy_one(params: Any, obs_e: jax.Array) -> jax.Array:      # [E, d] -> [E, act_dim]
        return jax.vmap(policy, in_axes=(None, 0))(params, obs_e)

    policy_all = forward if (fast_policy and forward is not None) else jax.vmap(policy_one)

    def rollout(key: PRNGKey, index: jax.Array, params: Any, stats: ObsStats, n_ep: int
                ) -> tuple[jax.Array, jax.Array, ObsStats]:
        """``index [B]`` global rows -> (returns [B, E], lengths [B, E], per-member statistics [B])."""
        B, E = index.shape[0], n_ep
        one = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), params)
        out = jax.eval_shape(policy_one, one, jax.ShapeDtypeStruct((E, obs_dim), jnp.float32))
        if out.shape != (E, act_dim):
            raise ValueError(f"the policy must map one observation ({obs_dim} values) to {act_dim} outputs "
                             f"(one per action dimension of {env_name}), got output shape {out.shape[1:]}")
        g = index[:, None] * E + jnp.arange(E, dtype=jnp.int32)[None, :]
        state = jax.vmap(env.reset)(jax.vmap(lambda i: jax.random.fold_in(key, i))(g.reshape(-1)))
        seen0 = ObsStats(jnp.zeros((B,), jnp.float32), jnp.zeros((B, obs_dim), jnp.float32),
                         jnp.zeros((B, obs_dim), jnp.float32))

        def body(carry: tuple, _: Any) -> tuple[tuple, None]:
            state, ret, length, alive, seen = carry
            obs = state.obs.reshape(B, E, obs_dim).astype(jnp.float32)
            if normalize:
                seen = obs_norm.merge(seen, obs_norm.batch_stats(obs, alive.reshape(B, E)))
                obs = obs_norm.normalize(stats, obs, clip)
            action = jnp.tanh(policy_all(params, obs)).reshape(B * E, act_dim)
            state = jax.vmap(env.step)(state, action)
            reward = jnp.asarray(state.reward, jnp.float32).reshape(B * E)
            ret = ret + jnp.where(alive, reward, 0.0)
            length = length + alive.astype(jnp.int32)
            alive = jnp.logical_and(alive, jnp.asarray(state.done).reshape(B * E) <= 0.5)
            return (state, ret, length, alive, seen), None

        init = (state, jnp.zeros((B * E,), jnp.float32), jnp.zeros((B * E,), jnp.int32),
                jnp.ones((B * E,), bool), seen0)
        (_, ret, length, _, seen), _ = jax.lax.scan(body, init, None, length=max_steps)
        return ret.reshape(B, E), length.reshape(B, E), seen

    def _run(key: PRNGKey, population: Population, stats: ObsStats) -> tuple[jax.Array, jax.Array, ObsStats]:
        _check_stats(stats, obs_dim)
        validate_population(population)
        return map_chunks(lambda sub, rows: rollout(key, rows, sub, stats, episodes), population, chunk,
                          last="overlap")

    def returns(key: PRNGKey, population: Population, obs_stats: ObsStats = stats0) -> tuple[jax.Array, jax.Array]:
        """``(returns [P, E] float32, lengths [P, E] int32)`` of ``episodes`` episodes per member."""
        ret, length, _ = _run(key, population, obs_stats)
        return ret, length

    def evaluate_stateful(key: PRNGKey, population: Population, obs_stats: ObsStats
                          ) -> tuple[Fitness, Metrics, ObsStats]:
        """``(fitness [P], metrics, obs_stats merged with this generation's live observations)``."""
        ret, length, seen = _run(key, population, obs_stats)
        lf = length.astype(jnp.float32)
        P = ret.shape[0]
        metrics = {"episode_length": jnp.mean(lf), "env_steps": jnp.sum(lf),
                   "sim_steps": jnp.float32(P * episodes * max_steps)}
        if normalize:
            obs_stats = obs_norm.merge(obs_stats, obs_norm.merge_all(seen))
            metrics["obs_count"] = obs_stats.count
        return jnp.mean(ret, axis=1), metrics, obs_stats

    def evaluate(key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P] = mean return, metrics)`` with the task's fixed statistics (see :class:`BraxTask`)."""
        fitness, metrics, _ = evaluate_stateful(key, population, stats0)
        return fitness, {k: v for k, v in metrics.items() if k != "obs_count"}

    @functools.partial(jax.jit, static_argnums=3)
    def _individual(key: PRNGKey, params_one: Any, stats: ObsStats, n: int) -> jax.Array:
        one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], params_one)
        ret, _, _ = rollout(key, jnp.zeros((1,), jnp.int32), one, stats, n)
        return ret[0]

    def evaluate_individual(key: PRNGKey, params_one: Any, episodes: int = 100,
                            obs_stats: ObsStats | None = None) -> jax.Array:
        """Returns ``[episodes]`` of one member (no population axis) on fresh episodes of ``key``."""
        n = check_int(episodes, "episodes", minimum=1)
        stats = stats0 if obs_stats is None else _check_stats(obs_stats, obs_dim)
        return _individual(key, params_one, stats, n)

    config = {"env": env_name, "backend": backend, "episodes": episodes, "max_steps": max_steps,
              "chunk_size": chunk, "normalize_obs": normalize, "obs_clip": clip,
              "fast_policy": bool(fast_policy and forward is not None), "obs_dim": obs_dim, "num_outputs": act_dim,
              "action": "tanh"}
    sample = jnp.zeros((obs_dim,), jnp.float32)
    return BraxTask(evaluate, evaluate_stateful, returns, evaluate_individual, sample, act_dim, stats0, config, env)
