"""QD control task: descriptors against a hand-stepped episode, bounds, fitness as gymnax_task, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga.tasks.gymnax_qd import gymnax_qd

STEPS = 20


def hand_episode(model, params_one, key, index, env_name="MountainCar-v0"):
    """Global episode ``index`` (member * episodes + e) stepped by hand (documented key scheme;
    ``env.step_env`` with the key that ``env.step`` would pass it, since ``env.step`` replaces the final
    observation by a reset's): return, final obs, max |obs|."""
    env, params = ega.tasks.make_env(env_name)[:2]
    params = params.replace(max_steps_in_episode=STEPS)
    k_reset, k_steps = jax.random.split(jax.random.fold_in(key, index))
    obs, state = env.reset(k_reset, params)
    act = jax.jit(lambda o: jnp.argmax(model.apply(params_one, o.astype(jnp.float32))))
    step = jax.jit(env.step_env)
    total, max_abs = 0.0, np.abs(np.asarray(obs))
    for t in range(STEPS):
        k_t = jax.random.split(jax.random.fold_in(k_steps, t))[0]
        obs, state, reward, terminated, _ = step(k_t, state, act(obs), params)
        total += float(reward)
        max_abs = np.maximum(max_abs, np.abs(np.asarray(obs)))
        if bool(terminated) or bool(env.is_truncated(state, params)):
            break
    return total, np.asarray(obs), max_abs


@pytest.fixture(scope="module")
def setup():
    model = ega.tasks.policy_for("MountainCar-v0", hidden=(4,))
    rng = np.random.default_rng(0)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((2,)))
    pop = jax.tree_util.tree_map(lambda s: jnp.asarray(3.0 * rng.standard_normal((8,) + s.shape), jnp.float32),
                                 shapes)
    return model, pop


def test_final_max_abs_descriptors_equal_a_hand_stepped_episode_and_lie_within_bounds(setup):
    model, pop = setup
    task = gymnax_qd("MountainCar-v0", model, descriptor="final_max_abs", episodes=1, max_steps=STEPS,
                     chunk_size=3, fast_policy=False)
    assert task.lower == pytest.approx((-1.2, 0.0)) and task.upper == pytest.approx((0.6, 0.07))
    assert task.min_fitness == -STEPS
    key = jax.random.key(5)
    fit, m = jax.jit(task.evaluate)(key, pop)
    d = np.asarray(m["descriptors"])
    assert d.shape == (8, 2)
    assert np.all(d >= np.asarray(task.lower, np.float32)) and np.all(d <= np.asarray(task.upper, np.float32))
    i = 5
    total, final, max_abs = hand_episode(model, jax.tree_util.tree_map(lambda x: x[i], pop), key, i)
    np.testing.assert_allclose(d[i], [final[0], max_abs[1]], rtol=1e-6, atol=1e-9)
    assert float(fit[i]) == total


def test_final_obs_is_the_mean_over_episodes_and_fitness_is_that_of_gymnax_task(setup):
    model, pop = setup
    E, i = 3, 6
    kw = dict(episodes=E, max_steps=STEPS, chunk_size=5, fast_policy=False)
    task = gymnax_qd("MountainCar-v0", model, **kw)
    assert task.lower == pytest.approx((-1.2, -0.07)) and task.upper == pytest.approx((0.6, 0.07))
    key = jax.random.key(2)
    fit, m = jax.jit(task.evaluate)(key, pop)
    ref_fit, ref_m = jax.jit(ega.tasks.gymnax("MountainCar-v0", model, **kw).evaluate)(key, pop)
    np.testing.assert_array_equal(np.asarray(fit), np.asarray(ref_fit))
    for k in ("episode_length", "env_steps", "sim_steps"):
        assert float(m[k]) == float(ref_m[k]), k
    d = np.asarray(m["descriptors"])
    assert np.all(d >= np.asarray(task.lower, np.float32)) and np.all(d <= np.asarray(task.upper, np.float32))
    one = jax.tree_util.tree_map(lambda x: x[i], pop)
    finals = [hand_episode(model, one, key, i * E + e)[1] for e in range(E)]
    np.testing.assert_allclose(d[i], np.mean(finals, axis=0), rtol=1e-5, atol=1e-8)


def test_bad_input_gives_one_line_errors_naming_the_argument(setup):
    model, _ = setup
    with pytest.raises(ValueError, match=r"^descriptor must be one of \['final_obs', 'final_max_abs'\], got 'xy'$"):
        gymnax_qd("MountainCar-v0", model, descriptor="xy")
    cart = ega.tasks.policy_for("CartPole-v1", hidden=(4,))
    with pytest.raises(ValueError, match=r"^components: observation component 1 of CartPole-v1 has no finite bounds"):
        gymnax_qd("CartPole-v1", cart, components=(0, 1))
    with pytest.raises(ValueError, match=r"^components must index the 2 observation components"):
        gymnax_qd("MountainCar-v0", model, components=(0, 2))
    with pytest.raises(ValueError, match=r"^components must be two observation indices"):
        gymnax_qd("MountainCar-v0", model, components=(0,))
    t = gymnax_qd("CartPole-v1", cart, components=(0, 2))   # position and angle are bounded
    assert t.lower == pytest.approx((-4.8, -0.41887903)) and t.min_fitness == 0.0


def test_cli_control_job_writes_a_run_folder_and_a_killed_run_resumes_to_the_same_end(tmp_path, capsys):
    import json
    import shutil

    from evojax_ga import cli
    from evojax_ga import run_folder as rf
    full = tmp_path / "full"
    argv = ["run", "map-elites", "--task", "control", "--env", "MountainCar-v0", "--max-steps", str(STEPS),
            "--bins", "4", "--batch-size", "8", "--generations", "4", "--block", "2", "--checkpoint-every", "2",
            "--no-progress", "--out"]
    assert cli.main(argv + [str(full)]) == 0
    for name in ("config.json", "metrics.jsonl", "summary.json", "fitness.png", "archive.png"):
        assert (full / name).exists(), name
    config = json.loads((full / "config.json").read_text())["config"]
    assert config["map_elites"]["task"] == "control" and config["task"]["lower"] == pytest.approx([-1.2, -0.07])
    killed = tmp_path / "killed"
    shutil.copytree(full, killed)
    (killed / rf.SUMMARY_FILE).unlink()
    (killed / rf.CHECKPOINT_DIR / "ckpt_00000004.msgpack").unlink()   # killed after generation 2's checkpoint
    assert cli.main(["resume", str(killed), "--no-progress"]) == 0
    a, b = rf.read_metrics(full), rf.read_metrics(killed)
    for k in ("coverage", "qd_score", "best_so_far", "inserted", "generation"):
        np.testing.assert_array_equal(a[k], b[k])
    sa, sb = (json.loads((d / rf.SUMMARY_FILE).read_text()) for d in (full, killed))
    assert sb["resumed_from_generation"] == 2 and sa["qd_score"] == sb["qd_score"] and sa["coverage"] > 0
    assert sa["env"] == "MountainCar-v0" and sa["evaluations"] == 32
    capsys.readouterr()
    assert cli.main(argv[:5] + ["CartPole-v1", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "components: observation component 1 of CartPole-v1 has no finite bounds" in err[0]
    assert not (tmp_path / "bad").exists()
