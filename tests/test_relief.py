"""Selection pressure that gives way while a run stalls (``adaptation.relief``, target "selection")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import adaptation, crossover, mutation, selection


def test_relief_schedule():
    ad = adaptation.relief(step=0.4, floor=1.0)
    assert ad.target == "selection"
    params = selection.linear_rank(2.0).params
    st = ad.init(params)
    st, p = ad.update(st, params, jnp.float32(1.0))      # improvement from -inf: base pressure
    assert float(p["pressure"]) == pytest.approx(2.0)
    values = []
    for _ in range(4):
        st, p = ad.update(st, p, jnp.float32(1.0))       # stagnant: down by 0.4, floored at 1
        values.append(float(p["pressure"]))
    assert values == pytest.approx([1.6, 1.2, 1.0, 1.0])
    st, p = ad.update(st, p, jnp.float32(jnp.nan))       # NaN is no improvement
    assert float(p["pressure"]) == pytest.approx(1.0)
    st, p = ad.update(st, p, jnp.float32(1.5))           # improved: back to the base
    assert float(p["pressure"]) == pytest.approx(2.0)


def test_relief_needs_the_parameter_and_a_known_target(key):
    with pytest.raises(ValueError, match="relief adapts selection parameter 'pressure', which the selection does not"):
        ega.ga(select=selection.tournament(2), adapt=adaptation.relief()).init(key, {"x": jnp.zeros((4, 2))})
    with pytest.raises(ValueError, match="step"):
        adaptation.relief(step=0.0)
    bad = adaptation.relief()._replace(target="crossover")
    with pytest.raises(ValueError, match="adapt.target must be one of"):
        ega.ga(select=selection.linear_rank(2.0), adapt=bad)


def _parent_ranks(state, s, P, draws=8):
    """Rank (0 = best) of the parent of every non-elite child over ``draws`` asks: genes carry the
    member's index and mutation adds nothing, so a child's gene names its parent."""
    out = []
    for i in range(draws):
        child, _ = s.ask(jax.random.key(100 + i), state)
        out.append(np.asarray(child["x"][1:, 0]).round().astype(int))
    idx = np.concatenate(out)
    return (P - 1) - idx            # fitness = index, so the rank of index i is P - 1 - i


def test_ga_selection_pressure_gives_way_then_returns(key):
    P = 64
    pop = {"x": jnp.arange(P, dtype=jnp.float32)[:, None] * jnp.ones((1, 3))}
    fit = jnp.arange(P, dtype=jnp.float32)
    s = ega.ga(select=selection.linear_rank(2.0), crossover=crossover.none(), mutate=mutation.gaussian(1.0, 0.0),
               elite=1, parent_pool=0.5, adapt=adaptation.relief(step=0.5))
    state = s.tell(s.init(key, pop), pop, fit)                  # the first best: full pressure
    assert float(state.params["selection"]["pressure"]) == 2.0
    keen = _parent_ranks(state, s, P)
    for _ in range(2):                                          # two stagnant generations: uniform
        state = s.tell(state, pop, fit)
    assert float(state.params["selection"]["pressure"]) == 1.0
    relaxed = _parent_ranks(state, s, P)
    assert keen.max() < 32 and relaxed.max() < 32               # parents stay in the top half
    n = relaxed.size
    # uniform over ranks 0..31: mean 15.5, sd 9.23 per draw; linear ranking 2 -> 0 over the pool: mean ~10.3
    assert abs(relaxed.mean() - 15.5) < 4 * 9.23 / np.sqrt(n)
    assert keen.mean() < 15.5 - 6 * 9.23 / np.sqrt(n)
    state = s.tell(state, pop, fit + 1.0)                       # improvement: full pressure again
    assert float(state.params["selection"]["pressure"]) == 2.0


def test_relief_run_is_reproducible(key):
    task = ega.tasks.sphere(8)
    pop = ega.from_template(jax.random.key(0), task.template(), 32, "normal", 1.0)
    s = ega.ga(select=selection.linear_rank(2.0), crossover=crossover.none(), mutate=mutation.gaussian(1.0, 0.1),
               elite=1, parent_pool=0.5, adapt=adaptation.relief(0.1))
    a, _ = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    b, _ = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    np.testing.assert_array_equal(a.population, b.population)
    assert float(a.params["selection"]["pressure"]) == float(b.params["selection"]["pressure"])


def test_top_mean_signal():
    sig = adaptation.top_mean(0.5)
    assert float(sig(jnp.arange(1.0, 9.0))) == pytest.approx(6.5)              # mean of 5, 6, 7, 8
    assert float(adaptation.top_mean(0.3)(jnp.arange(1.0, 9.0))) == pytest.approx(7.0)   # ceil(2.4) = 3 values
    assert float(sig(jnp.array([1.0, -jnp.inf, 3.0, 2.0]))) == pytest.approx(2.5)
    assert float(sig(jnp.array([1.0, -jnp.inf, -jnp.inf, -jnp.inf]))) == -jnp.inf
    with pytest.raises(ValueError, match="fraction"):
        adaptation.top_mean(0.0)


def test_relief_watching_the_pool_ignores_one_lucky_member(key):
    """With ``watch=0.5`` a record by one member while the top half gets worse is stagnation; with the
    default (the best) it is an improvement."""
    P = 16
    pop = {"x": jnp.zeros((P, 2))}
    base = jnp.arange(P, dtype=jnp.float32)
    lucky = (base - 20.0).at[P - 1].set(100.0)         # best up (100 > 15), top-half mean down (4.6 < 11.5)
    for watch, expected in ((0.5, 1.5), (None, 2.0)):
        s = ega.ga(select=selection.linear_rank(2.0), crossover=crossover.none(), mutate=mutation.gaussian(1.0, 0.1),
                   elite=1, parent_pool=0.5, adapt=adaptation.relief(step=0.5, watch=watch))
        state = s.tell(s.init(key, pop), pop, base)
        state = s.tell(state, pop, lucky)
        assert float(state.params["selection"]["pressure"]) == expected, watch
