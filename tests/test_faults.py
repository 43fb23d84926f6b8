"""Faults around run folders: two processes on one folder, kills, signals, a full disk.

One tiny CartPole configuration throughout, compiled once: the persistent compilation cache (a
folder of this module, switched back off afterwards) serves every later run, in this process and in
the subprocesses. Each fault must end with the same metrics and parameters as the one uninterrupted
reference run once the folder is resumed.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.metrics import metric_rows

from evojax_ga import atomic_file, cli
from evojax_ga import checkpoint as ckpt
from evojax_ga import run_folder as rf
from evojax_ga.folder_lock import LOCK_FILE, lock_folder

TINY = ["run", "cartpole", "--pop-size", "16", "--episodes", "1", "--max-steps", "50", "--block", "2",
        "--generations", "20", "--target", "1e9", "--check-episodes", "2", "--final-episodes", "2", "--hidden", "4",
        "--fast-compile", "off", "--checkpoint-every", "8", "--no-progress", "--seed", "5"]
TIMEOUT = 300

# The command line with a fault after the first block's metrics are written (FAULT=SIGINT / SIGTERM:
# the process signals itself; FAULT=wait: it says WAITING and sleeps inside the fifth block's write,
# so that the test's signals arrive while a block is "running")
FAULTY_CLI = """
import os, signal, sys, time
from evojax_ga import cli, run_folder
_append, calls = run_folder.append_metrics, []
def append(*args, **kwargs):
    n = _append(*args, **kwargs)
    calls.append(n)
    fault = os.environ["FAULT"]
    if fault != "wait" and len(calls) == 1:
        os.kill(os.getpid(), getattr(signal, fault))
    if fault == "wait" and len(calls) == 5:
        print("WAITING", flush=True)
        time.sleep(TIMEOUT)
    return n
run_folder.append_metrics = append
sys.argv = ["evojax-ga", *sys.argv[1:]]
sys.exit(cli.main())
""".replace("TIMEOUT", str(TIMEOUT))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A persistent compilation cache for this module's runs; the process's settings come back after."""
    import jax
    from jax._src import compilation_cache

    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    old = {n: getattr(jax.config, n) for n in names}
    compilation_cache.reset_cache()    # an earlier compile may have decided "no cache" for the process
    path = str(tmp_path_factory.mktemp("xla-cache"))
    yield path
    for n, v in old.items():
        jax.config.update(n, v)
    compilation_cache.reset_cache()


def _run(cache, *argv):
    return cli.main([*argv, "--compile-cache", cache])


