"""What a control run is built from: ``build(config) -> Parts`` (task, policy, strategy, initial population).

The policy is :func:`evojax_ga.tasks.policies.policy_for` of the run's environment (an MLP, or a
CNN on image observations), sized from the environment's observation and action spaces. Initial
weights are drawn per individual (``fold_in(key, i)``: independent of the population size), every
kernel scaled by ``init_scale / sqrt(fan_in)`` (LeCun; ``fan_in = prod(shape[:-1])``: a dense
kernel's inputs, a convolution's ``kh * kw * c_in``), every bias by ``init_scale``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

if TYPE_CHECKING:
    from evojax_ga.runs.control import ControlConfig

__all__ = ["Parts", "build", "episode_bytes", "init_scale_of"]


class Parts(NamedTuple):
    """What a control run is built from (``build(config)``; replace a part to try another)."""
    task: Any                   # GymnaxTask
    model: Any                  # flax policy (MLP or CNNPolicy)
    model_config: dict          # model.json
    strategy: Any               # ega.Strategy
    init_population: Callable   # (key) -> population [P, ...], jitted


def init_scale_of(shape: Sequence[int], init_scale: float) -> float:
    """The standard deviation of a leaf's initial weights: ``init_scale / sqrt(prod(shape[:-1]))``
    for a kernel (``len(shape) >= 2``: dense ``[in, out]``, convolution ``[kh, kw, c_in, c_out]``),
    ``init_scale`` for a bias or scalar."""
    return init_scale / math.sqrt(math.prod(shape[:-1])) if len(shape) >= 2 else init_scale


def build(cfg: ControlConfig) -> Parts:
    """Task, policy, strategy and initial population of ``cfg``."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import evojax_ga as ega
    from evojax_ga import memory
    from evojax_ga.tasks.gymnax_task import gymnax_task
    from evojax_ga.tasks.policies import policy_config, policy_for, policy_widths

    model = policy_for(cfg.env, cfg.hidden, cfg.activation, cfg.policy)
    task = gymnax_task(cfg.env, model, episodes=cfg.episodes, max_steps=cfg.max_steps,
                       chunk_size=cfg.chunk_size, early_exit=cfg.early_exit, normalize_obs=cfg.normalize_obs,
                       common_episodes=cfg.common_episodes)
    model_config = policy_config(model, task.sample_input.shape)
    if cfg.preset == "simple":
        strategy = ega.presets.simple_ga(mutation_rate=cfg.mutation_rate, sigma=cfg.sigma, tournament=cfg.tournament,
                                         crossover_prob=cfg.crossover_prob, elite=cfg.elite)
    elif cfg.preset == "deep_ga":
        strategy = ega.presets.deep_ga(truncation=cfg.truncation, sigma=cfg.sigma, elite=cfg.elite)
    elif cfg.preset == "universal":
        strategy = ega.presets.universal_ga(parent_pool=cfg.truncation, pressure=cfg.pressure, sigma=cfg.sigma,
                                            elite=cfg.elite)
    else:
        strategy = ega.presets.truncation_ga(parent_pool=cfg.truncation, tournament=cfg.tournament, sigma=cfg.sigma,
                                             elite=cfg.elite)

    # (numpy and traced ops only: eager jnp calls here would each compile a tiny program at start-up)
    shapes = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    # refuse what cannot fit before anything is allocated: the population (copies of the weights,
    # fitness, and the working set of every episode), then the fresh episodes of one member
    per_episode = episode_bytes(int(task.sample_input.shape[0]), policy_widths(model), task.num_outputs)
    memory.check_fits(memory.population_bytes(shapes, cfg.pop_size, extra_per_member=4 + cfg.episodes * per_episode),
                      f"pop_size={cfg.pop_size}")
    fresh = max(("check_episodes", "confirm_episodes", "final_episodes"), key=lambda n: getattr(cfg, n))
    memory.check_fits(getattr(cfg, fresh) * per_episode, f"{fresh}={getattr(cfg, fresh)}",
                      needs="evaluating one member on that many episodes at once")
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    sizes = [math.prod(s.shape) for s in leaves]
    scale_flat = np.concatenate([np.full(n, init_scale_of(s.shape, cfg.init_scale), np.float32)
                                 for s, n in zip(leaves, sizes)])
    n_genes = int(sum(sizes))
    bounds = np.cumsum(sizes)[:-1].tolist()

    @jax.jit
    def init_population(key):
        z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (n_genes,), jnp.float32))(
            jnp.arange(cfg.pop_size)) * scale_flat
        parts = jnp.split(z, bounds, axis=1)      # leaves in tree order, row-major (as ravel_pytree)
        return jax.tree_util.tree_unflatten(
            treedef, [p.reshape((cfg.pop_size,) + s.shape).astype(s.dtype) for p, s in zip(parts, leaves)])

    return Parts(task, model, model_config, strategy, init_population)


def episode_bytes(obs_dim: int, hidden: Sequence[int], outputs: int) -> int:
    """A bound on the working set of one episode in flight (observation, activations ``hidden`` per
    layer, environment state, return): what a population's evaluation and the fresh-episode checks
    hold per episode."""
    return 4 * (2 * obs_dim + sum(hidden) + outputs) + 64
