"""Multi-objective runs: NSGA-II or NSGA-III on a ZDT or DTLZ2 test problem, the first front written at the end.

The strategy is :func:`evojax_ga.nsga2.nsga2` (crowded tournaments, ``crossover`` of two parents,
Gaussian mutation of ``mutation_rate`` of the genes, elitist (mu + lambda) survival) or, with
``algorithm="nsga3"``, :func:`evojax_ga.nsga3.nsga3` (uniform parents, survival cut by reference-point
niching over ``reference_directions(M, divisions)``), driven block by
block by :func:`evojax_ga.evolve_blocks`; its per-generation metrics are the exact ``hypervolume`` of
the first front over ``ref`` and the ``front_size``. The initial population is uniform in the box
``[0, 1]^dim`` (the problems clip genes to it). Fitness is maximised, so ``ref`` is given in fitness
space: the default ``-1.1`` per objective is the usual ``(1.1, ..., 1.1)`` of the minimised problem.

``make_run(MOConfig(problem="zdt1"))(jax.random.key(0))`` runs one in memory; the CLI
(``evojax-ga run zdt --problem zdt1``) runs it over a run folder with :mod:`evojax_ga.runs.loop`
(``front.json``, ``front.png``, ``summary.json`` with the final hypervolume and front size).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from evojax_ga._checks import check_config_ints
from evojax_ga.runs.loop import Ending, Finish, Run, plain_blocks

__all__ = ["MOConfig", "PROBLEMS", "Problem", "Parts", "build", "make_run", "nsga2_run", "config_from_record",
           "write_front", "FRONT_FILE", "FRONT_PLOT_FILE", "MAX_SAVED_DIM"]

FRONT_FILE = "front.json"
FRONT_PLOT_FILE = "front.png"
#: decision vectors are written to front.json up to this many genes
MAX_SAVED_DIM = 100


class Problem(NamedTuple):
    """A test problem: ``make(dim) -> task``, its default ``dim``, objectives and reference point."""
    make: Callable[[int], Any]
    dim: int
    num_objectives: int
    ref: tuple[float, ...]


def _problems() -> dict[str, Problem]:
    from evojax_ga.tasks.dtlz import dtlz2
    from evojax_ga.tasks.zdt import ZDT
    table = {name: Problem(make, 30, 2, (-1.1, -1.1)) for name, make in ZDT.items()}
    table["dtlz2"] = Problem(lambda dim: dtlz2(3, dim), 12, 3, (-1.1, -1.1, -1.1))
    return table


#: problem name -> :class:`Problem`
PROBLEMS: dict[str, Problem] = _problems()
CROSSOVERS = ("uniform", "blend")
ALGORITHMS = ("nsga2", "nsga3")


@dataclasses.dataclass(frozen=True)
class MOConfig:
    """Everything that defines a multi-objective run (JSON-able; the run folder stores it). Checked on creation."""
    problem: str = "zdt1"
    pop_size: int = 100
    generations: int = 200
    dim: int | None = None               # genes (None: the problem's default)
    ref: tuple[float, ...] | None = None   # reference point in fitness space (None: the problem's)
    crossover: str = "uniform"           # uniform (p = 0.5) or blend (BLX-0.5)
    mutation_rate: float | None = None   # fraction of genes mutated (None: 1 / dim)
    sigma: float = 0.1                   # Gaussian mutation step
    chunk_size: int | None = None        # rows compared a block at a time when ranking (None: 256)
    block: int = 10
    algorithm: str = "nsga2"             # nsga2 or nsga3
    divisions: int | None = None         # nsga3's reference lattice (None: 99 for 2 objectives, 12 for 3)

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {sorted(PROBLEMS)}, got {self.problem!r}")
        prob = PROBLEMS[self.problem]
        check_config_ints(self, {"pop_size": 2, "generations": 1, "block": 1})
        lo_dim = max(2, prob.num_objectives)
        if self.dim is not None and (not isinstance(self.dim, int) or isinstance(self.dim, bool)
                                     or not lo_dim <= self.dim <= 1_000_000):
            raise ValueError(f"dim must be an int in [{lo_dim}, 10**6] for {self.problem} or None, got {self.dim!r}")
        if self.ref is not None:
            ref = self.ref
            ok = isinstance(ref, (tuple, list)) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in ref)
            if not ok or len(ref) != prob.num_objectives:
                raise ValueError(f"ref must be {prob.num_objectives} finite numbers (one per objective of "
                                 f"{self.problem}, in fitness space: -f), got {ref!r}")
            object.__setattr__(self, "ref", tuple(float(v) for v in ref))
        if self.crossover not in CROSSOVERS:
            raise ValueError(f"crossover must be one of {list(CROSSOVERS)}, got {self.crossover!r}")
        r = self.mutation_rate
        if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1.0):
            raise ValueError(f"mutation_rate must be in [0, 1] or None (1 / dim), got {r!r}")
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) \
                or not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma!r}")
        c = self.chunk_size
        if c is not None and (not isinstance(c, int) or isinstance(c, bool) or c < 1):
            raise ValueError(f"chunk_size must be an int >= 1 or None (the default), got {c!r}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        d = self.divisions
        if d is not None:
            if self.algorithm != "nsga3":
                raise ValueError("divisions: only nsga3 has reference directions (give --algorithm nsga3)")
            if not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 1000:
                raise ValueError(f"divisions must be an int in [1, 1000] or None, got {d!r}")

    @property
    def genes(self) -> int:
        """``dim``, or the problem's default."""
        return PROBLEMS[self.problem].dim if self.dim is None else self.dim

    @property
    def reference(self) -> tuple[float, ...]:
        """``ref``, or the problem's default."""
        return PROBLEMS[self.problem].ref if self.ref is None else self.ref


