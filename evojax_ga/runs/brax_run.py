"""Brax runs: evolve an MLP policy on a Brax locomotion environment, observations normalised online.

The strategy is the truncation GA of the control jobs (a tournament among the top ``truncation``
members, every weight ``+= sigma * N(0, 1)``, ``elite`` kept) wrapped by
:func:`evojax_ga.tasks.obs_norm.with_obs_stats`: the run's state is a
:class:`~evojax_ga.tasks.obs_norm.StatsState` (GA state + running observation statistics), so the
statistics are checkpointed with the population and ``evojax-ga resume`` continues bit-identically.
With ``target`` set the run stops once a generation's best training fitness reaches it. At the end
the best-so-far member plays ``final_episodes`` fresh episodes, normalised with the statistics it
was evaluated with when it became the best (``StatsState.best_obs_stats``, saved beside the
parameters as ``obs_stats.json``).

``make_run(BraxConfig(env="inverted_pendulum"))(jax.random.key(0))`` runs one in memory; the CLI
(``evojax-ga run brax``) runs it over a run folder with :mod:`evojax_ga.runs.loop`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from evojax_ga._checks import check_config_ints
from evojax_ga.runs import loop
from evojax_ga.runs.loop import Ending, Run

__all__ = ["BraxConfig", "Parts", "build", "make_run", "config_from_record", "OBS_STATS_FILE", "save_obs_stats",
           "load_obs_stats"]

#: the final observation statistics in a run folder (the saved policy expects observations normalised by them)
OBS_STATS_FILE = "obs_stats.json"


@dataclasses.dataclass(frozen=True)
class BraxConfig:
    """Everything that defines a Brax run (JSON-able; the run folder stores it). Checked on creation."""
    env: str = "ant"
    pop_size: int = 256
    generations: int = 200
    sigma: float = 0.05                 # Gaussian mutation step (every weight)
    truncation: int | float = 0.5       # parents from the top T members, or a fraction in (0, 1]
    tournament: int = 2
    elite: int = 1
    episodes: int = 1
    max_steps: int = 1000
    backend: str = "spring"
    normalize_obs: bool = True
    obs_clip: float = 5.0
    chunk_size: int | str | None = "auto"
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    block: int = 5
    target: float | None = None         # stop when the best training fitness reaches it
    final_episodes: int = 10

    def __post_init__(self) -> None:
        check_config_ints(self, {"pop_size": 2, **dict.fromkeys(
            ("generations", "episodes", "max_steps", "block", "final_episodes", "tournament"), 1)})
        if not isinstance(self.elite, int) or isinstance(self.elite, bool) or not 0 <= self.elite < self.pop_size:
            raise ValueError(f"elite must be in [0, pop_size - 1] = [0, {self.pop_size - 1}], got {self.elite!r}")
        t = self.truncation
        if isinstance(t, bool) or not isinstance(t, (int, float)) or (isinstance(t, float) and not 0 < t <= 1) \
                or (isinstance(t, int) and not 1 <= t <= self.pop_size):
            raise ValueError(f"truncation must be an int in [1, pop_size] or a fraction in (0, 1], got {t!r}")
        from evojax_ga.tasks.brax_task import BACKENDS
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        for name in ("sigma", "obs_clip"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.obs_clip <= 0:
            raise ValueError(f"obs_clip must be > 0, got {self.obs_clip!r}")
        if self.target is not None and not math.isfinite(self.target):
            raise ValueError(f"target must be a finite number or None, got {self.target!r}")
        c = self.chunk_size
        if not (c is None or c == "auto" or (isinstance(c, int) and not isinstance(c, bool) and c >= 1)):
            raise ValueError(f"chunk_size must be an int >= 1, 'auto' or None, got {c!r}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {self.hidden!r}")
        from evojax_ga.models import ACTIVATIONS
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")


def config_from_record(record: Mapping[str, Any]) -> BraxConfig:
    """The :class:`BraxConfig` a run folder's ``config.json`` stored (``config["brax"]``)."""
    return loop.config_from_record(BraxConfig, record, {})


class Parts(NamedTuple):
    """What a Brax run is built from (``build(config)``)."""
    task: Any                   # BraxTask
    model: Any                  # flax MLP
    model_config: dict          # model.json
    strategy: Any               # ega.Strategy over StatsState
    init_population: Callable   # (key) -> population [P, ...]


