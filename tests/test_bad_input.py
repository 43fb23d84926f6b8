"""Bad input, table-driven: every row is one input a user may give, with the error it must get.

CLI rows: ``(id, argv, exit code, words)``: ``evojax-ga ARGV`` must exit with that code, print no
traceback, and its stderr must contain every one of ``words`` (the argument it names, what is
allowed). They run in-process through :func:`evojax_ga.cli.main` and must fail before any compute.
``{tmp}`` in an argument is replaced by a fresh temporary folder; ``{file}`` by a plain file in it.

Library rows: ``(id, fn, exception type, words)``: ``fn()`` must raise that type with every one of
``words`` in its message.

Each area of the library appends its rows to its own section below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import jax.numpy as jnp
import pytest

import evojax_ga as ega
from evojax_ga import cli

QUICK = ["--no-progress", "--no-compile-cache"]

# ---------------------------------------------------------------------------------------------- CLI
CLI_ROWS: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("unknown-job", ["run", "no-such-job"], 2, ("no-such-job",)),
    ("pop-size-1", ["run", "cartpole", "--pop-size", "1", "--out", "{tmp}/x"], 2, ("pop_size",)),
]

# --- section: run folders (lock, --out, resume) ---
CLI_ROWS += [
    ("out-under-a-file", ["run", "cartpole", "--out", "{file}/run"], 2, ("out=", "plain file")),
    ("out-deep-under-a-file", ["run", "cartpole", "--out", "{file}/a/b"], 2, ("out=", "plain file")),
    ("out-is-a-file", ["run", "cartpole", "--out", "{file}"], 2, ("out=", "not a directory")),
    ("out-under-a-file-digits", ["run", "digits", "--out", "{file}/run"], 2, ("out=", "plain file")),
    ("out-under-a-file-hparam", ["run", "hparam", "--out", "{file}/run"], 2, ("out=", "plain file")),
    ("resume-missing-folder", ["resume", "{tmp}/nope"], 2, ("RUN_DIR=", "config.json")),
    ("resume-a-file", ["resume", "{file}"], 2, ("RUN_DIR=", "config.json")),
    ("resume-empty-folder", ["resume", "{tmp}"], 2, ("RUN_DIR=", "config.json")),
    ("eval-missing-folder", ["eval", "{tmp}/nope"], 2, ("RUN_DIR=", "config.json")),
    ("eval-a-file", ["eval", "{file}"], 2, ("RUN_DIR=", "config.json")),
    ("plot-missing-folder", ["plot", "{tmp}/nope"], 2, ("RUN_DIR=", "metrics.jsonl")),
]

# --- section: options and seeds ---
_CP = ["run", "cartpole", "--out", "{tmp}/x"]
_HP = ["run", "hparam", "--out", "{tmp}/x"]
CLI_ROWS += [
    ("seed-negative", [*_CP, "--seed", "-1"], 2, ("--seed", "[0, 2**32 - 1]")),
    ("seed-2-32-aliases-0", [*_CP, "--seed", "4294967296"], 2, ("--seed", "4294967295")),
    ("seed-2-70-overflows", [*_CP, "--seed", str(2**70)], 2, ("--seed", "[0, 2**32 - 1]")),
    ("seed-not-int", [*_CP, "--seed", "1.5"], 2, ("--seed",)),
    ("seed-hparam", [*_HP, "--seed", "4294967296"], 2, ("--seed",)),
    ("seed-eval", ["eval", "{tmp}", "--seed", "-1"], 2, ("--seed",)),
    ("eval-episodes-0", ["eval", "{tmp}", "--episodes", "0"], 2, ("--episodes",)),
    ("pop-size-0", [*_CP, "--pop-size", "0"], 2, ("--pop-size",)),
    ("pop-size-negative", [*_CP, "--pop-size", "-1"], 2, ("--pop-size",)),
    ("pop-size-beyond-memory", [*_CP, "--pop-size", str(2**31 - 1)], 2, ("--pop-size", "needs about", "available")),
    ("pop-size-int32", [*_CP, "--pop-size", str(2**31)], 2, ("--pop-size", "2**31 - 1")),
    ("generations-negative", [*_CP, "--generations", "-1"], 2, ("--generations",)),
    ("generations-0-saves-unevaluated", [*_CP, "--generations", "0"], 2, ("--generations", "[1,")),
    ("sigma-nan", [*_CP, "--sigma", "nan"], 2, ("--sigma", "finite")),
    ("sigma-inf", [*_CP, "--sigma", "inf"], 2, ("--sigma",)),
    ("sigma-negative", [*_CP, "--sigma", "-1"], 2, ("--sigma",)),
    ("mutation-rate-2", [*_CP, "--mutation-rate", "2"], 2, ("--mutation-rate", "[0, 1]")),
    ("elite-equals-pop", [*_CP, "--pop-size", "16", "--elite", "16"], 2, ("--elite", "pop_size")),
    ("truncation-0", [*_CP, "--preset", "deep_ga", "--truncation", "0"], 2, ("--truncation",)),
    ("seeds-0", [*_CP, "--seeds", "0"], 2, ("--seeds", "[1,")),
    ("seeds-past-the-last-seed", [*_CP, "--seed", "4294967295", "--seeds", "2"], 2, ("--seeds", "[1, 1]")),
    ("truncation-over-pop", [*_CP, "--preset", "deep_ga", "--pop-size", "8", "--truncation", "9"], 2,
     ("--truncation",)),
    ("truncation-fraction-over-1", [*_CP, "--preset", "deep_ga", "--truncation", "1.5"], 2, ("--truncation", "(0, 1]")),
    ("truncation-not-a-number", [*_CP, "--preset", "deep_ga", "--truncation", "half"], 2, ("--truncation", "'half'")),
    ("pressure-over-2", [*_CP, "--preset", "universal", "--pressure", "2.5"], 2, ("--pressure", "[1, 2]")),
    ("pressure-without-universal", [*_CP, "--pressure", "1.2"], 2, ("--pressure", "universal preset only")),
    ("episodes-0", [*_CP, "--episodes", "0"], 2, ("--episodes",)),
    ("max-steps-0", [*_CP, "--max-steps", "0"], 2, ("--max-steps",)),
    ("chunk-size-0", [*_CP, "--chunk-size", "0"], 2, ("--chunk-size",)),
    ("block-0", [*_CP, "--block", "0"], 2, ("--block",)),
    ("target-nan", [*_CP, "--target", "nan"], 2, ("--target", "finite")),
    ("check-episodes-0", [*_CP, "--check-episodes", "0"], 2, ("--check-episodes",)),
    ("final-episodes-0", [*_CP, "--final-episodes", "0"], 2, ("--final-episodes",)),
    ("hidden-0", [*_CP, "--hidden", "0"], 2, ("--hidden",)),
    ("hidden-empty", [*_CP, "--hidden", ""], 2, ("--hidden",)),
    ("activation-bogus", [*_CP, "--activation", "bogus"], 2, ("--activation", "relu")),
    ("init-scale-negative", [*_CP, "--init-scale", "-1"], 2, ("--init-scale",)),
    ("checkpoint-every-negative", [*_CP, "--checkpoint-every", "-1"], 2, ("--checkpoint-every",)),
    ("fast-compile-bogus", [*_CP, "--fast-compile", "maybe"], 2, ("--fast-compile",)),
    ("pendulum-sigma-nan", ["run", "pendulum", "--out", "{tmp}/x", "--sigma", "nan"], 2, ("--sigma",)),
    ("hparam-pop-size-0", [*_HP, "--pop-size", "0"], 2, ("--pop-size",)),
    ("hparam-keep-nan", [*_HP, "--keep", "nan"], 2, ("--keep",)),
    ("hparam-mutation-rate-2", [*_HP, "--mutation-rate", "2"], 2, ("--mutation-rate",)),
    ("hparam-epochs-0", [*_HP, "--epochs", "0"], 2, ("--epochs",)),
    ("hparam-batch-size-0", [*_HP, "--batch-size", "0"], 2, ("--batch-size",)),
    ("hparam-val-fraction-1", [*_HP, "--val-fraction", "1"], 2, ("--val-fraction",)),
    ("hparam-chunk-beyond-memory", [*_HP, "--chunk-size", str(2**31 - 1)], 2, ("--chunk-size", "needs about")),
    ("hparam-budget-over-space", [*_HP, "--method", "random", "--budget", "721"], 2, ("--budget", "720")),
    ("hparam-train-subset-over-data", [*_HP, "--train-subset", "5000"], 2, ("--train-subset", "training samples")),
    ("hparam-batch-over-data", [*_HP, "--train-subset", "50", "--batch-size", "64"], 2, ("--batch-size", "50")),
    ("hparam-epochs-int32", [*_HP, "--epochs", str(2**31)], 2, ("--epochs", "2**31 - 1")),
    ("check-episodes-beyond-memory", [*_CP, "--check-episodes", str(2**31 - 1)], 2, ("--check-episodes", "needs")),
    ("plot-out-under-a-file", ["plot", "{tmp}", "--out", "{file}/x.png"], 2, ("--out", "is a file")),
]

# --- section: the generic control job (--env, --policy) ---
_CTL = ["run", "control", "--out", "{tmp}/x"]
CLI_ROWS += [
    ("control-without-env", _CTL, 2, ("--env", "required")),
    ("control-unknown-env", [*_CTL, "--env", "NoSuchEnv-v0"], 2, ("--env", "'NoSuchEnv-v0'", "Known environments",
                                                                  "Breakout-MinAtar")),
    ("control-policy-bogus", [*_CTL, "--env", "Catch-bsuite", "--policy", "rnn"], 2, ("--policy", "'rnn'", "mlp")),
    ("control-cnn-on-vector-obs", [*_CTL, "--env", "Pendulum-v1", "--policy", "cnn"], 2,
     ("--policy", "image observations")),
    ("control-target-bogus", [*_CTL, "--env", "Catch-bsuite", "--target", "high"], 2, ("--target", "'none'")),
    ("cartpole-env-of-another-job", [*_CP, "--env", "Acrobot-v1"], 2, ("--env", "CartPole-v1",
                                                                       "run control --env Acrobot-v1")),
    ("cartpole-policy-cnn", [*_CP, "--policy", "cnn"], 2, ("--policy", "image observations")),
]

# --- section: classification data ---
_DIGITS_SMALL = ["run", "digits", "--pop-size", "4", "--generations", "1", "--out", "{tmp}/r"]
CLI_ROWS += [
    ("digits-test-samples-0", [*_DIGITS_SMALL, "--test-samples", "0"], 2, ("test_samples", ">= 1")),
    ("digits-test-samples-past-test-set", [*_DIGITS_SMALL, "--test-samples", "5000"], 2, ("test_samples", "450")),
    ("digits-sgd-batch-size-0", [*_DIGITS_SMALL, "--sgd-batch-size", "0"], 2, ("sgd_batch_size", ">= 1")),
    ("digits-sgd-batch-size-past-train-set", [*_DIGITS_SMALL, "--sgd-batch-size", "5000"], 2,
     ("sgd_batch_size", "1347")),
    ("digits-batch-size-negative", [*_DIGITS_SMALL, "--batch-size", "-1"], 2, ("batch_size", "-1")),
    ("digits-batch-size-past-train-set", [*_DIGITS_SMALL, "--batch-size", "5000"], 2, ("batch_size", "1347")),
    ("digits-time-limit-inf", [*_DIGITS_SMALL, "--time-limit", "inf"], 2, ("time_limit", "finite")),
    ("digits-time-limit-0", [*_DIGITS_SMALL, "--time-limit", "0"], 2, ("time_limit",)),
    ("digits-generations-past-int32", [*_DIGITS_SMALL, "--generations", "3000000000"], 2, ("generations", "int32")),
    ("digits-generations-negative", [*_DIGITS_SMALL, "--generations", "-1"], 2, ("generations", ">= 0")),
    ("digits-pop-size-0", [*_DIGITS_SMALL, "--pop-size", "0"], 2, ("pop_size", ">= 2")),
    ("digits-sigma-nan", [*_DIGITS_SMALL, "--sigma", "nan"], 2, ("sigma", "finite")),
    ("digits-mutation-rate-above-1", [*_DIGITS_SMALL, "--mutation-rate", "1.5"], 2, ("mutation_rate", "[0, 1]")),
    ("digits-elite-nan", [*_DIGITS_SMALL, "--elite", "nan"], 2, ("elite",)),
    ("digits-elite-whole-population", [*_DIGITS_SMALL, "--elite", "1"], 2, ("elite", "pop_size")),
    ("digits-parent-pool-0", [*_DIGITS_SMALL, "--parent-pool", "0"], 2, ("parent_pool",)),
    ("digits-block-0", [*_DIGITS_SMALL, "--block", "0"], 2, ("block", ">= 1")),
    ("digits-chunk-size-0", [*_DIGITS_SMALL, "--chunk-size", "0"], 2, ("chunk_size", ">= 1")),
    ("digits-sgd-lr-0", [*_DIGITS_SMALL, "--sgd-lr", "0"], 2, ("sgd_lr", "> 0")),
    ("digits-sgd-epochs-inf", [*_DIGITS_SMALL, "--sgd-epochs", "inf"], 2, ("sgd_epochs", "finite")),
    ("digits-lr-sweep-zero", [*_DIGITS_SMALL, "--baseline-lr-sweep", "0.1,0"], 2,
     ("--baseline-lr-sweep", "baseline_lr_sweep", "> 0")),
    ("digits-lr-sweep-nan", [*_DIGITS_SMALL, "--baseline-lr-sweep", "nan"], 2, ("baseline_lr_sweep", "finite")),
    ("digits-lr-sweep-word", [*_DIGITS_SMALL, "--baseline-lr-sweep", "fast"], 2, ("--baseline-lr-sweep", "'auto'")),
    ("digits-sgd-batch-size-past-sweep-train-part", [*_DIGITS_SMALL, "--sgd-batch-size", "1300"], 2,
     ("sgd_batch_size", "<= 1211", "validation")),
    ("digits-lr-sweep-empty", [*_DIGITS_SMALL, "--baseline-lr-sweep", ","], 2, ("baseline_lr_sweep", "at least one")),
    ("digits-hidden-0", [*_DIGITS_SMALL, "--hidden", "0"], 2, ("--hidden", "positive")),
    ("mnist-data-plain-file", ["run", "mnist", "--data", "{file}", "--out", "{tmp}/r"], 2, ("a-file", ".npz")),
    ("mnist-data-empty-folder", ["run", "mnist", "--data", "{tmp}", "--out", "{tmp}/r"], 2,
     ("not found", "train-images-idx3-ubyte")),
]

# --- section: config files (more in tests/test_config_file.py) ---
CLI_ROWS += [
    ("config-missing-file", ["run", "cartpole", "--config", "{tmp}/nope.toml"], 2, ("--config", "not found")),
    ("config-not-toml", ["run", "--config", "{file}", "--out", "{tmp}/x"], 2, ("a-file", "not valid TOML")),
    ("config-folder-without-run", ["run", "--config", "{tmp}"], 2, ("--config", "config.json")),
]
# corrupt and empty data files (.npz, .pkl.gz, IDX .gz) through the CLI: tests/test_data.py
# (test_cli_refuses_corrupt_data_files), which writes the files


# ------------------------------------------------------------------------------------------ library
def _pop(n: int = 8, dim: int = 3, dtype: Any = jnp.float32) -> dict:
    return {"w": jnp.zeros((n, dim), dtype)}


LIB_ROWS: list[tuple[str, Callable[[], Any], type[BaseException], tuple[str, ...]]] = [
    ("ga-elite-negative", lambda: ega.ga(elite=-1), ValueError, ("elite",)),
]

# --- section: strategy and operators ---
from evojax_ga import chunking as _chunking  # noqa: E402
from evojax_ga import crossover as _xo  # noqa: E402
from evojax_ga import mutation as _mu  # noqa: E402
from evojax_ga import selection as _sel  # noqa: E402


def _key() -> Any:
    import jax
    return jax.random.key(0)


def _tell(pop: Any = None, fitness: Any = None, dtype: Any = jnp.float32) -> Any:
    """``tell`` of a GA whose state holds 8 individuals ``{"w": [8, 3]}``."""
    s = ega.ga()
    state = s.init(_key(), _pop(8))
    return s.tell(state, _pop(8, dtype=dtype) if pop is None else pop,
                  jnp.zeros(8) if fitness is None else fitness)


def _evolve(**kw: Any) -> Any:
    args = {"generations": 2, "progress": False, **kw}
    return ega.evolve(_key(), ega.ga(), lambda k, p: -jnp.sum(p["w"] ** 2, axis=1), _pop(8), **args)


LIB_ROWS += [
    ("ga-select-not-a-selection", lambda: ega.ga(select=lambda k, f, n: f), TypeError, ("select",)),
    ("ga-elite-float", lambda: ega.ga(elite=1.5), TypeError, ("elite",)),
    ("ga-random-survivors-negative", lambda: ega.ga(random_survivors=-1), ValueError, ("random_survivors",)),
    ("ga-parent-pool-fraction-above-1", lambda: ega.ga(parent_pool=1.5), ValueError, ("parent_pool",)),
    ("ga-parent-pool-zero", lambda: ega.ga(parent_pool=0), ValueError, ("parent_pool",)),
    ("ga-elite-fills-population", lambda: ega.ga(elite=8).init(_key(), _pop(8)), ValueError, ("elite",)),
    ("gaussian-rate-above-1", lambda: _mu.gaussian(rate=1.5), ValueError, ("rate",)),
    ("gaussian-sigma-negative", lambda: _mu.gaussian(sigma=-0.1), ValueError, ("sigma",)),
    ("gaussian-sigma-nan", lambda: _mu.gaussian(sigma=float("nan")), ValueError, ("sigma",)),
    ("self-adaptive-tau-negative", lambda: _mu.self_adaptive(_mu.gaussian(), -1.0), ValueError, ("tau",)),
    ("scale-mixture-spread-negative", lambda: _mu.scale_mixture(_mu.gaussian(), -1.0), ValueError, ("spread",)),
    ("mixed-type-probs-not-summing-to-1", lambda: _mu.mixed(type_probs=(0.5, 0.5, 0.5)), ValueError,
     ("type_probs",)),
    ("categorical-cardinality-0", lambda: _mu.categorical(0), ValueError, ("cardinalities",)),
    ("uniform-crossover-prob-negative", lambda: _xo.uniform(-0.1), ValueError, ("prob",)),
    ("k-point-0", lambda: _xo.k_point(0), ValueError, ("k",)),
    ("tournament-size-0", lambda: _sel.tournament(0), ValueError, ("size",)),
    ("truncation-fraction-0", lambda: _sel.truncation(0.0), ValueError, ("fraction",)),
    ("init-one-row", lambda: ega.ga(elite=0).init(_key(), _pop(1)), ValueError, ("population", "at least 2")),
    ("ask-population-as-state", lambda: ega.ga().ask(_key(), _pop(8)), TypeError, ("state",)),
    ("tell-8-rows-for-16", lambda: ega.ga().tell(ega.ga().init(_key(), _pop(16)), _pop(8), jnp.zeros(16)),
     ValueError, ("population", "['w']", "8 rows")),
    ("tell-32-rows-for-8", lambda: _tell(_pop(32), jnp.zeros(8)), ValueError, ("population", "['w']", "32 rows")),
    ("tell-other-structure", lambda: _tell({"v": jnp.zeros((8, 3))}), ValueError, ("population", "structure")),
    ("tell-other-leaf-shape", lambda: _tell(_pop(8, dim=4)), ValueError, ("population", "['w']", "(8, 4)")),
    ("tell-other-dtype", lambda: _tell(dtype=jnp.int32), TypeError, ("population", "['w']", "int32")),
    ("tell-complex-fitness", lambda: _tell(fitness=jnp.zeros(8, jnp.complex64)), TypeError, ("fitness", "complex")),
    ("tell-fitness-7-values", lambda: _tell(fitness=jnp.zeros(7)), ValueError, ("fitness", "[8]")),
    ("tell-fitness-2d", lambda: _tell(fitness=jnp.zeros((8, 1))), ValueError, ("fitness", "[n]")),
    ("tell-fitness-string", lambda: _tell(fitness="high"), TypeError, ("fitness",)),
    ("selection-complex-fitness", lambda: _sel.tournament(2)(_key(), jnp.zeros(8, jnp.complex64), 4), TypeError,
     ("fitness", "complex")),
    ("gaussian-on-int-leaf", lambda: _mu.gaussian(0.5, 0.5)(_key(), _pop(4, dtype=jnp.int32)), TypeError,
     ("['w']", "int32", "categorical")),
    ("gaussian-on-bool-leaf", lambda: _mu.gaussian(0.5, 0.5)(_key(), _pop(4, dtype=jnp.bool_)), TypeError,
     ("['w']", "bool", "categorical")),
    ("blend-on-int-leaf", lambda: _xo.blend()(_key(), _pop(4, dtype=jnp.int32), _pop(4, dtype=jnp.int32)),
     TypeError, ("['w']", "uniform")),
    ("ga-step-gaussian-on-int-population",
     lambda: ega.ga().step(_key(), ega.ga().init(_key(), _pop(8, dtype=jnp.int32)), lambda k, p: jnp.zeros(8)),
     TypeError, ("['w']", "categorical")),
    ("evolve-generations-negative", lambda: _evolve(generations=-1), ValueError, ("generations",)),
    ("evolve-generations-float", lambda: _evolve(generations=2.5), TypeError, ("generations",)),
    ("evolve-block-0", lambda: _evolve(block=0), ValueError, ("block",)),
    ("evolve-target-nan", lambda: _evolve(target=float("nan")), ValueError, ("target",)),
    ("evolve-target-inf", lambda: _evolve(target=float("inf")), ValueError, ("target",)),
    ("evolve-pause-nan", lambda: _evolve(pause=float("nan")), ValueError, ("pause",)),
    ("map-chunks-chunk-size-0", lambda: _chunking.map_chunks(lambda c, r: c, _pop(4), 0), ValueError,
     ("chunk_size",)),
    ("seed-encoded-parents-above-pop-size", lambda: ega.seed_encoded_ga(lambda k: {"w": jnp.zeros(3)}, 8, 9),
     ValueError, ("parents",)),
    ("seed-encoded-chunk-size-0",
     lambda: ega.seed_encoded_ga(lambda k: {"w": jnp.zeros(3)}, 8, 2, chunk_size=0), ValueError, ("chunk_size",)),
]

# --- section: data sets and tasks ---
def _data_ds(**changes: Any) -> Any:
    """A valid 3-class data set of 6 + 3 samples of 4 features, with ``changes`` applied."""
    import numpy as np
    ds = ega.data.Dataset("tiny", np.linspace(0, 1, 24, dtype=np.float32).reshape(6, 4),
                          np.array([0, 1, 2, 0, 1, 2], np.int32), np.full((3, 4), 0.5, np.float32),
                          np.array([0, 1, 2], np.int32), 3)
    return ds._replace(**changes)


def _data_sgd(model: Any, ds: Any, **kwargs: Any) -> Any:
    from evojax_ga import baselines
    return baselines.make_train(model, ds, batch_size=2, **kwargs)


def _data_evaluator(num_classes: int, in_dim: int = 4) -> Any:
    import jax
    import numpy as np

    from evojax_ga import hparam
    ds = _data_ds(x_val=np.zeros((2, 4), np.float32), y_val=np.array([0, 1], np.int32))
    trainer = hparam.make_trainer(hparam.Space([hparam.choice("depth", (1,))]), in_dim=in_dim, num_classes=num_classes)
    return hparam.Evaluator(trainer, ds, jax.random.key(0))


_D = ega.data
LIB_ROWS += [
    ("dataset-length-mismatch", lambda: _D.validate(_data_ds(y_train=_data_ds().y_train[:5])), ValueError,
     ("x_train", "6 samples", "y_train", "5 labels")),
    ("dataset-float-labels", lambda: _D.validate(_data_ds(y_train=_data_ds().y_train + 0.7)), TypeError,
     ("y_train", "integer", "float64")),
    ("dataset-label-past-num-classes", lambda: _D.validate(_data_ds(y_test=_data_ds().y_test + 1)), ValueError,
     ("y_test", "num_classes", "[1, 3]")),
    ("dataset-negative-label", lambda: _D.validate(_data_ds(y_train=_data_ds().y_train - 1)), ValueError,
     ("y_train", "[-1, 1]")),
    ("dataset-empty-train",
     lambda: _D.validate(_data_ds(x_train=_data_ds().x_train[:0], y_train=_data_ds().y_train[:0])),
     ValueError, ("x_train", "empty")),
    ("dataset-empty-test", lambda: _D.validate(_data_ds(x_test=_data_ds().x_test[:0], y_test=_data_ds().y_test[:0])),
     ValueError, ("x_test", "empty")),
    ("dataset-nan-features", lambda: _D.validate(_data_ds(x_train=_data_ds().x_train * float("nan"))), ValueError,
     ("x_train", "NaN")),
    ("dataset-inf-features", lambda: _D.validate(_data_ds(x_test=_data_ds().x_test + float("inf"))), ValueError,
     ("x_test", "infinite")),
    ("dataset-label-column", lambda: _D.validate(_data_ds(y_train=_data_ds().y_train[:, None])), ValueError,
     ("y_train", "(6, 1)")),
    ("dataset-rank-1-inputs", lambda: _D.validate(_data_ds(x_train=_data_ds().x_train[:, 0])), ValueError,
     ("x_train", "2 dimensions")),
    ("dataset-test-inputs-other-shape", lambda: _D.validate(_data_ds(x_test=_data_ds().x_test[:, :3])), ValueError,
     ("x_test", "x_train")),
    ("dataset-one-class", lambda: _D.validate(_data_ds(num_classes=1, y_train=_data_ds().y_train * 0,
                                                        y_test=_data_ds().y_test * 0)), ValueError, ("num_classes",)),
    ("dataset-val-without-labels", lambda: _D.validate(_data_ds(x_val=_data_ds().x_test)), ValueError,
     ("x_val", "y_val")),
    ("validation-split-float-labels",
     lambda: _D.validation_split(_data_ds(y_train=_data_ds().y_train.astype(float)), 0.5, 0), TypeError, ("y_train",)),
    ("task-head-too-small", lambda: ega.tasks.classification(ega.models.MLP((4,), 2), _data_ds()), ValueError,
     ("2 outputs", "num_classes=3")),
    ("task-flax-head-too-small", lambda: ega.tasks.classification(__import__("flax").linen.Dense(2), _data_ds()),
     ValueError, ("2 outputs", "num_classes=3")),
    ("task-float-labels",
     lambda: ega.tasks.classification(ega.models.MLP((4,), 3), _data_ds(y_test=_data_ds().y_test * 1.0)),
     TypeError, ("y_test", "integer")),
    ("task-test-samples-past-test-set",
     lambda: ega.tasks.classification(ega.models.MLP((4,), 3), _data_ds(), test_samples=4),
     ValueError, ("test_samples", "<= 3")),
    ("sgd-head-too-small", lambda: _data_sgd(ega.models.MLP((4,), 2), _data_ds()), ValueError,
     ("2 outputs", "num_classes=3")),
    ("sgd-labels-out-of-range", lambda: _data_sgd(ega.models.MLP((4,), 3), _data_ds(y_train=_data_ds().y_train + 5)),
     ValueError, ("y_train", "num_classes")),
    ("sgd-test-samples-past-test-set", lambda: _data_sgd(ega.models.MLP((4,), 3), _data_ds(), test_samples=4),
     ValueError, ("test_samples", "<= 3")),
    ("hparam-head-too-small", lambda: _data_evaluator(2), ValueError, ("num_classes=2", "num_classes=3")),
    ("hparam-inputs-other-width", lambda: _data_evaluator(3, in_dim=5), ValueError, ("in_dim=5", "x_train", "(4,)")),
]


def _fill(arg: str, tmp: Path) -> str:
    file = tmp / "a-file"
    if "{file}" in arg and not file.exists():
        file.write_text("not a folder\n")
    return arg.replace("{tmp}", str(tmp)).replace("{file}", str(file))


@pytest.mark.parametrize("argv,code,words", [r[1:] for r in CLI_ROWS], ids=[r[0] for r in CLI_ROWS])
def test_cli_bad_input(argv: list[str], code: int, words: tuple[str, ...], tmp_path: Path, capsys) -> None:
    argv = [_fill(a, tmp_path) for a in argv]
    try:
        got = cli.main([*argv, *QUICK] if argv and argv[0] == "run" and len(argv) > 1 else argv)
    except SystemExit as exc:   # argparse rejects a value: exit 2 with usage
        got = exc.code
    err = capsys.readouterr().err
    assert got == code, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


@pytest.mark.parametrize("fn,exc,words", [r[1:] for r in LIB_ROWS], ids=[r[0] for r in LIB_ROWS])
def test_library_bad_input(fn: Callable[[], Any], exc: type[BaseException], words: tuple[str, ...]) -> None:
    with pytest.raises(exc) as info:
        fn()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"


def test_enough_rows() -> None:
    """The issue asks for at least 60 bad inputs across the CLI and the library."""
    assert len(CLI_ROWS) + len(LIB_ROWS) >= 60

