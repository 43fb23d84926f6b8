"""Classification tasks: fitness values by hand, chunking invariance, minibatches, models, GA on digits."""

from __future__ import annotations

import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import crossover, data, models, mutation, selection

cls = importlib.import_module("evojax_ga.tasks.classification")  # the package re-exports a function of that name


def linear_apply(params, x):
    """logits = x @ w: with x = one-hot rows, the logits of sample i are row i of w."""
    return x @ params["w"]


def tiny_dataset(x, y, xt=None, yt=None):
    xt = x if xt is None else xt
    yt = y if yt is None else yt
    return data.Dataset("tiny", np.asarray(x, np.float32), np.asarray(y, np.int32),
                        np.asarray(xt, np.float32), np.asarray(yt, np.int32), 3)


# ------------------------------------------------------------------------------------------------ by hand
LOGITS = np.array([[[2.0, 1.0, 0.0],      # individual 0: sample 0 right (label 0)
                    [0.0, 0.0, 3.0],      #               sample 1 wrong (label 1)
                    [1.0, 1.0, 1.0]],     #               sample 2: all tied -> predicts class 0, label 2: wrong
                   [[0.0, 0.0, 0.0],      # individual 1: tie -> class 0: right
                    [0.0, 5.0, 0.0],      #               right
                    [0.0, 0.0, 1.0]]],    #               right
                  np.float32)
LABELS = np.array([0, 1, 2])


def hand_scores():
    acc, ce = [], []
    for z in LOGITS.astype(np.float64):
        pred = [int(np.argmax(r)) for r in z]
        acc.append(np.mean([p == t for p, t in zip(pred, LABELS)]))
        ce.append(np.mean([math.log(sum(math.exp(v) for v in r)) - r[t] for r, t in zip(z, LABELS)]))
    return np.array(acc), np.array(ce)


@pytest.fixture(scope="module")
def hand_task():
    ds = tiny_dataset(np.eye(3), LABELS)
    return cls.classification(linear_apply, ds, fitness="accuracy")


@pytest.mark.parametrize("kind", cls.FITNESS)
def test_fitness_matches_hand_computation(hand_task, kind):
    acc, ce = hand_scores()
    np.testing.assert_allclose(acc, [1 / 3, 1.0])
    np.testing.assert_allclose(ce[1], (math.log(3) + (math.log(2 + math.exp(5)) - 5)
                                       + (math.log(2 + math.e) - 1)) / 3)
    task = hand_task._replace(fitness=kind)
    pop = {"w": jnp.asarray(LOGITS)}
    fit, metrics = task.evaluate(jax.random.PRNGKey(0), pop)
    want = {"accuracy": acc, "neg_cross_entropy": -ce, "inverse_cross_entropy": 1.0 / ce}[kind]
    np.testing.assert_allclose(np.asarray(fit), want, rtol=1e-5)
    assert int(jnp.argmax(fit)) == 1
    np.testing.assert_allclose(float(metrics["accuracy_best"]), 1.0)
    np.testing.assert_allclose(float(metrics["cross_entropy_best"]), ce[1], rtol=1e-5)
    assert float(metrics["forward_passes"]) == 2 * 3


def test_logits_scores_class_axis_and_ties():
    correct2, nll2 = cls.logits_scores(jnp.asarray(LOGITS), jnp.asarray(LABELS), class_axis=2)
    correct1, nll1 = cls.logits_scores(jnp.asarray(LOGITS).transpose(0, 2, 1), jnp.asarray(LABELS), class_axis=1)
    np.testing.assert_array_equal(correct1, correct2)
    np.testing.assert_allclose(nll1, nll2, rtol=1e-6)
    np.testing.assert_array_equal(correct2, [[True, False, False], [True, True, True]])


