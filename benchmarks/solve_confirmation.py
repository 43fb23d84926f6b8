"""Solves that hold (issue 15, item 3): the solved check with and without its confirmation.

For each job (the CLI's defaults, ``generations`` capped so that a run stays short) and each seed,
the same run is made with each variant, interleaved per seed (seed 0: off, on, ...; seed 1: off,
on, ...) so that load drift hits all variants alike:

* ``off``: the check alone (``confirm_episodes=0``: the behaviour before the confirmation);
* ``on``: a passed check must also pass ``confirm_episodes = check_episodes`` other fresh episodes;
* ``z``: no confirmation, the check passes when mean - 1.645 std / sqrt(n) >= target;
* ``onz``: both (the bound on the check and on its confirmation).

A variant's evolution is the same as ``off``'s until a check that ``off`` accepts is refused, so the
comparison is paired. Each run's kept member is evaluated on ``final_episodes`` (100) other fresh
episodes with the key the run folder's final evaluation uses: ``final_reaches_target`` is whether
that evaluation confirms the run's verdict. Per job and variant: solve rate, the rate at which the
final evaluation confirms a reported solve, median generations and wall time to solve (the first
seed of each variant, which compiles, is left out of the wall-time median).

``python -m benchmarks.solve_confirmation --seeds 20 --variants off,on,z,onz --out OUT.json``;
``python -m benchmarks.solve_confirmation --table OUT.json ...``: the pooled markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

#: variant name -> ControlConfig overrides
VARIANTS: dict[str, dict[str, Any]] = {
    "off": {"confirm_episodes": 0, "check_z": 0.0},
    "on": {"confirm_episodes": None, "check_z": 0.0},      # None: = check_episodes
    "z": {"confirm_episodes": 0, "check_z": 1.645},
    "onz": {"confirm_episodes": None, "check_z": 1.645},
}
#: generation caps (a run stays under ~30 s on a shared 2-core CPU; the jobs' own maxima fit)
CAPS = {"cartpole": 100, "acrobot": 100, "mountaincar": 300, "pendulum": 100}


def run_one(run: Any, task: Any, cfg: Any, seed: int) -> dict[str, Any]:
    """One in-memory run of ``run`` from ``seed`` and the final evaluation of its kept member."""
    import jax
    import numpy as np

    key = jax.random.key(seed)
    t = time.perf_counter()
    _, history, info = run(key)
    wall = time.perf_counter() - t
    # the run folder's final evaluation: key split(run key)[1] (evojax_ga.runs.control.make_run)
    final = np.asarray(task.evaluate_individual(jax.random.split(key)[1], info["params"], cfg.final_episodes))
    return {"seed": seed, "solved": bool(info["solved"]), "solved_generation": info["solved_generation"],
            "generations": info["generations"], "solve_wall_s": info["solve_wall_s"], "wall_s": wall,
            "checks": info["checks"], "confirmations": info["confirmations"],
            "confirmations_failed": info["confirmations_failed"], "check_mean": info["check_mean"],
            "confirm_mean": info["confirm_mean"], "final_mean": float(final.mean()),
            "final_reaches_target": bool(final.mean() >= cfg.target),
            "env_steps": float(np.sum(history.get("env_steps", 0.0)))}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Solve rate, confirmation rate of reported solves, medians over the solved runs."""
    solved = [r for r in rows if r["solved"]]
    held = [r for r in solved if r["final_reaches_target"]]
    warm = [r["solve_wall_s"] for r in solved if r is not rows[0]]
    return {"runs": len(rows), "solved": len(solved), "held": len(held),
            "solve_rate": len(solved) / len(rows) if rows else None,
            "confirm_rate": len(held) / len(solved) if solved else None,
            "median_generations": statistics.median([r["solved_generation"] for r in solved]) if solved else None,
            "median_solve_wall_s": statistics.median(warm) if warm else None,
            "checks": sum(r["checks"] for r in rows),
            "confirmations_failed": sum(r["confirmations_failed"] for r in rows)}


