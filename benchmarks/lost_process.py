"""How soon the other process of a 2-process CLI run stops when one is killed (issue 18 target: 30 s).

Each trial starts ``evojax-ga run mountaincar`` as two processes on 127.0.0.1 (no target, many
generations, checkpoints every 10), waits until ``metrics.jsonl`` has rows, SIGKILLs the victim
(process 1, then process 0, alternating) and times the survivor from the kill to its exit; its exit
status and last line are recorded. Run folders go to a temporary folder deleted at the end.

    python -m benchmarks.lost_process [--trials 4] [--heartbeat-timeout 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.process_group import free_port

RESULT = Path(__file__).parent / "results" / "lost_process.json"


def trial(out: Path, victim: int, heartbeat: int) -> dict:
    """One run killed mid-way: ``{victim, survivor_rc, seconds, line}``."""
    port = free_port()
    cmd = [sys.executable, "-m", "evojax_ga", "run", "mountaincar", "--generations", "100000", "--target", "none",
           "--checkpoint-every", "10", "--no-progress", "--no-compile-cache", "--out", str(out),
           "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--heartbeat-timeout", str(heartbeat)]
    procs = [subprocess.Popen([*cmd, "--process-id", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            raise RuntimeError(f"the run did not start: {procs[0].communicate()[1][-2000:]}")
        time.sleep(0.05)
    os.kill(procs[victim].pid, signal.SIGKILL)
    t0 = time.monotonic()
    survivor = procs[1 - victim]
    _, err = survivor.communicate(timeout=600)
    seconds = time.monotonic() - t0
    procs[victim].wait()
    lines = [line for line in err.splitlines() if "evojax-ga" in line or "Terminating" in line]
    return {"victim": victim, "survivor_rc": survivor.returncode, "seconds": seconds,
            "line": lines[-1][:300] if lines else err.strip().splitlines()[-1][:300]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--heartbeat-timeout", type=int, default=10)
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lost-process-") as tmp:
        for t in range(a.trials):
            rows.append(trial(Path(tmp) / f"run{t}", t % 2, a.heartbeat_timeout))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| victim | trials | survivor exit status | seconds to exit (median, max) | survivor's last line |")
    print("|---|---|---|---|---|")
    for v in (1, 0):
        rs = [r for r in rows if r["victim"] == v]
        if rs:
            secs = [r["seconds"] for r in rs]
            print(f"| process {v} | {len(rs)} | {sorted({r['survivor_rc'] for r in rs})} | "
                  f"{statistics.median(secs):.2f}, {max(secs):.2f} | {rs[-1]['line'][:160]} |")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"heartbeat_timeout": a.heartbeat_timeout, "trials": rows,
                                  "loadavg": Path("/proc/loadavg").read_text().split()[:3]}, indent=1))


if __name__ == "__main__":
    main()