def test_fitness_validation():
    ds = tiny_dataset(np.eye(3), LABELS)
    with pytest.raises(ValueError, match="fitness must be one of"):
        cls.classification(linear_apply, ds, fitness="f1")
    with pytest.raises(ValueError, match="batch_size must be <= 3"):
        cls.classification(linear_apply, ds, batch_size=4)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        cls.classification(linear_apply, ds, chunk_size=0)
    with pytest.raises(TypeError, match="Dataset"):
        cls.classification(linear_apply, (np.eye(3), LABELS))
    np.testing.assert_allclose(cls.fitness_from_scores("inverse_cross_entropy", jnp.ones(1), jnp.zeros(1)), 1e30)


def test_head_of_a_plain_function_is_checked_when_traced():
    """A plain ``apply`` function's outputs are known only from its parameters: a population whose
    logits have fewer classes than the data is refused when the evaluation is traced."""
    task = cls.classification(linear_apply, tiny_dataset(np.eye(3), LABELS))
    with pytest.raises(ValueError, match="2 outputs but the data have num_classes=3"):
        task.evaluate(jax.random.PRNGKey(0), {"w": jnp.zeros((2, 3, 2))})


# ------------------------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def mlp_task(digits):
    return cls.classification(models.MLP((16,), 10, flatten=True), digits, fitness="neg_cross_entropy",
                              chunk_size=16)


@pytest.fixture(scope="module")
def small_pop(mlp_task):
    return mlp_task.init_population(jax.random.PRNGKey(0), 40)


def test_mlp_fast_path_matches_vmap_and_chunking(mlp_task, small_pop):
    x, y = mlp_task.x_train[:300], mlp_task.y_train[:300]
    m = mlp_task.model
    logits = jax.vmap(m.apply, in_axes=(0, None))(small_pop, x)
    ref_acc = jnp.mean(jnp.argmax(logits, -1) == y, axis=1)
    ref_ce = jnp.mean(jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[None, :, None], 2)[..., 0], 1)
    acc, ce = mlp_task.scores(small_pop, x, y)
    np.testing.assert_allclose(acc, ref_acc, atol=1e-6)
    np.testing.assert_allclose(ce, ref_ce, rtol=1e-4)
    generic = mlp_task._replace(forward=jax.vmap(m.apply, in_axes=(0, None)), class_axis=2, prepare=lambda x: x)
    for t in (mlp_task._replace(chunk_size=7, sample_chunk_size=64),
              generic._replace(chunk_size=40, sample_chunk_size=None)):
        a2, c2 = jax.jit(t.scores)(small_pop, x, y)
        np.testing.assert_allclose(a2, acc, atol=1e-6)
        np.testing.assert_allclose(c2, ce, rtol=1e-4)


def test_shared_minibatch(mlp_task, small_pop):
    task = mlp_task._replace(batch_size=32)
    key = jax.random.PRNGKey(3)
    xb, yb = task.sample_batch(key)
    xb2, _ = task.sample_batch(key)
    assert xb.shape == (32, 8, 8, 1)
    np.testing.assert_array_equal(xb, xb2)
    assert not np.array_equal(xb, task.sample_batch(jax.random.PRNGKey(4))[0])
    # identical individuals see the same batch -> identical fitness
    same = jax.tree_util.tree_map(lambda l: jnp.broadcast_to(l[:1], l.shape), small_pop)
    evaluate = jax.jit(task.evaluate)
    fit, metrics = evaluate(key, same)
    np.testing.assert_allclose(fit, np.full(40, fit[0]), rtol=1e-6)  # chunks may round differently
    assert float(metrics["forward_passes"]) == 40 * 32
    acc, ce = task.scores(small_pop, xb, yb)
    np.testing.assert_allclose(evaluate(key, small_pop)[0], -ce, rtol=1e-5)
    evaluate(jax.random.PRNGKey(5), small_pop)
    assert evaluate._cache_size() == 1   # a new batch does not recompile


