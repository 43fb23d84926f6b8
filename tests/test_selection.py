import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evojax_ga import registry
from evojax_ga import selection as sel


def freq(idx, n):
    return np.bincount(np.asarray(idx), minlength=n) / len(idx)


def test_argsort_puts_nan_and_neginf_last():
    f = jnp.array([0.5, jnp.nan, 2.0, -jnp.inf, -1.0, jnp.nan])
    order = np.asarray(sel.argsort_desc(f))
    assert list(order[:3]) == [2, 0, 4]
    assert set(order[3:]) == {1, 3, 5}
    assert list(np.asarray(sel.top_k(f, 2))) == [2, 0]


def test_tournament_pressure(key):
    n = 10
    f = jnp.arange(n, dtype=jnp.float32)
    idx = sel.tournament(2)(key, f, 100_000)
    p = freq(idx, n)
    # P(rank i wins a binary tournament with replacement) = (2 i + 1) / n^2 for i = 0..n-1 (ascending)
    expected = (2 * np.arange(n) + 1) / n ** 2
    assert np.all(np.abs(p - expected) < 5 * np.sqrt(expected / 100_000) + 1e-3)
    # larger tournaments are greedier
    idx4 = sel.tournament(4)(key, f, 100_000)
    assert np.mean(np.asarray(f)[np.asarray(idx4)]) > np.mean(np.asarray(f)[np.asarray(idx)]) + 0.5


def test_tournament_nan_only_wins_against_nan(key):
    f = jnp.array([1.0, jnp.nan, jnp.nan, jnp.nan])
    idx = np.asarray(sel.tournament(2)(key, f, 40_000))
    # a NaN wins only when both candidates are NaN: (3/4)^2
    assert abs(np.mean(idx != 0) - 9 / 16) < 0.02


def test_truncation_only_top_fraction(key):
    f = jnp.array(np.random.default_rng(0).permutation(20).astype(np.float32))
    idx = np.asarray(sel.truncation(0.25)(key, f, 20_000))
    top = set(np.argsort(-np.asarray(f))[:5])
    assert set(np.unique(idx)) == top
    assert np.all(np.abs(freq(idx, 20)[list(top)] - 0.2) < 0.02)


def test_fitness_proportional_matches_power_law(key):
    f = jnp.array([1.0, 2.0, 3.0, 4.0])
    for m in (0.0, 1.0, 3.0):
        idx = sel.fitness_proportional(m)(key, f, 100_000)
        w = np.asarray(f) ** m
        expected = w / w.sum()
        assert np.all(np.abs(freq(idx, 4) - expected) < 0.01), (m, freq(idx, 4), expected)


def test_fitness_proportional_greedier_with_m(key):
    f = jnp.linspace(0.1, 1.0, 50)
    means = [float(jnp.mean(f[sel.fitness_proportional(m)(key, f, 20_000)])) for m in (0.0, 1.0, 4.0, 16.0)]
    assert means == sorted(means) and means[-1] - means[0] > 0.3


def test_fitness_proportional_negative_and_nonfinite(key):
    f = jnp.array([-5.0, -3.0, -1.0, jnp.nan, -jnp.inf])
    idx = np.asarray(sel.fitness_proportional(1.0)(key, f, 50_000))
    p = freq(idx, 5)
    # auto shift: weights (f - min) = 0, 2, 4 for the finite ones
    assert p[3] == 0 and p[4] == 0 and p[0] == 0
    assert abs(p[2] - 4 / 6) < 0.01
    # m = 0 is uniform over the finite individuals
    p0 = freq(sel.fitness_proportional(0.0)(key, f, 30_000), 5)
    assert np.all(np.abs(p0[:3] - 1 / 3) < 0.015) and p0[3] == 0 and p0[4] == 0
    # huge m does not overflow: the best takes everything
    p_big = freq(sel.fitness_proportional(200.0)(key, jnp.array([1.0, 2.0, 3.0]), 1000), 3)
    assert p_big[2] == 1.0


def test_linear_rank(key):
    f = jnp.array([3.0, 1.0, 2.0, jnp.nan])
    idx = sel.linear_rank(2.0)(key, f, 100_000)
    p = freq(idx, 4)
    # pressure 2: weights 2, 4/3, 2/3, 0 for ranks 0..3 -> probabilities 1/2, 1/3, 1/6, 0
    assert abs(p[0] - 0.5) < 0.01 and abs(p[2] - 1 / 3) < 0.01 and abs(p[1] - 1 / 6) < 0.01 and p[3] == 0


