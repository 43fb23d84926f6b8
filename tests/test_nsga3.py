"""NSGA-III: reference directions, normalisation, association and niching against NumPy references and
the paper's rules; the strategy on DTLZ2 against NSGA-II."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import mutation as mu
from evojax_ga import nsga2, nsga3, pareto


def test_reference_directions_are_the_simplex_lattice():
    d = nsga3.reference_directions(3, 12)
    assert d.shape == (91, 3) and d.dtype == np.float32
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-6)
    steps = d * 12
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
    assert len({tuple(r) for r in np.round(steps).astype(int)}) == 91   # every lattice point once
    np.testing.assert_array_equal(nsga3.reference_directions(2, 2), [[0, 1], [0.5, 0.5], [1, 0]])
    assert nsga3.reference_directions(5, 6).shape == (math.comb(10, 4), 5)


@pytest.mark.parametrize("call,words", [
    (lambda: nsga3.reference_directions(3, 0), "divisions"),
    (lambda: nsga3.reference_directions(10, 40), "reference directions, more than"),
    (lambda: nsga3.nsga3(3, ref_dirs=np.ones((4, 2))), "ref_dirs must be an [H, 3]"),
    (lambda: nsga3.nsga3(2, ref_dirs=[[1.0, -0.5]]), "non-negative"),
    (lambda: nsga3.nsga3(2, ref_dirs=[[0.0, 0.0]]), "positive sum"),
    (lambda: nsga3.nsga3(2, ref_dirs=[[1.0, 0.0]], divisions=3), "not both"),
    (lambda: nsga3.nsga3(2, mutate=mu.self_adaptive(mu.gaussian(1.0, 0.1), tau=0.3)), "nsga3 does not carry"),
])
def test_bad_input(call, words):
    with pytest.raises(ValueError) as e:
        call()
    assert words in str(e.value)


def test_niche_survive_checks_size():
    with pytest.raises(ValueError, match=r"size must be an int in \[1, 3\]"):
        nsga3.niche_survive(jax.random.key(0), jnp.zeros((3, 1)), jnp.zeros((3, 2)), 4, jnp.eye(2))


def test_an_nsga2_state_is_refused():
    s2 = nsga2.nsga2(2)
    state = s2.init(jax.random.key(0), jnp.zeros((4, 3)))
    with pytest.raises(TypeError, match="state has no key"):
        nsga3.nsga3(2).ask(jax.random.key(1), state)


def test_normalize_maps_a_plane_onto_the_unit_simplex():
    """Rows on x + y + z = 2 shifted by an ideal point (1, 2, 3): intercepts 2, so the normalised rows sum to 1."""
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(3), size=40)
    f = (2 * np.concatenate([np.eye(3), w]) + [1.0, 2.0, 3.0]).astype(np.float32)
    use = np.ones(len(f), bool)
    fn = np.asarray(nsga3.normalize(jnp.asarray(f), jnp.asarray(use), jnp.asarray(use)))
    np.testing.assert_allclose(fn.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fn[:3], np.eye(3), atol=1e-5)


def test_normalize_falls_back_on_a_degenerate_hyperplane():
    """Two axes pick the same extreme row, so the hyperplane is singular: the first front's worst value per
    objective divides instead; identical rows (every intercept 0) normalise to 0, never NaN."""
    f = np.array([[3.0, 3.0, 2.0], [3.0, 3.0, 2.0], [2.0, 2.0, 4.0]], np.float32)    # ideal (2, 2, 2)
    use = jnp.ones(3, bool)
    fn = np.asarray(nsga3.normalize(jnp.asarray(f), use, use))
    np.testing.assert_allclose(fn, (f - 2.0) / np.array([1.0, 1.0, 2.0]), atol=1e-6)
    same = np.asarray(nsga3.normalize(jnp.ones((4, 3)), jnp.ones(4, bool), jnp.ones(4, bool)))
    np.testing.assert_array_equal(same, np.zeros((4, 3)))


def test_association_equals_brute_force():
    rng = np.random.default_rng(1)
    fn = rng.random((37, 3)).astype(np.float32)
    dirs = nsga3.reference_directions(3, 4)
    j, d = nsga3.associate(jnp.asarray(fn), jnp.asarray(dirs), 8)
    u = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    perp = np.linalg.norm(fn[:, None, :] - (fn @ u.T)[:, :, None] * u[None], axis=2)   # [n, H]
    np.testing.assert_array_equal(np.asarray(j), perp.argmin(axis=1))
    np.testing.assert_allclose(np.asarray(d), perp.min(axis=1), atol=1e-5)


def _niching_case(seed):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(3), size=60)
    F = -np.concatenate([w, w * 1.5, w * 3.0]).astype(np.float32)      # three fronts of 60 (maximised)
    return F[rng.permutation(len(F))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_niching_keeps_whole_fronts_and_fills_the_least_crowded_directions_first(seed):
    F = _niching_case(seed)
    size, dirs = 100, nsga3.reference_directions(3, 4)      # front 0 (60) survives whole, 40 of front 1
    pop = jnp.arange(len(F))[:, None]
    kept, fit, rank, dist = jax.jit(nsga3.niche_survive, static_argnums=3)(jax.random.key(seed), pop, jnp.asarray(F),
                                                                          size, jnp.asarray(dirs))
    kept = np.asarray(kept)[:, 0]
    true = pareto.nondominated_ranks(jnp.asarray(F))
    true = np.asarray(true)
    assert len(set(kept.tolist())) == size
    assert set(np.flatnonzero(true == 0)) <= set(kept.tolist())
    assert np.all(true[kept] <= 1) and np.sum(true[kept] == 1) == 40
    np.testing.assert_array_equal(np.asarray(fit), F[kept])
    # the paper's invariant, recomputed in NumPy: with the same normalisation and association, no direction
    # that still has an unpicked member of the cut front ends with fewer survivors than a direction that
    # received a pick had before that pick
    use = true <= 1
    fn = np.asarray(nsga3.normalize(jnp.asarray(-F), jnp.asarray(use), jnp.asarray(true == 0)))
    j, d = (np.asarray(a) for a in nsga3.associate(jnp.asarray(fn), jnp.asarray(dirs), 16))
    survivors = np.zeros(len(dirs), int)
    np.add.at(survivors, j[kept], 1)
    picked_dirs = set(j[kept][true[kept] == 1].tolist())
    left = set(j[(true == 1) & ~np.isin(np.arange(len(F)), kept)].tolist())
    assert picked_dirs and left
    assert min(survivors[list(left)]) >= max(survivors[list(picked_dirs)]) - 1
    # a direction empty before the cut that received a pick received its closest member first
    before = np.zeros(len(dirs), int)
    np.add.at(before, j[true == 0], 1)
    for k in picked_dirs:
        if before[k] == 0:
            members = np.flatnonzero((true == 1) & (j == k))
            assert members[np.argmin(d[members])] in set(kept.tolist())


def test_niching_cuts_the_nan_front_at_random():
    F = np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, 0.0], [np.nan, 1.0], [0.5, np.nan], [np.nan, np.nan]], np.float32)
    pop = jnp.arange(6)[:, None]
    seen = set()
    survive = jax.jit(nsga3.niche_survive, static_argnums=3)
    for s in range(12):
        kept, *_ = survive(jax.random.key(s), pop, jnp.asarray(F), 4, jnp.asarray([[1.0, 0.0], [0.0, 1.0]]))
        kept = sorted(np.asarray(kept)[:, 0].tolist())
        assert kept[:2] == [0, 1] and len(set(kept)) == 4
        seen.add(tuple(kept))
    assert len(seen) > 2          # which NaN rows survive depends on the key


def _run(strategy, generations=60, seed=0, step=None):
    task = ega.tasks.dtlz2(3, 12)
    state = strategy.init(jax.random.key(seed), jax.random.uniform(jax.random.key(seed), (92, 12)))
    step = step or jax.jit(lambda k, s: strategy.step(k, s, task))
    for g in range(generations):
        state, m = step(jax.random.fold_in(jax.random.key(seed + 1), g), state)
    return state, m


@pytest.fixture(scope="module")
def dtlz2_runs():
    mut = mu.gaussian(1 / 12, 0.1)
    return (_run(nsga3.nsga3(3, ref=[-1.1] * 3, mutate=mut)), _run(nsga2.nsga2(3, ref=[-1.1] * 3, mutate=mut)))


def test_nsga3_spreads_the_front_over_the_directions_on_dtlz2(dtlz2_runs):
    """The point of NSGA-III: on DTLZ2 (3 objectives, 92 rows, 91 directions) its front reaches more
    directions than NSGA-II's crowding does, at a hypervolume at least as high."""
    (s3, m3), (s2, m2) = dtlz2_runs
    u = nsga3.reference_directions(3, 12)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)

    def covered(state):
        f = -np.asarray(state.fitness)[np.asarray(state.rank) == 0]
        return len(set(np.argmax((f / np.linalg.norm(f, axis=1, keepdims=True)) @ u.T, axis=1).tolist()))

    assert covered(s3) >= 80 > covered(s2)
    assert float(m3["hypervolume"]) >= float(m2["hypervolume"]) > 0.6


