import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evojax_ga as ega
from evojax_ga import crossover as xo
from evojax_ga import registry


def parents(key, shapes, C=50, dtype=jnp.float32):
    ka, kb = jax.random.split(key)
    a = {f"l{i}": jax.random.normal(jax.random.fold_in(ka, i), (C,) + s).astype(dtype) for i, s in enumerate(shapes)}
    b = {f"l{i}": jax.random.normal(jax.random.fold_in(kb, i), (C,) + s).astype(dtype) + 10
         for i, s in enumerate(shapes)}
    return a, b


def from_b(child, a, b):
    """Boolean masks: gene from b; asserts every gene came from a or b."""
    out = {}
    for k in child:
        c, xa, xb = map(np.asarray, (child[k], a[k], b[k]))
        assert np.all((c == xa) | (c == xb)), k
        out[k] = c == xb
    return out


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_uniform_genes_from_a_parent_at_same_place(key, p):
    a, b = parents(key, [(20, 10), (10,)])
    child = xo.uniform(p)(key, a, b)
    m = from_b(child, a, b)
    frac = np.mean(np.concatenate([v.ravel() for v in m.values()]))
    n = sum(v.size for v in m.values())
    assert abs(frac - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_uniform_discrete_genes(key):
    a = {"g": jnp.zeros((100, 6), jnp.int32)}
    b = {"g": jnp.ones((100, 6), jnp.int32)}
    c = np.asarray(xo.uniform(0.5)(key, a, b)["g"])
    assert c.dtype == np.int32 and set(np.unique(c)) == {0, 1}


def test_row_offset_gives_chunk_invariance(key):
    a, b = parents(key, [(8, 4)], C=30)
    op = xo.uniform(0.5)
    full = op(key, a, b)
    half = op(key, jax.tree_util.tree_map(lambda x: x[10:], a), jax.tree_util.tree_map(lambda x: x[10:], b),
              row_offset=10)
    np.testing.assert_array_equal(full["l0"][10:], half["l0"])


@pytest.mark.parametrize("mode", ["bernoulli", "seed"])
def test_neuron_units_come_whole_from_one_parent(key, mlp_pop, mode):
    _, pop = mlp_pop
    a = ega.gather(pop, jnp.arange(32))
    b = jax.tree_util.tree_map(lambda x: x + 10.0, ega.gather(pop, jnp.arange(32, 64)))  # Flax biases start at 0
    child = xo.neuron(max_fraction=1.0, prob=1.0, mode=mode)(key, a, b)
    any_from_b = False
    for layer in ("Dense_0", "Dense_1"):
        k = {"c": child["params"][layer]["kernel"], "a": a["params"][layer]["kernel"],
             "b": b["params"][layer]["kernel"]}
        bias = {"c": child["params"][layer]["bias"], "a": a["params"][layer]["bias"], "b": b["params"][layer]["bias"]}
        kb = np.all(np.asarray(k["c"] == k["b"]), axis=1)       # [C, units]: whole column from b
        ka = np.all(np.asarray(k["c"] == k["a"]), axis=1)
        assert np.all(ka | kb)
        bb = np.asarray(bias["c"] == bias["b"])
        np.testing.assert_array_equal(kb, bb)                    # column and bias from the same parent
        any_from_b |= kb.any()
    assert any_from_b


def test_neuron_prob_zero_is_parent_a_and_fraction_bounded(key, mlp_pop):
    _, pop = mlp_pop
    a = ega.gather(pop, jnp.arange(32))
    b = jax.tree_util.tree_map(lambda x: x + 10.0, ega.gather(pop, jnp.arange(32, 64)))  # Flax biases start at 0
    child = xo.neuron(max_fraction=0.5, prob=0.0)(key, a, b)
    for x, y in zip(jax.tree_util.tree_leaves(child), jax.tree_util.tree_leaves(a)):
        np.testing.assert_array_equal(x, y)
    # seed mode: at most floor(8 * 0.25) = 2 of the 8 hidden units can come from b
    child = xo.neuron(max_fraction=0.25, prob=1.0, mode="seed")(key, a, b)
    from_b_units = np.asarray(child["params"]["Dense_0"]["bias"] == b["params"]["Dense_0"]["bias"]).sum(1)
    assert from_b_units.max() <= 2


def test_layer_swap_whole_leaves(key):
    a, b = parents(key, [(4, 3), (3,), (2, 2)], C=200)
    child = xo.layer(0.5)(key, a, b)
    m = from_b(child, a, b)
    for v in m.values():
        per_child = v.reshape(v.shape[0], -1)
        assert np.all(per_child.all(1) | (~per_child).all(1))
    assert 0.35 < np.mean([v.reshape(200, -1)[:, 0].mean() for v in m.values()]) < 0.65


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_point_segments(key, k):
    a, b = parents(key, [(5, 4), (7,)], C=100)
    child = xo.k_point(k)(key, a, b)
    m = from_b(child, a, b)
    flat = np.concatenate([m["l0"].reshape(100, -1), m["l1"].reshape(100, -1)], axis=1)
    switches = np.sum(flat[:, 1:] != flat[:, :-1], axis=1)
    assert np.all(~flat[:, 0])           # starts with parent a
    assert switches.max() <= k and switches.max() >= 1
    assert np.all(switches % 2 == np.sum(flat[:, -1:], axis=1) % 2)


def test_blend_and_arithmetic(key):
    a, b = parents(key, [(6,)], C=500)
    c = np.asarray(xo.blend(0.5)(key, a, b)["l0"])
    lo = np.minimum(a["l0"], b["l0"])
    hi = np.maximum(a["l0"], b["l0"])
    d = hi - lo
    assert np.all(c >= lo - 0.5 * d - 1e-4) and np.all(c <= hi + 0.5 * d + 1e-4)
    assert np.mean(c > hi) > 0.1 and np.mean(c < lo) > 0.1
    c0 = np.asarray(xo.blend(0.0)(key, a, b)["l0"])
    assert np.all(c0 >= lo - 1e-4) and np.all(c0 <= hi + 1e-4)
    ar = xo.arithmetic(0.25)(key, a, b)["l0"]
    np.testing.assert_allclose(ar, 0.25 * a["l0"] + 0.75 * b["l0"], rtol=1e-6)


def test_same_key_same_child_and_mismatch_error(key):
    a, b = parents(key, [(3, 3)])
    np.testing.assert_array_equal(xo.uniform()(key, a, b)["l0"], xo.uniform()(key, a, b)["l0"])
    with pytest.raises(ValueError, match="differ at leaf"):
        xo.uniform()(key, a, {"l0": b["l0"][:, :2]})
    with pytest.raises(ValueError, match=r"prob must be in \[0.0, 1.0\]"):
        xo.uniform(1.2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        xo.k_point(0)


def test_registry_names_are_stable():
    assert set(registry.CROSSOVERS) >= {"uniform", "neuron", "layer", "k_point", "blend", "arithmetic", "none"}


@pytest.mark.parametrize("name", sorted(registry.CROSSOVERS))
def test_every_registered_crossover_keeps_structure_and_a_self_cross_is_the_parent(key, name):
    a, b = parents(key, [(4, 3), (3,)], C=20)
    # iso_line adds an isotropic step by design: without it, a self-cross is the parent too
    op = registry.CROSSOVERS[name](**({"sigma_iso": 0.0} if name == "iso_line" else {}))
    child = op(key, a, b)
    assert jax.tree_util.tree_structure(child) == jax.tree_util.tree_structure(a)
    for k in a:
        assert child[k].shape == a[k].shape and child[k].dtype == a[k].dtype
    again = op(key, a, b)
    for k in a:
        np.testing.assert_array_equal(child[k], again[k])                 # same key, same child
    same = op(key, a, a)
    for k in a:
        np.testing.assert_allclose(same[k], a[k], rtol=1e-6)              # crossing a with itself gives a
    with pytest.raises(ValueError, match="differ at leaf"):
        op(key, a, {"l0": b["l0"][:, :2], "l1": b["l1"]})


def test_chain_applies_in_turn_with_independent_keys(key):
    a, b = parents(key, [(30,)], C=40)
    np.testing.assert_array_equal(xo.chain(xo.none(), xo.uniform(1.0))(key, a, b)["l0"], b["l0"])
    np.testing.assert_array_equal(xo.chain(xo.uniform(1.0), xo.none())(key, a, b)["l0"], b["l0"])
    two = xo.chain(xo.uniform(0.5), xo.uniform(0.5))
    assert two.params == (xo.uniform(0.5).params, xo.uniform(0.5).params)
    m = from_b(two(key, a, b), a, b)["l0"]
    assert abs(m.mean() - 0.75) < 0.05                  # b after either of two independent draws
    with pytest.raises(ValueError, match="at least one"):
        xo.chain()
    with pytest.raises(TypeError, match="chain argument 1 must be a Crossover"):
        xo.chain(xo.none(), "uniform")


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(1, 4), p=st.floats(0.0, 1.0),
       op=st.sampled_from(["uniform", "layer", "k_point", "neuron"]))
def test_property_child_genes_from_parents(rows, cols, p, op):
    key = jax.random.key(rows * 31 + cols)
    a = {"kernel": jnp.arange(rows * 3 * cols, dtype=jnp.float32).reshape(rows, 3, cols),
         "bias": -jnp.arange(rows * cols, dtype=jnp.float32).reshape(rows, cols) - 1}
    b = jax.tree_util.tree_map(lambda x: x + 1000.0, a)
    make = {"uniform": lambda: xo.uniform(p), "layer": lambda: xo.layer(p), "k_point": lambda: xo.k_point(2),
            "neuron": lambda: xo.neuron(p, 1.0)}[op]
    op = make()
    child = jax.jit(lambda k, x, y: op(k, x, y))(key, a, b)   # one compile instead of many eager ops
    for k in a:
        c = np.asarray(child[k])
        assert c.shape == a[k].shape
        assert np.all((c == np.asarray(a[k])) | (c == np.asarray(b[k])))


@pytest.mark.parametrize("name", ["blend", "arithmetic", "iso_line"])
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_real_valued_crossovers_refuse_integer_and_bool_leaves(key, name, dtype):
    a = {"f": jnp.zeros((4, 3)), "g": jnp.zeros((4, 3), dtype)}
    with pytest.raises(TypeError, match=rf"crossover.{name} cannot cross population leaf \['g'\].*uniform"):
        registry.CROSSOVERS[name]()(key, a, a)


@pytest.mark.parametrize("name", ["uniform", "k_point", "layer", "none"])
def test_gene_copying_crossovers_keep_integer_and_bool_genes(key, name):
    a = {"i": jnp.zeros((50, 6), jnp.int32), "b": jnp.zeros((50, 2), bool)}
    b = {"i": jnp.full((50, 6), 9, jnp.int32), "b": jnp.ones((50, 2), bool)}
    child = registry.CROSSOVERS[name]()(key, a, b)
    assert child["i"].dtype == jnp.int32 and child["b"].dtype == jnp.bool_
    assert set(np.unique(child["i"])) <= {0, 9}


def test_iso_line_is_an_isotropic_step_plus_one_line_step_per_child(key):
    a, b = parents(key, [(4, 3), (3,)], C=4000)
    line = xo.iso_line(sigma_iso=0.0, sigma_line=0.5)(key, a, b)
    # without the isotropic step every gene of a child moves by the same multiple of (b - a)
    t = {k: (np.asarray(line[k]) - np.asarray(a[k])) / (np.asarray(b[k]) - np.asarray(a[k])) for k in a}
    t0 = t["l0"].reshape(4000, -1)[:, :1]
    np.testing.assert_allclose(t["l0"].reshape(4000, -1), np.broadcast_to(t0, (4000, 12)), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(t["l1"], np.broadcast_to(t0, (4000, 3)), rtol=1e-3, atol=1e-4)
    assert abs(np.std(t0) - 0.5) < 0.03 and abs(np.mean(t0)) < 0.03
    iso = xo.iso_line(sigma_iso=0.1, sigma_line=0.0)(key, a, b)
    d = np.asarray(iso["l0"]) - np.asarray(a["l0"])
    assert abs(np.std(d) - 0.1) < 0.005 and abs(np.corrcoef(d[:, 0, 0], d[:, 1, 1])[0, 1]) < 0.05
    with pytest.raises(ValueError, match="sigma_line must be a finite number >= 0"):
        xo.iso_line(sigma_line=-1.0)
