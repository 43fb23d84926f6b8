"""The generic control job (``evojax-ga run control --env NAME``), policy heads sized from the action
space (``policy_for``), the CNN policy for image observations, and the named jobs left as they were."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import cli
from evojax_ga import run_folder as rf
from evojax_ga.models import MLP, CNNPolicy, member_forward, model_from_config
from evojax_ga.runs import control, control_jobs, control_parts
from evojax_ga.tasks.policies import policy_config, policy_kind

TINY = ["--no-compile-cache", "--fast-compile", "off", "--no-progress", "--pop-size", "8", "--generations", "2",
        "--block", "2", "--max-steps", "20", "--final-episodes", "2", "--hidden", "4", "--seed", "1"]

#: the named jobs' configurations before the generic job existed (policy "auto" added since)
GOLDEN = {
    "cartpole": dict(env="CartPole-v1", pop_size=128, generations=100, preset="truncation", sigma=0.1, truncation=0.5,
                     episodes=1, early_exit=True, normalize_obs=True, init_scale=2.0, block=5, target=475.0),
    "acrobot": dict(env="Acrobot-v1", pop_size=64, generations=100, preset="truncation", sigma=0.1, truncation=0.5,
                    episodes=1, early_exit=False, normalize_obs=False, init_scale=1.0, block=5, target=-100.0),
    "mountaincar": dict(env="MountainCar-v0", pop_size=256, generations=300, preset="truncation", sigma=0.3,
                        truncation=0.5, episodes=4, early_exit=False, normalize_obs=True, init_scale=3.0, block=10,
                        target=-110.0),
    "pendulum": dict(env="Pendulum-v1", pop_size=256, generations=300, preset="deep_ga", sigma=0.2, truncation=32,
                     episodes=4, early_exit=False, normalize_obs=True, init_scale=1.0, block=5, target=-200.0),
}
COMMON = dict(mutation_rate=0.1, crossover_prob=0.5, tournament=2, elite=1, max_steps=None, chunk_size="auto",
              common_episodes=False, hidden=(16, 16), activation="relu", policy="auto", check_episodes=100,
              final_episodes=100, confirm_episodes=100, check_z=1.645)


@pytest.mark.parametrize("job", sorted(GOLDEN))
def test_named_jobs_are_unchanged_presets_of_the_generic_job(job):
    cfg = control.config_for(job)
    assert dataclasses.asdict(cfg) == {**dataclasses.asdict(cfg), **COMMON, **GOLDEN[job]}
    assert set(dataclasses.asdict(cfg)) == {f.name for f in dataclasses.fields(control.ControlConfig)}
    # the generic job on a named job's environment (id, any case, or alias) starts from that job's defaults
    env = GOLDEN[job]["env"]
    for name in (env, env.lower(), job):
        assert control.config_for("control", env=name) == cfg
    # a run folder written before `policy` existed rebuilds the same configuration, an MLP policy
    record = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "policy"}
    assert control.config_from_record(record) == cfg
    model = ega.tasks.policy_for(env)
    assert isinstance(model, MLP) and member_forward(model) is not None


def test_generic_defaults_and_target_none():
    cfg = control.config_for("control", env="Catch-bsuite")
    assert cfg.target is None and cfg.max_steps is None and cfg.policy == "auto"
    assert {k: getattr(cfg, k) for k in control_jobs.GENERIC_DEFAULTS} == control_jobs.GENERIC_DEFAULTS
    assert control.config_for("control", env="Catch-bsuite", target=3.0).target == 3.0
    assert control.config_for("cartpole", target="none").target is None       # --target none
    assert control.check_env(control.config_for("control", env="catch-BSUITE")).env == "Catch-bsuite"
    with pytest.raises(ValueError, match="target must be a finite number or None"):
        control.config_for("control", env="Catch-bsuite", target=float("inf"))
    with pytest.raises(ValueError, match=r"policy must be one of \['auto', 'mlp', 'cnn'\]"):
        control.config_for("control", env="Catch-bsuite", policy="rnn")
    with pytest.raises(ValueError, match="env is required"):
        control.config_for("control")
    with pytest.raises(ValueError, match="run control --env Acrobot-v1"):
        control.config_for("cartpole", env="Acrobot-v1")
    assert control.config_for("cartpole", env="cartpole") == control.config_for("cartpole")
    with pytest.raises(ValueError, match="env must be a gymnax environment id; got 'NoSuchEnv-v0'. Known"):
        control.check_env(control.config_for("control", env="NoSuchEnv-v0"))


@pytest.mark.parametrize("env,kind,out", [
    ("CartPole-v1", MLP, 2),              # discrete: one output per action
    ("Catch-bsuite", MLP, 3),             # 2-D observation: an MLP unless policy="cnn"
    ("Pendulum-v1", MLP, 1),              # continuous: prod(action shape)
    ("Reacher-misc", MLP, 2),
    ("Breakout-MinAtar", CNNPolicy, 3),   # image observation: a CNN, one output per action
])
def test_policy_for_sizes_the_head_from_the_action_space(env, kind, out):
    model = ega.tasks.policy_for(env)
    assert type(model) is kind and model.out == out
    task = ega.tasks.gymnax(env, model)
    assert task.num_outputs == out
    shapes = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    assert jax.eval_shape(model.apply, shapes, task.sample_input).shape == (out,)


def test_policy_choice():
    forced = ega.tasks.policy_for("Breakout-MinAtar", hidden=(8,), policy="mlp")
    assert type(forced) is MLP and forced.out == 3 and tuple(forced.features) == (8,)
    cnn = ega.tasks.policy_for("Catch-bsuite", policy="cnn")
    assert type(cnn) is CNNPolicy and tuple(cnn.obs_shape) == (10, 5) and cnn.out == 3
    assert member_forward(cnn) is None             # rollouts use the vmapped apply
    assert policy_kind((10, 10, 4)) == "cnn" and policy_kind((4,)) == "mlp" and policy_kind((10, 5)) == "mlp"
    with pytest.raises(ValueError, match="policy='cnn' needs image observations"):
        ega.tasks.policy_for("CartPole-v1", policy="cnn")
    with pytest.raises(ValueError, match=r"policy must be one of \['auto', 'mlp', 'cnn'\], got 'rnn'"):
        ega.tasks.policy_for("CartPole-v1", policy="rnn")
    with pytest.raises(ValueError, match="hidden must be"):
        ega.tasks.policy_for("CartPole-v1", hidden=(0,))


def test_cnn_reshapes_flat_observations_back_to_images():
    model = CNNPolicy(obs_shape=(10, 10, 4), out=3, channels=(4,), features=(8,))
    images = jax.random.uniform(jax.random.key(1), (5, 10, 10, 4))
    flat = images.reshape(5, -1)
    params = model.init(jax.random.key(0), flat[0])
    one = np.asarray(model.apply(params, flat[0]))
    np.testing.assert_array_equal(one, np.asarray(model.apply(params, images[0])))
    batch = np.asarray(model.apply(params, flat))
    assert batch.shape == (5, 3)
    np.testing.assert_allclose(batch[0], one, rtol=1e-6, atol=1e-6)
    # a wrong reshape (e.g. channels-first order) would give other outputs
    transposed = jnp.transpose(images[0], (2, 0, 1)).reshape(-1)
    assert not np.allclose(np.asarray(model.apply(params, transposed)), one)
    # model.json round trip
    record = policy_config(model, (400,))
    rebuilt = model_from_config(record)
    assert rebuilt == model
    np.testing.assert_array_equal(np.asarray(rebuilt.apply(params, flat[0])), one)
    with pytest.raises(ValueError, match="CNNPolicy input must be"):
        model.apply(params, jnp.zeros((7,)))


def test_initial_scale_uses_the_fan_in_of_every_kernel():
    assert control_parts.init_scale_of((16, 3), 2.0) == 2.0 / 4.0          # dense: shape[0], as before
    assert control_parts.init_scale_of((3, 3, 4, 8), 1.5) == 1.5 / 6.0     # conv: kh * kw * c_in
    assert control_parts.init_scale_of((8,), 1.5) == 1.5                   # bias
    cfg = control.config_for("control", env="Breakout-MinAtar", pop_size=8, hidden=(4,), init_scale=1.5)
    pop = control.build(cfg).init_population(jax.random.key(0))
    kernel = np.asarray(pop["params"]["Conv_0"]["kernel"])
    assert kernel.shape == (8, 3, 3, 4, 8)
    assert abs(kernel.std() / (1.5 / math.sqrt(36)) - 1) < 0.1


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny generic runs: Breakout-MinAtar (image observations: a CNN; discrete) and
    MountainCarContinuous-v0 (an MLP; continuous actions); neither has a known solved threshold."""
    root = tmp_path_factory.mktemp("generic")
    out = {}
    for env in ("Breakout-MinAtar", "MountainCarContinuous-v0"):
        out[env] = root / env
        assert cli.main(["run", "control", "--env", env, *TINY, "--out", str(out[env])]) == 0
    return out


