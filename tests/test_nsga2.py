"""NSGA-II: crowded tournament, elitist survival against a reference, and progress on ZDT1."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_ga import mutation as mu
from evojax_ga import nsga2 as n2
from evojax_ga import pareto
from evojax_ga.tasks.zdt import zdt1, zdt2, zdt3


def test_survive_keeps_the_best_by_front_then_crowding():
    rng = np.random.default_rng(3)
    F = rng.integers(0, 5, size=(40, 2)).astype(np.float32)
    F[rng.random(40) < 0.1, 0] = np.nan
    pop = {"w": jnp.arange(40, dtype=jnp.float32)[:, None]}
    kept, fit, rank, crowd = jax.jit(n2.survive, static_argnums=2)(pop, jnp.asarray(F), 15)
    r = np.asarray(jax.jit(pareto.nondominated_ranks)(F))
    c = np.asarray(jax.jit(pareto.crowding_distance)(F, r))
    want = sorted(range(40), key=lambda i: (r[i], -c[i], i))[:15]
    np.testing.assert_array_equal(np.asarray(kept["w"][:, 0]).astype(int), want)
    np.testing.assert_array_equal(np.asarray(fit), F[want])
    np.testing.assert_array_equal(np.asarray(rank), r[want])
    # whole fronts survive first, so ranks among the survivors are the same
    np.testing.assert_array_equal(np.asarray(jax.jit(pareto.nondominated_ranks)(fit)), r[want])


def test_crowded_tournament_prefers_low_rank_then_crowding(key):
    rank = jnp.array([0, 1, 1, 1], jnp.int32)
    w = np.asarray(n2.crowded_tournament(key, rank, jnp.zeros(4), 40_000))
    assert abs(np.mean(w == 0) - 7 / 16) < 0.01  # 1 - (3/4)^2: row 0 wins whenever drawn
    crowd = jnp.array([0.0, 0.0, jnp.inf, 0.0])
    w = np.asarray(n2.crowded_tournament(key, jnp.zeros(4, jnp.int32), crowd, 40_000))
    assert abs(np.mean(w == 2) - 7 / 16) < 0.01


def test_first_generation_keeps_the_initial_population(key):
    s = n2.nsga2(2)
    pop = jax.random.normal(key, (6, 3))
    st = s.init(key, pop)
    out, st = jax.jit(s.ask)(key, st)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pop))
    F = jnp.array([[0.0, 1.0], [jnp.nan, 0.0]] * 3)
    st = jax.jit(s.tell)(st, out, F)
    np.testing.assert_array_equal(np.sort(np.asarray(st.population), axis=0), np.sort(np.asarray(pop), axis=0))
    assert int(st.generation) == 1 and int(jnp.sum(pareto.nan_rows(st.fitness))) == 3


def test_hypervolume_improves_on_zdt1():
    task = zdt1(10)
    s = n2.nsga2(2, mutate=mu.gaussian(0.2, 0.1), ref=[-1.1, -7.0])
    st = s.init(jax.random.key(1), jax.random.uniform(jax.random.key(0), (32, 10)))

    def run(st, k):
        return s.step(k, st, task)

    st, m = jax.jit(lambda st: jax.lax.scan(run, st, jax.random.split(jax.random.key(2), 30)))(st)
    hv = np.asarray(m["hypervolume"])
    # the optimal front's hypervolume over this reference is 1.1 * 7 - 1/3 = 7.367
    assert hv[0] < 5.0 and hv[-1] > 7.2
    assert float(pareto.hypervolume(st.fitness, [-1.1, -7.0])) == pytest.approx(hv[-1])


def test_zdt_values_on_the_front():
    x = jnp.zeros((2, 4)).at[:, 0].set(jnp.array([0.25, 1.0]))
    np.testing.assert_allclose(np.asarray(zdt1(4).evaluate(None, x)[0]), [[-0.25, -0.5], [-1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(zdt2(4).evaluate(None, x)[0]), [[-0.25, -0.9375], [-1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(zdt3(4).evaluate(None, x)[0])[:, 0], [-0.25, -1.0])
    # off the box: genes are clipped to [0, 1]; g = 1 + 9 * mean(x_2..n)
    y = jnp.array([[2.0, 1.0, -3.0, 1.0]])
    np.testing.assert_allclose(np.asarray(zdt1(4).evaluate(None, y)[0]), [[-1.0, -7.0 * (1 - np.sqrt(1 / 7))]],
                               rtol=1e-6)


def test_bad_input(key):
    with pytest.raises(ValueError, match="num_objectives must be >= 1"):
        n2.nsga2(0)
    with pytest.raises(ValueError, match="mutate: .* per-individual"):
        n2.nsga2(2, mutate=mu.self_adaptive(mu.gaussian(0.1, 0.1), 0.1))
    with pytest.raises(TypeError, match="crossover must be a Crossover"):
        n2.nsga2(2, crossover=mu.gaussian())
    with pytest.raises(ValueError, match=r"ref must be a \[2\]"):
        n2.nsga2(2, ref=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="ref: hypervolume is exact for 2 or 3"):
        n2.nsga2(4, ref=[0.0] * 4)
    with pytest.raises(ValueError, match="dim must be >= 2"):
        zdt1(1)
    s = n2.nsga2(2)
    with pytest.raises(ValueError, match="at least 2 individuals"):
        s.init(key, jnp.zeros((1, 3)))
    st = s.init(key, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"fitness must be a non-empty \[P, M\]"):
        s.tell(st, jnp.zeros((4, 3)), jnp.zeros(4))
    with pytest.raises(ValueError, match=r"fitness must have shape \[4, 2\]"):
        s.tell(st, jnp.zeros((4, 3)), jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="fitness must have 4 rows"):
        s.tell(st, jnp.zeros((4, 3)), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="population"):
        s.tell(st, jnp.zeros((4, 2)), jnp.zeros((4, 2)))
    with pytest.raises(TypeError, match="ask: state must be the NSGA2State"):
        s.ask(key, {"population": 1})


def test_dtlz2_true_front_points():
    from evojax_ga.tasks.dtlz import dtlz2, dtlz2_front
    task = dtlz2(3)
    assert task.dim == 12
    ang = jnp.array([[0.0, 0.0], [1.0, 0.3], [0.5, 0.5], [0.2, 1.0]])
    x = jnp.concatenate([ang, jnp.full((4, 10), 0.5)], axis=1)  # distance genes at 0.5: g = 0
    f = -np.asarray(task.evaluate(None, x)[0])
    np.testing.assert_allclose(f, np.asarray(dtlz2_front(ang)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-6)   # on the unit sphere
    assert np.all(f >= -1e-7)                                                # in the positive orthant
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    np.testing.assert_allclose(f[:3], [[1, 0, 0], [0, 0, 1], [c * c, c * s, s]], atol=1e-6)
    off = np.asarray(task.evaluate(None, x.at[:, 2:].set(1.0))[0])           # g = 10 * 0.25
    np.testing.assert_allclose(np.linalg.norm(off, axis=1), 3.5, atol=1e-5)


def test_evolve_drives_nsga2_and_hypervolume_increases():
    import evojax_ga as ega
    task = zdt1(10)
    s = n2.nsga2(2, mutate=mu.gaussian(0.2, 0.1), ref=[-1.1, -7.0])
    pop = jax.random.uniform(jax.random.key(0), (32, 10))
    st, hist = ega.evolve(jax.random.key(1), s, task, pop, generations=30, block=8, progress=False)
    hv = hist["hypervolume"]
    assert hist["generation"].tolist() == list(range(1, 31)) and hist.stop_reason == "generations"
    assert hv[0] < 5.0 and hv[-1] > 7.2   # (not monotone in general: crowding truncates a front larger than P)
    assert float(st.best_fitness) == pytest.approx(hv[-1]) and hist["front_size"][-1] >= 1
    # the hypervolume is the target: the run stops once it is reached, at the same generation for any block
    _, h2 = ega.evolve(jax.random.key(1), s, task, pop, generations=30, block=8, progress=False, target=float(hv[9]))
    assert h2.stop_reason == "target" and h2.generations_run <= 10
