"""Control on equal terms (issue 15, item 1): contenders that differ only in their algorithm.

Every contender evolves the same policy network on the same environment through ONE shared rollout
(this project's gymnax task: raw observations unless ``--normalize-obs``, which then wraps every
contender alike), with the same population size, episodes per member, initial population (the GAs;
OpenES starts from a zero mean, as ES do), the same solved check and the same caps:

* generation ``g`` of seed ``s`` evaluates its population on the episodes of
  ``fold_in(fold_in(k_evolve, g), 1)`` (the same start states for every contender); when the
  generation's best member reaches the threshold on its training episodes it is played on
  ``check_episodes`` fresh episodes drawn from ``fold_in(k_check, g)`` (the same episodes for every
  contender at that seed and generation); the run is solved when their mean reaches the threshold
  (this project's single check: ``confirm_episodes=0, check_z=0``);
* the solved member is then played on a second fresh set (``fold_in(fold_in(k_check, g), CONFIRM_SALT)``,
  same size) and ``confirmed`` records whether that mean reaches the threshold too (not part of the
  time);
* time to threshold runs from the first generation to the passed check, everything compiled before
  (compile time measured apart, once per contender and environment); a run that has not solved within
  ``cap_s`` seconds or ``max_generations`` generations counts as unsolved.

Contenders run interleaved within each seed (A, B, C, D, A, B, C, D, ...) in one process, so machine
load hits all alike. Run: ``python -m benchmarks.equal_terms --seeds 10`` (evosax rows need the
``peers`` extra; without it only this project's rows are measured, with a note).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks import harness
from benchmarks.bench_control import _median
from benchmarks.contenders import EVOJAX, PEERS, Contender, evojax_contender, evosax_contender, ours
from benchmarks.variants import variants

OUT_DIR = Path(__file__).resolve().parent / "equal_terms"
CONTENDERS = ("truncation", "simple", "deep_ga", "evosax SimpleGA", "evosax OpenES", "EvoJAX SimpleGA", "EvoJAX PGPE")


def shared_config(job: str, pop: int, episodes: int, hidden: tuple[int, ...], activation: str,
                  normalize_obs: bool, check_episodes: int, init_scale: float | None = None) -> Any:
    """The control config every contender shares (this project's single solved check; ``init_scale``:
    the shared initial population's, default the job's)."""
    from evojax_ga.runs import control
    return control.config_for(job, preset="simple", pop_size=pop, episodes=episodes, hidden=hidden,
                              activation=activation, normalize_obs=normalize_obs, check_episodes=check_episodes,
                              confirm_episodes=0, check_z=0.0, init_scale=init_scale)


def solve(c: Contender, check: Callable[..., Any], seed: int, target: float, cap_s: float,
          max_generations: int, z: float = 0.0, confirm: bool = False) -> dict[str, Any]:
    """One run of ``c`` on ``seed`` until the shared solved check passes or a cap is hit.

    The check: ``control.passes(returns, target, z)`` on the check's fresh episodes and, with ``confirm``,
    on a second fresh set as well (this project's default check: ``z = 1.645``, ``confirm``). ``confirmed``
    then records whether a further fresh set (not part of the time) reaches the threshold on its mean."""
    import jax
    import numpy as np

    from evojax_ga.runs.control import CONFIRM_SALT, passes

    k_init, k_evolve, k_check = jax.random.split(jax.random.key(seed), 3)
    state = jax.block_until_ready(c.init(k_init))
    steps, checks, t0 = 0.0, 0, time.perf_counter()
    for g in range(max_generations):
        state, fit, pop, env_steps = c.gen(jax.random.fold_in(k_evolve, g), state)
        fit = np.asarray(fit)
        steps += float(env_steps)
        i = int(np.argmax(np.where(np.isfinite(fit), fit, -np.inf)))
        if fit[i] >= target:
            checks += 1
            k = jax.random.fold_in(k_check, g)
            ret = np.asarray(check(k, pop, i))
            ok = passes(ret, target, z)
            if ok and confirm:
                ok = passes(np.asarray(check(jax.random.fold_in(k, CONFIRM_SALT), pop, i)), target, z)
            if ok:
                s = time.perf_counter() - t0
                again = np.asarray(check(jax.random.fold_in(k, CONFIRM_SALT + int(confirm)), pop, i))
                return {"solved": True, "s": s, "generations": g + 1, "env_steps": steps, "checks": checks,
                        "check_mean": float(ret.mean()), "confirm_mean": float(again.mean()),
                        "confirmed": bool(again.mean() >= target)}
        if time.perf_counter() - t0 > cap_s:
            break
    return {"solved": False, "s": time.perf_counter() - t0, "generations": g + 1, "env_steps": steps,
            "checks": checks}


def make_check(task: Any, episodes: int) -> Callable[..., Any]:
    """``check(key, population, i)``: member ``i``'s returns on ``episodes`` fresh episodes of ``key``."""
    import jax

    take = jax.jit(lambda pop, i: jax.tree_util.tree_map(lambda x: x[i], pop))
    return lambda key, pop, i: task.evaluate_individual(key, take(pop, i), episodes)


def contenders_for(cfg: Any, names: tuple[str, ...], truncation: int, lr: float) -> tuple[Any, list[Contender]]:
    """``(shared task, contenders of names)`` on ``cfg``."""
    from evojax_ga.runs import control

    parts = control.build(cfg)
    out = []
    ours_ = variants(cfg, truncation)
    for name in names:
        if name == "simple":
            out.append(ours(name, parts, parts.strategy))
        elif name in ours_:
            out.append(ours(name, parts, ours_[name]))
        elif name.endswith("+ranked") and name[:-len("+ranked")] in ours_:     # nominates by its ranked fitness
            out.append(ours(name, parts, ours_[name[:-len("+ranked")]], ranked=True))
        elif name in EVOJAX:
            out.append(evojax_contender(name, parts, cfg.pop_size, cfg.sigma))
        else:
            out.append(evosax_contender(name, parts, cfg.pop_size, cfg.sigma, lr))
    return parts.task, out


def runs_by_seed(files: list[str]) -> dict[tuple[str, float, str], dict[int, dict[str, Any]]]:
    """``{(env, threshold, contender): {seed: run}}`` over the raw runs of several result files (a seed
    measured twice counts once: the first file's run)."""
    runs: dict[tuple[str, float, str], dict[int, dict[str, Any]]] = {}
    for f in files:
        for env in json.loads(Path(f).read_text())["raw"]:
            for name, rs in env["runs"].items():
                for r in rs:
                    runs.setdefault((env["env"], env["config"]["target"], name), {}).setdefault(r["seed"], r)
    return runs


def pooled(files: list[str]) -> list[dict[str, Any]]:
    """Rows over the raw runs of several result files, by environment, threshold and contender (see
    :func:`runs_by_seed`; times are not comparable across files: generations and solve rates are)."""
    return [row_of(env, target, name, list(by_seed.values()), float("nan"), float("nan"))
            for (env, target, name), by_seed in runs_by_seed(files).items()]


def compile_s(c: Contender, check: Callable[..., Any]) -> float:
    """Seconds to compile init, a generation and the check, on a throwaway key (three generations:
    a state whose types change after the first step, e.g. evosax's, compiles the step twice)."""
    import jax

    t0 = time.perf_counter()
    state = c.init(jax.random.key(99_999))
    for g in range(3):
        state, _, pop, _ = c.gen(jax.random.key(g), state)
    jax.block_until_ready(check(jax.random.key(2), pop, 0))
    jax.block_until_ready(state)
    return time.perf_counter() - t0


def all_seeds_median(runs: list[dict[str, Any]], field: str) -> Any:
    """Median of ``field`` over every run, an unsolved run counting as never reaching the threshold
    (+inf): 'unsolved' when that is the median. Unlike the median over solved runs it does not favour
    a contender that solves only the easy seeds."""
    xs = [r[field] if r["solved"] else math.inf for r in runs]
    m = statistics.median(xs) if xs else None
    return "unsolved" if m == math.inf else m


def row_of(env: str, target: float, name: str, runs: list[dict[str, Any]], comp: float, cap_s: float) -> dict:
    """The table row of one contender from its runs (times over solved runs; ``all_seeds_median_s``: over
    every run, see :func:`all_seeds_median`; worst: 'unsolved' if any run stopped at a cap, ``cap_s``
    seconds or the generation cap, whichever came first)."""
    solved = [r for r in runs if r["solved"]]
    times = [r["s"] for r in solved]
    worst: Any = max(times) if len(solved) == len(runs) and times else "unsolved"   # capped: see cap_s
    return {"env": env, "threshold": target, "contender": name,
            "solved": f"{len(solved)}/{len(runs)}", "median_s": _median(times), "worst_s": worst,
            "all_seeds_median_s": all_seeds_median(runs, "s"),
            "all_seeds_median_generations": all_seeds_median(runs, "generations"),
            "median_generations": _median([r["generations"] for r in solved]),
            "median_env_steps": _median([r["env_steps"] for r in solved]),
            "confirmed": f"{sum(r['confirmed'] for r in solved)}/{len(solved)}", "compile_s": comp, "cap_s": cap_s}


def available(wanted: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """``(the contenders of wanted whose library is installed, a skip note per missing peer library)``."""
    missing = {p for p in ("evosax", "evojax") if not harness.peer_available(p)}
    names = tuple(n for n in wanted if n.split(" ")[0].lower() not in missing)
    notes = [harness.skip_note(p, "not installed (peers extra)") for p in sorted(missing)
             if any(n.split(" ")[0].lower() == p for n in wanted)]
    return names, notes


def race(env: str, target: float, cs: list[Contender], checks: dict[str, Callable[..., Any]], seeds: range,
         cap_s: float, max_generations: int, z: float,
         confirm: bool) -> tuple[list[dict[str, Any]], dict[str, list[dict]]]:
    """``(rows, raw runs)`` of contenders ``cs`` on one environment: compile times apart, then ``seeds``
    with every contender on seed ``s`` before seed ``s + 1`` (interleaved)."""
    comp = {c.name: compile_s(c, checks[c.name]) for c in cs}
    runs: dict[str, list[dict]] = {c.name: [] for c in cs}
    for seed in seeds:
        for c in cs:
            r = solve(c, checks[c.name], seed, target, cap_s, max_generations, z=z, confirm=confirm)
            runs[c.name].append({"seed": seed, **r})
            print(json.dumps({"env": env, "contender": c.name, "seed": seed, **r}), flush=True)
    rows = [row_of(env, target, c.name, runs[c.name], comp[c.name], cap_s) for c in cs]
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows, runs


def save(out: Path, command: str, argv: list[str] | None, a: argparse.Namespace, rows: list[dict], notes: list[str],
         raw: list[dict]) -> dict[str, Any]:
    """Write the result file (after every environment, so that an interrupted run keeps what it measured)."""
    payload = {"command": " ".join([command, *(argv or [])]), "args": vars(a), "env": harness.env_info(),
               "versions": {p: harness.pkg_version(p) for p in ("jax", "evosax", "evojax", "gymnax")},
               "rows": rows, "notes": notes, "raw": raw}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=str))
    return payload


