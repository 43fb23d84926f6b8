"""Offspring fractions (elite / crossover-only / mutation-only children) and the inherited fitness
moving average of ``ga(crossover_children=..., fitness_ema=...)`` (Prellberg & Kramer 2018)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import crossover, mutation, selection

P, D = 20, 50


def _strategy(**kw):
    args = dict(select=selection.uniform(), crossover=crossover.uniform(0.3), mutate=mutation.gaussian(1.0, 0.01),
                elite=1, parent_pool=0.5, crossover_children=0.5, fitness_ema=0.5)
    args.update(kw)
    return ega.ga(**args)


def _labelled_population():
    """Member i holds 10 * i in every gene, and has raw fitness i: a gene tells which parent it came from."""
    return {"w": jnp.tile(10.0 * jnp.arange(P, dtype=jnp.float32)[:, None], (1, D))}, jnp.arange(P, dtype=jnp.float32)


def _first_generation(strategy, seed=0):
    pop, fit = _labelled_population()
    state = strategy.init(jax.random.key(seed), pop)
    pop0, state = strategy.ask(jax.random.key(seed + 1), state)
    state = strategy.tell(state, pop0, fit)
    children, state = strategy.ask(jax.random.key(seed + 2), state)
    return np.asarray(children["w"]), state


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rows_are_elite_then_crossover_only_then_mutation_only(seed):
    w, _ = _first_generation(_strategy(), seed)
    pool = set(range(P // 2, P))                               # the top half (parent_pool 0.5)
    # row 0: the elite, an exact copy of the best member (19)
    np.testing.assert_array_equal(w[0], np.full(D, 190.0, np.float32))
    # rows 1..10: crossover alone, every gene exactly one of two parents from the pool, never mutated
    for r in range(1, 11):
        src = set((w[r] / 10.0).tolist())
        assert all(float(v).is_integer() for v in src), f"row {r} was mutated"
        assert src <= pool and 1 <= len(src) <= 2
    # rows 11..19: a mutated copy of one parent from the pool, every gene moved (rate 1), by about sigma
    for r in range(11, P):
        parent = int(np.round(w[r] / 10.0).mean())
        assert parent in pool and np.all(np.round(w[r] / 10.0) == parent)
        noise = w[r] - 10.0 * parent
        assert np.mean(noise != 0.0) > 0.9 and 0.005 < noise.std() < 0.02   # (float32 rounding hides tiny steps)


def test_crossover_children_take_most_genes_from_the_fitter_parent():
    fitter = total = 0
    for seed in range(6):
        w, _ = _first_generation(_strategy(), seed)
        for r in range(1, 11):
            vals = w[r] / 10.0
            hi, lo = vals.max(), vals.min()
            if hi != lo:
                fitter += int(np.sum(vals == hi))
                total += D
    # uniform(0.3): a gene comes from the less fit parent with probability 0.3
    assert total >= 500 and 0.63 < fitter / total < 0.77


def test_fitness_is_the_moving_average_with_inheritance():
    strategy = _strategy()
    w, state = _first_generation(strategy, 3)
    expect_prior = np.empty(P, np.float32)
    for r in range(P):
        vals = np.round(w[r] / 10.0)
        hi, lo = vals.max(), vals.min()
        # the elite and mutated copies inherit their parent's fitness; a crossover child 0.7 a + 0.3 b
        expect_prior[r] = hi if hi == lo else 0.7 * hi + 0.3 * lo
    np.testing.assert_allclose(np.asarray(state.inherited), expect_prior, rtol=1e-6)
    raw = jnp.asarray(np.random.default_rng(0).normal(size=P), jnp.float32)
    state = strategy.tell(state, {"w": jnp.asarray(w)}, raw)
    np.testing.assert_allclose(np.asarray(state.fitness), 0.5 * np.asarray(raw) + 0.5 * expect_prior, rtol=1e-6)


def test_first_evaluation_is_taken_as_is_and_nan_ranks_last():
    strategy = _strategy()
    pop, fit = _labelled_population()
    state = strategy.init(jax.random.key(0), pop)
    assert np.all(np.isnan(np.asarray(state.inherited)))
    pop0, state = strategy.ask(jax.random.key(1), state)
    fit = fit.at[P - 1].set(jnp.nan)
    state = strategy.tell(state, pop0, fit)
    np.testing.assert_array_equal(np.asarray(state.fitness)[:-1], np.asarray(fit)[:-1])
    assert float(state.best_fitness) == P - 2                  # NaN never becomes the best


def test_split_without_moving_average_leaves_no_inherited_state_and_runs_in_evolve():
    strategy = _strategy(fitness_ema=None)
    target = jnp.linspace(-1.0, 1.0, D)

    def fitness(key, pop):
        return -jnp.sum((pop["w"] - target) ** 2, axis=1)

    pop = {"w": jax.random.normal(jax.random.key(0), (P, D))}
    state, hist = ega.evolve(jax.random.key(1), strategy, fitness, pop, generations=60, block=20, progress=False)
    assert state.inherited is None
    assert hist["best_so_far"][-1] > hist["best_so_far"][0] + 1.0
    ema_state, ema_hist = ega.evolve(jax.random.key(1), _strategy(), fitness, pop, generations=60, block=20,
                                     progress=False)
    assert ema_state.inherited.shape == (P,)
    assert ema_hist["best_so_far"][-1] > ema_hist["best_so_far"][0] + 1.0


def test_bad_offspring_options_are_refused():
    with pytest.raises(ValueError, match="crossover_children"):
        _strategy(crossover_children=1.5)
    with pytest.raises(ValueError, match="crossover_children"):
        _strategy(crossover_children=-1)
    with pytest.raises(TypeError, match="crossover_children"):
        _strategy(crossover_children="half")
    with pytest.raises(ValueError, match="fitness_ema"):
        _strategy(fitness_ema=0.0)
    with pytest.raises(ValueError, match="fitness_ema"):
        _strategy(fitness_ema=float("nan"))
    s = _strategy(crossover_children=25)
    with pytest.raises(ValueError, match="crossover_children"):
        s.init(jax.random.key(0), _labelled_population()[0])


def test_uniform_crossover_takes_a_per_row_probability():
    a = {"w": jnp.zeros((3, 40))}
    b = {"w": jnp.ones((3, 40))}
    child = crossover.uniform(0.5).apply(jax.random.key(0), {"prob": jnp.array([0.0, 1.0, 0.5])}, a, b, 0)["w"]
    np.testing.assert_array_equal(np.asarray(child[0]), 0.0)
    np.testing.assert_array_equal(np.asarray(child[1]), 1.0)
    assert 0.2 < float(child[2].mean()) < 0.8


def test_self_adaptive_crossover_rate():
    fixed = _strategy()
    adaptive0 = _strategy(crossover=crossover.self_adaptive(crossover.uniform(0.3), 0.0))
    w_fixed, _ = _first_generation(fixed, 4)
    w_ad0, st0 = _first_generation(adaptive0, 4)
    np.testing.assert_array_equal(w_fixed, w_ad0)                  # tau 0: the same children, bit for bit
    np.testing.assert_allclose(np.asarray(st0.params["crossover"]["prob"]), 0.3)
    adaptive = _strategy(crossover=crossover.self_adaptive(crossover.uniform(0.3), 0.5), fitness_ema=None)
    state = adaptive.init(jax.random.key(0), _labelled_population()[0])
    probs = [np.asarray(state.params["crossover"]["prob"])]
    for g in range(3):
        pop, state = adaptive.ask(jax.random.key(10 + g), state)
        state = adaptive.tell(state, pop, jnp.arange(P, dtype=jnp.float32))
        probs.append(np.asarray(state.params["crossover"]["prob"]))
    p1, p2 = probs[-2], probs[-1]
    assert p2.shape == (P,) and np.all(p2 > 0) and np.all(p2 <= 1.0)
    assert p2[0] == p1[P - 1]                      # the elite (last row, fitness P-1, is the best) keeps its own
    assert np.std(p2[1:]) > 0.01                   # children's rates spread log-normally
    with pytest.raises(ValueError, match="crossover.uniform"):
        crossover.self_adaptive(crossover.arithmetic(0.5), 0.1)


def test_sigma_decay_halves_every_half_life_down_to_the_floor():
    from evojax_ga import adaptation
    s = _strategy(adapt=adaptation.decay(2.0, floor=0.015), mutate=mutation.gaussian(1.0, 0.08))
    state = s.init(jax.random.key(0), _labelled_population()[0])
    sigmas = []
    for g in range(6):
        pop, state = s.ask(jax.random.key(g), state)
        state = s.tell(state, pop, jnp.arange(P, dtype=jnp.float32))
        sigmas.append(float(state.params["mutation"]["sigma"]))
    np.testing.assert_allclose(sigmas[:4], [0.08 * 0.5 ** 0.5, 0.04, 0.04 * 0.5 ** 0.5, 0.02], rtol=1e-6)
    assert sigmas[4:] == [pytest.approx(0.015)] * 2
    # per-member sigmas keep their own factors and decay together
    sa = _strategy(adapt=adaptation.decay(1.0), mutate=mutation.self_adaptive(mutation.gaussian(1.0, 0.08), 0.3))
    st = sa.init(jax.random.key(0), _labelled_population()[0])
    pop, st = sa.ask(jax.random.key(1), st)
    pop, st = sa.ask(jax.random.key(2), sa.tell(st, pop, jnp.arange(P, dtype=jnp.float32)))
    before = np.asarray(st.params["mutation"]["sigma"])
    after = np.asarray(sa.tell(st, pop, jnp.arange(P, dtype=jnp.float32)).params["mutation"]["sigma"])
    np.testing.assert_allclose(after, before * 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="half_life"):
        adaptation.decay(0.0)
    with pytest.raises(ValueError, match="'sigma'"):
        ega.ga(mutate=mutation.sign(0.1), adapt=adaptation.decay(5.0)).init(jax.random.key(0),
                                                                             _labelled_population()[0])


def test_moving_average_without_split_inherits_parent_a_through_crossover_none():
    s = ega.ga(select=selection.uniform(), crossover=crossover.none(), mutate=mutation.gaussian(1.0, 0.01),
               elite=2, parent_pool=0.5, fitness_ema=0.25)
    w, state = _first_generation(s, 5)
    parent = np.round(w / 10.0).mean(axis=1)                  # each row: one parent's label (= its fitness)
    np.testing.assert_allclose(np.asarray(state.inherited), parent, rtol=1e-6)
    raw = jnp.ones((P,), jnp.float32)
    np.testing.assert_allclose(np.asarray(s.tell(state, {"w": jnp.asarray(w)}, raw).fitness),
                               0.25 + 0.75 * parent, rtol=1e-6)
