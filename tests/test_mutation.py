import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evojax_ga as ega
from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import registry


@pytest.fixture
def pop(key):
    return {"w": jax.random.normal(key, (200, 50)) + 3.0, "b": jnp.full((200, 7), 0.5)}


def changed(new, old):
    return np.asarray(new) != np.asarray(old)


ALL = {
    "gaussian": lambda r: mu.gaussian(r, 0.1),
    "shift": lambda r: mu.shift(r, 2.0),
    "sign": lambda r: mu.sign(r),
    "reset": lambda r: mu.reset(r, 2.0),
    "mixed": lambda r: mu.mixed(r),
    "chain": lambda r: mu.chain(mu.sign(r), mu.gaussian(r, 0.1)),
}


#: required arguments of registered factories that are not a rate
REQUIRED = {"categorical": {"cardinalities": 5}}


def registered(name, rate):
    return registry.MUTATIONS[name](rate=rate, **REQUIRED.get(name, {}))


@pytest.mark.parametrize("name", sorted(ALL))
def test_rate_zero_is_identity(key, pop, name):
    out = ALL[name](0.0)(key, pop)
    for k in pop:
        np.testing.assert_array_equal(out[k], pop[k])


@pytest.mark.parametrize("name", sorted(registry.MUTATIONS))
def test_every_registered_mutation_rate_zero_is_identity_and_keeps_structure(key, name):
    x = {"w": jnp.arange(40 * 6, dtype=jnp.float32).reshape(40, 6) % 5, "b": jnp.ones((40, 3))}
    out = registered(name, 0.0)(key, x)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(x)
    for k in x:
        assert out[k].dtype == x[k].dtype
        np.testing.assert_array_equal(out[k], x[k])
    full = registered(name, 1.0)
    a, b = full(key, x), full(key, x)
    for k in x:
        assert a[k].shape == x[k].shape and a[k].dtype == x[k].dtype
        np.testing.assert_array_equal(a[k], b[k])                     # same key, same result
    assert any(np.any(np.asarray(a[k]) != np.asarray(x[k])) for k in x)


def test_call_validates_population(key):
    with pytest.raises(ValueError, match="scalar"):
        mu.gaussian()(key, {"w": jnp.float32(1.0)})
    with pytest.raises(ValueError, match="population axis"):
        mu.gaussian()(key, {"w": jnp.ones((3, 2)), "b": jnp.ones((4,))})


def test_chain_members_get_independent_keys_and_inherit_passes_through(key, pop):
    m = mu.chain(mu.gaussian(1.0, 0.1), mu.gaussian(1.0, 0.1))
    one = mu.gaussian(1.0, 0.2)(key, pop)
    two = m(key, pop)
    assert not np.allclose(np.asarray(two["w"]), np.asarray(one["w"]))
    assert m.inherit is None
    sa = mu.chain(mu.sign(0.1), mu.self_adaptive(mu.gaussian(1.0, 0.1), 0.5))
    p = sa.inherit(key, sa.params, jnp.arange(4), jnp.zeros(4, bool))
    assert "sigma" not in p[0] and p[1]["sigma"].shape == (4,)


def test_self_adaptive_inherit_rule(key):
    m = mu.self_adaptive(mu.gaussian(1.0, 0.5), tau=0.3)
    assert m.name.startswith("self_adaptive(gaussian")
    p0 = m.inherit(key, m.params, jnp.arange(6), jnp.zeros(6, bool))          # init: sized, unchanged
    np.testing.assert_array_equal(p0["sigma"], np.full(6, 0.5, np.float32))
    sig = jnp.arange(1, 7, dtype=jnp.float32)
    parent = jnp.array([5, 4, 0, 0, 1, 2])
    is_child = jnp.array([False, False, True, True, True, True])
    p1 = m.inherit(key, {**p0, "sigma": sig}, parent, is_child)["sigma"]
    np.testing.assert_array_equal(p1[:2], [6.0, 5.0])                      # kept rows keep theirs
    ratio = np.log(np.asarray(p1[2:]) / np.asarray(sig)[np.asarray(parent[2:])])
    assert np.all(ratio != 0) and np.all(np.abs(ratio) < 0.3 * 6)           # log-normal step of scale tau
    x = {"w": jnp.zeros((6, 1000))}
    out = np.asarray(m(key, x, {**p0, "sigma": sig})["w"])
    np.testing.assert_allclose(out.std(1), np.asarray(sig), rtol=0.1)     # each row mutates with its sigma
    with pytest.raises(ValueError, match="tau must be a finite number >= 0"):
        mu.self_adaptive(mu.gaussian(), -1.0)


