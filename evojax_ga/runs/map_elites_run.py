"""MAP-Elites runs on a test function with descriptors (:mod:`evojax_ga.tasks.qd_functions`) or on a
gymnax control task with behaviour descriptors (``task="control"``, :mod:`evojax_ga.tasks.gymnax_qd`).

The strategy is :func:`evojax_ga.map_elites.map_elites` on a ``bins x bins`` grid over the first two
genes (a test function) or the two behaviour descriptors (control: an MLP policy sized by
:func:`evojax_ga.tasks.policy_for`, the initial batch its ``init``), the QD-score offset the task's
lowest fitness (0 for an environment whose reward has no known lower bound).
``make_run(MapElitesConfig())(jax.random.key(0))`` runs one in memory; ``evojax-ga run map-elites`` runs it
over a run folder with :mod:`evojax_ga.runs.loop` (metrics with ``coverage`` / ``qd_score``, the archive in
every checkpoint, ``archive.png``, resume).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from evojax_ga._checks import INT32_MAX, check_config_ints
from evojax_ga.runs.loop import Ending, Run, plain_blocks

__all__ = ["MapElitesConfig", "FUNCTIONS", "TASKS", "Parts", "label", "build", "make_run", "config_from_record",
           "plot_archive",
           "ARCHIVE_PLOT_FILE"]

#: the archive heat map of a run folder
ARCHIVE_PLOT_FILE = "archive.png"
FUNCTIONS = ("rastrigin", "sphere")
TASKS = ("function", "control")


@dataclasses.dataclass(frozen=True)
class MapElitesConfig:
    """Everything that defines a MAP-Elites run (JSON-able). Checked on creation."""
    function: str = "rastrigin"
    dim: int = 10
    bins: int = 32
    batch_size: int = 128
    generations: int = 300
    sigma_iso: float = 0.05
    sigma_line: float = 0.2
    block: int = 10
    task: str = "function"           # "control": env, descriptor, episodes, max_steps apply (dim, function do not)
    env: str = "MountainCar-v0"
    descriptor: str = "final_obs"
    episodes: int = 1
    max_steps: int | None = None     # None: the environment's own limit

    def __post_init__(self) -> None:
        from evojax_ga.tasks.gymnax_qd import DESCRIPTORS
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {self.task!r}")
        if self.function not in FUNCTIONS:
            raise ValueError(f"function must be one of {list(FUNCTIONS)}, got {self.function!r}")
        if self.descriptor not in DESCRIPTORS:
            raise ValueError(f"descriptor must be one of {list(DESCRIPTORS)}, got {self.descriptor!r}")
        if not isinstance(self.env, str):
            raise ValueError(f"env must be a gymnax environment id, got {self.env!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool)
                                           or not 1 <= self.max_steps <= INT32_MAX):
            raise ValueError(f"max_steps must be None or an int in [1, 2**31 - 1], got {self.max_steps!r}")
        if not isinstance(self.episodes, int) or isinstance(self.episodes, bool) or not 1 <= self.episodes <= 2**16:
            raise ValueError(f"episodes must be an int in [1, 65536], got {self.episodes!r}")
        check_config_ints(self, {"dim": 2, "bins": 1, "batch_size": 1, "generations": 1, "block": 1})
        for name in ("sigma_iso", "sigma_line"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def config_from_record(record: Mapping[str, Any]) -> MapElitesConfig:
    """The :class:`MapElitesConfig` a run folder's ``config.json`` stored (``config["map_elites"]``)."""
    return MapElitesConfig(**record)


class Parts(NamedTuple):
    task: Any        # QDFunctionTask or GymnaxQDTask
    strategy: Any    # ega.Strategy over MapElitesState
    model: Any       # the control policy (flax module), None for a test function
    qd_offset: float


def label(cfg: MapElitesConfig) -> str:
    """``rastrigin-10`` or ``MountainCar-v0/final_obs``: the problem of a run, for titles and messages."""
    return f"{cfg.env}/{cfg.descriptor}" if cfg.task == "control" else f"{cfg.function}-{cfg.dim}"