def config_from_record(record: Mapping[str, Any]) -> MOConfig:
    """The :class:`MOConfig` a run folder's ``config.json`` stored (``config["multiobjective"]``)."""
    values = dict(record)
    if values.get("ref") is not None:
        values["ref"] = tuple(values["ref"])
    return MOConfig(**values)


class Parts(NamedTuple):
    """What a multi-objective run is built from (``build(config)``)."""
    task: Any                   # ZDTTask or DTLZTask: fitness [P, M]
    strategy: Any               # ega.Strategy over NSGA2State
    init_population: Callable   # (key) -> [P, dim] uniform in [0, 1]


@functools.lru_cache(maxsize=4)
def build(cfg: MOConfig) -> Parts:
    """Task, strategy and initial population of ``cfg`` (cached: a later run of the same config in the
    process, another seed or a resume, reuses the compiled programs)."""
    import jax

    from evojax_ga import crossover as xo
    from evojax_ga import mutation as mu
    from evojax_ga.nsga2 import nsga2
    from evojax_ga.nsga3 import nsga3

    prob = PROBLEMS[cfg.problem]
    dim = cfg.genes
    task = prob.make(dim)
    cross = xo.uniform(0.5) if cfg.crossover == "uniform" else xo.blend(0.5)
    rate = 1.0 / dim if cfg.mutation_rate is None else cfg.mutation_rate
    if cfg.algorithm == "nsga3":
        strategy = nsga3(prob.num_objectives, divisions=cfg.divisions, crossover=cross,
                         mutate=mu.gaussian(rate, cfg.sigma), ref=cfg.reference, chunk_size=cfg.chunk_size)
    else:
        strategy = nsga2(prob.num_objectives, crossover=cross, mutate=mu.gaussian(rate, cfg.sigma),
                         ref=cfg.reference, chunk_size=cfg.chunk_size)

    @jax.jit
    def init_population(key: Any) -> Any:
        return jax.random.uniform(key, (cfg.pop_size, dim))

    return Parts(task, strategy, init_population)


