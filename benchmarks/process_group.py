"""Several processes of a benchmark script on 127.0.0.1: a free port, and workers whose last stdout
line is a JSON record (the multi-process benchmarks: checkpoint_write, weak_scaling, lost_process)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
from typing import Mapping, Sequence

__all__ = ["free_port", "run_workers", "add_worker_arguments"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_worker_arguments(ap: argparse.ArgumentParser) -> None:
    """The hidden options a worker of :func:`run_workers` reads: ``--pid`` (which :func:`run_workers`
    appends) and ``--port`` (the coordinator's, from :func:`free_port`)."""
    ap.add_argument("--pid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)


def run_workers(cmd: Sequence[str], n: int, timeout: float, env: Mapping[str, str] | None = None,
                what: str = "worker") -> list[dict]:
    """``cmd --pid I`` for I in 0..n-1, run together; the JSON of each one's last stdout line, by I.
    RuntimeError with the failing worker's stderr when one exits non-zero."""
    procs = [subprocess.Popen([*cmd, "--pid", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=None if env is None else dict(env)) for i in range(n)]
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outs):
        if p.returncode:
            raise RuntimeError(f"{what} failed (exit {p.returncode}):\n{err[-3000:]}")
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
