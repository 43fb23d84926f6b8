"""Many seeds of one control run in one process and one compilation (``evojax-ga run JOB --seeds N``).

:func:`run_seeds` with ``mode="vmap"`` advances N runs of one
:class:`~evojax_ga.runs.control.ControlConfig` together: the GA blocks of every seed in one vmapped
program (:func:`evojax_ga.seeds.make_seeds_runner`), and between blocks each seed's own solved check
(:mod:`evojax_ga.runs.solved_check`, the single run's). With ``mode="loop"`` the seeds run one after
another through the single run's compiled program (no recompilation per seed); on a CPU that was the
faster of the two (``benchmarks/README.md``, "Many seeds in one program"), so ``"auto"`` picks it there
and ``"vmap"`` on a GPU/TPU. Both give every seed the same results.
A seed that solves, or runs out of generations, is frozen by its generation limit while the others go
on, so seed ``s`` ends with the state, metrics and info of ``make_run(cfg)(jax.random.key(s))`` (bit
for bit on the same machine; the timings are the shared clock of all seeds). A frozen seed is still
computed (and discarded) until the last seed stops: vmapped code runs both sides of a branch.

:func:`start_seeds` writes one run folder per seed (``OUT/seed-<s>/``, each what ``evojax-ga run JOB
--seed s`` would write, with its final checkpoint) and, in ``OUT``, ``summary.json`` across the
seeds (solve rate, median and range of generations and of the final evaluation) and ``seeds.png``
(every seed's best-so-far curve). The folders are written when the last seed stops: an interrupted
``--seeds`` run leaves nothing to resume.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from evojax_ga.runs.control import ControlConfig, build, make_run, run_keys
from evojax_ga.runs.loop import Ending, Run
from evojax_ga.runs.solved_check import COUNTER_STARTS, COUNTERS, solved_check

__all__ = ["SeedRun", "run_seeds", "start_seeds", "seed_folder", "seeds_mode", "SEEDS_PLOT_FILE", "SEEDS_MODES"]

#: the per-seed curves in the parent folder of a ``--seeds`` run
SEEDS_PLOT_FILE = "seeds.png"
#: how the seeds of one process run: ``vmap`` (one program over every seed), ``loop`` (one seed after
#: another through the same compiled program), ``auto`` (loop on a CPU, vmap on a GPU/TPU)
SEEDS_MODES = ("auto", "vmap", "loop")


class SeedRun(NamedTuple):
    """One seed of :func:`run_seeds`: what ``Run.__call__`` returns for a single run, and its key."""
    seed: int
    key: Any
    state: Any
    history: dict[str, np.ndarray]
    info: dict


def seed_folder(run_dir: str | Path, seed: int) -> Path:
    """The run folder of seed ``seed`` inside a ``--seeds`` run folder."""
    return Path(run_dir) / f"seed-{seed}"


def seeds_mode(mode: str) -> str:
    """``"vmap"`` or ``"loop"`` for ``mode`` (``"auto"``: loop on a CPU, vmap on a GPU/TPU)."""
    from evojax_ga.chunking import by_backend
    if mode not in SEEDS_MODES:
        raise ValueError(f"seeds_mode must be one of {list(SEEDS_MODES)}, got {mode!r}")
    return str(by_backend("loop", "vmap")) if mode == "auto" else mode


def run_seeds(cfg: ControlConfig, seeds: Sequence[int], progress: bool = False,
              run: Run | None = None, parts: Any = None, mode: str = "vmap") -> tuple[Run, list[SeedRun]]:
    """Run every seed of ``seeds`` (distinct ints in [0, 2**32 - 1]) in one process with one
    compilation: ``mode="vmap"`` all seeds at once through the vmapped block runner, ``"loop"`` one
    seed after another through the single run's compiled program (on a CPU the faster, see
    ``benchmarks/README.md``; the results are the same bit for bit). ``(run, one SeedRun per seed)``
    where ``run`` is the single-seed :class:`~evojax_ga.runs.loop.Run` (its ``finish`` writes a
    seed's folder)."""
    import jax
    import jax.numpy as jnp

    from evojax_ga import run_folder as rf
    from evojax_ga.seeds import make_seeds_runner, seed_block_histories, seed_keys, seed_slice

    keys = seed_keys(seeds)
    mode = seeds_mode(mode)
    p = build(cfg) if parts is None else parts
    run = make_run(cfg, p, warm=mode == "loop") if run is None else run
    if mode == "loop":
        return run, _loop(run, seeds, keys, progress)
    checker = solved_check(p.task, cfg)
    n = len(seeds)
    _, k_evolve, k_check, _ = jax.vmap(run_keys)(keys)
    k_runs = jax.vmap(lambda k: jax.random.split(k)[1])(k_evolve)   # as evolve_blocks keys its blocks
    states = jax.jit(jax.vmap(run.init))(keys)
    runner = make_seeds_runner(p.strategy, p.task, cfg.block)
    limits = np.full((n,), cfg.generations, np.int32)
    pause = jnp.float32(np.inf if cfg.target is None else cfg.target)
    infos: list[dict] = [dict(zip(COUNTERS, COUNTER_STARTS)) for _ in range(n)]
    parts_h: list[dict[str, list]] = [{} for _ in range(n)]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.generations * n, desc=f"{n} seeds", unit="gen", dynamic_ncols=True)
    t0 = time.perf_counter()
    jax.block_until_ready(checker.compile(jax.eval_shape(run.init, jax.random.key(0)).population))
    try:
        while (np.asarray(states.generation) < limits).any():
            states, metrics, active = runner(k_runs, states, jnp.asarray(limits), jnp.float32(np.inf), pause)
            act = np.asarray(active)
            gens = np.asarray(states.generation)
            fit = np.asarray(states.fitness)
            best = np.max(np.where(np.isfinite(fit), fit, -np.inf), axis=1)   # as best_member ranks
            for i, block_hist in seed_block_histories(metrics, act, gens, time.perf_counter() - t0).items():
                for k, v in block_hist.items():
                    parts_h[i].setdefault(k, []).append(v)
                if (cfg.target is not None and best[i] >= cfg.target
                        and checker.judge(k_check[i], seed_slice(states, i), infos[i])):
                    infos[i].update(solved=True, solved_generation=int(gens[i]),
                                    solve_wall_s=time.perf_counter() - t0, solve_process_age_s=rf.process_age_s())
                    limits[i] = gens[i]   # frozen from now on
            if bar is not None:
                bar.update(int(act.sum()))
                bar.set_postfix(solved=f"{sum(bool(f['solved']) for f in infos)}/{n}")
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    out = []
    for i, s in enumerate(seeds):
        state = seed_slice(states, i)
        infos[i].update(wall_s=wall, generations=int(state.generation))
        history = {k: np.concatenate(v) for k, v in parts_h[i].items()}
        out.append(SeedRun(int(s), keys[i], state, history, infos[i]))
    return run, out


