"""Learning-rate sweep of the gradient baselines: the chosen rate, equality with single-rate runs,
per-optimizer default rates, bad rates, and the classify job's sweep (config, old records, CLI)."""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import numpy as np
import pytest

from evojax_ga import baselines, data, models
from evojax_ga.baselines.sweep import _choose
from evojax_ga.optimizers import DEFAULT_LEARNING_RATES, default_learning_rate
from evojax_ga.runs import classify


@pytest.fixture(scope="module")
def digits():
    return data.load_digits(flat=True)


@pytest.fixture(scope="module")
def split(digits):
    return data.validation_split(digits, 0.2, 0)


def test_sweep_picks_the_rate_with_the_best_validation_accuracy(digits):
    # lr 100 diverges (NaN parameters count as wrong), lr 0.1 learns; the diverging rate comes first so
    # "the first rate" would be the wrong answer
    sweep = baselines.sweep_learning_rates(jax.random.key(0), models.MLP((16,), 10), digits, "sgd", (100.0, 0.1),
                                           momentum=0.9, batch_size=32, epochs=2.0)
    assert sweep.best == 1 and sweep.learning_rate == 0.1
    assert sweep.val_accuracy[1] > 0.7 and sweep.val_accuracy[0] < 0.3
    assert sweep.learning_rates == (100.0, 0.1) and sweep.val_accuracy.shape == sweep.test_accuracy.shape == (2,)
    # the validation split was carved from the training split (10%, stratified), the test set left alone
    assert sweep.val_samples == data.validation_size(digits.y_train, 0.1)
    assert sweep.val_samples + sweep.train_samples == digits.x_train.shape[0]
    record = json.loads(json.dumps(sweep.summary()))
    assert record["chosen"] == 0.1 and record["learning_rates"] == [100.0, 0.1]


def test_each_slot_of_the_sweep_is_the_single_rate_run(split):
    model, rates = models.MLP((8,), 10), (0.003, 0.03)
    sweep = baselines.sweep_learning_rates(jax.random.key(3), model, split, "adam", rates, batch_size=32, epochs=0.5)
    assert sweep.val_samples == split.x_val.shape[0]          # a data set's own validation split is used as is
    for r, lr in enumerate(rates):
        trainer = baselines.make_train(model, split, "adam", learning_rate=lr, batch_size=32, epochs=0.5,
                                       evals_per_epoch=1)
        state, metrics = trainer.train(jax.random.key(3))
        for a, b in zip(jax.tree_util.tree_leaves(sweep.states.params), jax.tree_util.tree_leaves(state.params)):
            np.testing.assert_allclose(np.asarray(a[r]), np.asarray(b), rtol=1e-4, atol=1e-5)
        assert float(sweep.states.learning_rate[r]) == pytest.approx(lr)
        assert sweep.test_accuracy[r] == pytest.approx(float(metrics["test_accuracy"][-1]), abs=1e-6)
    # the two rates trained differently (a sweep that ignored the rate would pass the loop above only once)
    assert not np.allclose(np.asarray(jax.tree_util.tree_leaves(sweep.states.params)[0][0]),
                           np.asarray(jax.tree_util.tree_leaves(sweep.states.params)[0][1]))


@pytest.mark.parametrize("rates", [(), [], (0.1, 0.0), (-1e-3,), (float("nan"),), (1e-3, float("inf")), (True,)],
                         ids=["empty-tuple", "empty-list", "zero", "negative", "nan", "inf", "bool"])
def test_bad_rates_are_refused_in_one_line(digits, rates):
    with pytest.raises(ValueError, match=r"^rates must ") as err:
        baselines.sweep_learning_rates(jax.random.key(0), models.MLP((4,), 10), digits, "adam", rates)
    assert "\n" not in str(err.value)


def test_other_bad_sweep_arguments(digits):
    m = models.MLP((4,), 10)
    with pytest.raises(TypeError, match="rates must be a sequence"):
        baselines.sweep_learning_rates(jax.random.key(0), m, digits, "adam", "0.1")
    with pytest.raises(TypeError, match="optimizer must be an optimizer name"):
        import optax
        baselines.sweep_learning_rates(jax.random.key(0), m, digits, optax.adam(1e-3), (0.1,))
    with pytest.raises(ValueError, match="fraction must be in"):
        baselines.sweep_learning_rates(jax.random.key(0), m, digits, "adam", (0.1,), val_fraction=1.0)
    with pytest.raises(ValueError, match="span must be"):
        baselines.learning_rate_grid(0.01, span=0.5)


