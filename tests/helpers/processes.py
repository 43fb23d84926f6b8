"""Launch ``evojax-ga`` as one process or as a group of processes on 127.0.0.1 (tests of multi-process runs)."""

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 300

# One persistent XLA compilation cache for every process these tests start: the same programs (the
# single-process and the 2-process CartPole block, the checks) are compiled once, not once per run. The
# cached executable is the one a compilation makes, so results do not change.
CACHE = tempfile.mkdtemp(prefix="evojax-ga-test-xla-")
atexit.register(shutil.rmtree, CACHE, True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(devices: int | None = None) -> dict:
    """The test environment (XLA flags of conftest kept, the shared compilation cache), optionally with
    ``devices`` forced CPU devices."""
    e = {**os.environ, "EVOJAX_GA_CACHE": CACHE}
    if devices is not None:
        e["XLA_FLAGS"] = f"{e.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
    return e


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "evojax_ga", *map(str, args)]


def start_group(args, n: int = 2, port: int | None = None, environ: dict | None = None) -> list[subprocess.Popen]:
    """``evojax-ga ARGS`` as ``n`` processes (process ids 0..n-1) meeting at 127.0.0.1:port."""
    port = free_port() if port is None else port
    return [subprocess.Popen(cli(*args, "--coordinator", f"127.0.0.1:{port}", "--num-processes", n,
                                 "--process-id", i), env=environ or env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]


def finish(procs, timeout: float = TIMEOUT) -> list[tuple[int, str, str]]:
    """Wait for every process; ``(returncode, stdout, stderr)`` each (a process still running after
    ``timeout`` seconds is killed and reported with returncode None)."""
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
            out.append((p.returncode, o, e))
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
            out.append((None, o, e))
    return out


def run_group(args, n: int = 2, environ: dict | None = None) -> list[tuple[int, str, str]]:
    results = finish(start_group(args, n, environ=environ))
    assert all(r[0] == 0 for r in results), [r[2][-3000:] for r in results]
    return results


def run_one(args, environ: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cli(*args), capture_output=True, text=True, timeout=TIMEOUT, env=environ or env())
    assert r.returncode == 0, r.stderr[-3000:]
    return r


# The command line, stopping itself (SIGSTOP) right after each checkpoint is on disk, so that a test can
# kill it there (no race with the generation count).
STOP_AFTER_CHECKPOINT = """
import os, signal, sys
from evojax_ga import checkpoint, cli
_save = checkpoint.save
def save(*args, **kwargs):
    path = _save(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGSTOP)
    return path
checkpoint.save = save
sys.argv = ["evojax-ga", *sys.argv[1:]]
sys.exit(cli.main())
"""

_TIMING = ("wall", "age", "compile", "time")


def _untimed(x):
    if isinstance(x, dict):
        return {k: _untimed(v) for k, v in x.items() if not any(t in k for t in _TIMING)}
    return x


def folder_outcome(run_dir: Path) -> dict:
    """What a finished run folder says, timings aside: metrics rows, summary, best parameters (bytes)."""
    rows = [_untimed(json.loads(line)) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    summary = _untimed(json.loads((run_dir / "summary.json").read_text()))
    summary.pop("resumed_from_generation", None)
    return {"metrics": rows, "summary": summary, "params": (run_dir / "best_params.msgpack").read_bytes()}