@functools.lru_cache(maxsize=4)
def build(cfg: BraxConfig) -> Parts:
    """Task, model, strategy and initial population of ``cfg``. The same config gives the same
    objects (cached), so a later run in the process (another seed, a resume) reuses their compiled
    programs."""
    import jax

    import evojax_ga as ega
    from evojax_ga.models import MLP
    from evojax_ga.tasks.brax_task import brax_task
    from evojax_ga.tasks.obs_norm import with_obs_stats

    probe = brax_task(cfg.env, lambda p, o: o, max_steps=1, backend=cfg.backend)   # shapes only
    model = MLP(features=tuple(cfg.hidden), out=probe.num_outputs, activation=cfg.activation)
    task = brax_task(cfg.env, model, episodes=cfg.episodes, max_steps=cfg.max_steps, backend=cfg.backend,
                     normalize_obs=cfg.normalize_obs, obs_clip=cfg.obs_clip, chunk_size=cfg.chunk_size)
    obs_dim = int(task.sample_input.shape[0])
    model_config = {"kind": "MLP", "features": list(cfg.hidden), "out": task.num_outputs,
                    "activation": cfg.activation, "input_shape": [obs_dim]}
    strategy = with_obs_stats(ega.presets.truncation_ga(parent_pool=cfg.truncation, tournament=cfg.tournament,
                                                       sigma=cfg.sigma, elite=cfg.elite), obs_dim)

    @jax.jit
    def init_population(key: Any) -> Any:
        return ega.init_population(key, model.init, task.sample_input, pop_size=cfg.pop_size)

    return Parts(task, model, model_config, strategy, init_population)


def save_obs_stats(run_dir: str | Path, stats: Any) -> Path:
    """Write ``RUN_DIR/obs_stats.json`` (count, mean, m2 as lists)."""
    import numpy as np

    from evojax_ga import run_folder as rf
    return rf.write_json(Path(run_dir) / OBS_STATS_FILE, {
        "count": float(np.asarray(stats.count)), "mean": np.asarray(stats.mean).tolist(),
        "m2": np.asarray(stats.m2).tolist()})


def load_obs_stats(run_dir: str | Path) -> Any:
    """The :class:`~evojax_ga.tasks.obs_norm.ObsStats` saved by :func:`save_obs_stats`."""
    import jax.numpy as jnp

    from evojax_ga import run_folder as rf
    from evojax_ga.tasks.obs_norm import ObsStats
    d = rf.read_json(Path(run_dir) / OBS_STATS_FILE)
    return ObsStats(jnp.float32(d["count"]), jnp.asarray(d["mean"], jnp.float32), jnp.asarray(d["m2"], jnp.float32))


def make_run(cfg: BraxConfig, parts: Parts | None = None) -> Run:
    """The run of ``cfg``. Keys: the run key splits into ``(k_train, k_final)``, ``k_train`` into
    ``(k_init, k_evolve)``. ``info`` after the run: ``wall_s``, ``generations``, ``stop_reason``."""
    import jax
    import numpy as np

    from evojax_ga import plots
    from evojax_ga import run_folder as rf

    p = build(cfg) if parts is None else parts

    def keys(key: Any) -> tuple[Any, Any, Any]:
        k_train, k_final = jax.random.split(key)
        k_init, k_evolve = jax.random.split(k_train)
        return k_init, k_evolve, k_final

    def init(key: Any) -> Any:
        k_init = keys(key)[0]
        return p.strategy.init(k_init, p.init_population(k_init))

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        return loop.plain_blocks(keys(key)[1], p.strategy, p.task, state, cfg.generations, cfg.block, info, progress,
                                 target=cfg.target)

    def checkpoint_info(key: Any, info: Mapping[str, Any]) -> dict:
        return {"run_key": np.asarray(jax.random.key_data(jax.random.split(key)[0])).tolist()}

    def finish(end: Ending) -> tuple[dict, str]:
        state, history = end.state, end.history
        final = np.asarray(p.task.evaluate_individual(keys(end.key)[2], state.best_params, cfg.final_episodes,
                                                      obs_stats=state.best_obs_stats))
        rf.save_params(end.run_dir, state.best_params, p.model_config)
        save_obs_stats(end.run_dir, state.best_obs_stats)
        plots.plot_fitness(end.run_dir, history, title=f"brax {cfg.env}: pop {cfg.pop_size}", target=cfg.target)
        total = time.perf_counter() - end.t_start
        gens = int(state.generation)
        reached = cfg.target is not None and float(state.best_fitness) >= cfg.target
        summary = {
            "env": cfg.env, "backend": cfg.backend, "generations": gens, "train_wall_s": end.info.get("wall_s", 0.0),
            "best_so_far": float(state.best_fitness), "target": cfg.target, "target_reached": reached,
            "final_episodes": cfg.final_episodes, "final_mean": float(final.mean()), "final_std": float(final.std()),
            "final_min": float(final.min()), "final_max": float(final.max()),
            "obs_count": float(state.obs_stats.count), "total_wall_s": total,
            "env_steps": float(np.sum(history.get("env_steps", 0.0))), "resumed_from_generation": end.resumed_from,
            "stop_reason": "target" if reached else "generations",
        }
        message = (f"brax {cfg.env}: {gens} generations, best training fitness {float(state.best_fitness):.2f}; "
                   f"final evaluation over {cfg.final_episodes} fresh episodes: mean {final.mean():.2f} "
                   f"(std {final.std():.2f}); total {total:.2f} s")
        return summary, message

    record = {"brax": dataclasses.asdict(cfg), "task": p.task.config, "model": p.model_config,
              "strategy": p.strategy.config}
    return Run(cfg, record, p.model_config, cfg.block, init, blocks, checkpoint_info, finish)
