"""The evojax-ga command line: a short run writes a valid run folder, eval reloads it, help, errors."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_ga import cli
from evojax_ga import run_folder as rf
from evojax_ga.models import model_from_config

RUN_ARGS = ["--no-compile-cache", "--fast-compile", "off", "--pop-size", "16", "--generations", "4", "--block", "2",
            "--max-steps", "100",
            "--check-episodes", "4", "--final-episodes", "4", "--hidden", "8", "--no-progress", "--seed", "3"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One short CartPole run (target above the 100-step limit: never solved, runs all generations)."""
    out = tmp_path_factory.mktemp("runs") / "cartpole-test"
    code = cli.main(["run", "cartpole", *RUN_ARGS, "--target", "1000", "--out", str(out)])
    assert code == 0
    return out


def test_run_writes_a_valid_run_folder(run_dir, capsys):
    for name in (rf.CONFIG_FILE, rf.METRICS_FILE, rf.PARAMS_FILE, rf.MODEL_FILE, rf.PLOT_FILE, rf.SUMMARY_FILE):
        assert (run_dir / name).is_file(), name
    config = rf.read_json(run_dir / rf.CONFIG_FILE)
    assert config["job"] == "cartpole"
    assert config["argv"][:3] == ["evojax-ga", "run", "cartpole"] and "--pop-size 16" in config["command"]
    assert config["args"]["pop_size"] == 16 and config["args"]["seed"] == 3
    assert config["config"]["control"]["pop_size"] == 16
    assert config["config"]["task"]["env"] == "CartPole-v1" and config["config"]["task"]["max_steps"] == 100
    assert config["environment"]["packages"]["jax"] == jax.__version__
    assert config["environment"]["devices"]
    lines = (run_dir / rf.METRICS_FILE).read_text().splitlines()
    assert len(lines) == 4                                    # one JSON line per generation
    rows = [json.loads(line) for line in lines]
    assert [r["generation"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert {"best", "mean", "best_so_far", "env_steps", "wall_s"} <= set(r)
        assert 0 < r["best"] <= 100
    metrics = rf.read_metrics(run_dir)
    assert np.all(np.diff(metrics["best_so_far"]) >= 0)
    assert (run_dir / rf.PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = rf.read_json(run_dir / rf.SUMMARY_FILE)
    assert summary["generations"] == 4 and summary["solved"] is False and summary["stop_reason"] == "generations"
    assert summary["final_episodes"] == 4 and 0 < summary["final_mean"] <= 100
    model = rf.read_json(run_dir / rf.MODEL_FILE)
    assert model == {"kind": "MLP", "features": [8], "out": 2, "activation": "relu", "input_shape": [4]}


def test_eval_reloads_the_run(run_dir, capsys):
    capsys.readouterr()
    assert cli.main(["eval", str(run_dir), "--episodes", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "over 5 fresh episodes" in out
    model = model_from_config(rf.read_json(run_dir / rf.MODEL_FILE))
    template = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((4,)))
    params, _ = rf.load_params(run_dir, template)
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(template)
    out = model.apply(params, jnp.ones((4,)))
    assert out.shape == (2,) and np.all(np.isfinite(np.asarray(out)))


def test_save_load_params_round_trip(tmp_path):
    params = {"params": {"Dense_0": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
                                     "bias": np.ones(3, np.float32)}}}
    rf.save_params(tmp_path, params, {"kind": "MLP", "features": [], "out": 3})
    loaded, cfg = rf.load_params(tmp_path)
    np.testing.assert_array_equal(loaded["params"]["Dense_0"]["kernel"], params["params"]["Dense_0"]["kernel"])
    assert cfg["out"] == 3
    with pytest.raises(ValueError, match="do not match"):
        rf.load_params(tmp_path, {"params": {"Dense_0": {"kernel": np.zeros((3, 3)), "bias": np.zeros(3)}}})


def test_out_folder_of_a_previous_run_is_refused(run_dir, capsys):
    code = cli.main(["run", "cartpole", "--out", str(run_dir), "--no-progress", "--no-compile-cache"])
    assert code == 2
    assert "already holds a run" in capsys.readouterr().err


def test_eval_of_a_folder_without_run(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_bad_option_values_are_reported(tmp_path, capsys):
    code = cli.main(["run", "cartpole", "--preset", "simple", "--pop-size", "1", "--out", str(tmp_path / "x"),
                     "--no-progress", "--no-compile-cache"])
    assert code == 2
    assert "pop_size" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "no-such-job"])
    with pytest.raises(SystemExit):
        cli.main(["run", "cartpole", "--preset", "nope"])


def test_help_documents_every_option():
    text = cli.build_parser().format_help()
    for option in ("--pop-size", "--generations", "--preset", "--seed", "--chunk-size", "--episodes", "--out",
                   "--target", "--no-progress", "--sigma", "--max-steps", "--hidden", "RUN_DIR"):
        assert option in text, option
    for job in ("cartpole", "acrobot", "mountaincar", "pendulum"):
        assert job in text


def test_job_defaults_differ_per_job():
    parser = cli.build_parser()
    a = parser.parse_args(["run", "pendulum"])
    assert a.job == "pendulum" and a.seed == 0 and a.progress is True
    from evojax_ga.runs import control
    assert control.config_for("pendulum").env == "Pendulum-v1"
    assert control.config_for("cartpole", pop_size=None).pop_size == control.JOB_DEFAULTS["cartpole"]["pop_size"]


def test_cache_and_fast_compile_options_parse(tmp_path):
    a = cli.build_parser().parse_args(["run", "cartpole", "--compile-cache", str(tmp_path), "--fast-compile", "off"])
    assert a.compile_cache == str(tmp_path) and a.fast_compile == "off"
    assert cli.build_parser().parse_args(["run", "acrobot", "--no-compile-cache"]).compile_cache == ""


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "evojax_ga", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "evojax-ga" in out.stdout and "--pop-size" in out.stdout


def test_population_beyond_memory_is_refused_before_compiling(tmp_path, capsys, monkeypatch):
    from evojax_ga import memory
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 2**30)
    code = cli.main(["run", "cartpole", "--pop-size", "100000000", "--out", str(tmp_path / "x"), "--no-progress",
                     "--no-compile-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--pop-size" in err and "pop_size=100000000: the population needs about" in err
    assert "1.0 GiB of memory available" in err
    assert not (tmp_path / "x").exists()


def test_fast_compile_says_it_changes_numerics(run_dir, capsys):
    """--fast-compile on/off give different best parameters (float rounding of XLA's CPU optimisation
    level 0): the help and config.json say so."""
    with pytest.raises(SystemExit):
        cli.main(["run", "cartpole", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "CHANGES THE NUMERICS" in help_text and "'auto' decides from the size" in help_text
    config = rf.read_json(run_dir / rf.CONFIG_FILE)["config"]
    assert config["fast_compile"] is False and "changes float rounding" in config["fast_compile_numerics"]


def test_eval_of_more_episodes_than_memory_holds_is_refused(run_dir, capsys):
    assert cli.main(["eval", str(run_dir), "--episodes", str(2**40)]) == 2
    err = capsys.readouterr().err
    assert "episodes=1099511627776" in err and "needs about" in err and "Traceback" not in err


def test_early_exit_flags_override_the_job_default(capsys):
    """--early-exit turns early exit back on where the job's default is off (pendulum), --no-early-exit
    off; giving both is an error (exit 2) instead of the last one silently winning."""
    from evojax_ga.runs import control
    parser = cli.build_parser()
    on = parser.parse_args(["run", "pendulum", "--early-exit"]).early_exit
    off = parser.parse_args(["run", "cartpole", "--no-early-exit"]).early_exit
    assert control.config_for("pendulum", early_exit=on).early_exit is True
    assert control.config_for("cartpole", early_exit=off).early_exit is False
    assert parser.parse_args(["run", "pendulum"]).early_exit is None       # the job's default applies
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["run", "pendulum", "--early-exit", "--no-early-exit"])
    assert exc.value.code == 2 and "--no-early-exit: not allowed with argument --early-exit" in capsys.readouterr().err


def _assert_same_run(a, b):
    """Run folders ``a`` and ``b`` hold the same run: identical best parameters, metrics and summary
    (less wall-clock timings)."""
    assert (a / rf.PARAMS_FILE).read_bytes() == (b / rf.PARAMS_FILE).read_bytes()

    def timeless(rows):
        return [{k: v for k, v in r.items() if "wall_s" not in k and "process_age" not in k} for r in rows]

    assert timeless([rf.read_json(a / rf.SUMMARY_FILE)]) == timeless([rf.read_json(b / rf.SUMMARY_FILE)])
    lines = [(d / rf.METRICS_FILE).read_text().splitlines() for d in (a, b)]
    assert timeless([json.loads(x) for x in lines[0]]) == timeless([json.loads(x) for x in lines[1]])


def test_config_json_replays_the_run(run_dir, tmp_path, capsys):
    """'evojax-ga run --config RUN_DIR/config.json --out NEW' gives the same run: identical best
    parameters, metrics (less wall-clock) and summary (less timings); the new config.json names its
    source and records the new folder."""
    new = tmp_path / "replay"
    assert cli.main(["run", "--config", str(run_dir / rf.CONFIG_FILE), "--out", str(new), "--no-compile-cache"]) == 0
    assert "run folder: " + str(new) in capsys.readouterr().out
    _assert_same_run(new, run_dir)
    old_cfg, new_cfg = rf.read_json(run_dir / rf.CONFIG_FILE), rf.read_json(new / rf.CONFIG_FILE)
    assert new_cfg["config"] == old_cfg["config"] and new_cfg["job"] == "cartpole"
    assert new_cfg["args"]["config_file"] == str(run_dir / rf.CONFIG_FILE) and new_cfg["args"]["out"] == str(new)
    assert {k: v for k, v in new_cfg["args"].items() if k not in ("config_file", "out", "progress")} == \
        {k: v for k, v in old_cfg["args"].items() if k not in ("config_file", "out", "progress")}


def test_seeds_run_writes_one_folder_per_seed_equal_to_its_single_run(run_dir, tmp_path, capsys):
    """'--seeds 2 --seed 3': seed-3/ holds what the single run with --seed 3 wrote (parameters, metrics
    and summary less timings); the parent holds the summary across seeds and the per-seed plot, and
    'eval' of the parent points at the seed folders."""
    out = tmp_path / "seeds"
    assert cli.main(["run", "cartpole", *RUN_ARGS, "--target", "1000", "--seeds", "2", "--out", str(out)]) == 0
    assert "0/2 seeds solved" in capsys.readouterr().out
    one = out / "seed-3"
    _assert_same_run(one, run_dir)
    assert rf.read_json(one / rf.CONFIG_FILE)["args"]["seed"] == 3
    summary = rf.read_json(out / rf.SUMMARY_FILE)
    assert summary["seeds"] == [3, 4] and summary["solved"] == 0 and len(summary["per_seed"]) == 2
    finals = [rf.read_json(out / f"seed-{s}" / rf.SUMMARY_FILE)["final_mean"] for s in (3, 4)]
    assert summary["final_mean"]["median"] == pytest.approx(float(np.median(finals)))
    assert (out / "seeds.png").stat().st_size > 0 and (out / "seed-4" / rf.PARAMS_FILE).is_file()
    assert cli.main(["eval", str(out)]) == 2
    assert "holds a --seeds run" in capsys.readouterr().err