def table(paths: list[Path]) -> str:
    """A markdown table pooling result files (a seed run twice counts once; the wall-time median leaves
    out each file's first seed per variant, which compiled)."""
    pooled: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for path in paths:
        for job, d in json.loads(path.read_text())["jobs"].items():
            for v, rows in d["runs"].items():
                for n, r in enumerate(rows):
                    pooled.setdefault((job, v), {}).setdefault(r["seed"], {**r, "compiled": n == 0})
    lines = ["| job | variant | seeds | solved | final eval confirms | median generations to solve | "
             "median solve s | median env steps | checks / confirmations failed |", "|---" * 9 + "|"]
    jobs = list(dict.fromkeys(job for job, _ in pooled))
    order = sorted(pooled, key=lambda jv: (jobs.index(jv[0]), list(VARIANTS).index(jv[1])))
    for job, v in order:
        by_seed = pooled[(job, v)]
        rows = list(by_seed.values())
        solved = [r for r in rows if r["solved"]]
        held = sum(r["final_reaches_target"] for r in solved)
        warm = [r["solve_wall_s"] for r in solved if not r["compiled"]]
        med = statistics.median
        lines.append(f"| {job} | {v} | {len(rows)} | {len(solved)}/{len(rows)} | {held}/{len(solved)} "
                     f"({100 * held / max(len(solved), 1):.0f}%) | "
                     f"{med([r['solved_generation'] for r in solved]) if solved else '-'} | "
                     f"{med(warm):.2f} | {med([r['env_steps'] for r in rows]):.3g} | "
                     f"{sum(r['checks'] for r in rows)} / {sum(r['confirmations_failed'] for r in rows)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                    help="print the markdown table of these result files (pooled by seed) and exit")
    ap.add_argument("--jobs", default="mountaincar,acrobot,cartpole")
    ap.add_argument("--variants", default="off,on")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/solve_confirmation/results.json"))
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.table))
        return 0
    import jax

    from evojax_ga.runs import control

    variants = args.variants.split(",")
    words = sys.argv[1:] if argv is None else argv
    out: dict[str, Any] = {"command": "python -m benchmarks.solve_confirmation " + " ".join(words),
                           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                       "device": str(jax.devices()[0]), "load_start": os.getloadavg()},
                           "caps": CAPS, "jobs": {}}
    for job in args.jobs.split(","):
        cfgs = {v: control.config_for(job, generations=min(CAPS[job], control.JOB_DEFAULTS[job]["generations"]),
                                      **VARIANTS[v]) for v in variants}
        parts = control.build(cfgs[variants[0]])
        runs = {v: control.make_run(c, parts) for v, c in cfgs.items()}
        rows: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for v in variants:
                r = run_one(runs[v], parts.task, cfgs[v], seed)
                rows[v].append(r)
                print(f"{job} seed {seed} {v}: solved={r['solved']} gen={r['solved_generation']} "
                      f"final={r['final_mean']:.1f} held={r['final_reaches_target']} "
                      f"checks={r['checks']} conf_failed={r['confirmations_failed']} wall={r['wall_s']:.1f}s",
                      flush=True)
        out["jobs"][job] = {"config": {v: {k: getattr(c, k) for k in ("generations", "check_episodes",
                                                                       "confirm_episodes", "check_z", "target")}
                                       for v, c in cfgs.items()},
                            "summary": {v: summarise(rows[v]) for v in variants}, "runs": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        out["machine"]["load_end"] = os.getloadavg()
        args.out.write_text(json.dumps(out, indent=1))
    for job, d in out["jobs"].items():
        for v, s in d["summary"].items():
            print(f"{job:12s} {v:4s} solved {s['solved']}/{s['runs']}  held {s['held']}/{s['solved']}  "
                  f"median gen {s['median_generations']}  median solve {s['median_solve_wall_s']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
