"""Non-dominated ranking of this tree against an earlier revision's, interleaved in one process.

    python -m benchmarks.sort_ab [--rev bf1ba17~1] [--repeats 5]

The earlier ``evojax_ga/pareto.py`` is read with ``git show REV:evojax_ga/pareto.py`` and imported as a
module beside the current one. Uniform random fitness (float32, seed 0); each repeat times A then B
(B then A on odd repeats), medians after a warm-up call, compile time apart; the ranks are checked
equal. Cases: ``nondominated_ranks`` of ``[P, M]`` at the default block / chunk size of each
revision, and NSGA-II survival's call (``stop_after=P`` on ``2P`` rows). Writes
``benchmarks/results/sort_ab.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "sort_ab.json"
ROOT = Path(__file__).resolve().parent.parent
CASES = ((10_000, 2, None), (10_000, 3, None), (20_000, 3, 10_000), (100_000, 3, None))


def _old_module(rev: str) -> Any:
    src = subprocess.run(["git", "show", f"{rev}:evojax_ga/pareto.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "pareto_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("pareto_old", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="bf1ba17~1", help="the earlier revision (default: before the one-pass ranking)")
    ap.add_argument("--chunk", type=int, default=256, help="the earlier revision's chunk_size (its fastest at 10^4)")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args(argv)
    import jax
    import numpy as np

    from evojax_ga import pareto

    old = _old_module(a.rev)
    impls = {f"{a.rev} (chunk {a.chunk})": (old.nondominated_ranks, a.chunk),
             "this tree (default block)": (pareto.nondominated_ranks, None)}
    rows = []
    for P, M, stop in CASES:
        F = jax.numpy.asarray(np.random.default_rng(0).random((P, M), dtype=np.float32))
        fns, comp, times, ranks = {}, {}, {k: [] for k in impls}, {}
        for name, (fn, c) in impls.items():
            t = time.perf_counter()
            fns[name] = jax.jit(lambda F, fn=fn, c=c: fn(F, c, stop_after=stop)).lower(F).compile()
            comp[name] = time.perf_counter() - t
        reps = a.repeats if P <= 20_000 else max(1, a.repeats // 2)
        for i in range(reps + 1):                     # round 0 is the warm-up
            names = list(impls) if i % 2 == 0 else list(impls)[::-1]
            for name in names:
                t = time.perf_counter()
                ranks[name] = np.asarray(jax.block_until_ready(fns[name](F)))
                if i:
                    times[name].append(time.perf_counter() - t)
        a_name, b_name = list(impls)
        row = {"P": P, "M": M, "stop_after": stop, "repeats": reps,
               **{f"{k} median_s": statistics.median(v) for k, v in times.items()},
               **{f"{k} compile_s": v for k, v in comp.items()},
               "speedup": statistics.median(times[a_name]) / statistics.median(times[b_name]),
               "ranks_equal": bool(np.array_equal(ranks[a_name], ranks[b_name])),
               "fronts": int(ranks[b_name].max()) + 1}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"command": "python -m benchmarks.sort_ab " + " ".join(argv if argv is not None else sys.argv[1:]),
           "load_avg_1min_after": os.getloadavg()[0], "jax": jax.__version__, "rows": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