def _loop(run: Run, seeds: Sequence[int], keys: Any, progress: bool) -> list[SeedRun]:
    """Each seed through ``run`` in turn (its compiled programs shared)."""
    seq = list(zip(seeds, keys))
    if progress:
        from tqdm.auto import tqdm
        seq = tqdm(seq, desc=f"{len(seq)} seeds", unit="seed", dynamic_ncols=True)
    out = []
    for s, key in seq:
        state, history, info = run(key)
        out.append(SeedRun(int(s), key, state, history, info))
    return out


def _stats(values: Iterable[Any]) -> dict[str, float | None]:
    v = np.asarray([x for x in values if x is not None], np.float64)
    if not v.size:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}


def start_seeds(cfg: ControlConfig, job: str, seeds: Sequence[int], out: str | Path | None, args: Mapping[str, Any],
                every: int, record_extra: Mapping[str, Any] | None = None, progress: bool = False,
                argv: Iterable[str] | None = None, mode: str = "auto") -> Path:
    """Run ``seeds`` vmapped and write ``out`` (default ``runs/<job>-<UTC time>``): one run folder per
    seed and the summary across seeds. ``every`` > 0 gives each seed folder its final checkpoint.
    Returns the folder."""
    import jax

    from evojax_ga import checkpoint, plots
    from evojax_ga import run_folder as rf
    from evojax_ga.runs import loop
    from evojax_ga.seeds import seed_keys

    seed_keys(seeds)   # bad seeds refused before the folder exists
    mode = seeds_mode(mode)
    with loop.claim(out, job) as run_dir:
        parts = build(cfg)
        run = make_run(cfg, parts, warm=mode == "loop")
        record = {**run.record, **(record_extra or {})}
        rf.write_config(run_dir, job, args, {**record, "seeds": list(seeds), "seeds_mode": mode}, argv=argv)
        t_start = time.perf_counter()
        run, results = run_seeds(cfg, seeds, progress=progress, run=run, parts=parts, mode=mode)
        rows: list[dict[str, Any]] = []
        for r in results:
            sub = seed_folder(run_dir, r.seed)
            sub.mkdir()
            rf.write_config(sub, job, {**args, "seed": r.seed, "seeds": 1, "out": str(sub)}, record, argv=argv)
            rf.append_metrics(sub, r.history)
            if every:
                meta = {"job": job, "seed": r.seed, **run.checkpoint_info(r.key, r.info), "final": True}
                checkpoint.save(sub / rf.CHECKPOINT_DIR, r.state, meta, keep=loop.CHECKPOINTS_KEPT)
            summary, _ = run.finish(Ending(sub, r.key, r.state, r.info, rf.read_metrics(sub), None, t_start, False))
            rf.write_json(sub / rf.SUMMARY_FILE, {"job": job, **summary})
            rows.append({"seed": r.seed, "folder": sub.name, **{k: summary.get(k) for k in (
                "solved", "solved_generation", "generations", "solve_wall_s", "final_mean", "final_reaches_target",
                "confirmations_failed", "env_steps")}})
        solved = [r for r in rows if r["solved"]]
        plots.plot_runs([seed_folder(run_dir, r.seed) for r in results], run_dir / SEEDS_PLOT_FILE, ["best_so_far"])
        summary = {
            "job": job, "env": cfg.env, "seeds": [r.seed for r in results], "solved": len(solved),
            "solve_rate": len(solved) / len(rows), "target": cfg.target,
            "solved_generation": _stats(r["solved_generation"] for r in solved),
            "solve_wall_s": _stats(r["solve_wall_s"] for r in solved),
            "final_mean": _stats(r["final_mean"] for r in rows),
            "final_reaches_target": sum(bool(r["final_reaches_target"]) for r in rows),
            "total_wall_s": time.perf_counter() - t_start, "seeds_mode": mode, "per_seed": rows,
            "device": str(jax.devices()[0]),
        }
        rf.write_json(run_dir / rf.SUMMARY_FILE, summary)
        g, f = summary["solved_generation"], summary["final_mean"]
        gens = f"median {g['median']:g} ({g['min']:g}-{g['max']:g})" if solved else "none"
        outcome = (f"{len(solved)}/{len(rows)} seeds solved; solved generation {gens}" if cfg.target is not None
                   else f"{len(rows)} seeds, no target")
        print(f"{cfg.env}: {outcome}; final mean over "
              f"{cfg.final_episodes} fresh episodes: median {f['median']:.2f} (min {f['min']:.2f}, max "
              f"{f['max']:.2f}); {summary['total_wall_s']:.2f} s in all", flush=True)
        print(f"run folder: {run_dir} (one folder per seed: {seed_folder(run_dir, results[0].seed).name}, ...)",
              flush=True)
    return run_dir