def test_scale_mixture_draws_a_fresh_log_uniform_sigma_per_child(key):
    m = mu.scale_mixture(mu.gaussian(1.0, 0.2), spread=float(np.log(4)))
    p = m.inherit(key, m.params, jnp.zeros(4000, jnp.int32), jnp.ones(4000, bool))
    sig = np.asarray(p["sigma"])
    assert sig.shape == (4000,) and p["sigma_base"] == np.float32(0.2)      # the base is kept, not drifted
    assert 0.05 - 1e-6 <= sig.min() and sig.max() <= 0.8 + 1e-6             # [sigma / 4, 4 sigma]
    u = np.log(sig / 0.2) / np.log(4)                                       # U(-1, 1): mean 0, var 1/3
    assert abs(u.mean()) < 0.05 and abs(u.var() - 1 / 3) < 0.03
    again = np.asarray(m.inherit(jax.random.fold_in(key, 1), p, jnp.zeros(4000, jnp.int32), jnp.ones(4000, bool))
                       ["sigma"])
    assert np.corrcoef(sig, again)[0, 1] < 0.1                             # nothing inherited
    x = {"w": jnp.zeros((6, 2000))}
    six = p["sigma"][:6]
    out = np.asarray(m(key, x, {**p, "sigma": six})["w"])
    np.testing.assert_allclose(out.std(1), np.asarray(six), rtol=0.1)     # each row mutates with its sigma
    zero = mu.scale_mixture(mu.gaussian(1.0, 0.2), spread=0.0)
    np.testing.assert_array_equal(zero.inherit(key, zero.params, jnp.arange(3), jnp.ones(3, bool))["sigma"],
                                  np.full(3, 0.2, np.float32))
    with pytest.raises(ValueError, match="scalar 'sigma'"):
        mu.scale_mixture(mu.sign(0.1), 1.0)


def test_scale_mixture_in_a_ga_keeps_the_elite_and_reports_sigma_mean(key):
    strat = ega.ga(select=ega.selection.uniform(), crossover=xo.none(),
                   mutate=mu.scale_mixture(mu.gaussian(1.0, 0.1), 1.0), elite=1, parent_pool=0.5)
    pop = {"w": jax.random.normal(key, (8, 3))}
    state = strat.init(key, pop)
    task = lambda k, p: -jnp.sum(p["w"] ** 2, axis=1)
    state, m = jax.jit(strat.step, static_argnums=2)(key, state, task)
    state, m = jax.jit(strat.step, static_argnums=2)(jax.random.fold_in(key, 1), state, task)
    assert state.params["mutation"]["sigma"].shape == (8,) and "sigma_mean" in m
    best = int(np.argmax(np.asarray(task(key, pop))))
    np.testing.assert_array_equal(np.asarray(state.population["w"][0]), np.asarray(pop["w"][best]))


def test_gaussian_rate_and_scale(key, pop):
    out = mu.gaussian(0.1, 0.5)(key, pop)
    c = changed(out["w"], pop["w"])
    n = c.size
    assert abs(c.mean() - 0.1) < 5 * np.sqrt(0.09 / n)
    d = (np.asarray(out["w"]) - np.asarray(pop["w"]))[c] / 0.5
    assert abs(d.std() - 1.0) < 0.1 and abs(d.mean()) < 0.1
    full = mu.gaussian(1.0, 0.01)(key, pop)
    assert changed(full["w"], pop["w"]).mean() > 0.999   # rate 1; a step below half an ulp of w ~ 3 rounds away