@pytest.fixture(scope="module")
def reference(cache, tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert _run(cache, *TINY, "--out", str(out)) == 0
    return out


def _same_run(run_dir, reference):
    assert metric_rows(run_dir) == metric_rows(reference)
    assert [r["generation"] for r in metric_rows(run_dir)] == list(range(1, 21))
    assert (run_dir / rf.PARAMS_FILE).read_bytes() == (reference / rf.PARAMS_FILE).read_bytes()
    assert rf.read_json(run_dir / rf.SUMMARY_FILE)["final_mean"] == rf.read_json(reference / rf.SUMMARY_FILE)[
        "final_mean"]


def _tmp_files(run_dir):
    return sorted(p.name for p in Path(run_dir).rglob("*.tmp"))


def _cut_back(reference, to, generation):
    """A copy of the reference folder as a kill after the checkpoint of ``generation`` leaves it."""
    shutil.copytree(reference, to)
    for p in ckpt.list_checkpoints(to / rf.CHECKPOINT_DIR):
        if int(p.name[5:13]) > generation:
            p.unlink()
    for name in (rf.SUMMARY_FILE, rf.PARAMS_FILE):
        (to / name).unlink()
    return to


# ------------------------------------------------------------------------------ one folder, one process
def test_a_locked_folder_is_refused_naming_the_holder(reference, tmp_path, cache, capsys):
    empty = tmp_path / "new"
    empty.mkdir()
    with lock_folder(empty):
        assert _run(cache, *TINY, "--out", str(empty)) == 2
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and str(empty) in err and "in use" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in empty.iterdir()) == [LOCK_FILE]       # the refused run wrote nothing

    # resume of a folder that another process still writes: refused, the folder untouched
    before = {p.name: p.read_bytes() for p in reference.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    cut = _cut_back(reference, tmp_path / "cut", 16)
    with lock_folder(cut):
        assert _run(cache, "resume", str(cut), "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and str(cut) in err
    assert len(metric_rows(cut)) == 20 and not (cut / rf.SUMMARY_FILE).exists()
    # a run on the reference folder (a finished run) under its lock: refused, the folder unchanged
    with lock_folder(reference):
        assert _run(cache, *TINY, "--out", str(reference)) == 2
    assert "in use" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in reference.rglob("*") if p.is_file() and p.name != LOCK_FILE} == before


def test_the_lock_is_released_and_readers_ignore_it(reference, capsys):
    with lock_folder(reference):   # no run holds it any more
        pass
    assert "pid=" in (reference / LOCK_FILE).read_text()
    assert cli.main(["eval", str(reference), "--episodes", "1"]) == 0     # eval needs no lock
    assert "mean return" in capsys.readouterr().out


def test_out_in_a_folder_without_write_permission(tmp_path, capsys):
    if os.geteuid() == 0:    # root writes anywhere but in /sys
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without /sys: no folder is unwritable")
        out = Path("/sys/evojax-ga-run")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "run"
    assert cli.main([*TINY, "--no-compile-cache", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"out={str(out)!r} cannot be created" in err and "Traceback" not in err


# ------------------------------------------------------------------------ kills, stale temporary files
def test_resume_removes_stale_tmp_files_and_equals_the_uninterrupted_run(reference, tmp_path, cache, capsys):
    cut = _cut_back(reference, tmp_path / "cut", 16)
    stale = [cut / rf.CHECKPOINT_DIR / "ckpt_00000018.msgpack.4242.tmp", cut / ".config.json.4242.tmp",
             cut / ".metrics.jsonl.77.tmp", cut / ".best_params.msgpack.5.tmp"]
    for p in stale:
        p.write_bytes(b"x" * 4096)        # what a kill during a write leaves
    assert _run(cache, "resume", str(cut), "--no-progress") == 0
    assert "from generation 16 of 20" in capsys.readouterr().out
    assert _tmp_files(cut) == []
    _same_run(cut, reference)


def test_a_run_that_ended_before_its_first_generation_leaves_a_reusable_folder(reference, tmp_path, cache, capsys,
                                                                               monkeypatch):
    from evojax_ga.runs import control

    # an error before any generation: the folder this run created is gone again
    def broken(cfg):
        raise RuntimeError("broken build")
    monkeypatch.setattr(control, "make_run", broken)
    gone = tmp_path / "gone"
    with pytest.raises(RuntimeError, match="broken build"):
        _run(cache, *TINY, "--out", str(gone))
    assert not gone.exists()
    monkeypatch.undo()

    # a SIGKILL before the first generation leaves config.json (and a stale .tmp): resume says to
    # start again with 'evojax-ga run', and that works on the same folder
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(reference / rf.CONFIG_FILE, half / rf.CONFIG_FILE)
    (half / rf.METRICS_FILE).write_text('{"generation": 1, "be')     # cut short: not a generation
    (half / ".config.json.99.tmp").write_text("{")
    capsys.readouterr()
    assert _run(cache, "resume", str(half), "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"start it again with 'evojax-ga run ... --out {half}'" in err
    assert _run(cache, *TINY, "--out", str(half)) == 0
    assert _tmp_files(half) == []
    _same_run(half, reference)


# ---------------------------------------------------------------------------------------- disk full
class _FullDisk:
    """A file whose write stores half of the bytes, then fails as a full disk does."""

    def __init__(self, path, mode):
        self.f = open(path, mode)   # noqa: SIM115 - closed by __exit__

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.f.name)


def test_disk_full_during_a_checkpoint(reference, tmp_path, cache, capsys, monkeypatch):
    opened = []

    def open_(path, mode="r", *args, **kwargs):
        if "ckpt_" in Path(path).name:
            opened.append(path)
            if len(opened) == 2:    # the second checkpoint (generation 16)
                return _FullDisk(path, mode)
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic_file, "open", open_, raising=False)   # where every atomic write opens its file
    run_dir = tmp_path / "full"
    assert _run(cache, *TINY, "--out", str(run_dir)) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(run_dir) in err and "ckpt_00000008.msgpack" in err
    assert f"evojax-ga resume {run_dir}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert _tmp_files(run_dir) == []
    assert [p.name for p in ckpt.list_checkpoints(run_dir / rf.CHECKPOINT_DIR)] == ["ckpt_00000008.msgpack"]
    ckpt._read(run_dir / rf.CHECKPOINT_DIR / "ckpt_00000008.msgpack")    # intact (verifies its digest)
    monkeypatch.undo()
    assert _run(cache, "resume", str(run_dir), "--no-progress") == 0
    _same_run(run_dir, reference)


def _mount_tmpfs(path, size):
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("a tmpfs can be mounted on Linux only")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {res.stderr.strip()}")


def test_disk_full_on_a_real_small_tmpfs(reference, tmp_path, cache, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_tmpfs(disk, "256k")
    try:
        # fill the disk, then free five pages: the lock, config.json (two pages: it records the long
        # temporary paths), metrics.jsonl and the first checkpoint fit, the second checkpoint (or the
        # metrics' second page) does not
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"\1" * 4096)
        finally:
            os.close(fd)
        os.truncate(filler, filler.stat().st_size // 4096 * 4096 - 5 * 4096)
        run_dir = disk / "run"
        assert _run(cache, *TINY, "--out", str(run_dir)) == 2
        err = capsys.readouterr().err
        assert "No space left on device" in err and "Traceback" not in err
        assert _tmp_files(run_dir) == []
        found = ckpt.list_checkpoints(run_dir / rf.CHECKPOINT_DIR)
        assert found, err
        ckpt._read(found[-1])
        filler.unlink()                         # room again: resume in place
        assert _run(cache, "resume", str(run_dir), "--no-progress") == 0
        _same_run(run_dir, reference)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# ------------------------------------------------------------------------------------------- signals
def _faulty(fault, out, cache):
    return subprocess.Popen([sys.executable, "-c", FAULTY_CLI, *TINY, "--out", str(out), "--compile-cache", cache],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FAULT": fault})


@pytest.mark.parametrize("name,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_stops_at_the_end_of_the_block_and_resume_completes(name, code, reference, tmp_path, cache,
                                                                     capsys):
    out = tmp_path / "run"
    proc = _faulty(name, out, cache)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    line = f"interrupted at generation 2; continue with evojax-ga resume {out}"
    assert stderr.strip().splitlines()[-1] == line and stderr.count("interrupted") == 1, stderr
    # the checkpoint written on the way out (not due yet: every 8 generations)
    assert [p.name for p in ckpt.list_checkpoints(out / rf.CHECKPOINT_DIR)] == ["ckpt_00000002.msgpack"]
    assert not (out / rf.SUMMARY_FILE).exists()
    assert _run(cache, "resume", str(out), "--no-progress") == 0
    assert "from generation 2 of 20" in capsys.readouterr().out
    _same_run(out, reference)


def test_a_second_signal_aborts_at_once(tmp_path, cache):
    out = tmp_path / "run"
    proc = _faulty("wait", out, cache)
    try:
        assert proc.stdout.readline().strip() == "WAITING"     # inside the fifth block, handlers installed
        # two signals sent at once may reach the process as one (POSIX merges a pending signal):
        # send one every 0.2 s until the process ends
        for _ in range(300):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"interrupted at generation 8; continue with evojax-ga resume {out}"
    assert [p.name for p in ckpt.list_checkpoints(out / rf.CHECKPOINT_DIR)] == ["ckpt_00000008.msgpack"]
    ckpt._read(out / rf.CHECKPOINT_DIR / "ckpt_00000008.msgpack")