def test_same_key_same_run_and_the_key_moves():
    strategy = nsga3.nsga3(3, divisions=4, mutate=mu.gaussian(1 / 12, 0.1))
    task = ega.tasks.dtlz2(3, 12)
    step = jax.jit(lambda k, s: strategy.step(k, s, task))
    a, _ = _run(strategy, 5, step=step)
    b, _ = _run(strategy, 5, step=step)
    c, _ = _run(strategy, 5, seed=5, step=step)
    np.testing.assert_array_equal(np.asarray(a.population), np.asarray(b.population))
    assert not np.array_equal(np.asarray(a.population), np.asarray(c.population))
    assert a.key is not None and a.key.dtype == jnp.uint32 and not np.array_equal(np.asarray(a.key), np.asarray(c.key))


@pytest.mark.parametrize("make_key", [lambda s: jax.random.PRNGKey(s), lambda s: jax.random.key(s, impl="rbg")],
                         ids=["raw uint32", "rbg"])
def test_any_key_type_drives_survival(make_key):
    """The survival key is stored as threefry words whatever key the caller uses."""
    s = nsga3.nsga3(2, divisions=4)
    task = ega.tasks.zdt1(5)
    step = jax.jit(lambda k, st: s.step(k, st, task))
    st = s.init(make_key(0), jax.random.uniform(jax.random.key(1), (8, 5)))
    for g in range(2):
        st, _ = step(make_key(g + 1), st)
    assert st.key.dtype == jnp.uint32 and st.key.shape == (2,) and int(st.generation) == 2
