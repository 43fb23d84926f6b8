"""Two source trees of evojax_ga side by side: GA step, rollout throughput and CLI cold start.

    python -m benchmarks.ab_trees A_DIR B_DIR [--rounds 5] [--parts ga_step,rollout,cold_start]

For a refactor that must not slow anything down: each round runs every part once for tree A and
once for tree B, in alternating order (A, B, then B, A, ...), each in a fresh process whose
``PYTHONPATH`` starts with that tree, so machine load hits both alike. Within a process the step is
timed after a warm-up call (median of ``--repeats``); cold start is the ``solve_process_age_s`` of
``evojax-ga run cartpole`` (process start to solved check, compilation included, no compile cache)
and the process's wall time. Prints a table of medians over rounds and writes JSON with ``--out``.
The snippets accept either API generation (old and new keyword names).
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

GA_STEP = r"""
import json, time, jax, jax.numpy as jnp, numpy as np
import evojax_ga as ega
P, N = {P}, {N}
try:
    strategy = ega.presets.simple_ga(mutation_rate=0.1, sigma=0.02, tournament=2, crossover_prob=0.5, elite=1)
except TypeError:
    strategy = ega.presets.simple_ga(rate=0.1, sigma=0.02, tournament=2, crossover_prob=0.5, elite=1)
key = jax.random.key(0)
pop = {{"x": jax.random.normal(key, (P, N), jnp.float32)}}
fitness = jax.random.normal(jax.random.key(1), (P,), jnp.float32)
state = strategy.tell(strategy.init(key, pop), pop, fitness)
@jax.jit
def step(state, key):
    pop, state = strategy.ask(key, state)
    return strategy.tell(state, pop, fitness)
state = jax.block_until_ready(step(state, key))
ts = []
for i in range({repeats}):
    t0 = time.perf_counter()
    state = jax.block_until_ready(step(state, jax.random.fold_in(key, i)))
    ts.append(time.perf_counter() - t0)
print(json.dumps({{"median_s": float(np.median(ts))}}))
"""

ROLLOUT = r"""
import json, time, jax, jax.numpy as jnp, numpy as np
import evojax_ga as ega
from evojax_ga.models import MLP
model = MLP(features=(16, 16), out=2)
try:
    pop = ega.init_population(jax.random.key(0), model.init, jnp.zeros((4,)), pop_size={P})
except TypeError:
    pop = ega.init_population(jax.random.key(0), model.init, jnp.zeros((4,)), size={P})
# the MLP fast path: the model itself in the new API, its bound apply in the old one
policy = model if hasattr(ega.tasks, "as_task") else model.apply
task = ega.tasks.gymnax("CartPole-v1", policy, episodes=1, chunk_size=256)
ev = jax.jit(lambda k, p: task.evaluate(k, p)[0])
jax.block_until_ready(ev(jax.random.key(1), pop))
ts = []
for i in range({repeats}):
    t0 = time.perf_counter()
    jax.block_until_ready(ev(jax.random.key(2 + i), pop))
    ts.append(time.perf_counter() - t0)
print(json.dumps({{"median_s": float(np.median(ts))}}))
"""


def _python(tree: Path, code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode:
        raise RuntimeError(f"{tree}: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_start(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "evojax_ga", "run", "cartpole", "--no-compile-cache",
                              "--no-progress", "--out", str(run_dir)], env=env, capture_output=True, text=True,
                             cwd=tree)
        wall = time.perf_counter() - t0
        if out.returncode:
            raise RuntimeError(f"{tree}: {out.stderr[-1500:]}")
        summary = json.loads((run_dir / "summary.json").read_text())
    return {"process_wall_s": wall, "solve_process_age_s": summary.get("solve_process_age_s")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--parts", default="ga_step,rollout,cold_start")
    ap.add_argument("--P", type=int, default=10_000, help="GA step population")
    ap.add_argument("--N", type=int, default=1_000, help="GA step genes per individual")
    ap.add_argument("--rollout-P", type=int, default=4096)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    results: dict[str, dict[str, list[float]]] = {}
    for r in range(args.rounds):
        order = [("A", args.a), ("B", args.b)] if r % 2 == 0 else [("B", args.b), ("A", args.a)]
        for part in parts:
            for label, tree in order:
                if part == "ga_step":
                    res = _python(tree, GA_STEP.format(P=args.P, N=args.N, repeats=args.repeats))
                elif part == "rollout":
                    res = _python(tree, ROLLOUT.format(P=args.rollout_P, repeats=args.repeats))
                elif part == "cold_start":
                    res = _cold_start(tree)
                else:
                    raise ValueError(f"--parts must name ga_step, rollout or cold_start, got {part!r}")
                for k, v in res.items():
                    results.setdefault(f"{part}.{k}", {}).setdefault(label, []).append(float(v))
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"| measure | A ({args.a}) median | B ({args.b}) median | B / A |")
    print("|---|---|---|---|")
    table = {}
    for k, d in results.items():
        ma, mb = statistics.median(d["A"]), statistics.median(d["B"])
        table[k] = {"A": d["A"], "B": d["B"], "median_A": ma, "median_B": mb}
        print(f"| {k} | {ma:.4f} | {mb:.4f} | {mb / ma:.3f} |")
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": table},
                                       indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
