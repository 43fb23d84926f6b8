"""SGD / Adam baselines: training works, the jitted end-to-end run equals the host-driven one, schema."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_ga import baselines, data, models
from evojax_ga.optimizers import OPTIMIZERS


@pytest.fixture(scope="module")
def digits():
    return data.load_digits(flat=True)


@pytest.fixture(scope="module")
def adam_run(digits):
    trainer = baselines.make_train(models.MLP((16,), 10), digits, "adam", learning_rate=1e-2, batch_size=64,
                                   epochs=4, evals_per_epoch=2)
    state, history = baselines.fit(jax.random.PRNGKey(0), trainer)
    return trainer, state, history


def test_adam_trains_on_digits(adam_run):
    trainer, state, history = adam_run
    assert trainer.num_blocks == 8 and trainer.steps_per_epoch == 1347 // 64
    assert history["test_accuracy"][-1] > 0.85
    assert history["test_accuracy"][-1] > history["test_accuracy"][0]
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert int(state.step) == 4 * (1347 // 64)


def test_history_schema(adam_run):
    trainer, state, history = adam_run
    for k in ("step", "wall_s", "forward_passes", "test_accuracy", "train_loss", "train_accuracy", "epoch"):
        assert history[k].shape == (8,)
    np.testing.assert_allclose(history["forward_passes"],
                               history["step"] * baselines.FORWARD_EQUIV_PER_SAMPLE * 64)
    assert np.all(np.diff(history["wall_s"]) >= 0) and np.all(np.diff(history["step"]) > 0)
    np.testing.assert_allclose(history["epoch"][-1], 4.0)


def test_end_to_end_jit_matches_host_loop(adam_run):
    trainer, state, history = adam_run
    final, metrics = trainer.train(jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(metrics["test_accuracy"]), history["test_accuracy"], atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(final.params), jax.tree_util.tree_leaves(state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_and_fractional_epochs(digits):
    trainer = baselines.make_train(models.MLP((16,), 10), digits, "sgd", learning_rate=0.1, momentum=0.9,
                                   batch_size=32, epochs=0.5, evals_per_epoch=1, test_samples=100)
    state, history = baselines.fit(jax.random.PRNGKey(1), trainer)
    assert int(state.step) == round(0.5 * (1347 // 32)) and history["step"].shape == (1,)
    assert history["test_accuracy"][-1] > 0.5
    assert trainer.config["test_samples"] == 100


def test_validation_errors(digits):
    m = models.MLP((4,), 10)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        baselines.make_train(m, digits, "lbfgs")
    with pytest.raises(ValueError, match="batch_size must be <= 1347"):
        baselines.make_train(m, digits, batch_size=5000)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        baselines.make_train(m, digits, learning_rate=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        baselines.make_train(m, digits, epochs=0)
    with pytest.raises(ValueError, match="momentum applies to optimizer 'sgd' only"):
        baselines.make_train(m, digits, "adam", momentum=0.9)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_of_the_shared_table_is_a_baseline(name):
    """The baselines and the hyper-parameter search share one optimizer table."""
    params = {"w": jnp.arange(6.0).reshape(2, 3)}
    grads = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)}
    tx = baselines.make_optimizer(name, 0.1)
    mine, _ = tx.update(grads, tx.init(params), params)
    ref = OPTIMIZERS[name](0.1)
    want, _ = ref.update(grads, ref.init(params), params)
    np.testing.assert_array_equal(np.asarray(mine["w"]), np.asarray(want["w"]))


def test_level_reached_and_plot(tmp_path, adam_run):
    curve = {"forward_passes": np.array([10.0, 20.0, 30.0, 40.0]), "test_accuracy": np.array([0.2, 0.5, 0.9, 0.8]),
             "wall_s": np.array([1.0, 2.0, 3.0, 4.0])}
    assert baselines.level_reached(curve, 0.9) == 30.0          # 0.9 * 0.8 = 0.72 -> first at index 2
    assert baselines.level_reached(curve, 0.5, key="wall_s") == 2.0
    path = baselines.plot_curves({"toy": curve, "adam": adam_run[2]}, str(tmp_path / "c.png"), "t")
    assert (tmp_path / "c.png").stat().st_size > 1000 and path.endswith("c.png")
