"""Brax tasks (optional extra): returns equal a plain per-member rollout (done-masking, chunking,
normalisation), the observation statistics equal numpy's over the live observations, and a CLI run
killed after a checkpoint and resumed equals the uninterrupted one."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax", reason='the brax extra is not installed (pip install -e ".[brax]")')

from helpers.metrics import metric_rows

import evojax_ga as ega  # noqa: E402
from evojax_ga import checkpoint as ckpt  # noqa: E402
from evojax_ga import cli  # noqa: E402
from evojax_ga import run_folder as rf  # noqa: E402
from evojax_ga.models import MLP  # noqa: E402
from evojax_ga.tasks import obs_norm  # noqa: E402

ENV, P, E, T = "inverted_pendulum", 4, 2, 25
MODEL = MLP(features=(8,), out=1, activation="tanh")


def reference(task, key, pop, stats):
    """One member at a time, one env.step at a time (Python loop): returns, lengths, live observations."""
    env = task.env
    step, reset, apply = jax.jit(env.step), jax.jit(env.reset), jax.jit(MODEL.apply)
    rets, lens, seen = np.zeros((P, E)), np.zeros((P, E), int), []
    mean = np.asarray(stats.mean) if float(stats.count) > 0 else 0.0
    var = np.asarray(obs_norm.variance(stats))
    for i in range(P):
        params = jax.tree_util.tree_map(lambda x: x[i], pop)
        for e in range(E):
            state = reset(jax.random.fold_in(key, i * E + e))
            for _ in range(T):
                obs = np.asarray(state.obs)
                seen.append(obs)
                x = np.clip((obs - mean) / np.sqrt(var + 1e-8), -5, 5) if task.config["normalize_obs"] else obs
                state = step(state, jnp.tanh(apply(params, jnp.asarray(x, jnp.float32))))
                rets[i, e] += float(state.reward)
                lens[i, e] += 1
                if float(state.done) > 0.5:
                    break
    return rets, lens, np.stack(seen)


@pytest.fixture(scope="module")
def pop():
    shapes = jax.eval_shape(MODEL.init, jax.random.key(0), jnp.zeros((4,)))
    rng = np.random.default_rng(0)
    return jax.tree_util.tree_map(lambda s: jnp.asarray(rng.normal(0, 1.5, (P,) + s.shape), jnp.float32), shapes)


def test_normalised_rollout_and_stats_match_a_plain_loop(pop):
    task = ega.tasks.brax(ENV, MODEL, episodes=E, max_steps=T, chunk_size=3)   # 2 chunks, the last overlapping
    prior = obs_norm.ObsStats(jnp.float32(10.0), jnp.asarray([0.0, 0.05, 0.0, -0.1]), jnp.asarray([0.1, 0.2, 1., 2.]))
    key = jax.random.key(7)
    fit, metrics, stats = jax.jit(task.evaluate_stateful)(key, pop, prior)
    ret, lens, seen = reference(task, key, pop, prior)
    assert 0 < lens.min() and lens.min() < T, "some episode must end early for done-masking to be tested"
    np.testing.assert_allclose(fit, ret.mean(1), rtol=1e-4)
    assert float(metrics["env_steps"]) == lens.sum()
    # stats = prior merged with every observation a live episode fed its policy (the overlap counted once)
    allobs_mean = (10.0 * np.asarray(prior.mean) + seen.sum(0)) / (10.0 + len(seen))
    m2 = np.asarray(prior.m2) + 10.0 * (np.asarray(prior.mean) - allobs_mean) ** 2 + ((seen - allobs_mean) ** 2).sum(0)
    assert float(stats.count) == 10.0 + len(seen)
    np.testing.assert_allclose(stats.mean, allobs_mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.m2, m2, rtol=1e-4, atol=1e-6)


def test_raw_observations_and_bad_input(pop):
    task = ega.tasks.brax(ENV, MODEL, episodes=E, max_steps=T, normalize_obs=False, chunk_size=None)
    key = jax.random.key(3)
    stats = obs_norm.init_obs_stats(4)
    fit, _, after = jax.jit(task.evaluate_stateful)(key, pop, stats)
    ret, _, _ = reference(task, key, pop, stats)
    np.testing.assert_allclose(fit, ret.mean(1), rtol=1e-4)
    assert float(after.count) == 0.0                                   # normalisation off: stats untouched
    with pytest.raises(ValueError, match="env_name"):
        ega.tasks.brax("no_such_env", MODEL)
    with pytest.raises(ValueError, match="backend"):
        ega.tasks.brax(ENV, MODEL, backend="physx")
    with pytest.raises(ValueError, match="max_steps"):
        ega.tasks.brax(ENV, MODEL, max_steps=0)
    with pytest.raises(ValueError, match="obs_stats"):
        task.evaluate_stateful(key, pop, obs_norm.init_obs_stats(3))


RUN = ["run", "brax", "--env", ENV, "--pop-size", "6", "--generations", "6", "--block", "2", "--max-steps", "15",
       "--episodes", "2", "--hidden", "8", "--final-episodes", "3", "--checkpoint-every", "2", "--seed", "5",
       "--no-progress", "--no-compile-cache"]


class _Killed(Exception):
    pass


def test_cli_run_killed_and_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert cli.main([*RUN, "--out", str(full)]) == 0
    summary = json.loads((full / rf.SUMMARY_FILE).read_text())
    assert summary["generations"] == 6 and np.isfinite(summary["final_mean"]) and summary["obs_count"] > 0
    for name in (rf.CONFIG_FILE, rf.MODEL_FILE, rf.PARAMS_FILE, "obs_stats.json", "fitness.png"):
        assert (full / name).exists(), name

    save = ckpt.save

    def save_then_die(*args, **kwargs):   # the process "dies" right after its first checkpoint is on disk
        save(*args, **kwargs)
        raise _Killed

    monkeypatch.setattr(ckpt, "save", save_then_die)
    with pytest.raises(_Killed):
        cli.main([*RUN, "--out", str(killed)])
    monkeypatch.setattr(ckpt, "save", save)
    assert not (killed / rf.SUMMARY_FILE).exists() and len(ckpt.list_checkpoints(killed / rf.CHECKPOINT_DIR)) == 1
    assert cli.main(["resume", str(killed), "--no-progress", "--no-compile-cache"]) == 0
    assert metric_rows(killed) == metric_rows(full)
    assert (killed / rf.PARAMS_FILE).read_bytes() == (full / rf.PARAMS_FILE).read_bytes()
    assert (killed / "obs_stats.json").read_text() == (full / "obs_stats.json").read_text()
    assert json.loads((killed / rf.SUMMARY_FILE).read_text())["final_mean"] == summary["final_mean"]
