"""Accuracy-size fronts: the objectives on a hand-made population, the prune mutation, and the
``evojax-ga run digits-front`` job (run folder, non-dominated front, resume, one-line errors)."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization
from helpers.metrics import metric_rows

from evojax_ga import cli
from evojax_ga import mutation as mu
from evojax_ga import run_folder as rf
from evojax_ga.data import Dataset
from evojax_ga.models import MLP
from evojax_ga.runs import classify_front as cf
from evojax_ga.tasks.sparse_classification import nonzero_count, sparse_classification

X = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], np.float32)
Y = np.array([0, 1, 0, 1], np.int32)


def _member(kernel, bias):
    return {"params": {"Dense_0": {"kernel": np.asarray(kernel, np.float32), "bias": np.asarray(bias, np.float32)}}}


def test_objectives_on_a_hand_made_population(key):
    task = sparse_classification(MLP((), 2), Dataset("toy", X, Y, X, Y, 2, "hand-made"))
    members = [_member(np.eye(2), [0, 0]),              # logits = x: all 4 right (a tie goes to class 0)
               _member(np.zeros((2, 2)), [0, 0]),       # all ties -> class 0: 2 of 4; no non-zero parameter
               _member(-np.eye(2), [0, 3]),             # always class 1: 2 of 4; 3 non-zero
               _member([[np.nan, 0], [0, 1]], [0, 0])]  # NaN weight: a NaN row
    pop = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *members)
    F, metrics = task.evaluate(key, pop)
    np.testing.assert_array_equal(np.asarray(F[:3]), [[1.0, -2.0], [0.5, -0.0], [0.5, -3.0]])
    assert np.all(np.isnan(np.asarray(F[3])))
    np.testing.assert_array_equal(nonzero_count(pop), [2, 0, 3, 2])   # NaN counts as non-zero
    assert task.num_params == 6 and task.ref == (0.0, -6.0)
    assert float(metrics["accuracy_max"]) == 1.0 and float(metrics["nonzero_min"]) == 0.0
    ce = task._replace(fitness="neg_cross_entropy")
    F2, _ = ce.evaluate(key, pop)
    np.testing.assert_allclose(np.asarray(F2[1, 0]), -np.log(2), rtol=1e-6)   # all-zero logits: -ln C
    assert ce.ref == pytest.approx((-np.log(2), -6.0))


def test_prune_zeroes_the_expected_fraction_and_nothing_else(key):
    pop = {"w": jax.random.normal(key, (200, 50)) + 3.0, "b": jnp.full((200, 7), 0.5)}
    out = mu.prune(0.2)(key, pop)
    zero = np.concatenate([np.asarray(out[k]).ravel() == 0 for k in pop])
    sd = np.sqrt(0.2 * 0.8 / zero.size)
    assert abs(zero.mean() - 0.2) < 5 * sd
    for k in pop:
        o, x = np.asarray(out[k]), np.asarray(pop[k])
        np.testing.assert_array_equal(o[o != 0], x[o != 0])          # the rest untouched, bit for bit
    assert all(np.all(np.asarray(v) == 0) for v in mu.prune(1.0)(key, pop).values())
    moved = mu.keep_zeros(mu.gaussian(1.0, 0.1))(key, out)                  # pruned genes stay exactly 0
    for k in pop:
        o, m = np.asarray(out[k]), np.asarray(moved[k])
        assert np.all(m[o == 0] == 0) and np.all(m[o != 0] != o[o != 0])
    with pytest.raises(ValueError, match="rate"):
        mu.prune(1.5)
    with pytest.raises(TypeError, match="mutation.prune cannot mutate"):
        mu.prune(0.1)(key, {"w": jnp.ones((4, 3), jnp.int32)})


ARGS = ["run", "digits-front", "--pop-size", "16", "--generations", "4", "--hidden", "4", "--batch-size", "256",
        "--block", "2", "--checkpoint-every", "2", "--no-progress", "--no-compile-cache", "--seed", "3"]


def test_run_folder_front_and_resume_equals_uninterrupted(tmp_path, capsys):
    full = tmp_path / "full"
    assert cli.main([*ARGS, "--out", str(full)]) == 0
    for name in (rf.CONFIG_FILE, rf.METRICS_FILE, rf.SUMMARY_FILE, cf.FRONT_FILE, cf.FRONT_PLOT_FILE):
        assert (full / name).is_file(), name
    rows = metric_rows(full)
    assert [r["generation"] for r in rows] == list(range(1, 5)) and all(r["hypervolume"] >= 0 for r in rows)
    front, summary = rf.read_json(full / cf.FRONT_FILE), rf.read_json(full / rf.SUMMARY_FILE)
    pts = front["points"]
    assert front["num_params"] == 64 * 4 + 4 + 4 * 10 + 10 and len(pts) == front["size"]
    assert sum(p["copies"] for p in pts) == front["members"] == rows[-1]["front_size"]
    F = np.array([p["fitness"] for p in pts])
    assert np.all(np.isfinite(F)) and np.all(F[:, 1] == -np.array([p["nonzero"] for p in pts]))
    dominated = (F[:, None] >= F[None]).all(-1) & (F[:, None] > F[None]).any(-1)
    assert not dominated.any()                                             # mutually non-dominated
    assert len({tuple(p["fitness"]) + (p["test_accuracy"],) for p in pts}) == len(pts)   # distinct
    assert all(0 <= p["test_accuracy"] <= 1 and 0 <= p["train_accuracy"] <= 1 for p in pts)
    assert summary["hypervolume"] == pytest.approx(rows[-1]["hypervolume"])
    saved = serialization.msgpack_restore((full / cf.FRONT_PARAMS_FILE).read_bytes())
    kernels = [np.asarray(v["kernel"]) for v in saved["params"].values()]
    biases = [np.asarray(v["bias"]) for v in saved["params"].values()]
    nz = sum((k.reshape(len(pts), -1) != 0).sum(1) for k in kernels + biases)
    np.testing.assert_array_equal(nz, [p["nonzero"] for p in pts])           # row i is point i
    assert rf.read_json(full / rf.MODEL_FILE)["features"] == [4]

    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for name in (rf.SUMMARY_FILE, cf.FRONT_FILE, cf.FRONT_PLOT_FILE, cf.FRONT_PARAMS_FILE, rf.MODEL_FILE,
                 "checkpoints/ckpt_00000004.msgpack"):
        (cut / name).unlink()
    capsys.readouterr()
    assert cli.main(["resume", str(cut), "--no-progress", "--no-compile-cache"]) == 0
    assert "from generation 2 of 4" in capsys.readouterr().out
    assert metric_rows(cut) == rows
    for name in (cf.FRONT_FILE, cf.FRONT_PARAMS_FILE):
        assert (cut / name).read_bytes() == (full / name).read_bytes(), name


@pytest.mark.parametrize("extra,words", [
    (["--prune-rate", "2"], "argument --prune-rate: prune_rate must be in [0, 1], got 2.0"),
    (["--hidden", "4,x"], "argument --hidden: hidden must be comma-separated positive ints"),
    (["--hidden", "0"], "argument --hidden: hidden must be a non-empty sequence of positive ints"),
    (["--pop-size", "1"], "argument --pop-size: pop_size must be an int in [2"),
    (["--fitness", "neg_ce"], "argument --fitness: fitness must be one of ['accuracy', 'neg_cross_entropy']"),
    (["--crossover", "nope"], "argument --crossover: crossover must be one of"),
    (["--batch-size", "5000"], "argument --batch-size: batch_size must be at most the 1347 training samples"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, words):
    out = tmp_path / "r"
    assert cli.main([*ARGS, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not out.exists()