def test_shift_sign_reset_ranges(key, pop):
    s = mu.shift(0.5, 1.5)(key, pop)
    c = changed(s["w"], pop["w"])
    ratio = np.asarray(s["w"])[c] / np.asarray(pop["w"])[c]
    assert ratio.min() >= 0.0 and ratio.max() <= 1.5 and abs(c.mean() - 0.5) < 0.03
    g = mu.sign(0.3)(key, pop)
    c = changed(g["w"], pop["w"])
    np.testing.assert_array_equal(np.asarray(g["w"])[c], -np.asarray(pop["w"])[c])
    r = mu.reset(0.4, 0.25)(key, pop)
    c = changed(r["w"], pop["w"])
    assert np.abs(np.asarray(r["w"])[c]).max() <= 0.25 and abs(c.mean() - 0.4) < 0.03


def test_mixed_type_proportions(key):
    x = {"w": jnp.full((400, 100), 1.0)}
    out = np.asarray(mu.mixed(1.0, (0.5, 0.3, 0.2), shift_max=2.0, swap_max=0.5)(key, x)["w"])
    sign = np.mean(out == -1.0)
    swap = np.mean(np.abs(out) <= 0.5)  # a shift lands in [0, 0.5] with prob 0.25 * 0.5
    shift_ = np.mean((out >= 0) & (out <= 2.0)) - np.mean((out >= 0) & (out <= 0.5))
    assert abs(sign - 0.3) < 0.01
    assert abs(swap - (0.2 + 0.5 * 0.25)) < 0.01
    assert abs(shift_ - 0.5 * 0.75) < 0.01


def test_categorical_values_in_range(key):
    cards = {"depth": 4, "act": 3}
    x = {"depth": jnp.zeros((3000, 1), jnp.int32), "act": jnp.full((3000, 2), 2, jnp.int32)}
    out = mu.categorical(cards, 0.5)(key, x)
    d = np.asarray(out["depth"])
    a = np.asarray(out["act"])
    assert d.dtype == np.int32 and d.min() >= 0 and d.max() <= 3 and a.min() >= 0 and a.max() <= 2
    # changed with prob rate * (1 - 1/card)
    assert abs(np.mean(d != 0) - 0.5 * 0.75) < 0.03
    assert set(np.unique(d)) == {0, 1, 2, 3}
    per_gene = mu.categorical({"depth": jnp.array([2]), "act": jnp.array([3, 1])}, 1.0)(key, x)
    assert np.asarray(per_gene["act"])[:, 1].max() == 0
    with pytest.raises(ValueError, match="cardinalities must all be >= 1"):
        mu.categorical(0)


def test_per_individual_rate_vector(key, pop):
    rate = jnp.where(jnp.arange(200) < 100, 0.0, 1.0)
    out = mu.gaussian(0.1, 0.2)(key, pop, params={"rate": rate, "sigma": jnp.float32(0.2)})
    np.testing.assert_array_equal(out["w"][:100], pop["w"][:100])
    assert changed(out["w"][100:], pop["w"][100:]).all()
    with pytest.raises(ValueError, match="per-individual parameter must have shape"):
        mu.gaussian()(key, pop, params={"rate": jnp.ones(3), "sigma": jnp.float32(0.1)})


def test_same_key_same_result_and_row_offset(key, pop):
    op = mu.mixed(0.2)
    a = op(key, pop)
    b = op(key, pop)
    np.testing.assert_array_equal(a["w"], b["w"])
    part = op(key, jax.tree_util.tree_map(lambda x: x[50:], pop), row_offset=50)
    np.testing.assert_array_equal(a["w"][50:], part["w"])


def test_set_get_param_in_chains():
    m = mu.chain(mu.sign(0.1), mu.gaussian(0.2, 0.3))
    assert float(mu.get_param(m.params, "rate")) == pytest.approx(0.1)
    p = mu.set_param(m.params, "sigma", 0.9)
    assert p[1]["sigma"] == 0.9 and "sigma" not in p[0]


@pytest.mark.parametrize("factory,kwargs,match", [
    (mu.gaussian, {"rate": -0.1}, r"rate must be in \[0.0, 1.0\]"),
    (mu.gaussian, {"sigma": -1.0}, "sigma must be a finite number >= 0"),
    (mu.mixed, {"type_probs": (0.5, 0.5)}, "type_probs must have 3 entries"),
    (mu.mixed, {"type_probs": (0.5, 0.4, 0.4)}, "sum to 1"),
    (mu.shift, {"shift_max": float("nan")}, "shift_max"),
])
def test_bad_arguments(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(1, 4), rate=st.floats(0.0, 1.0),
       name=st.sampled_from(["shift", "sign", "reset"]), dtype=st.sampled_from([jnp.float32, jnp.bfloat16]))