def write_front(run_dir: str | Path, state: Any, cfg: MOConfig) -> dict:
    """Write ``front.json`` (the first front, sorted by the first objective: ``fitness`` as maximised,
    ``objectives = -fitness`` of the minimised problem and, up to :data:`MAX_SAVED_DIM` genes, the
    decision vectors ``x`` clipped to the box) and ``front.png``; returns what was written."""
    import numpy as np

    from evojax_ga import plots
    from evojax_ga import run_folder as rf
    front = np.asarray(state.rank) == 0
    fit = np.asarray(state.fitness)[front]
    order = np.argsort(-fit[:, 0], kind="stable")
    data: dict[str, Any] = {"problem": cfg.problem, "size": int(front.sum()), "ref": list(cfg.reference),
                            "fitness": fit[order].tolist(), "objectives": (-fit[order]).tolist()}
    if cfg.genes <= MAX_SAVED_DIM:
        x = np.clip(np.asarray(state.population).reshape(front.shape[0], -1)[front][order], 0.0, 1.0)
        data["x"] = x.tolist()
    rf.write_json(Path(run_dir) / FRONT_FILE, data)
    plots.plot_front(Path(run_dir) / FRONT_PLOT_FILE, -fit, title=f"{cfg.problem}: first front "
                     f"({int(front.sum())} of {cfg.pop_size}), generation {int(state.generation)}")
    return data


def nsga2_run(cfg: Any, record: Mapping[str, Any], parts: Parts, finish: Finish,
              model_config: Mapping[str, Any] | None = None) -> Run:
    """The run of an NSGA-II family's ``cfg`` (a frozen config with ``generations`` and ``block``) over
    ``parts``, ending with ``finish``; shared by this module and :mod:`evojax_ga.runs.classify_front`.
    Keys: the run key splits into ``(k_init, k_evolve)``. ``info`` after the run: ``wall_s``,
    ``generations``, ``stop_reason``."""
    import jax
    import numpy as np


    p = parts

    def init(key: Any) -> Any:
        k_init = jax.random.split(key)[0]
        return p.strategy.init(k_init, p.init_population(k_init))

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        return plain_blocks(jax.random.split(key)[1], p.strategy, p.task, state, cfg.generations, cfg.block, info,
                            progress)

    def checkpoint_info(key: Any, info: Mapping[str, Any]) -> dict:
        return {"run_key": np.asarray(jax.random.key_data(key)).tolist()}

    return Run(cfg, record, dict(model_config or {}), cfg.block, init, blocks, checkpoint_info, finish)


def make_run(cfg: MOConfig, parts: Parts | None = None) -> Run:
    """The run of ``cfg`` (:func:`nsga2_run`; ``parts``: default ``build(cfg)``)."""
    p = build(cfg) if parts is None else parts

    def finish(end: Ending) -> tuple[dict, str]:
        state = end.state
        front = write_front(end.run_dir, state, cfg)
        hv = float(state.best_fitness)
        total = time.perf_counter() - end.t_start
        gens = int(state.generation)
        summary = {
            "problem": cfg.problem, "dim": cfg.genes, "pop_size": cfg.pop_size, "generations": gens,
            "evaluations": gens * cfg.pop_size, "ref": list(cfg.reference), "hypervolume": hv,
            "front_size": front["size"], "train_wall_s": end.info.get("wall_s", 0.0), "total_wall_s": total,
            "resumed_from_generation": end.resumed_from, "stop_reason": "generations",
        }
        message = (f"{cfg.problem}: {gens} generations of {cfg.pop_size}: hypervolume {hv:.6g} over ref "
                   f"{list(cfg.reference)}, first front of {front['size']}; total {total:.2f} s")
        return summary, message

    record = {"multiobjective": dataclasses.asdict(cfg), "dim": cfg.genes, "ref": list(cfg.reference),
              "strategy": p.strategy.config}
    return nsga2_run(cfg, record, p, finish)
