"""ConvNet population forward: equals the per-member Flax forward, chunking invariance, FLOP count, wiring."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import conv_population as cp
from evojax_ga import data, models
from evojax_ga.tasks.classification import classification, logits_scores

CASES = {
    "small_cnn": (models.small_cnn(), (8, 8, 1)),
    # mnist_deep's structure (conv 5x5, pool, conv 5x5, pool, dense, dense) at a reduced size
    "mnist_deep_reduced": (models.ConvNet(features=(4, 6), dense=(12,), out=10, kernel_size=5, pool=2), (12, 12, 1)),
    # odd sizes (SAME pooling pads), three convolutions, several input channels, tanh, no pooling
    "odd_three_convs": (models.ConvNet(features=(2, 3, 4), dense=(5,), out=3, kernel_size=3, pool=2), (9, 7, 2)),
    "tanh_no_pool": (models.ConvNet(features=(3,), dense=(), out=4, kernel_size=3, pool=1, activation="tanh"),
                     (5, 5, 3)),
}


def _population(model, shape, P, B, seed=0):
    kx, kp = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (B,) + shape, jnp.float32)
    return jax.jit(lambda k, x: init_normal(k, model, x, P))(kp, x), x


def init_normal(key, model, x, P):
    """Members drawn by the model's initialiser, biases made non-zero (Flax starts them at 0) so they count."""
    k_init, k_bias = jax.random.split(key)
    pop = ega.init_population(k_init, model.init, x[:1], pop_size=P)
    leaves, tree = jax.tree_util.tree_flatten_with_path(pop)
    keys = jax.random.split(k_bias, len(leaves))
    return jax.tree_util.tree_unflatten(tree, [
        leaf + 0.1 * jax.random.normal(k, leaf.shape) if "bias" in jax.tree_util.keystr(path) else leaf
        for (path, leaf), k in zip(leaves, keys)])


@pytest.mark.parametrize("name", sorted(CASES))
def test_population_forward_equals_per_member_flax_apply(name):
    model, shape = CASES[name]
    pop, x = _population(model, shape, P=5, B=3)
    forward, class_axis, prepare = models.population_forward(model)
    assert class_axis == 2 and models.conv_population_path(model)
    got = jax.jit(forward)(pop, prepare(x))
    want = jax.jit(jax.vmap(model.apply, (0, None)))(pop, x)
    assert got.shape == (5, 3, model.out)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    # and member by member, no vmap involved
    apply = jax.jit(model.apply)
    for i in (0, 4):
        one = jax.tree_util.tree_map(lambda leaf: leaf[i], pop)
        np.testing.assert_allclose(np.asarray(got[i]), np.asarray(apply(one, x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 3, None])   # loop of single members; 2 chunks + tail; one call
def test_chunked_equals_unchunked(chunk):
    model, shape = CASES["mnist_deep_reduced"]
    pop, x = _population(model, shape, P=7, B=4, seed=1)
    whole = jax.jit(cp.conv_population_forward(model))(pop, x)
    got = jax.jit(lambda p, x: cp.conv_population_logits(model, p, x, chunk))(pop, x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(whole), rtol=1e-5, atol=1e-6)


def test_classification_task_uses_conv_forward():
    model, shape = CASES["small_cnn"]
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(20,) + shape).astype(np.float32)
    ys = rng.integers(0, 10, 20).astype(np.int32)
    task = classification(model, data.Dataset("tiny", xs, ys, xs[:4], ys[:4], 10), test_samples=0)
    assert task.chunks(100, 20)[0] == cp.members_per_chunk(model) == 16
    pop, _ = _population(model, shape, P=6, B=1, seed=3)
    acc, ce = jax.jit(lambda p: task.scores(p, task.x_train, task.y_train))(pop)
    logits = jax.jit(jax.vmap(model.apply, (0, None)))(pop, jnp.asarray(xs))
    correct, nll = logits_scores(logits, jnp.asarray(ys), 2)
    np.testing.assert_allclose(np.asarray(acc), np.asarray(jnp.mean(correct, axis=1)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(ce), np.asarray(jnp.mean(nll, axis=1)), rtol=1e-5)


def test_conv_flops_and_evojax_cnn_size():
    assert cp.conv_flops(models.evojax_cnn(), (28, 28, 1)) == 2 * (784 * 25 * 8 + 196 * 200 * 16 + 784 * 10)
    assert cp.conv_flops(models.mnist_deep(), (28, 28, 1)) == 2 * (784 * 25 * 32 + 196 * 800 * 64 + 3136 * 1024
                                                                   + 1024 * 10)
    # 9x7 -> SAME pooling -> 5x4 -> 3x2
    model, _ = CASES["odd_three_convs"]
    assert cp.conv_flops(model, (9, 7, 2)) == 2 * (63 * 9 * 2 * 2 + 20 * 9 * 2 * 3 + 6 * 9 * 3 * 4 + 2 * 4 * 5
                                                   + 5 * 3)
    params = jax.eval_shape(models.evojax_cnn().init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    assert models.count_params(params) == 11_274


def test_bad_input():
    model, shape = CASES["small_cnn"]
    pop, x = _population(model, shape, P=2, B=2)
    forward = cp.conv_population_forward(model)
    with pytest.raises(ValueError, match="x must be a batch of images"):
        forward(pop, x[0])
    with pytest.raises(TypeError, match="model must be a ConvNet"):
        cp.conv_population_forward(models.MLP((4,), 3))
    with pytest.raises(ValueError, match="at least one convolution"):
        cp.conv_population_forward(models.ConvNet(features=(), dense=(4,), out=3))
    with pytest.raises(ValueError, match="params are not ConvNet params"):
        forward({"params": {"Dense_0": {"kernel": jnp.zeros((2, 3, 3)), "bias": jnp.zeros((2, 3))}}}, x)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        cp.conv_population_logits(model, pop, x, chunk_size=0)
    with pytest.raises(ValueError, match="image_shape must be"):
        cp.conv_flops(model, (8, 8))


def test_evojax_cnn_is_a_model_kind_of_the_classify_job():
    import jax
    import jax.numpy as jnp

    from evojax_ga.models import count_params, model_from_config
    from evojax_ga.runs import classify
    model = model_from_config({"kind": "evojax_cnn", "out": 10})
    params = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    assert count_params(params) == 11274
    assert classify.config_for("mnist", model="evojax_cnn").model == "evojax_cnn"