def test_property_bounds(rows, cols, rate, name, dtype):
    x = {"w": (jnp.arange(rows * cols, dtype=jnp.float32).reshape(rows, cols) - 3.0).astype(dtype)}
    out = ALL[name](rate)(jax.random.key(rows + 7 * cols), x)["w"]
    assert out.shape == x["w"].shape and out.dtype == dtype
    o = np.asarray(out, np.float32)
    w = np.asarray(x["w"], np.float32)
    if name == "sign":
        assert np.all((o == w) | (o == -w))
    elif name == "reset":
        assert np.all((o == w) | (np.abs(o) <= 2.0))
    else:
        assert np.all((o == w) | ((o * np.sign(w) >= -1e-6) & (np.abs(o) <= 2.0 * np.abs(w) + 1e-2)))


# ------------------------------------------------------------------ issue 14: float-only operators
@pytest.mark.parametrize("name", ["gaussian", "shift", "reset", "mixed", "sign"])
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_, jnp.uint8])
def test_float_only_mutations_refuse_integer_and_bool_leaves(key, name, dtype):
    """gaussian with sigma < 1 never changed an int gene and set every bool gene True: refused, naming
    the leaf path and the integer-aware operator (sign also takes signed integers)."""
    x = {"f": jnp.ones((4, 3)), "g": {"i": jnp.ones((4, 2), dtype)}}
    if name == "sign" and dtype == jnp.int32:
        out = mu.sign(1.0)(key, x)["g"]["i"]
        np.testing.assert_array_equal(out, -np.ones((4, 2), np.int32))
        return
    with pytest.raises(TypeError, match=rf"mutation.{name} cannot mutate population leaf \['g'\]\['i'\].*categorical"):
        ALL[name](0.5)(key, x)


def test_integer_operators_work_on_integer_and_bool_leaves(key):
    x = {"i": jnp.zeros((64, 5), jnp.int32), "b": jnp.zeros((64, 2), bool)}
    out = mu.categorical({"i": 7, "b": 2}, rate=1.0)(key, x)
    assert out["i"].dtype == jnp.int32 and out["b"].dtype == jnp.bool_
    assert set(np.unique(out["i"])) == set(range(7)) and set(np.unique(out["b"])) == {False, True}


def test_by_dtype_mutates_each_kind_of_leaf_with_its_operator(key):
    x = {"f": jnp.zeros((64, 5)), "i": jnp.zeros((64, 5), jnp.int32), "b": jnp.zeros((64, 2), bool)}
    op = mu.by_dtype(mu.gaussian(1.0, 0.1), mu.categorical(2, rate=1.0))
    out = op(key, x)
    assert {k: v.dtype for k, v in out.items()} == {k: v.dtype for k, v in x.items()}
    assert np.all(np.asarray(out["f"]) != 0.0)
    assert set(np.unique(out["i"])) == {0, 1} and set(np.unique(out["b"])) == {False, True}
    only_float = mu.by_dtype(floating=mu.gaussian(1.0, 0.1))(key, x)
    np.testing.assert_array_equal(only_float["i"], x["i"])          # None: those leaves unchanged, as asked
    np.testing.assert_array_equal(only_float["f"], out["f"])        # same key, same float draws
    assert mu.get_param(op.params, "sigma") is not None
    with pytest.raises(ValueError, match="neither"):
        mu.by_dtype()
    with pytest.raises(TypeError, match="integer must be a Mutation"):
        mu.by_dtype(integer="categorical")
    # a GA over a mixed population: ask / tell keep every dtype
    s = ega.ga(mutate=op, crossover=xo.uniform(0.5))
    state = s.tell(s.init(key, x), x, jnp.arange(64, dtype=jnp.float32))
    child, _ = s.ask(key, state)
    assert {k: v.dtype for k, v in child.items()} == {k: v.dtype for k, v in x.items()}
    assert set(np.unique(child["i"])) <= {0, 1}
