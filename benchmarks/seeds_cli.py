"""Many seeds from the command line: ``evojax-ga run JOB --seeds N`` (``--seeds-mode loop`` and
``vmap``) against N sequential ``evojax-ga run JOB --seed s`` processes (issue 17, item 5).

The contenders are whole processes timed from the outside (interpreter start, imports, compilation,
evolution, run folders), run in turn within each repeat (sequential, loop, vmap; the order reverses
between repeats) so that load drift hits all alike. With ``--cache warm`` both use
a persistent compilation cache filled by an untimed first call (what a user's second session sees);
with ``--cache off`` (the default) every process compiles. Each repeat also checks that every seed's
folder of both ``--seeds`` runs holds the same best parameters as the sequential run of that seed.

    python -m benchmarks.seeds_cli --job cartpole --seeds 16 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable


def _run(argv: list[str], cache: str | None) -> float:
    env = dict(os.environ)
    if cache is None:
        argv = [*argv, "--no-compile-cache"]
    else:
        env["EVOJAX_GA_CACHE"] = cache
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evojax_ga", *argv, "--no-progress"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def sequential(job: str, seeds: range, root: Path, extra: list[str], cache: str | None) -> float:
    return sum(_run(["run", job, "--seed", str(s), "--out", str(root / f"seq-{s}"), *extra], cache) for s in seeds)


def one_process(mode: str) -> Callable[[str, range, Path, list[str], str | None], float]:
    def fn(job: str, seeds: range, root: Path, extra: list[str], cache: str | None) -> float:
        return _run(["run", job, "--seed", str(seeds[0]), "--seeds", str(len(seeds)), "--seeds-mode", mode,
                     "--out", str(root / mode), *extra], cache)
    return fn


CONTENDERS = {"sequential": sequential, "loop": one_process("loop"), "vmap": one_process("vmap")}


def same_results(seeds: range, root: Path, mode: str) -> bool:
    return all((root / f"seq-{s}" / "best_params.msgpack").read_bytes()
               == (root / mode / f"seed-{s}" / "best_params.msgpack").read_bytes() for s in seeds)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", default="cartpole")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cache", choices=("off", "warm"), default="off")
    ap.add_argument("--extra", default="", help="more options for every run, e.g. '--pop-size 64'")
    ap.add_argument("--json", default=None, help="write the result here")
    args = ap.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    extra = args.extra.split()
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    identical: dict[str, list[bool]] = {"loop": [], "vmap": []}
    with tempfile.TemporaryDirectory() as tmp:
        cache = None
        if args.cache == "warm":
            cache = str(Path(tmp) / "xla-cache")
            warm = Path(tmp) / "warm"
            for fn in CONTENDERS.values():
                fn(args.job, seeds[:1] if fn is sequential else seeds, warm, extra, cache)
        for rep in range(args.repeats):
            root = Path(tmp) / f"rep{rep}"
            order = list(CONTENDERS) if rep % 2 == 0 else list(reversed(CONTENDERS))
            for name in order:
                times[name].append(CONTENDERS[name](args.job, seeds, root, extra, cache))
                print(f"repeat {rep}: {name} {times[name][-1]:.1f} s", flush=True)
            for mode in identical:
                identical[mode].append(same_results(seeds, root, mode))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"job": args.job, "seeds": len(seeds), "cache": args.cache, "extra": args.extra, "times_s": times,
              "median_s": med,
              "speedup": {m: med["sequential"] / med[m] for m in ("loop", "vmap")}, "identical_params": identical,
              "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
