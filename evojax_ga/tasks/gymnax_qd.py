"""Gymnax control tasks with behaviour descriptors, for quality-diversity strategies (:mod:`evojax_ga.map_elites`).

``gymnax_qd(env_name, policy, descriptor, components, ...)`` builds a :class:`GymnaxQDTask` whose
``evaluate(key, population) -> (fitness [P], metrics)`` plays ``episodes`` episodes per member exactly
as :func:`evojax_ga.tasks.gymnax_task.gymnax_task` does (same keys, same returns: fitness is the mean
return) and adds ``metrics["descriptors"]`` ``[P, 2]``, the mean over the member's episodes of:

* ``"final_obs"``: the raw observation components ``(i, j)`` at the episode's end (default ``(0, 1)``;
  on MountainCar-v0: final position and final velocity); bounds: the observation space's
  ``[low, high]`` of each component;
* ``"final_max_abs"``: component ``i`` at the episode's end and the largest ``|component j|`` over the
  episode (on MountainCar-v0: final position and max speed); bounds ``[low_i, high_i]`` and
  ``[0, max(|low_j|, |high_j|)]``.

MountainCar-v0: position in ``[-1.2, 0.6]``, velocity in ``[-0.07, 0.07]`` (gymnax's observation space).
A component whose bound is infinite (or beyond 1e6 in magnitude, as CartPole's velocities) cannot be a
grid dimension: choosing it is a ValueError. The descriptors are of the raw observations (also with
``normalize_obs``). ``min_fitness``: a lower bound of the fitness (a QD-score offset) where the reward is
bounded below per step (:data:`MIN_REWARD`), else None.

Source: the behaviour descriptors of QD control benchmarks (final state, e.g. QDax's "feet contact" /
"final xy position" tasks; Mouret & Clune 2015).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks, plan
from evojax_ga.population import validate_population
from evojax_ga.tasks.environments import env_shapes, make_env, obs_affine
from evojax_ga.tasks.gymnax_task import _policy_and_forward, rollout_options
from evojax_ga.tasks.rollout import PolicyForward, make_rollout
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["DESCRIPTORS", "MIN_REWARD", "GymnaxQDTask", "gymnax_qd", "descriptor_bounds"]

#: descriptor kinds (module docstring)
DESCRIPTORS = ("final_obs", "final_max_abs")
#: the lowest reward of one step, where an environment bounds it (min_fitness = this * max_steps)
MIN_REWARD: dict[str, float] = {"MountainCar-v0": -1.0, "Acrobot-v1": -1.0, "CartPole-v1": 0.0,
                                "Pendulum-v1": -(math.pi ** 2 + 0.1 * 8.0 ** 2 + 0.001 * 2.0 ** 2)}
#: observation bounds at or beyond this magnitude count as infinite (float32 max in CartPole's space)
_HUGE = 1e6


class GymnaxQDTask(NamedTuple):
    """A gymnax environment as a QD task.

    evaluate(key, population) -> (fitness [P] float32 = mean return, metrics {"descriptors": [P, 2]
        float32, "episode_length", "env_steps", "sim_steps"}) — use with ``map_elites`` and ``evolve``.
    lower / upper: the descriptor bounds (2 entries each) for the grid; min_fitness: a lower bound of
    the fitness (a QD-score offset) or None; sample_input: ``[obs_dim]`` zeros; config: JSON-able.
    """
    evaluate: Callable[[PRNGKey, Population], tuple[Fitness, Metrics]]
    lower: tuple[float, float]
    upper: tuple[float, float]
    min_fitness: float | None
    sample_input: jax.Array
    num_outputs: int
    config: dict


def descriptor_bounds(env: Any, env_params: Any, name: str, descriptor: str,
                      components: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(lower, upper)`` of the descriptors from the observation space; ValueError naming the argument."""
    try:
        space = env.observation_space(env_params)
        low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape).reshape(-1)
        high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape).reshape(-1)
    except Exception:  # noqa: BLE001 - any space without low/high
        raise ValueError(f"env_name={name!r}: its observation space has no bounds, so descriptors have "
                         f"no grid bounds") from None
    for c in components:
        if not 0 <= c < low.shape[0]:
            raise ValueError(f"components must index the {low.shape[0]} observation components of {name}, "
                             f"got {components}")
        if not (abs(low[c]) < _HUGE and abs(high[c]) < _HUGE and low[c] < high[c]):
            raise ValueError(f"components: observation component {c} of {name} has no finite bounds "
                             f"(low={low[c]:.4g}, high={high[c]:.4g}); choose bounded components")
    i, j = components
    if descriptor == "final_obs":
        return (float(low[i]), float(low[j])), (float(high[i]), float(high[j]))
    return (float(low[i]), 0.0), (float(high[i]), float(max(abs(low[j]), abs(high[j]))))


