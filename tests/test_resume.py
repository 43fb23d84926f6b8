"""Checkpointed control runs and ``evojax-ga resume RUN_DIR``.

A run killed with SIGKILL and resumed (past a corrupt newer checkpoint and a stray ``.tmp`` file)
ends with the same run folder as an uninterrupted run; resume's error cases; the run-folder helpers
(``truncate_metrics``, ``latest_checkpoint``), the run layer's ``recorder``; a control run continued
from a mid-run state.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from helpers.metrics import metric_rows
from helpers.processes import STOP_AFTER_CHECKPOINT  # the command line, stopping after each checkpoint

from evojax_ga import checkpoint as ckpt
from evojax_ga import cli
from evojax_ga import run_folder as rf
from evojax_ga.runs import loop

RUN_CMD = ["run", "cartpole", "--pop-size", "32", "--generations", "40", "--block", "5",
           "--checkpoint-every", "10", "--max-steps", "50", "--target", "1e9", "--no-progress",
           "--no-compile-cache", "--seed", "3"]
TIMEOUT = 300

def _cli(*args):
    return [sys.executable, "-m", "evojax_ga", *args]


def _kill(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    killed, full = tmp_path / "killed", tmp_path / "full"
    ref = subprocess.Popen(_cli(*RUN_CMD, "--out", str(full)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    proc = subprocess.Popen([sys.executable, "-c", STOP_AFTER_CHECKPOINT, *RUN_CMD, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)     # returns once the process stopped (or ended)
        assert os.WIFSTOPPED(status), f"the run ended (status {status}) before writing a checkpoint"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not (killed / rf.SUMMARY_FILE).exists()

        # killed right after its first checkpoint: the one resume must continue from
        valid = ckpt.list_checkpoints(killed / rf.CHECKPOINT_DIR)
        assert [p.name for p in valid] == ["ckpt_00000010.msgpack"]
        newest, g = valid[-1], 10
        # a checkpoint half-written at the kill (newer name, cut in half), and a killed writer's .tmp
        data = newest.read_bytes()
        (killed / rf.CHECKPOINT_DIR / "ckpt_99999999.msgpack").write_bytes(data[: len(data) // 2])
        (killed / rf.CHECKPOINT_DIR / "ckpt_99999998.msgpack.4242.tmp").write_bytes(b"garbage, never read")
        # metrics the killed run wrote after its checkpoint, the last line cut short
        with open(killed / rf.METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write("\n" + json.dumps({"generation": g + 1, "best": -1.0, "mean": -1.0}) + "\n")
            fh.write('{"generation": %d, "be' % (g + 2))

        # (resume has no --no-compile-cache)
        res = subprocess.run(_cli("resume", str(killed), "--no-progress"), capture_output=True, text=True,
                             timeout=TIMEOUT, env={**os.environ, cli.CACHE_ENV: "off"})
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"from generation {g} of 40" in res.stdout, res.stdout
        assert "skipping" in res.stderr and "ckpt_99999999.msgpack" in res.stderr, res.stderr
        assert "4242.tmp" not in res.stderr, res.stderr     # the temporary file is never even tried

        out, err = ref.communicate(timeout=TIMEOUT)
        assert ref.returncode == 0, out + err
    finally:
        _kill(proc)
        _kill(ref)

    a, b = metric_rows(killed), metric_rows(full)
    assert len(a) == len(b) == 40
    assert [r["generation"] for r in a] == list(range(1, 41))
    for i, (ra, rb) in enumerate(zip(a, b)):
        assert ra == rb, f"metrics row {i} differs: {ra} != {rb}"
    assert (killed / rf.PARAMS_FILE).read_bytes() == (full / rf.PARAMS_FILE).read_bytes()
    s_res, s_full = rf.read_json(killed / rf.SUMMARY_FILE), rf.read_json(full / rf.SUMMARY_FILE)
    for k in ("generations", "solved", "final_mean", "final_std", "best_so_far", "env_steps", "checks"):
        assert s_res[k] == s_full[k], k
    assert s_full["resumed_from_generation"] is None
    assert s_res["resumed_from_generation"] == g
    # the finished run checkpointed its final state
    assert (killed / rf.CHECKPOINT_DIR / "ckpt_00000040.msgpack").exists()
    a_state = ckpt._read(killed / rf.CHECKPOINT_DIR / "ckpt_00000040.msgpack")["state"]
    b_state = ckpt._read(full / rf.CHECKPOINT_DIR / "ckpt_00000040.msgpack")["state"]
    for x, y in zip(jax.tree_util.tree_leaves(a_state), jax.tree_util.tree_leaves(b_state)):
        np.testing.assert_array_equal(x, y)


SMALL_RUN = ["run", "cartpole", "--no-compile-cache", "--fast-compile", "off", "--pop-size", "8",
             "--generations", "2", "--block", "1", "--max-steps", "10", "--target", "1e9", "--check-episodes", "1",
             "--final-episodes", "1", "--hidden", "4", "--no-progress", "--seed", "1"]


def test_resume_errors_and_complete_runs(tmp_path, capsys):
    run_dir = tmp_path / "nockpt"
    assert cli.main([*SMALL_RUN, "--checkpoint-every", "0", "--out", str(run_dir)]) == 0
    assert not (run_dir / rf.CHECKPOINT_DIR).exists()
    capsys.readouterr()

    # a finished run: nothing to do
    summary = (run_dir / rf.SUMMARY_FILE).read_bytes()
    assert cli.main(["resume", str(run_dir), "--no-progress"]) == 0
    assert "nothing to resume" in capsys.readouterr().out
    assert (run_dir / rf.SUMMARY_FILE).read_bytes() == summary

    # killed before any checkpoint (here: run with --checkpoint-every 0)
    (run_dir / rf.SUMMARY_FILE).unlink()
    assert cli.main(["resume", str(run_dir), "--no-progress", "--compile-cache", ""]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "evojax-ga: error" in err
    assert not (run_dir / rf.SUMMARY_FILE).exists()

    # not a run folder
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["resume", str(empty), "--no-progress"]) == 2
    assert rf.CONFIG_FILE in capsys.readouterr().err


def test_resume_after_training_finished_rebuilds_the_outputs(tmp_path, capsys):
    """Killed after the final checkpoint but before summary.json: resume trains nothing more and
    writes the same parameters and final evaluation."""
    run_dir = tmp_path / "run"
    assert cli.main([*SMALL_RUN, "--checkpoint-every", "1", "--out", str(run_dir)]) == 0
    params = (run_dir / rf.PARAMS_FILE).read_bytes()
    summary = rf.read_json(run_dir / rf.SUMMARY_FILE)
    metrics = (run_dir / rf.METRICS_FILE).read_text()
    for name in (rf.SUMMARY_FILE, rf.PARAMS_FILE, rf.PLOT_FILE):
        (run_dir / name).unlink()
    capsys.readouterr()
    assert cli.main(["resume", str(run_dir), "--no-progress", "--compile-cache", ""]) == 0
    assert "from generation 2 of 2" in capsys.readouterr().out
    assert (run_dir / rf.PARAMS_FILE).read_bytes() == params
    assert (run_dir / rf.METRICS_FILE).read_text() == metrics
    assert (run_dir / rf.PLOT_FILE).exists()
    again = rf.read_json(run_dir / rf.SUMMARY_FILE)
    for k in ("generations", "solved", "final_mean", "final_std", "best_so_far", "env_steps"):
        assert again[k] == summary[k], k
    assert summary["resumed_from_generation"] is None and again["resumed_from_generation"] == 2


# ------------------------------------------------------------------------------------------------
# run-folder helpers
# ------------------------------------------------------------------------------------------------
def test_truncate_metrics(tmp_path):
    assert rf.truncate_metrics(tmp_path, 3) == 0            # no metrics.jsonl yet
    path = tmp_path / rf.METRICS_FILE
    rows = [{"generation": i, "best": float(i)} for i in range(1, 6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n" + '{"generation": 6, "be')
    assert rf.truncate_metrics(tmp_path, 3) == 3
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows[:3]
    # a generation past every row keeps them all; the cut-off line is gone already
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"generation": 6, "be')
    assert rf.truncate_metrics(tmp_path, 100) == 5
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows
    assert rf.truncate_metrics(tmp_path, 0) == 0
    assert path.read_text() == ""
    assert not list(tmp_path.glob("*.tmp"))


@struct.dataclass
class _FakeState:
    x: jax.Array
    generation: jax.Array


def _blocks(sizes):
    gen = 0
    for n in sizes:
        gens = np.arange(gen + 1, gen + n + 1)
        gen += n
        yield _FakeState(x=jnp.full((3,), float(gen)), generation=jnp.int32(gen)), {
            "generation": gens, "best": gens.astype(np.float32), "wall_s": np.zeros(n)}


def test_recorder_checkpoints_when_a_multiple_is_passed(tmp_path):
    seen = []

    def metadata():
        # metrics are appended before the checkpoint is written
        seen.append(len(rf.read_metrics(tmp_path).get("generation", [])))
        return {"note": "meta"}

    on_block = loop.recorder(tmp_path, 10, metadata, keep=None)
    # generations reached: 5, 10 (exactly a multiple), 13, 21 (passes 20), 25, 45 (passes 30 and 40)
    for state, hist in _blocks([5, 5, 3, 8, 4, 20]):
        on_block(state, hist)
    directory = tmp_path / rf.CHECKPOINT_DIR
    assert [p.name for p in ckpt.list_checkpoints(directory)] == [
        "ckpt_00000010.msgpack", "ckpt_00000021.msgpack", "ckpt_00000045.msgpack"]
    assert seen == [10, 21, 45]
    assert [r["generation"] for r in metric_rows(tmp_path)] == list(range(1, 46))
    template = _FakeState(x=jnp.zeros((3,)), generation=jnp.int32(0))
    state, meta = ckpt.load(ckpt.checkpoint_path(directory, 21), template)
    assert int(state.generation) == 21 and meta["note"] == "meta" and meta["generation"] == 21
    np.testing.assert_array_equal(state.x, np.full(3, 21.0))
    # latest_checkpoint: the newest one
    state, meta = rf.latest_checkpoint(tmp_path, template)
    assert int(state.generation) == 45


def test_recorder_every_zero_and_bad_values(tmp_path):
    on_block = loop.recorder(tmp_path, 0, lambda: pytest.fail("no checkpoint expected"))
    for state, hist in _blocks([5, 5, 10]):
        on_block(state, hist)
    assert not (tmp_path / rf.CHECKPOINT_DIR).exists()
    assert [r["generation"] for r in metric_rows(tmp_path)] == list(range(1, 21))
    template = _FakeState(x=jnp.zeros((3,)), generation=jnp.int32(0))
    with pytest.raises(ValueError, match="no complete checkpoint"):
        rf.latest_checkpoint(tmp_path, template)
    for bad in (-1, True, 2.5):
        with pytest.raises(ValueError, match="checkpoint_every"):
            loop.recorder(tmp_path, bad)


def test_recorder_keeps_the_newest(tmp_path):
    on_block = loop.recorder(tmp_path, 5, None)           # keep=2 by default
    for state, hist in _blocks([5] * 4):
        on_block(state, hist)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / rf.CHECKPOINT_DIR)] == [
        "ckpt_00000015.msgpack", "ckpt_00000020.msgpack"]


# ------------------------------------------------------------------------------------------------
# library: a control run continued from a mid-run state
# ------------------------------------------------------------------------------------------------
def test_run_from_a_mid_run_state_equals_an_uninterrupted_run():
    from evojax_ga.runs import control

    cfg20 = control.config_for("cartpole", pop_size=16, generations=20, block=5, max_steps=30, target=1e9,
                               check_episodes=2, final_episodes=2, hidden=(4,))
    cfg10 = dataclasses.replace(cfg20, generations=10)
    run20, run10 = control.make_run(cfg20), control.make_run(cfg10)
    key = jax.random.key(7)

    full, h_full, info_full = run20(key)
    half, h1, info1 = run10(key)
    assert int(half.generation) == 10 and int(full.generation) == 20
    rest, h2, info2 = run20(key, state=half, info=dict(checks=0))
    assert list(h2["generation"]) == list(range(11, 21))
    assert int(rest.generation) == 20 and info2["generations"] == 20 and not info2["solved"]
    for a, b in zip(jax.tree_util.tree_leaves(full.population), jax.tree_util.tree_leaves(rest.population)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.fitness, rest.fitness)
    for a, b in zip(jax.tree_util.tree_leaves(info_full["params"]), jax.tree_util.tree_leaves(info2["params"])):
        np.testing.assert_array_equal(a, b)
    for k in h_full:
        if k != "wall_s":
            np.testing.assert_array_equal(np.concatenate([h1[k], h2[k]]), h_full[k], err_msg=k)
    # and the state went somewhere: the resumed half is not the midway state
    assert not np.array_equal(np.asarray(jax.tree_util.tree_leaves(half.population)[0]),
                              np.asarray(jax.tree_util.tree_leaves(rest.population)[0]))
    with pytest.raises(ValueError, match="past generations"):
        run10(key, state=full)


def test_classification_run_resumes_bit_identically(tmp_path, capsys):
    """A digits run cut back to its first checkpoint (as a kill would leave it: later metric lines,
    no summary) and resumed ends with the same metrics and parameters as the uninterrupted run."""
    import shutil
    args = ["run", "digits", "--pop-size", "24", "--generations", "30", "--block", "5", "--hidden", "4",
            "--checkpoint-every", "10", "--baseline", "none", "--test-samples", "50", "--no-progress",
            "--no-compile-cache", "--seed", "2"]
    full = tmp_path / "full"
    assert cli.main([*args, "--out", str(full)]) == 0
    names = sorted(p.name for p in (full / "checkpoints").glob("ckpt_*.msgpack"))
    assert names == ["ckpt_00000020.msgpack", "ckpt_00000030.msgpack"]   # keep=2; the last is the final one
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for name in (rf.SUMMARY_FILE, rf.PARAMS_FILE, "checkpoints/ckpt_00000030.msgpack"):
        (cut / name).unlink()
    assert len(metric_rows(cut)) == 30          # lines past the checkpoint at 20, to be recomputed
    capsys.readouterr()
    assert cli.main(["resume", str(cut), "--no-progress", "--no-compile-cache"]) == 0
    assert "from generation 20 of 30" in capsys.readouterr().out
    assert metric_rows(cut) == metric_rows(full)
    assert (cut / rf.PARAMS_FILE).read_bytes() == (full / rf.PARAMS_FILE).read_bytes()
    a, b = rf.read_json(cut / rf.SUMMARY_FILE), rf.read_json(full / rf.SUMMARY_FILE)
    assert a["ga_test_accuracy"] == b["ga_test_accuracy"] and a["generations"] == b["generations"] == 30
    assert a["resumed_from_generation"] == 20 and b["resumed_from_generation"] is None
    # the resumed part continues the clock of the part before it
    wall = rf.read_metrics(cut)["wall_s"]
    assert np.all(np.diff(wall) >= 0)


def test_resume_of_a_job_without_checkpoints_names_the_jobs_that_have_them(tmp_path, capsys):
    (tmp_path / rf.CONFIG_FILE).write_text(json.dumps({"job": "hparam"}))
    assert cli.main(["resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not support 'evojax-ga resume'" in err and "cartpole" in err and "digits" in err
    assert "hparam," not in err.split("jobs that do:")[1]
