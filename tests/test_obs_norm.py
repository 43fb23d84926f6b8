"""Running observation statistics (no brax needed): merges equal numpy's mean / variance, the
normalisation formula, and a strategy carrying the statistics through evolve and a checkpoint."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import checkpoint as ckpt
from evojax_ga.tasks import obs_norm


def test_batch_stats_and_merges_equal_numpy():
    rng = np.random.default_rng(0)
    obs = rng.normal(3.0, 2.0, (5, 40, 3)).astype(np.float32)            # 5 groups of 40 rows
    mask = rng.random((5, 40)) < 0.6
    obs[~mask] = np.nan                                                  # masked rows may hold NaN
    live = obs[mask]
    per_group = obs_norm.batch_stats(jnp.asarray(obs), jnp.asarray(mask))  # batch axis kept: count [5]
    assert per_group.count.shape == (5,)
    one = obs_norm.merge_all(per_group)
    seq = obs_norm.init_obs_stats(3)
    for g in range(5):                                                   # sequential Chan merges
        seq = obs_norm.merge(seq, jax.tree_util.tree_map(lambda x: x[g], per_group))
    for s in (one, seq):
        assert float(s.count) == live.shape[0]
        np.testing.assert_allclose(s.mean, live.mean(0), rtol=1e-5)
        np.testing.assert_allclose(obs_norm.variance(s), live.var(0), rtol=1e-4)
    empty = obs_norm.init_obs_stats(3)
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, obs_norm.merge(empty, one), one))
    np.testing.assert_array_equal(obs_norm.variance(empty), np.ones(3))


def test_normalize_formula_and_clip():
    x = jnp.asarray([[0.5, -9.0, 100.0]], jnp.float32)
    np.testing.assert_array_equal(obs_norm.normalize(obs_norm.init_obs_stats(3), x), [[0.5, -5.0, 5.0]])
    s = obs_norm.ObsStats(jnp.float32(4.0), jnp.asarray([1.0, 0.0, 2.0]), jnp.asarray([16.0, 4.0, 0.0]))
    want = np.clip((np.asarray(x) - [1.0, 0.0, 2.0]) / np.sqrt(np.asarray([4.0, 1.0, 0.0]) + 1e-8), -2, 2)
    np.testing.assert_allclose(obs_norm.normalize(s, x, clip=2.0), want, rtol=1e-6)
    with pytest.raises(ValueError, match="obs_dim"):
        obs_norm.init_obs_stats(0)


class _StatsTask:
    """fitness = -sum(w^2); the 'observations' are the members' weights (all live)."""

    def evaluate_stateful(self, key, population, stats):
        w = population["w"]
        seen = obs_norm.batch_stats(w[None], jnp.ones((1, w.shape[0]), bool))
        return -jnp.sum(w * w, axis=1), {}, obs_norm.merge(stats, jax.tree_util.tree_map(lambda x: x[0], seen))

    def evaluate(self, key, population):   # a Task too (evolve checks it); with_obs_stats calls the above
        return self.evaluate_stateful(key, population, obs_norm.init_obs_stats(2))[:2]


def test_with_obs_stats_carries_and_checkpoints(tmp_path, key):
    strategy = obs_norm.with_obs_stats(ega.presets.truncation_ga(sigma=0.1), obs_dim=2)
    pop = {"w": jax.random.normal(key, (6, 2))}
    state, hist = ega.evolve(key, strategy, _StatsTask(), pop, generations=3, block=2, progress=False)
    assert isinstance(state, obs_norm.StatsState) and int(state.generation) == 3
    assert float(state.obs_stats.count) == 18.0 and len(hist["best"]) == 3
    ckpt.save(tmp_path, state)
    back, _ = ckpt.load(ckpt.checkpoint_path(tmp_path, 3), strategy.init(key, pop))
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: np.array_equal(a, b), back, state))
    with pytest.raises(TypeError, match="evaluate_stateful"):
        ega.evolve(key, strategy, lambda k, p: -jnp.sum(p["w"] ** 2, axis=1), pop, generations=1, progress=False)


def test_best_obs_stats_are_those_the_best_member_was_evaluated_with(key):
    strategy = obs_norm.with_obs_stats(ega.presets.truncation_ga(sigma=0.1), obs_dim=1)
    pop = {"w": jnp.zeros((4, 1))}
    stats = [obs_norm.ObsStats(jnp.float32(n), jnp.full((1,), float(n)), jnp.zeros((1,))) for n in (1, 2, 3)]
    s = strategy.init(key, pop)
    s = strategy.tell(s, pop, jnp.asarray([1.0, 2, 3, 4]), stats[0])    # best 4, measured with the empty stats
    assert float(s.best_obs_stats.count) == 0 and float(s.obs_stats.count) == 1
    s = strategy.tell(s, pop, jnp.asarray([0.0, 0, 0, 0]), stats[1])    # no improvement (measured with stats[0])
    assert float(s.best_obs_stats.count) == 0 and float(s.obs_stats.count) == 2
    s = strategy.tell(s, pop, jnp.asarray([9.0, 0, 0, 0]), stats[2])    # improvement, measured with stats[1]
    assert float(s.best_obs_stats.count) == 2 and float(s.obs_stats.count) == 3
