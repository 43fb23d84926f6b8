"""Control beyond the four (issue 17, item 6): return at equal environment steps on more gymnax environments.

This project's default GA for an environment without a named job (the generic ``control`` job's
``truncation`` preset, :data:`evojax_ga.runs.control_jobs.GENERIC_DEFAULTS`) against evosax's SimpleGA and
OpenES, on equal terms as in ``benchmarks/equal_terms.py`` (its contenders, one shared rollout):

* the same network for every contender (an MLP on the flattened observation, ``--hidden``, ReLU), the
  same population, episodes per member, raw observations, std ``--sigma``, and the same step cap per
  episode (``--max-steps``, applied to every contender alike); the GAs start from the same initial
  population, OpenES from a zero mean (as ES do);
* every contender runs exactly ``--generations`` generations (no early stop: equal generations, so equal
  environment steps up to the episodes' lengths; each run records the steps it used); generation ``g`` of
  seed ``s`` plays the start states of ``fold_in(k_evolve, g)``, the same for every contender;
* the result of a run is the **best member of its last generation** (by its training return; the same rule
  for every contender, whether or not it keeps a best-so-far) played on ``--final-episodes`` fresh episodes
  of ``fold_in(k_check, FINAL_SALT)``, the same episodes for every contender at that seed;
* where an environment has a threshold (``ENV:T``), time to threshold as in the equal-terms table: the
  first generation whose best member reaches ``T`` on its training episodes and then on ``--final-episodes``
  fresh episodes of ``fold_in(k_check, g)`` (the mean: the single check); the clock runs on while the run
  plays its remaining generations, so the time counts the checks made;
* wall-clock from the first generation to the last, compiled beforehand (compile time apart, once per
  contender and environment); contenders interleaved within each seed (A, B, C for seed 0, then seed 1, ...).

Run: ``python -m benchmarks.beyond_four --seeds 3`` (needs the ``peers`` extra for the evosax rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks import equal_terms as et
from benchmarks import harness
from benchmarks.bench_control import _median
from benchmarks.contenders import Contender

OUT_DIR = Path(__file__).resolve().parent / "beyond_four"
#: the cheapest first, so that an interrupted run has saved them; 90: gym's ``reward_threshold`` of the environment
ENVS = ("Catch-bsuite", "MountainCarContinuous-v0:90", "Breakout-MinAtar", "SpaceInvaders-MinAtar", "Asterix-MinAtar",
        "Freeway-MinAtar")
CONTENDERS = ("truncation", "evosax SimpleGA", "evosax OpenES")
#: folded into ``k_check`` for the final evaluation's episodes (apart from the checks' ``fold_in(k_check, g)``)
FINAL_SALT = 1_000_003


def shared_config(env: str, a: argparse.Namespace, hidden: tuple[int, ...]) -> Any:
    """The generic job's config on ``env`` with the table's shared settings (an MLP on raw observations)."""
    from evojax_ga.runs import control
    return control.config_for("control", env=env, pop_size=a.pop, episodes=a.episodes, hidden=hidden,
                              activation=a.activation, policy="mlp", normalize_obs=False, max_steps=a.max_steps,
                              sigma=a.sigma, check_episodes=a.final_episodes, confirm_episodes=0, check_z=0.0,
                              target="none")


def play(c: Contender, check: Callable[..., Any], seed: int, generations: int, threshold: float | None,
         final_episodes: int) -> dict[str, Any]:
    """One run of ``c`` on ``seed``: ``generations`` generations, then its last generation's best member on
    the final episodes; with ``threshold``, when (generation, seconds, env steps) it first passed the check."""
    import jax
    import numpy as np

    k_init, k_evolve, k_check = jax.random.split(jax.random.key(seed), 3)
    state = jax.block_until_ready(c.init(k_init))
    steps, best, solved = 0.0, [], None
    t0 = time.perf_counter()
    for g in range(generations):
        state, fit, pop, env_steps = c.gen(jax.random.fold_in(k_evolve, g), state)
        fit = np.asarray(fit)
        steps += float(env_steps)
        i = int(np.argmax(np.where(np.isfinite(fit), fit, -np.inf)))
        best.append(float(fit[i]))
        if threshold is not None and solved is None and fit[i] >= threshold:
            ret = np.asarray(check(jax.random.fold_in(k_check, g), pop, i))
            if ret.mean() >= threshold:
                solved = {"generation": g + 1, "s": time.perf_counter() - t0, "env_steps": steps}
    jax.block_until_ready(state)
    s = time.perf_counter() - t0
    final = np.asarray(check(jax.random.fold_in(k_check, FINAL_SALT), pop, i))
    return {"final_mean": float(final.mean()), "final_std": float(final.std()), "s": s, "env_steps": steps,
            "generations": generations, "best_train": best, "solved": solved}


def race(env: str, threshold: float | None, cs: list[Contender], check: Callable[..., Any], seeds: range,
         generations: int, final_episodes: int) -> tuple[list[dict[str, Any]], dict[str, list[dict]]]:
    """``(rows, raw runs)`` on one environment: compile times apart, then every contender on seed ``s``
    before seed ``s + 1``."""
    comp = {c.name: et.compile_s(c, check) for c in cs}
    runs: dict[str, list[dict]] = {c.name: [] for c in cs}
    for seed in seeds:
        for c in cs:
            r = play(c, check, seed, generations, threshold, final_episodes)
            runs[c.name].append({"seed": seed, **r})
            print(json.dumps({"env": env, "contender": c.name, "seed": seed,
                              **{k: v for k, v in r.items() if k != "best_train"}}), flush=True)
    rows = [row_of(env, threshold, c.name, runs[c.name], comp[c.name]) for c in cs]
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows, runs


def row_of(env: str, threshold: float | None, name: str, runs: list[dict[str, Any]], comp: float) -> dict[str, Any]:
    """The table row of one contender: final return median [min, max] over seeds, wall-clock, env steps and,
    with a threshold, solves and the median time / generations to it over the solved runs."""
    finals = [r["final_mean"] for r in runs]
    row = {"env": env, "contender": name, "seeds": len(runs), "final_return_median": _median(finals),
           "final_return_min": min(finals), "final_return_max": max(finals),
           "median_s": _median([r["s"] for r in runs]), "median_env_steps": _median([r["env_steps"] for r in runs]),
           "compile_s": comp}
    if threshold is not None:
        solved = [r["solved"] for r in runs if r["solved"]]
        row.update({"threshold": threshold, "solved": f"{len(solved)}/{len(runs)}",
                    "median_s_to_threshold": _median([x["s"] for x in solved]),
                    "median_generations_to_threshold": _median([x["generation"] for x in solved])})
    return row


def parse_envs(ap: argparse.ArgumentParser, spec: str) -> list[tuple[str, float | None]]:
    """``[(gymnax id, threshold or None)]`` of ``--envs`` (``ENV`` or ``ENV:T``); a bad entry exits (code 2)."""
    out: list[tuple[str, float | None]] = []
    for item in spec.split(","):
        env, _, t = item.partition(":")
        try:
            out.append((env, float(t) if t else None))
        except ValueError:
            ap.error(f"--envs: threshold of {item!r} must be a number, got {t!r}")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default=",".join(ENVS), help="gymnax ids, comma-separated; ENV:T sets a threshold T")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated, of: {', '.join(CONTENDERS)}")
    ap.add_argument("--generations", type=int, default=40)
    ap.add_argument("--pop", type=int, default=64, help="population (the generic job's default: 64)")
    ap.add_argument("--episodes", type=int, default=1, help="episodes per member and generation")
    ap.add_argument("--max-steps", type=int, default=500, help="step cap per episode, every contender alike")
    ap.add_argument("--hidden", default="16,16", help="MLP widths (the generic job's default: 16,16)")
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--sigma", type=float, default=0.1, help="mutation / perturbation std of every contender")
    ap.add_argument("--es-lr", type=float, default=0.01, help="OpenES Adam learning rate")
    ap.add_argument("--final-episodes", type=int, default=32, help="fresh episodes of the final best member")
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/beyond_four/<settings>.json)")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="print the rows of result files and exit")
    a = ap.parse_args(argv)
    if a.table:
        rows = [r for f in a.table for r in json.loads(Path(f).read_text())["rows"]]
        print(harness.markdown_table(rows))
        return {"rows": rows}
    wanted = tuple(a.contenders.split(","))
    for name in wanted:
        if name not in CONTENDERS:
            ap.error(f"--contenders: unknown contender {name!r}; known: {', '.join(CONTENDERS)}")
    et.check_run_args(ap, a)
    for name in ("pop", "episodes", "max_steps", "final_episodes"):
        if getattr(a, name) < (2 if name == "pop" else 1):
            ap.error(f"--{name.replace('_', '-')} must be >= {2 if name == 'pop' else 1}, got {getattr(a, name)}")
    try:
        hidden = tuple(int(h) for h in a.hidden.split(","))
    except ValueError:
        ap.error(f"--hidden must be comma-separated ints, got {a.hidden!r}")
    envs = parse_envs(ap, a.envs)
    cfgs = []
    for env, _ in envs:                       # every bad argument refused here, before any compute
        try:
            cfgs.append(shared_config(env, a, hidden))
        except ValueError as exc:
            ap.error(f"--envs {env!r} with these settings: {exc}")
    from evojax_ga.runs.control import check_env
    names, notes = et.available(wanted)
    rows: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    payload: dict[str, Any] = {}
    out = Path(a.out) if a.out else OUT_DIR / (f"pop{a.pop}-g{a.generations}-steps{a.max_steps}-"
                                               f"{a.activation}{'-'.join(map(str, hidden))}.json")
    for cfg, (_, threshold) in zip(cfgs, envs):
        cfg = check_env(cfg)
        task, cs = et.contenders_for(cfg, names, truncation=32, lr=a.es_lr)
        env_rows, runs = race(cfg.env, threshold, cs, et.make_check(task, a.final_episodes), et.seeds_of(a),
                              a.generations, a.final_episodes)
        rows += env_rows
        raw.append({"env": cfg.env, "threshold": threshold, "config": dataclasses.asdict(cfg), "runs": runs})
        payload = et.save(out, "python -m benchmarks.beyond_four", argv, a, rows, notes, raw)
    print(harness.markdown_table(rows))
    return payload


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