@functools.lru_cache(maxsize=4)
def build(cfg: MapElitesConfig) -> Parts:
    """Task and strategy of ``cfg`` (cached: a resume in the process reuses their compiled programs)."""
    from evojax_ga import crossover as xo
    from evojax_ga.map_elites import map_elites
    from evojax_ga.tasks.qd_functions import rastrigin_qd, sphere_qd

    model = None
    if cfg.task == "control":
        from evojax_ga.tasks import policy_for
        from evojax_ga.tasks.environments import resolve_env
        from evojax_ga.tasks.gymnax_qd import gymnax_qd
        resolve_env(cfg.env, "env")   # an unknown name: an error naming the option
        model = policy_for(cfg.env)
        task: Any = gymnax_qd(cfg.env, model, descriptor=cfg.descriptor, episodes=cfg.episodes,
                              max_steps=cfg.max_steps)
        offset = 0.0 if task.min_fitness is None else float(task.min_fitness)
    else:
        task = (rastrigin_qd if cfg.function == "rastrigin" else sphere_qd)(cfg.dim, 2)
        offset = task.min_fitness
    strategy = map_elites(task.lower, task.upper, cfg.bins, crossover=xo.iso_line(cfg.sigma_iso, cfg.sigma_line),
                          qd_offset=offset)
    return Parts(task, strategy, model, offset)


def plot_archive(run_dir: str | Path, state: Any, cfg: MapElitesConfig, lower: Any, upper: Any) -> Path:
    """Write ``RUN_DIR/archive.png``: the elites' fitness per cell (empty cells blank)."""
    import numpy as np
    from matplotlib.figure import Figure

    f = np.asarray(state.archive_fitness, dtype=float).reshape(cfg.bins, cfg.bins)
    f = np.where(np.isfinite(f), f, np.nan)
    fig = Figure(figsize=(5.6, 4.8), dpi=100)
    ax = fig.subplots()
    im = ax.imshow(f.T, origin="lower", extent=(lower[0], upper[0], lower[1], upper[1]), aspect="auto")
    fig.colorbar(im, ax=ax, label="fitness")
    ax.set_xlabel("descriptor 1")
    ax.set_ylabel("descriptor 2")
    ax.set_title(f"MAP-Elites {label(cfg)}: {int(np.sum(np.asarray(state.filled)))} of "
                 f"{cfg.bins ** 2} cells")
    path = Path(run_dir) / ARCHIVE_PLOT_FILE
    fig.savefig(path)
    return path


def make_run(cfg: MapElitesConfig) -> Run:
    """The run of ``cfg``: the run key splits into ``(k_init, k_evolve)``; the initial batch is uniform
    on the task's box (a test function) or ``init_population`` of the policy (control)."""
    import jax
    import numpy as np

    import evojax_ga as ega
    from evojax_ga import plots

    p = build(cfg)

    def init(key: Any) -> Any:
        k_init = jax.random.split(key)[0]
        if p.model is not None:
            pop = ega.init_population(k_init, p.model.init, p.task.sample_input, pop_size=cfg.batch_size)
        else:
            b = p.task.bound
            pop = jax.random.uniform(k_init, (cfg.batch_size, cfg.dim), minval=-b, maxval=b)
        return p.strategy.init(k_init, pop)

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        return plain_blocks(jax.random.split(key)[1], p.strategy, p.task, state, cfg.generations, cfg.block, info,
                            progress)

    def checkpoint_info(key: Any, info: Mapping[str, Any]) -> dict:
        return {"run_key": np.asarray(jax.random.key_data(key)).tolist()}

    def finish(end: Ending) -> tuple[dict, str]:
        state, history = end.state, end.history
        plots.plot_fitness(end.run_dir, history, title=f"MAP-Elites {label(cfg)}")
        plot_archive(end.run_dir, state, cfg, p.task.lower, p.task.upper)
        from evojax_ga.map_elites import qd_metrics
        qd = {k: float(v) for k, v in qd_metrics(state.archive_fitness, state.filled, p.qd_offset).items()}
        problem = ({"task": "control", "env": cfg.env, "descriptor": cfg.descriptor} if cfg.task == "control"
                   else {"function": cfg.function, "dim": cfg.dim})
        summary = {**problem, "generations": int(state.generation),
                   "evaluations": int(state.generation) * cfg.batch_size, **qd,
                   "best_so_far": float(state.best_fitness), "train_wall_s": end.info.get("wall_s", 0.0),
                   "resumed_from_generation": end.resumed_from}
        message = (f"map-elites {label(cfg)}: {summary['generations']} generations, coverage "
                   f"{qd['coverage']:.3f}, qd_score {qd['qd_score']:.6g}, best {summary['best_so_far']:.4g}")
        return summary, message

    record = {"map_elites": dataclasses.asdict(cfg), "strategy": p.strategy.config}
    if p.model is not None:
        from evojax_ga.tasks.policies import policy_config
        record["task"] = p.task.config
        record["model"] = policy_config(p.model, p.task.sample_input.shape)
    return Run(cfg, record, {}, cfg.block, init, blocks, checkpoint_info, finish)