def test_universal_gives_each_its_expected_share_without_drift(key):
    f = jnp.arange(128, dtype=jnp.float32)[::-1]          # index i has rank i
    for k in range(5):
        counts = np.bincount(np.asarray(sel.universal(1.0)(jax.random.fold_in(key, k), f, 256)), minlength=128)
        assert (counts == 2).all()                          # EvoJAX's SimpleGA: each of the pool twice
        c = np.bincount(np.asarray(sel.universal(2.0)(jax.random.fold_in(key, k), f, 255)), minlength=128)
        expected = 255 * (2.0 - 2.0 * np.arange(128) / 127) / 128    # linear ranking 2 -> 0
        assert c.sum() == 255 and (np.abs(c - expected) < 1.0).all()   # floor or ceiling, never further
    idx = np.asarray(sel.universal(2.0)(key, f, 255))
    assert (np.diff(idx) != 1).any() and not (np.diff(idx) >= 0).all()   # picks come in random order
    g = jnp.array([3.0, jnp.nan, 1.0, 2.0])                  # NaN ranks last: weight 0 at pressure 2
    assert 1 not in set(np.asarray(sel.universal(2.0)(key, g, 30)).tolist())


def test_random_survivors_are_distinct_non_elite(key):
    f = jnp.arange(10, dtype=jnp.float32)
    s = np.asarray(sel.random_survivors(key, f, 3, 4))
    assert len(set(s)) == 4
    assert not set(s) & {9, 8, 7}
    with pytest.raises(ValueError, match="exceed population size"):
        sel.random_survivors(key, f, 8, 3)


@pytest.mark.parametrize("factory,kwargs,match", [
    (sel.tournament, {"size": 0}, "size must be >= 1"),
    (sel.truncation, {"fraction": 0.0}, r"fraction must be in \(0.0, 1.0\]"),
    (sel.truncation, {"fraction": 1.5}, "fraction must be in"),
    (sel.fitness_proportional, {"preference": -1.0}, "preference must be a finite number >= 0"),
    (sel.linear_rank, {"pressure": 2.5}, r"pressure must be in \[1.0, 2.0\]"),
    (sel.universal, {"pressure": 0.5}, r"pressure must be in \[1.0, 2.0\]"),
])
def test_bad_arguments(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


_fit_values = st.one_of(st.floats(-1e6, 1e6, width=32), st.just(float("nan")), st.just(float("-inf")))

#: every operator built once; the tunable numbers (m, frac) go in as traced params
_OPS = {"tournament": sel.tournament(3), "truncation": sel.truncation(0.5), "fitness_proportional":
        sel.fitness_proportional(1.0), "linear_rank": sel.linear_rank(1.5), "uniform": sel.uniform(),
        "universal": sel.universal(1.5)}
_NUM = 20   # draws per call; an example checks the first ``num`` (the same distribution)


@jax.jit
def _select_all(key, f, m, frac):
    params = {name: op.params for name, op in _OPS.items()}
    params["fitness_proportional"] = {"preference": m}
    params["truncation"] = {"fraction": frac}
    picks = {name: op.apply(key, params[name], f, _NUM) for name, op in _OPS.items()}
    return picks, sel.argsort_desc(f)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(_fit_values, min_size=2, max_size=12), num=st.integers(1, 20),
       m=st.floats(0.0, 8.0), frac=st.floats(0.05, 1.0))
def test_property_selection_invariants(values, num, m, frac):
    """One compiled program per fitness length (not per example): see the jitted ``_select_all``."""
    f = jnp.array(values, jnp.float32)
    finite = np.isfinite(np.asarray(f))
    n_finite = int(finite.sum())
    key = jax.random.key(len(values) * 100 + num)
    picks, order = _select_all(key, f, jnp.float32(m), jnp.float32(frac))
    for name, op in _OPS.items():
        assert jax.eval_shape(lambda k, x: op(k, x, num), key, f).shape == (num,)
        idx = np.asarray(picks[name])[:num]
        assert idx.dtype == np.int32
        assert idx.min() >= 0 and idx.max() < len(values)
    if n_finite:
        assert finite[np.asarray(picks["fitness_proportional"])].all()
        if n_finite >= int(np.ceil(np.float32(frac) * len(values))):
            assert finite[np.asarray(picks["truncation"])].all()
        assert finite[np.asarray(order)[:n_finite]].all()


def test_registry_names_are_stable():
    assert set(registry.SELECTIONS) >= {"uniform", "tournament", "truncation", "fitness_proportional", "linear_rank",
                                        "universal"}


@pytest.mark.parametrize("name", sorted(registry.SELECTIONS))
def test_every_registered_selection_returns_indices_and_prefers_finite(key, name):
    op = registry.SELECTIONS[name]()
    f = jnp.array([3.0, jnp.nan, 1.0, -jnp.inf, 2.0, 0.5])
    idx = np.asarray(op(key, f, 500))
    assert idx.shape == (500,) and idx.dtype == np.int32 and idx.min() >= 0 and idx.max() < 6
    np.testing.assert_array_equal(idx, np.asarray(op(key, f, 500)))         # same key, same picks
    if name != "uniform":                                                   # uniform ignores fitness
        counts = np.bincount(idx, minlength=6)                              # the best beats NaN and -inf
        assert counts[0] > counts[1] and counts[0] > counts[3]
    with pytest.raises(ValueError, match=r"fitness must be a non-empty \[n\] vector"):
        op(key, jnp.ones((2, 3)), 4)
    with pytest.raises(TypeError, match="num must be an int"):
        op(key, f, 2.5)
