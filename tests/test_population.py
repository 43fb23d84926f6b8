import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga.models import MLP


def test_init_population_shapes_and_independence(mlp_pop):
    model, pop = mlp_pop
    assert ega.population_size(pop) == 64
    k = pop["params"]["Dense_0"]["kernel"]
    assert k.shape == (64, 5, 8)
    assert not np.allclose(k[0], k[1])
    assert ega.num_genes(pop) == 5 * 8 + 8 + 8 * 3 + 3


def test_individual_does_not_depend_on_population_size():
    model = MLP(features=(4,), out=2)
    a = ega.init_population(jax.random.key(3), model.init, jnp.zeros((3,)), pop_size=4)
    b = ega.init_population(jax.random.key(3), model.init, jnp.zeros((3,)), pop_size=9)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(x, y[:4])


def test_from_template_initializers(key):
    tmpl = {"w": jnp.ones((3, 4)), "b": jnp.zeros((4,))}
    u = ega.from_template(key, tmpl, 50, "uniform", 0.15)
    assert u["w"].shape == (50, 3, 4)
    assert float(jnp.max(jnp.abs(u["w"]))) <= 0.15
    assert float(jnp.std(u["w"])) > 0.05
    c = ega.from_template(key, tmpl, 5, "copy")
    np.testing.assert_array_equal(c["w"], np.ones((5, 3, 4)))
    n = ega.from_template(key, tmpl, 2000, "normal", 2.0)
    assert abs(float(jnp.std(n["w"])) - 2.0) < 0.1
    f = ega.from_template(key, tmpl, 3, lambda k, s, d: jnp.full(s, 7.0, d))
    assert float(f["b"][2, 1]) == 7.0


@pytest.mark.parametrize("size", [0, 1, -3])
def test_size_below_two_is_rejected(key, size):
    with pytest.raises(ValueError, match="pop_size must be >= 2"):
        ega.from_template(key, jnp.zeros(3), size)
    with pytest.raises(ValueError, match="pop_size must be >= 2"):
        ega.init_population(key, lambda k: jnp.zeros(3), pop_size=size)


def test_bad_initializer_and_scale(key):
    with pytest.raises(ValueError, match="initializer must be one of"):
        ega.from_template(key, jnp.zeros(3), 4, "gaussian")
    with pytest.raises(ValueError, match="scale must be"):
        ega.from_template(key, jnp.zeros(3), 4, "normal", -1.0)


def test_validate_rejects_bad_populations():
    with pytest.raises(ValueError, match="disagree on the population axis"):
        ega.population_size({"a": jnp.zeros((4, 2)), "b": jnp.zeros((5,))})
    with pytest.raises(TypeError, match="expected an array"):
        ega.population_size({"a": jnp.zeros((4, 2)), "b": "text"})
    with pytest.raises(ValueError, match="scalar"):
        ega.population_size({"a": jnp.zeros(())})
    with pytest.raises(ValueError, match="no array leaves"):
        ega.population_size({})


def test_ravel_roundtrip_gather_concatenate(mlp_pop):
    _, pop = mlp_pop
    flat, unravel = ega.ravel_population(pop)
    assert flat.shape == (64, ega.num_genes(pop))
    back = unravel(flat)
    for x, y in zip(jax.tree_util.tree_leaves(pop), jax.tree_util.tree_leaves(back)):
        np.testing.assert_array_equal(x, y)
    one = jax.tree_util.tree_map(lambda x: x[0], pop)
    back2 = ega.unravel_population(flat[:3], one)
    np.testing.assert_array_equal(back2["params"]["Dense_1"]["bias"], pop["params"]["Dense_1"]["bias"][:3])
    g = ega.gather(pop, jnp.array([5, 5, 1]))
    np.testing.assert_array_equal(g["params"]["Dense_0"]["kernel"][1], pop["params"]["Dense_0"]["kernel"][5])
    cat = ega.concatenate([g, g])
    assert ega.population_size(cat) == 6
    with pytest.raises(ValueError, match="different pytree structures"):
        ega.concatenate([g, {"x": jnp.zeros((2, 3))}])