def _check_components(components: Any) -> tuple[int, int]:
    if isinstance(components, (str, bytes)) or not hasattr(components, "__len__") or len(components) != 2:
        raise ValueError(f"components must be two observation indices (i, j), got {components!r}")
    return check_int(components[0], "components[0]", minimum=0), check_int(components[1], "components[1]", minimum=0)


def gymnax_qd(env_name: str, policy: Any, descriptor: str = "final_obs", components: Any = (0, 1),
              episodes: int = 1, max_steps: int | None = None, chunk_size: int | str | None = "auto",
              early_exit: bool = True, common_episodes: bool = False, normalize_obs: bool = False,
              env_kwargs: dict | None = None, fast_policy: bool | str = "auto",
              policy_forward: PolicyForward | None = None) -> GymnaxQDTask:
    """Evaluate populations of policies on ``env_name`` with behaviour descriptors (module docstring).

    descriptor: one of :data:`DESCRIPTORS`; components: the observation indices ``(i, j)`` it reads.
    The other arguments are those of :func:`evojax_ga.tasks.gymnax_task.gymnax_task` (same meaning and
    the same fitness for the same key).
    """
    if descriptor not in DESCRIPTORS:
        raise ValueError(f"descriptor must be one of {list(DESCRIPTORS)}, got {descriptor!r}")
    comps = _check_components(components)
    episodes = check_int(episodes, "episodes", minimum=1)
    chunk, fast_policy = rollout_options(chunk_size, fast_policy)
    pol, forward = _policy_and_forward(policy, policy_forward)
    env, params, name = make_env(env_name, env_kwargs)
    if max_steps is None:
        max_steps = int(params.max_steps_in_episode)
    else:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
        params = params.replace(max_steps_in_episode=max_steps)
    lower, upper = descriptor_bounds(env, params, name, descriptor, comps)
    obs_shape, spec = env_shapes(env, params, name)
    sample_input = jnp.zeros((max(1, math.prod(obs_shape)),), jnp.float32)
    affine = obs_affine(env, params, sample_input.shape[0]) if normalize_obs else None
    rollout: Callable[..., Any] = make_rollout(env, params, pol, spec, max_steps, bool(early_exit),
                                               int(sample_input.shape[0]), affine, forward if fast_policy else None,
                                               track_obs=True)
    i, j = comps
    common = bool(common_episodes)

    def evaluate(key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P] = mean return, metrics with "descriptors" [P, 2])`` (see :class:`GymnaxQDTask`)."""
        def run(sub: Population, rows: jax.Array) -> tuple[tuple[jax.Array, ...], jax.Array]:
            ret, length, steps, (final, max_abs) = rollout(key, rows, sub, episodes, common)
            second = final[..., j] if descriptor == "final_obs" else max_abs[..., j]
            return (ret, length, jnp.stack([final[..., i], second], axis=-1)), steps   # [B, E, 2]

        p = plan(validate_population(population), chunk, "overlap")
        (ret, length, desc), steps = map_chunks(run, population, chunk, last="overlap", per_chunk=True)
        sim = steps[0] if p.single else jnp.sum(steps * jnp.asarray(p.new_rows, jnp.int32) / p.size)
        lf = length.astype(jnp.float32)
        return jnp.mean(ret, axis=1), {"descriptors": jnp.mean(desc, axis=1), "episode_length": jnp.mean(lf),
                                        "env_steps": jnp.sum(lf), "sim_steps": sim}

    min_fitness = MIN_REWARD[name] * max_steps if name in MIN_REWARD else None
    config = {"env": name, "descriptor": descriptor, "components": list(comps), "lower": list(lower),
              "upper": list(upper), "episodes": episodes, "max_steps": max_steps, "chunk_size": chunk,
              "normalize_obs": bool(normalize_obs), "early_exit": bool(early_exit), "common_episodes": common,
              "min_fitness": min_fitness}
    return GymnaxQDTask(evaluate, lower, upper, min_fitness, sample_input, spec.num_outputs, config)