def test_test_accuracy_metric_and_select_best(mlp_task, small_pop):
    fit, metrics = jax.jit(mlp_task.evaluate)(jax.random.PRNGKey(0), small_pop)
    i = int(jnp.argmax(fit))
    best = jax.tree_util.tree_map(lambda l: l[i], small_pop)
    np.testing.assert_allclose(float(metrics["test_accuracy"]), mlp_task.test_accuracy(best), atol=1e-6)
    chosen, info = mlp_task.select_best(small_pop)
    np.testing.assert_allclose(info["fitness"], float(fit[i]), rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(chosen), jax.tree_util.tree_leaves(best)):
        np.testing.assert_array_equal(a, b)


def test_models_shapes_and_sizes(digits):
    key = jax.random.PRNGKey(0)
    deep = jax.eval_shape(models.mnist_deep().init, key, jnp.zeros((1, 28, 28, 1)))
    assert models.count_params(deep) == 3_274_634
    cnn = models.small_cnn()
    p = cnn.init(key, jnp.zeros((1, 8, 8, 1)))
    assert models.count_params(p) == 1898
    assert cnn.apply(p, jnp.asarray(digits.x_test[:5])).shape == (5, 10)
    assert cnn.apply(p, jnp.asarray(digits.x_test[0])).shape == (10,)
    assert models.mlp_flops(64, (32,), 10) == 2 * (64 * 32 + 32 * 10)
    with pytest.raises(ValueError, match="activation must be one of"):
        models.MLP((4,), 10, activation="swish").init(key, jnp.zeros((1, 3)))
    relu_out = models.MLP((4,), 3, output_activation="relu")
    assert float(jnp.min(relu_out.apply(relu_out.init(key, jnp.ones((2, 5))), -jnp.ones((2, 5))))) >= 0.0


def test_cnn_task_runs(digits):
    task = cls.classification(models.small_cnn(), digits, batch_size=16, chunk_size=4, test_samples=50)
    pop = task.init_population(jax.random.PRNGKey(1), 4)
    fit, metrics = jax.jit(task.evaluate)(jax.random.PRNGKey(2), pop)
    assert fit.shape == (4,) and np.all(np.isfinite(fit))
    assert 0.0 <= float(metrics["test_accuracy"]) <= 1.0


def test_ga_improves_digits_accuracy(digits):
    """A truncation GA with Gaussian mutation beats the random initial population within 15 generations."""
    task = cls.classification(models.MLP((16,), 10, flatten=True), digits, fitness="neg_cross_entropy",
                              batch_size=256, chunk_size=128, test_samples=None)
    pop = task.init_population(jax.random.PRNGKey(0), 128)
    strategy = ega.ga(select=selection.uniform(), crossover=crossover.uniform(0.5),
                      mutate=mutation.gaussian(0.2, 0.1), elite=4, parent_pool=16, diversity_metric=False)
    state, history = ega.evolve(jax.random.PRNGKey(1), strategy, task, pop, generations=15, block=15,
                                progress=False)
    curve = cls.learning_curve(history)
    assert curve["test_accuracy"].shape == (15,)
    np.testing.assert_allclose(curve["forward_passes"][-1], 15 * 128 * 256)
    assert history["best"][-1] > history["best"][0] + 0.3          # cross-entropy fell by > 0.3 nats
    assert curve["test_accuracy"][-1] > curve["test_accuracy"][0] + 0.15
    assert task.test_accuracy(state.best_params) > 0.4


