"""The limited-evaluation preset (Prellberg & Kramer 2018): library factory, job preset, downsampling."""

import json

import numpy as np
import pytest

from evojax_ga import data, presets
from evojax_ga.runs import classify


def test_downsample_is_the_block_mean():
    x = np.arange(2 * 4 * 6 * 1, dtype=np.float32).reshape(2, 4, 6, 1) / 48.0
    ds = data.Dataset("toy", x, np.array([0, 1], np.int32), x.copy(), np.array([1, 0], np.int32), 2)
    out = data.downsample(ds, 2)
    assert out.x_train.shape == (2, 2, 3, 1) and out.x_test.shape == (2, 2, 3, 1)
    np.testing.assert_allclose(out.x_train[1, 0, 2, 0], x[1, 0:2, 4:6, 0].mean(), rtol=1e-6)
    np.testing.assert_allclose(out.x_train[0, 1, 0, 0], x[0, 2:4, 0:2, 0].mean(), rtol=1e-6)
    np.testing.assert_array_equal(out.y_train, ds.y_train)
    assert data.downsample(ds, 1) is ds
    with pytest.raises(ValueError, match="factor must divide the image size 4x6"):
        data.downsample(ds, 4)
    with pytest.raises(ValueError, match="factor"):
        data.downsample(ds, 0)
    with pytest.raises(ValueError, match="needs images"):
        data.downsample(ds.flat(), 2)


def test_job_preset_gives_the_papers_setting_under_the_options_given():
    cfg = classify.config_for("mnist", preset="limited_evaluation")
    assert (cfg.preset, cfg.downsample, cfg.hidden, cfg.pop_size, cfg.batch_size) == \
        ("limited_evaluation", 2, (256, 128, 64), 2000, 1024)
    assert (cfg.sigma, cfg.mutation_rate, cfg.elite, cfg.parent_pool, cfg.crossover_children, cfg.fitness_ema) == \
        (0.001, 1.0, 0.05, 0.5, 0.75, 0.5)
    small = classify.config_for("mnist", preset="limited_evaluation", pop_size=300, sigma=0.01)
    assert (small.pop_size, small.sigma, small.batch_size) == (300, 0.01, 1024)
    old = classify.config_for("mnist", preset="truncation")                 # the job's previous GA
    assert (old.crossover_children, old.fitness_ema, old.hidden, old.pop_size, old.downsample) == \
        (None, None, (16,), 1000, 1)
    cpu = classify.config_for("mnist")                                      # the job's default preset
    assert cpu.preset == "limited_evaluation_cpu" and cpu.crossover_children == 0.75 and cpu.downsample == 2
    assert classify.config_for("digits").preset == "truncation"
    with pytest.raises(ValueError, match="preset must be one of"):
        classify.config_for("mnist", preset="nope")
    with pytest.raises(ValueError, match="crossover_children"):
        classify.config_for("digits", crossover_children=1.5)
    with pytest.raises(ValueError, match="exceed pop_size"):
        classify.config_for("digits", pop_size=10, elite=0.5, crossover_children=0.75)


def test_library_preset_counts_rows_as_the_paper_does():
    s = presets.limited_evaluation_ga(40)
    assert s.config["elite"] == 2 and s.config["crossover_children"] == 0.75 and s.config["fitness_ema"] == 0.5
    with pytest.raises(ValueError, match="exploit"):
        presets.limited_evaluation_ga(40, exploit=1.5)
    with pytest.raises(ValueError, match="exceed"):
        presets.limited_evaluation_ga(40, elite=0.5, crossover_children=0.75)


def test_digits_run_with_the_preset_downsamples_learns_and_reloads(tmp_path):
    cfg = classify.config_for("digits", preset="limited_evaluation", hidden=(16,), pop_size=64, batch_size=256,
                              sigma=0.05, generations=40, block=20, baseline="none", select_samples=None)
    run = classify.make_run(cfg)
    from evojax_ga.runs import loop
    out = tmp_path / "run"
    with loop.claim(str(out), "digits") as run_dir:
        loop.write_config(run_dir, "digits", {}, run.record)
        loop.execute(run, run_dir, "digits", 0, 0, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    model = json.loads((out / "model.json").read_text())
    assert model["input_shape"] == [4, 4, 1]                           # 8x8 digits pooled 2x2
    assert summary["preset"] == "limited_evaluation" and summary["generations"] == 40
    assert summary["ga_test_accuracy"] > 0.3                            # chance is 0.1
    acc, n, name = classify.evaluate_saved(out)
    assert name == "digits" and n == 450 and acc == pytest.approx(summary["ga_test_accuracy"], abs=1e-6)

