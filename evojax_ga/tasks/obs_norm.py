"""Running observation statistics and normalisation, as EvoJAX's ``ObsNormalizer`` and evosax do it.

The statistics are explicit, immutable state: an :class:`ObsStats` ``(count, mean [d], m2 [d])``
(``m2``: the sum of squared deviations from the mean), merged with the parallel form of Welford's
update (Chan, Golub & LeVeque 1979)::

    n = n_a + n_b;  delta = mean_b - mean_a
    mean = mean_a + delta * n_b / n;  m2 = m2_a + m2_b + delta^2 * n_a * n_b / n

so statistics gathered per step, per member or per chunk combine into exactly the mean and
(population, ``ddof=0``) variance of all the observations, whatever the order and grouping (up to
float rounding). ``count`` is float32: beyond 2^24 observations its increments round, which only
perturbs the weights ``n_b / n`` by about 1e-7.

:func:`normalize` maps an observation to ``clip((obs - mean) / sqrt(var + eps), -clip, clip)``
(default ``clip = 5``, ``eps = 1e-8``); with no observation seen yet (``count == 0``) the mean is 0
and the variance 1, so only the clip applies.

A task that keeps statistics exposes ``evaluate_stateful(key, population, obs_stats) -> (fitness,
metrics, obs_stats)``: it normalises with the statistics it is given (the same for every member of a
generation, so members are ranked on equal terms) and returns them merged with the observations its
live episodes saw. :func:`with_obs_stats` turns a strategy into one whose state
(:class:`StatsState`) carries the statistics next to the GA state, so ``ega.evolve``, the run loop's
checkpoints and ``evojax-ga resume`` store and restore them with the population (bit-identical
continuation). Everything stays a pure function of its arguments.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from evojax_ga.strategy import Strategy
from evojax_ga.types import PRNGKey

__all__ = ["ObsStats", "init_obs_stats", "merge", "merge_all", "batch_stats", "variance", "normalize",
           "StatsState", "with_obs_stats", "DEFAULT_CLIP", "DEFAULT_EPS"]

#: normalised observations are clipped to [-DEFAULT_CLIP, DEFAULT_CLIP] (EvoJAX's ObsNormalizer uses 5)
DEFAULT_CLIP = 5.0
#: added to the variance before the square root
DEFAULT_EPS = 1e-8


@struct.dataclass
class ObsStats:
    """Running statistics of ``d``-dimensional observations: ``count`` scalar float32, ``mean [d]``,
    ``m2 [d]`` (sum of squared deviations from the mean). Arrays only: checkpointable, vmappable."""
    count: jax.Array
    mean: jax.Array
    m2: jax.Array


def init_obs_stats(obs_dim: int) -> ObsStats:
    """Empty statistics of ``obs_dim``-dimensional observations (count 0)."""
    if isinstance(obs_dim, bool) or not isinstance(obs_dim, int) or obs_dim < 1:
        raise ValueError(f"obs_dim must be an int >= 1, got {obs_dim!r}")
    return ObsStats(jnp.zeros((), jnp.float32), jnp.zeros((obs_dim,), jnp.float32),
                    jnp.zeros((obs_dim,), jnp.float32))


def merge(a: ObsStats, b: ObsStats) -> ObsStats:
    """Statistics of the union of the observations behind ``a`` and ``b`` (Chan et al.'s merge;
    either may be empty). Leaves may carry the same leading batch axes."""
    n = a.count + b.count
    w = jnp.where(n > 0, b.count / jnp.maximum(n, 1.0), 0.0)[..., None]
    delta = b.mean - a.mean
    mean = a.mean + delta * w
    m2 = a.m2 + b.m2 + delta * delta * (a.count[..., None] * w)
    return ObsStats(n, mean, m2)


def merge_all(stats: ObsStats) -> ObsStats:
    """Merge statistics stacked on a leading axis (``count [K]``, ``mean [K, d]``, ``m2 [K, d]``)
    into one, in a single vectorised pass (not a sequential fold)."""
    n = jnp.sum(stats.count)
    mean = jnp.sum(stats.count[:, None] * stats.mean, axis=0) / jnp.maximum(n, 1.0)
    m2 = jnp.sum(stats.m2 + stats.count[:, None] * (stats.mean - mean) ** 2, axis=0)
    return ObsStats(n, mean, m2)


def batch_stats(obs: jax.Array, mask: jax.Array) -> ObsStats:
    """Statistics of the rows of ``obs [..., N, d]`` where ``mask [..., N]`` is true (leading axes
    kept as batch axes). Masked rows may hold NaN or inf: they are replaced before any arithmetic."""
    m = mask.astype(jnp.float32)
    n = jnp.sum(m, axis=-1)
    x = jnp.where(mask[..., None], obs, 0.0)
    mean = jnp.sum(x, axis=-2) / jnp.maximum(n, 1.0)[..., None]
    dev = jnp.where(mask[..., None], obs - mean[..., None, :], 0.0)
    return ObsStats(n, mean, jnp.sum(dev * dev, axis=-2))


def variance(stats: ObsStats) -> jax.Array:
    """``[d]`` population variance (``ddof=0``, as ``numpy.var``); 1 where no observation was seen."""
    return jnp.where(stats.count[..., None] > 0, stats.m2 / jnp.maximum(stats.count, 1.0)[..., None], 1.0)


def normalize(stats: ObsStats, obs: jax.Array, clip: float = DEFAULT_CLIP, eps: float = DEFAULT_EPS) -> jax.Array:
    """``clip((obs [..., d] - mean) / sqrt(var + eps), -clip, clip)``; mean 0, var 1 while empty."""
    mean = jnp.where(stats.count > 0, stats.mean, 0.0)
    z = (obs - mean) / jnp.sqrt(variance(stats) + eps)
    return jnp.clip(z, -clip, clip)


@struct.dataclass
class StatsState:
    """A strategy state with observation statistics beside it: what :func:`with_obs_stats`'s strategy
    keeps. ``obs_stats``: the running statistics (the next generation normalises with them);
    ``best_obs_stats``: those the best-so-far member was evaluated with (the policy ``best_params``
    expects its observations normalised by them; later statistics drift as the population changes).
    ``generation``, ``fitness``, ``best_fitness``, ``population`` and ``best_params`` read
    through to the GA state, so the evolution loop, checkpoints and resume treat it like a ``GAState``."""
    ga: Any
    obs_stats: ObsStats
    best_obs_stats: ObsStats

    @property
    def generation(self) -> jax.Array:
        return self.ga.generation

    @property
    def fitness(self) -> jax.Array:
        return self.ga.fitness

    @property
    def best_fitness(self) -> jax.Array:
        return self.ga.best_fitness

    @property
    def population(self) -> Any:
        return self.ga.population

    @property
    def best_params(self) -> Any:
        return self.ga.best_params


def with_obs_stats(strategy: Strategy, obs_dim: int) -> Strategy:
    """``strategy`` with running observation statistics carried in its state (:class:`StatsState`).

    init(key, population) -> StatsState (empty statistics of ``obs_dim`` components);
    step(key, state, task): ``ask``, ``task.evaluate_stateful(k_eval, population, state.obs_stats)``,
    ``tell``; the new statistics are kept (the key split and metrics are ``strategy.step``'s).
    ask(key, state) -> (population, state); tell(state, population, fitness, obs_stats=None): the
    fitness was measured with ``state.obs_stats``; ``obs_stats`` (the statistics ``evaluate_stateful``
    returned) replace them when given. ``task`` must have ``evaluate_stateful`` (and, for
    ``ega.evolve``, ``evaluate`` as every task does).
    """
    stats0 = init_obs_stats(obs_dim)

    def fresh() -> ObsStats:
        return jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), stats0)

    def init(key: PRNGKey, population: Any) -> StatsState:
        return StatsState(strategy.init(key, population), fresh(), fresh())

    def advance(state: StatsState, ga: Any, new_stats: ObsStats) -> StatsState:
        """The GA moved from ``state.ga`` to ``ga`` on fitness measured with ``state.obs_stats``."""
        improved = ga.best_fitness > state.ga.best_fitness
        best = jax.tree_util.tree_map(lambda u, b: jnp.where(improved, u, b), state.obs_stats, state.best_obs_stats)
        return StatsState(ga, new_stats, best)

    def ask(key: PRNGKey, state: StatsState) -> tuple[Any, StatsState]:
        pop, ga = strategy.ask(key, state.ga)
        return pop, StatsState(ga, state.obs_stats, state.best_obs_stats)

    def tell(state: StatsState, population: Any, fitness: jax.Array, obs_stats: ObsStats | None = None) -> StatsState:
        return advance(state, strategy.tell(state.ga, population, fitness),
                       state.obs_stats if obs_stats is None else obs_stats)

    def step(key: PRNGKey, state: StatsState, task: Any) -> tuple[StatsState, dict]:
        fn: Callable = getattr(task, "evaluate_stateful", None)  # type: ignore[assignment]
        if not callable(fn):
            raise TypeError(f"task must have evaluate_stateful(key, population, obs_stats) -> (fitness, metrics, "
                            f"obs_stats) to be used with with_obs_stats, got {type(task).__name__}")
        box: list[ObsStats] = []

        class _Frozen:   # the stats this generation normalises with; the merged ones come back in ``box``
            @staticmethod
            def evaluate(k: PRNGKey, population: Any) -> tuple[jax.Array, dict]:
                fitness, metrics, new = fn(k, population, state.obs_stats)
                box.append(new)
                return fitness, metrics

        ga, metrics = strategy.step(key, state.ga, _Frozen())
        return advance(state, ga, box[0]), metrics

    return Strategy(init, ask, tell, step, {**strategy.config, "obs_stats": True})

