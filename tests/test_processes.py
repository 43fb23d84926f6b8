"""Multi-process CLI runs (issue 18): options and environment variables, two processes on 127.0.0.1
equal to one, a killed process ends the other with a message, and resume on another process or
device count finishes as the uninterrupted run does."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import processes as group

from evojax_ga import cli
from evojax_ga.jobs import processes

CARTPOLE = ["run", "cartpole", "--pop-size", "32", "--generations", "40", "--block", "5", "--checkpoint-every", "10",
            "--max-steps", "50", "--target", "1e9", "--no-progress", "--seed", "3"]
DIGITS = ["run", "digits", "--pop-size", "32", "--generations", "6", "--block", "3", "--checkpoint-every", "3",
          "--baseline", "none", "--no-progress"]

STOP_AFTER_CHECKPOINT = group.STOP_AFTER_CHECKPOINT


def _ns(**kw):
    base = dict(coordinator=None, num_processes=None, process_id=None, init_timeout=60, heartbeat_timeout=10)
    return argparse.Namespace(**{**base, **kw})


def test_options_and_environment_variables():
    assert processes.resolve(_ns(), environ={}) is None   # one process
    env = {"EVOJAX_GA_COORDINATOR": "10.0.0.1:1234", "EVOJAX_GA_NUM_PROCESSES": "4", "EVOJAX_GA_PROCESS_ID": "3"}
    p = processes.resolve(_ns(), environ=env)
    assert (p.coordinator, p.num_processes, p.process_id) == ("10.0.0.1:1234", 4, 3)
    p = processes.resolve(_ns(process_id=1, coordinator="host:99"), environ=env)   # options win
    assert (p.coordinator, p.num_processes, p.process_id) == ("host:99", 4, 1)
    assert processes.resolve(_ns(num_processes=1), environ=env) is None


@pytest.mark.parametrize("kw, env, words", [
    (dict(num_processes=2, coordinator="h:1"), {}, "--process-id is required"),
    (dict(num_processes=2, process_id=2, coordinator="h:1"), {}, "--process-id must be in [0, 1]"),
    (dict(num_processes=2, process_id=0), {}, "--coordinator HOST:PORT is required"),
    (dict(num_processes=2, process_id=0, coordinator="nohost"), {}, "--coordinator must be HOST:PORT"),
    (dict(num_processes=2, process_id=0, coordinator="h:70000"), {}, "port in [1, 65535]"),
    (dict(num_processes=0), {}, "--num-processes must be an int >= 1"),
    (dict(), {"EVOJAX_GA_NUM_PROCESSES": "two"}, "--num-processes (from $EVOJAX_GA_NUM_PROCESSES) must be an int"),
    (dict(num_processes=2, process_id=0, coordinator="h:1", init_timeout=0), {}, "--init-timeout must be"),
])
def test_bad_process_options(kw, env, words):
    with pytest.raises(ValueError) as info:
        processes.resolve(_ns(**kw), environ=env)
    assert words in str(info.value)


def test_cli_refuses_before_joining(capsys, tmp_path):
    assert cli.main(["run", "cartpole", "--num-processes", "2", "--process-id", "0"]) == 2
    assert "--coordinator HOST:PORT is required" in capsys.readouterr().err
    assert cli.main(["run", "cartpole", "--num-processes", "2", "--process-id", "0",
                     "--coordinator", "127.0.0.1:1"]) == 2
    assert "--out is required with --num-processes 2" in capsys.readouterr().err
    assert cli.main(["run", "hparam", "--num-processes", "2", "--process-id", "0", "--coordinator", "127.0.0.1:1",
                     "--out", str(tmp_path / "h")]) == 2
    assert "job 'hparam' runs as one process only" in capsys.readouterr().err
    assert cli.main(["run", "cartpole", "--seeds", "4", "--num-processes", "2", "--process-id", "0", "--coordinator",
                     "127.0.0.1:1", "--out", str(tmp_path / "s")]) == 2
    assert "--seeds 4 runs as one process only" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_unreachable_coordinator_is_an_error_not_a_hang(tmp_path):
    r = subprocess.run(group.cli("run", "cartpole", "--out", tmp_path / "r", "--coordinator",
                                 f"127.0.0.1:{group.free_port()}", "--num-processes", "2", "--process-id", "1",
                                 "--init-timeout", "2"),
                       capture_output=True, text=True, timeout=120, env=group.env())
    assert r.returncode == 2
    assert "process 1 of 2 could not reach the coordinator" in r.stderr and "--init-timeout" in r.stderr
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def cartpole_single(tmp_path_factory):
    d = tmp_path_factory.mktemp("single") / "run"
    group.run_one([*CARTPOLE, "--out", d])
    return d


def test_two_processes_equal_one_cartpole(cartpole_single, tmp_path):
    out = tmp_path / "two"
    results = group.run_group([*CARTPOLE, "--out", out])
    assert group.folder_outcome(out) == group.folder_outcome(cartpole_single)
    # process 0 alone writes and reports; every checkpoint holds the shards of both processes
    assert "run folder:" in results[0][1] and "run folder:" not in results[1][1]
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts and all(name.endswith(".orbax") for name in ckpts), ckpts


def test_two_processes_equal_one_digits(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    group.run_one([*DIGITS, "--out", one])
    group.run_group([*DIGITS, "--out", two])
    assert group.folder_outcome(two) == group.folder_outcome(one)


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "T"


def _start_stopping_group(args, port):
    """Process 1 stops itself after its first checkpoint; process 0 is the plain command line."""
    env = group.env()
    coord = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    p0 = subprocess.Popen(group.cli(*args, *coord, "--process-id", 0), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    p1 = subprocess.Popen([sys.executable, "-c", STOP_AFTER_CHECKPOINT, *map(str, args), *coord, "--process-id", "1"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p0, p1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see a stopped process")
def test_killed_process_ends_the_other_and_resume_on_two_or_one_equals_uninterrupted(cartpole_single, tmp_path):
    killed = tmp_path / "killed"
    p0, p1 = _start_stopping_group([*CARTPOLE, "--out", killed], group.free_port())
    deadline = time.monotonic() + group.TIMEOUT
    while not _stopped(p1.pid):
        assert p1.poll() is None and time.monotonic() < deadline, p1.stderr.read()[-3000:] if p1.poll() else "timeout"
        time.sleep(0.05)
    os.kill(p1.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    p1.wait()
    _, err = p0.communicate(timeout=120)
    waited = time.monotonic() - t_kill
    assert p0.returncode == 1, err[-3000:]
    assert "the run stopped because another process failed or was killed" in err
    assert f"evojax-ga resume {killed}" in err
    assert waited < 30, waited   # the bound on noticing a lost process (heartbeat 10 s)
    assert not (killed / "summary.json").exists()
    again = tmp_path / "killed-then-one"
    shutil.copytree(killed, again)
    group.run_group(["resume", killed, "--no-progress"])
    assert group.folder_outcome(killed) == group.folder_outcome(cartpole_single)
    group.run_one(["resume", again, "--no-progress"])
    assert group.folder_outcome(again) == group.folder_outcome(cartpole_single)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see a stopped process")
def test_single_process_checkpoint_resumes_on_two_processes_and_four_devices(cartpole_single, tmp_path):
    killed = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-c", STOP_AFTER_CHECKPOINT, *map(str, CARTPOLE), "--out", str(killed)],
                         env=group.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + group.TIMEOUT
    while not _stopped(p.pid):
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert [c.suffix for c in (killed / "checkpoints").iterdir()] == [".msgpack"]
    four = tmp_path / "killed-four"
    shutil.copytree(killed, four)
    group.run_group(["resume", killed, "--no-progress"])
    assert group.folder_outcome(killed) == group.folder_outcome(cartpole_single)
    group.run_one(["resume", four, "--no-progress"], environ=group.env(devices=4))
    assert group.folder_outcome(four) == group.folder_outcome(cartpole_single)


# process 1 sends itself SIGTERM right after its first checkpoint: the run must stop on every process at
# the same block, with one collective checkpoint
TERM_AFTER_CHECKPOINT = STOP_AFTER_CHECKPOINT.replace("signal.SIGSTOP", "signal.SIGTERM").replace(
    "checkpoint.save = save", "checkpoint.save = save\n_once = [save]\ndef save_once(*a, **k):\n"
    "    return (_once.pop() if _once else _save)(*a, **k)\ncheckpoint.save = save_once")


def test_a_signal_to_one_process_stops_all_at_one_checkpoint(cartpole_single, tmp_path):
    out = tmp_path / "term"
    port = group.free_port()
    coord = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    p0 = subprocess.Popen(group.cli(*CARTPOLE, "--out", out, *coord, "--process-id", 0), env=group.env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p1 = subprocess.Popen([sys.executable, "-c", TERM_AFTER_CHECKPOINT, *map(str, CARTPOLE), "--out", str(out),
                           *coord, "--process-id", "1"], env=group.env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    (rc0, _, err0), (rc1, _, err1) = group.finish([p0, p1])
    assert (rc0, rc1) == (143, 143), (err0[-2000:], err1[-2000:])
    assert "interrupted at generation 10" in err0 and f"evojax-ga resume {out}" in err0
    assert sorted(c.name for c in (out / "checkpoints").iterdir()) == ["ckpt_00000010.orbax"]
    group.run_one(["resume", out, "--no-progress"])
    assert group.folder_outcome(out) == group.folder_outcome(cartpole_single)


def test_time_limit_is_decided_alike_by_every_process(tmp_path):
    out = tmp_path / "timed"
    args = ["run", "digits", "--pop-size", "32", "--generations", "100000", "--block", "3", "--time-limit", "2",
            "--baseline", "none", "--no-progress"]
    group.run_group([*args, "--out", out])
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "time_limit" and 0 < summary["generations"] < 100000


def test_a_lonely_process_0_gives_up_after_the_init_timeout(tmp_path):
    t0 = time.monotonic()
    r = subprocess.run(group.cli("run", "cartpole", "--out", tmp_path / "r", "--coordinator",
                                 f"127.0.0.1:{group.free_port()}", "--num-processes", "2", "--process-id", "0",
                                 "--init-timeout", "2"),
                       capture_output=True, text=True, timeout=120, env=group.env())
    assert r.returncode != 0 and time.monotonic() - t0 < 100
    assert "process 0 of 2: joining the run at" in r.stderr and "waiting up to 2 s" in r.stderr
    assert not (tmp_path / "r").exists()