@pytest.mark.parametrize("env,kind,outputs", [("Breakout-MinAtar", "CNNPolicy", 3),
                                              ("MountainCarContinuous-v0", "MLP", 1)])
def test_generic_run_writes_a_run_folder_that_eval_reloads(runs, env, kind, outputs, capsys):
    run_dir = runs[env]
    for name in (rf.CONFIG_FILE, rf.METRICS_FILE, rf.PARAMS_FILE, rf.MODEL_FILE, rf.PLOT_FILE, rf.SUMMARY_FILE):
        assert (run_dir / name).is_file(), name
    config = rf.read_json(run_dir / rf.CONFIG_FILE)
    assert config["job"] == "control" and config["args"]["env"] == env
    assert config["config"]["control"]["env"] == env and config["config"]["control"]["policy"] == "auto"
    assert config["config"]["control"]["target"] is None and config["config"]["model"]["kind"] == kind
    summary = rf.read_json(run_dir / rf.SUMMARY_FILE)
    assert summary["target"] is None and summary["solved"] is False and summary["stop_reason"] == "generations"
    assert summary["generations"] == 2 and summary["checks"] == 0 and summary["final_reaches_target"] is None
    assert np.isfinite(summary["final_mean"])
    model = rf.read_json(run_dir / rf.MODEL_FILE)
    assert model["kind"] == kind and model["out"] == outputs
    capsys.readouterr()
    assert cli.main(["eval", str(run_dir), "--episodes", "2"]) == 0
    text = capsys.readouterr().out
    assert f"{env}: " in text and "over 2 fresh episodes" in text and "no target" in text


def test_environment_that_needs_a_download_is_refused_before_compiling(tmp_path, capsys, monkeypatch):
    import urllib.error

    import gymnax

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(gymnax, "make", offline)
    code = cli.main(["run", "control", "--env", "MNISTBandit-bsuite", "--out", str(tmp_path / "x"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "argument --env" in err and "MNISTBandit-bsuite needs a download" in err
    assert not (tmp_path / "x").exists()


def test_unknown_environment_is_a_one_line_error(tmp_path, capsys):
    code = cli.main(["run", "control", "--env", "NoSuchEnv-v0", "--out", str(tmp_path / "x"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "argument --env" in err and "'NoSuchEnv-v0'" in err and "Breakout-MinAtar" in err
    assert not (tmp_path / "x").exists()


def test_list_and_help_show_the_generic_job(capsys):
    assert cli.main(["list"]) == 0
    assert "control" in capsys.readouterr().out
    text = cli.build_parser().format_help()
    assert "any gymnax environment" in text and "--env NAME" in text and "--policy {auto,mlp,cnn}" in text