# ------------------------------------------------------------------------------------------------ command line
def test_cli_digits_run_and_eval(tmp_path, capsys):
    import json

    from evojax_ga import cli

    out = tmp_path / "digits-run"
    # a time limit shorter than any generation: the run stops after the one generation that measures
    # their speed (the first block runs one), and says so; compilation is timed apart
    code = cli.main(["run", "digits", "--no-compile-cache", "--no-progress", "--pop-size", "24", "--generations", "4",
                     "--block", "2", "--hidden", "8", "--sgd-epochs", "0.5", "--time-limit", "1e-6", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "after 1 generations" in printed and "stopped by --time-limit" in printed and "s compiling" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generations"] == 1 and summary["stop_reason"] == "time_limit"
    assert summary["compile_s"] >= 0.0
    assert 0.0 <= summary["ga_test_accuracy"] <= 1.0
    assert summary["baseline"] == "adam" and summary["ga_forward_passes"] == 1 * 24 * 1347
    for name in ("config.json", "metrics.jsonl", "best_params.msgpack", "model.json", "curves.png"):
        assert (out / name).is_file(), name
    capsys.readouterr()
    assert cli.main(["eval", str(out)]) == 0
    assert f"test accuracy {summary['ga_test_accuracy']:.4f}" in capsys.readouterr().out


def test_cli_mnist_job_runs_fashion_mnist_by_name(tmp_path, capsys, monkeypatch):
    """``run mnist --dataset fashion_mnist`` reads the IDX files of a ``fashion-mnist/`` sub-folder (the
    name Debian and Zalando use) and labels the run fashion_mnist in config.json, summary.json, the
    plot titles and ``eval``."""
    import gzip
    import json
    import struct

    from evojax_ga import cli, plots

    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, shape in (("train-images-idx3-ubyte", (30, 28, 28)), ("train-labels-idx1-ubyte", (30,)),
                        ("t10k-images-idx3-ubyte", (10, 28, 28)), ("t10k-labels-idx1-ubyte", (10,))):
        arr = rng.integers(0, 256 if len(shape) == 3 else 10, shape).astype(np.uint8)
        raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
    titles = []
    for name in ("plot_fitness", "plot_curves"):
        original = getattr(plots, name)
        monkeypatch.setattr(plots, name, lambda *a, _f=original, **k: (titles.append(k.get("title")), _f(*a, **k))[1])
    out = tmp_path / "run"
    code = cli.main(["run", "mnist", "--dataset", "fashion_mnist", "--data", str(tmp_path / "data"), "--no-progress",
                     "--no-compile-cache", "--pop-size", "8", "--generations", "2", "--block", "2", "--hidden", "4",
                     "--batch-size", "0", "--test-samples", "10", "--baseline", "none", "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out.startswith(f"fashion_mnist: train 30, test 10, input (14, 14, 1), 10 classes (from "
                                              f"{folder})")
    config = json.loads((out / "config.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert config["config"]["classify"]["dataset"] == "fashion_mnist" and config["args"]["dataset"] == "fashion_mnist"
    assert summary["dataset"] == "fashion_mnist" and summary["stop_reason"] == "generations"
    assert summary["generations"] == 2 and summary["compile_s"] >= 0.0
    assert len(titles) == 2 and all(t.startswith("fashion_mnist: ") for t in titles)
    assert cli.main(["eval", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"fashion_mnist: {out}: test accuracy")


def test_cli_mnist_without_files(tmp_path, capsys):
    from evojax_ga import cli

    code = cli.main(["run", "mnist", "--no-compile-cache", "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and str(tmp_path) in err


def test_accelerator_chunk_bytes_scales_with_device_memory():
    C = cls
    assert C.accelerator_chunk_bytes(None) == C.ACCELERATOR_CHUNK_BYTES          # memory unknown
    assert C.accelerator_chunk_bytes(4 * 2**30) == C.ACCELERATOR_CHUNK_BYTES     # small card: the floor
    assert C.accelerator_chunk_bytes(32 * 2**30) == 2 * 2**30                    # 1/16 of it
    assert C.accelerator_chunk_bytes(139 * 2**30) == C.ACCELERATOR_CHUNK_BYTES_MAX
    # the default follows the backend: cache-sized on a CPU, the device's share on a GPU/TPU
    from evojax_ga.chunking import on_accelerator
    task = C.classification(ega.models.MLP((4,), 10), data.load_digits(flat=True))
    want = C.accelerator_chunk_bytes(C._device_memory_bytes()) if on_accelerator() else C.CPU_CHUNK_BYTES
    assert task.chunk_bytes == want