def seeds_of(a: argparse.Namespace) -> range:
    """The seeds ``--first-seed .. --first-seed + --seeds - 1``."""
    return range(a.first_seed, a.first_seed + a.seeds)


def check_run_args(ap: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    """``--seeds`` / ``--max-generations`` / ``--generations`` >= 1 (where present), ``--first-seed`` in
    [0, 2**31 - 1 - seeds], ``--cap-s`` > 0 (where present); a bad one exits (code 2) with one line naming it,
    before any compute."""
    for name in ("seeds", "max_generations", "generations"):
        if getattr(a, name, 1) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if not 0 <= a.first_seed <= 2 ** 31 - 1 - a.seeds:
        ap.error(f"--first-seed must be in [0, 2**31 - 1 - seeds], got {a.first_seed}")
    if not getattr(a, "cap_s", 1.0) > 0:
        ap.error(f"--cap-s must be > 0, got {a.cap_s}")


def configs(ap: argparse.ArgumentParser, a: argparse.Namespace) -> list[Any]:
    """The shared config of every ``--envs`` entry; a bad argument exits (code 2) with one line naming it."""
    known = {"simple", *PEERS, *variants(shared_config("cartpole", 8, 1, (4,), "relu", False, 1), 4)}
    for name in a.contenders.split(","):
        if name not in known and name.removesuffix("+ranked") not in known - {"simple", *PEERS}:
            ap.error(f"--contenders: unknown contender {name!r}; known: {', '.join(sorted(known))} "
                     "(this project's, with +ranked: nominated for the check by the fitness it ranks by)")
    check_run_args(ap, a)
    try:
        hidden = tuple(int(h) for h in a.hidden.split(","))
    except ValueError:
        ap.error(f"--hidden must be comma-separated ints, got {a.hidden!r}")
    out = []
    for spec in a.envs.split(","):
        job, _, target = spec.partition(":")      # "acrobot:-85": another threshold than the job's
        try:
            cfg = shared_config(job, a.pop, a.episodes, hidden, a.activation, a.normalize_obs, a.check_episodes,
                                a.init_scale)
            cfg = dataclasses.replace(cfg, sigma=a.sigma, **({"target": float(target)} if target else {}))
            dataclasses.replace(cfg, preset="deep_ga", truncation=a.truncation)   # --truncation <= --pop
        except ValueError as exc:
            ap.error(f"--envs {spec!r} with these settings: {exc}")
        out.append(cfg)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default="cartpole,acrobot,acrobot:-85",
                    help="control jobs, comma-separated; JOB:T sets the threshold T")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="comma-separated: simple, the names of variants(), and the peers "
                         f"({', '.join(PEERS)})")
    ap.add_argument("--pop", type=int, default=256)
    ap.add_argument("--episodes", type=int, default=1)
    ap.add_argument("--hidden", default="16,16")
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--normalize-obs", action="store_true")
    ap.add_argument("--check-episodes", type=int, default=100)
    ap.add_argument("--check", choices=("single", "default"), default="single",
                    help="single: the mean of the check's episodes; default: this project's default check "
                         "(lower 95%% bound, z = 1.645, on the check and on a second fresh set)")
    ap.add_argument("--truncation", type=int, default=32, help="deep_ga parents: the top T")
    ap.add_argument("--sigma", type=float, default=0.1, help="mutation / perturbation std of every contender")
    ap.add_argument("--init-scale", type=float, default=None,
                    help="scale of the shared initial population (LeCun normal x s; default: the job's)")
    ap.add_argument("--es-lr", type=float, default=0.01, help="OpenES Adam learning rate")
    ap.add_argument("--cap-s", type=float, default=20.0)
    ap.add_argument("--max-generations", type=int, default=500)
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/equal_terms/<envs>-<net>.json)")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="print the rows of result files and exit")
    ap.add_argument("--pool", action="store_true",
                    help="with --table: one row per environment and contender over the runs of all the files "
                         "(each seed once; the files must share the other settings)")
    a = ap.parse_args(argv)
    if a.table:
        rows = pooled(a.table) if a.pool else [r for f in a.table for r in json.loads(Path(f).read_text())["rows"]]
        print(harness.markdown_table(rows))
        return {"rows": rows}
    cfgs = configs(ap, a)                  # every bad argument refused here, before any compute
    hidden = cfgs[0].hidden
    wanted = tuple(a.contenders.split(","))
    names, notes = available(wanted)
    rows, raw = [], []
    for cfg in cfgs:
        task, cs = contenders_for(cfg, names, a.truncation, a.es_lr)
        check = make_check(task, a.check_episodes)
        env_rows, runs = race(cfg.env, cfg.target, cs, {c.name: check for c in cs}, seeds_of(a), a.cap_s,
                              a.max_generations, z=1.645 if a.check == "default" else 0.0, confirm=a.check == "default")
        rows += env_rows
        raw.append({"env": cfg.env, "config": {k: v for k, v in dataclasses.asdict(cfg).items()}, "runs": runs})
        name = f"{a.envs.replace(',', '-').replace(':', '')}-{a.activation}{'-'.join(map(str, hidden))}"
        suffix = ("-norm" if a.normalize_obs else "") + ("-check" if a.check == "default" else "")
        payload = save(Path(a.out) if a.out else OUT_DIR / f"{name}{suffix}.json", "python -m benchmarks.equal_terms",
                       argv, a, rows, notes, raw)
    print(harness.markdown_table(rows))
    return payload


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