def test_choice_ties_and_nan():
    assert _choose(np.array([0.9, 0.95, 0.95]), np.array([0.3, 0.2, 0.1])) == 2      # tie: lower loss
    assert _choose(np.array([0.9, 0.9]), np.array([0.1, 0.1])) == 0                  # full tie: first rate
    assert _choose(np.array([np.nan, 0.1]), np.array([np.nan, 2.0])) == 1            # NaN ranks last
    assert _choose(np.array([0.5, 0.5]), np.array([np.nan, 2.0])) == 1


def test_grid_and_per_optimizer_defaults(digits):
    grid = baselines.learning_rate_grid(0.01)
    np.testing.assert_allclose(grid, [1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 0.1], rtol=1e-12)
    assert baselines.learning_rate_grid(0.02, num=1) == (0.02,)
    assert baselines.default_rates("sgd", 0.9) == baselines.learning_rate_grid(DEFAULT_LEARNING_RATES["momentum"])
    assert default_learning_rate("sgd") == DEFAULT_LEARNING_RATES["sgd"]
    assert default_learning_rate("sgd", 0.9) == DEFAULT_LEARNING_RATES["momentum"] != DEFAULT_LEARNING_RATES["sgd"]
    m = models.MLP((4,), 10)
    assert baselines.make_train(m, digits, "adam").config["learning_rate"] == DEFAULT_LEARNING_RATES["adam"]
    assert baselines.make_train(m, digits, "sgd", momentum=0.9).config["learning_rate"] == 0.03
    import optax
    custom = baselines.make_train(m, digits, optax.sgd(0.1))          # its rate is built in: none recorded
    assert custom.config["learning_rate"] is None and math.isnan(float(custom.init(jax.random.key(0)).learning_rate))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        default_learning_rate("lbfgs")


# ------------------------------------------------------------------------------------------------ classify job
def test_classify_config_sweep_field_and_old_records():
    cfg = classify.config_for("digits")
    assert cfg.sgd_lr is None and cfg.baseline_lr_sweep == "auto"
    assert classify.baseline_rates(cfg) == baselines.learning_rate_grid(DEFAULT_LEARNING_RATES["adam"])
    assert classify.baseline_rates(classify.config_for("mnist", baseline="sgd", sgd_lr=0.01)) == \
        baselines.learning_rate_grid(0.01)
    assert classify.baseline_rates(classify.config_for("digits", baseline_lr_sweep="off")) is None
    assert classify.baseline_rates(classify.config_for("digits", baseline="none")) is None
    listed = classify.config_for("digits", baseline_lr_sweep=[0.1, 0.01])         # a JSON list comes back a tuple
    assert listed.baseline_lr_sweep == (0.1, 0.01) and classify.baseline_rates(listed) == (0.1, 0.01)
    assert classify.config_from_record(dataclasses.asdict(listed)) == listed
    # a config.json written before the sweep: its own rate, no sweep
    old = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "baseline_lr_sweep"} | {"sgd_lr": 1e-3}
    restored = classify.config_from_record(old)
    assert restored.baseline_lr_sweep == "off" and restored.sgd_lr == 1e-3
    for bad, says in (("fast", "baseline_lr_sweep must be one of ['auto', 'off']"), ((0.1, -1.0), "finite numbers > 0"),
                      ((), "at least one"), ((math.nan,), "finite numbers > 0")):
        with pytest.raises(ValueError, match=r"^baseline_lr_sweep must") as err:
            classify.config_for("digits", baseline_lr_sweep=bad)
        assert says in str(err.value) and "\n" not in str(err.value)


def test_cli_digits_sweeps_the_baseline_rate(tmp_path, capsys):
    from evojax_ga import cli

    out = tmp_path / "r"
    code = cli.main(["run", "digits", "--no-compile-cache", "--no-progress", "--pop-size", "8", "--generations", "2",
                     "--block", "2", "--hidden", "8", "--sgd-epochs", "1", "--baseline", "sgd",
                     "--baseline-lr-sweep", "100,0.1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "sgd learning-rate sweep" in printed and "0.1*" in printed and "sgd lr 0.1 (tuned): test accuracy" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] == "sgd" and summary["baseline_lr"] == 0.1
    sweep = summary["baseline_lr_sweep"]
    assert sweep["learning_rates"] == [100.0, 0.1] and sweep["chosen"] == 0.1
    assert sweep["val_accuracy"][1] > sweep["val_accuracy"][0]
    assert summary["sgd_forward_passes_to_90pct_of_final"] > 0
    stored = json.loads((out / "config.json").read_text())["config"]["classify"]
    assert classify.config_from_record(stored).baseline_lr_sweep == (100.0, 0.1)
