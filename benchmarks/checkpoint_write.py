"""Writing a checkpoint of a large population: sharded orbax over several processes against one msgpack file.

A state ``{"population": [R, G] float32, "fitness": [R] float32}`` (random values) is written

- with ``checkpoint.save(..., format="orbax")`` by ``--processes`` processes of this script on 127.0.0.1
  (``jax.distributed``, gloo), the rows sharded over them: each writes only its own rows;
- with today's ``checkpoint.save(...)`` (one ``ckpt_N.msgpack`` file, sha256, fsync, rename) by one process
  holding the whole state.

Repeats are interleaved (orbax, msgpack, orbax, msgpack, ...), each in fresh processes; the time is the
wall-clock of the ``save`` call (orbax: the slowest process, starting from a barrier). Bytes per process are
what it passed to ``write()`` (``/proc/self/io`` wchar). Checkpoints go to a temporary folder deleted at the
end. The single-file path holds about 3x the state in memory (state, msgpack bytes, header + bytes): when
that does not fit in the available memory the number of genes is reduced, and the output says so.

    python -m benchmarks.checkpoint_write [--rows 10000] [--genes 100000] [--repeats 2] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.process_group import add_worker_arguments, free_port, run_workers

RESULT = Path(__file__).parent / "results" / "checkpoint_write.json"
#: memory the single-file write needs, in multiples of the state (state, msgpack payload, header + payload)
MSGPACK_FACTOR = 3.5


def _wchar() -> int:
    with open("/proc/self/io", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("wchar:")).split()[1])


def _mem_available() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("MemAvailable:")).split()[1]) * 1024


def _rows(start: int, stop: int, genes: int):
    """Rows ``start:stop`` of the population, the same whichever process makes them."""
    import numpy as np
    return np.random.default_rng(start).random((stop - start, genes), dtype=np.float32)


def _worker(a: argparse.Namespace) -> None:
    """One writer: ``orbax`` (process ``a.pid`` of ``a.processes``) or ``msgpack`` (the whole state)."""
    import jax
    import numpy as np
    if a.worker == "orbax":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        from evojax_ga import distributed as dist
        dist.initialize(coordinator_address=f"127.0.0.1:{a.port}", num_processes=a.processes, process_id=a.pid)
        from jax.experimental import multihost_utils
        from jax.sharding import NamedSharding, PartitionSpec
        sharding = NamedSharding(dist.pop_mesh(), PartitionSpec(dist.AXIS))
        R, G = a.rows, a.genes
        state = {"population": jax.make_array_from_callback((R, G), sharding,
                                                            lambda i: _rows(i[0].start or 0, i[0].stop or R, G)),
                 "fitness": jax.make_array_from_callback((R,), sharding, lambda i: np.arange(R, dtype=np.float32)[i])}
        jax.block_until_ready(state)
        multihost_utils.sync_global_devices("start")
    else:
        state = {"population": jax.device_put(_rows(0, a.rows, a.genes)), "fitness": jax.numpy.arange(a.rows) * 1.0}
        jax.block_until_ready(state)
    from evojax_ga import checkpoint
    w0, t0 = _wchar(), time.perf_counter()
    path = checkpoint.save(a.dir, state, {"generation": a.repeat}, keep=None, format=a.worker)
    seconds = time.perf_counter() - t0
    print(json.dumps({"format": a.worker, "process": a.pid, "seconds": seconds, "bytes_written": _wchar() - w0,
                      "path": str(path), "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}),
          flush=True)


def _spawn(a: argparse.Namespace, worker: str, n: int, directory: str, repeat: int) -> list[dict]:
    cmd = [sys.executable, "-m", "benchmarks.checkpoint_write", "--worker", worker, "--rows", str(a.rows),
           "--genes", str(a.genes), "--processes", str(n), "--port", str(free_port()), "--dir", directory,
           "--repeat", str(repeat)]
    return run_workers(cmd, n, a.timeout, what=f"{worker} writer")


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--genes", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--dir", default=None, help="where the temporary checkpoint folder goes (default: the system's)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--worker", choices=("orbax", "msgpack"), help=argparse.SUPPRESS)
    add_worker_arguments(ap)
    ap.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return _worker(a)
    if a.rows % a.processes:
        raise SystemExit(f"--rows {a.rows} must be a multiple of --processes {a.processes}")

    asked = (a.rows, a.genes)
    avail = _mem_available()
    fits = int(avail * 0.85 / MSGPACK_FACTOR / (4 * a.rows)) // 1000 * 1000
    note = ""
    if fits < a.genes:
        note = (f"{a.rows} x {a.genes} needs ~{MSGPACK_FACTOR * 4 * a.rows * a.genes / 1e9:.1f} GB for the single "
                f"file, {avail / 1e9:.1f} GB available: ran {a.rows} x {fits} instead")
        a.genes = fits
        print(note, flush=True)
    state_bytes = 4 * a.rows * (a.genes + 1)
    runs: dict[str, list[list[dict]]] = {"orbax": [], "msgpack": []}
    tmp = tempfile.mkdtemp(prefix="ckpt_write_", dir=a.dir)
    try:
        for r in range(a.repeats):
            for worker, n in (("orbax", a.processes), ("msgpack", 1)):
                out = _spawn(a, worker, n, tmp, r)
                path = Path(out[0]["path"])
                for o in out:
                    o["checkpoint_bytes"] = _size(path)
                runs[worker].append(out)
                print(f"repeat {r} {worker}: " + ", ".join(f"process {o['process']} {o['seconds']:.2f} s" for o in out),
                      flush=True)
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import jax
    import orbax.checkpoint as ocp
    load = os.getloadavg()
    rows = []
    for worker, reps in runs.items():
        secs = [max(o["seconds"] for o in rep) for rep in reps]
        per_proc = [statistics.median(rep[i]["bytes_written"] for rep in reps) for i in range(len(reps[0]))]
        rows.append({"format": worker, "processes": len(reps[0]), "median_s": statistics.median(secs), "runs_s": secs,
                     "bytes_written_per_process": per_proc, "checkpoint_bytes": reps[0][0]["checkpoint_bytes"],
                     "max_rss_bytes_per_process": [max(rep[i]["max_rss_bytes"] for rep in reps)
                                                   for i in range(len(reps[0]))],
                     "GB_per_s": state_bytes / statistics.median(secs) / 1e9})
    print(f"\nstate {a.rows} x {a.genes} float32 + fitness = {state_bytes / 1e9:.2f} GB, {a.repeats} interleaved "
          f"repeats, jax {jax.__version__}, orbax-checkpoint {ocp.__version__}, {os.cpu_count()} cores, "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| format | processes | median s | GB/s | bytes written per process | checkpoint bytes "
          "| peak RSS per process |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['format']} | {row['processes']} | {row['median_s']:.2f} | {row['GB_per_s']:.2f} | "
              + " / ".join(f"{b / 1e9:.2f} GB" for b in row["bytes_written_per_process"])
              + f" | {row['checkpoint_bytes'] / 1e9:.2f} GB | "
              + " / ".join(f"{b / 1e9:.1f} GB" for b in row["max_rss_bytes_per_process"]) + " |")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps({
        "name": "checkpoint_write", "command": "python -m benchmarks.checkpoint_write " + " ".join(sys.argv[1:]),
        "population": {"rows": a.rows, "genes": a.genes, "asked_rows": asked[0], "asked_genes": asked[1]},
        "state_bytes": state_bytes, "repeats": a.repeats, "rows": rows,
        "notes": [n for n in (note, f"jax {jax.__version__}, orbax-checkpoint {ocp.__version__}, "
                              f"{os.cpu_count()} cores, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
                              f"{avail / 1e9:.1f} GB memory available") if n]}, indent=2) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
