"""Accuracy-size fronts: NSGA-II on digits with objectives (training accuracy, -non-zero parameters).

The task is :func:`evojax_ga.tasks.sparse_classification` on an MLP; the strategy
:func:`evojax_ga.nsga2.nsga2` with ``crossover`` and the mutation ``chain(prune(prune_rate),
keep_zeros(gaussian(mutation_rate, sigma)))``: pruning sets genes to exactly 0, so sparse networks
are reachable, and pruned genes stay 0 under mutation (only crossover brings them back;
``revive=True`` lets the Gaussian move them too, which in a short probe kept the front near the
dense size). The hypervolume per generation is over the reference point ``(0, -num_params)``.
``fitness="neg_cross_entropy"`` makes objective 0 minus the training cross-entropy instead (a
smoother signal; reference ``-ln(10)``); ``front.json`` reports accuracies either way. The run loop
is the multi-objective one (:func:`evojax_ga.runs.multiobjective.nsga2_run`); at the end the first
front's members are scored on the whole training set and the held-out test split and written to
``front.json`` / ``front.png``, their parameters to ``front_params.msgpack`` (with ``model.json``).

``make_run(FrontConfig())(jax.random.key(0))`` runs in memory; the CLI (``evojax-ga run digits-front``)
over a run folder (checkpoints, ``evojax-ga resume``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any, Mapping

from evojax_ga import registry
from evojax_ga._checks import check_config_ints
from evojax_ga.runs.loop import Ending, Run
from evojax_ga.runs.multiobjective import FRONT_FILE, FRONT_PLOT_FILE, Parts, nsga2_run

__all__ = ["FrontConfig", "build", "make_run", "config_from_record", "front_points", "write_front", "FRONT_FILE",
           "FRONT_PLOT_FILE", "FRONT_PARAMS_FILE"]

#: the front's members, one per point of front.json (flax msgpack, leaves [points, ...])
FRONT_PARAMS_FILE = "front_params.msgpack"

DATASETS = ("digits",)
INITS = ("model", "normal", "uniform")
FITNESSES = ("accuracy", "neg_cross_entropy")


@dataclasses.dataclass(frozen=True)
class FrontConfig:
    """Everything that defines an accuracy-size run (JSON-able; the run folder stores it). Checked on creation."""
    dataset: str = "digits"
    hidden: tuple[int, ...] = (32,)
    pop_size: int = 200
    generations: int = 1500
    batch_size: int | None = None       # training samples per generation (None: all)
    fitness: str = "neg_cross_entropy"  # objective 0: accuracy | neg_cross_entropy (front.json: accuracies)
    crossover: str = "uniform"          # a registered crossover, with its defaults
    mutation_rate: float = 0.1          # fraction of genes given a Gaussian step
    sigma: float = 0.05
    prune_rate: float = 0.002           # fraction of genes set to exactly 0
    revive: bool = False                # let the Gaussian step move genes that are exactly 0 (else they stay 0)
    init: str = "model"                 # model (Flax initialisers) | normal | uniform
    init_scale: float = 0.1
    chunk_size: int | None = None       # members evaluated at once (None: automatic)
    block: int = 10

    def __post_init__(self) -> None:
        for name, allowed in (("dataset", DATASETS), ("crossover", tuple(registry.CROSSOVERS)), ("init", INITS),
                              ("fitness", FITNESSES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        check_config_ints(self, {"pop_size": 2, "generations": 1, "block": 1})
        for name in ("batch_size", "chunk_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be an int >= 1 or None, got {v!r}")
        for name in ("mutation_rate", "prune_rate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        for name, positive in (("sigma", False), ("init_scale", True)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 \
                    or (positive and v == 0):
                raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}")
        if not isinstance(self.revive, bool):
            raise ValueError(f"revive must be a bool, got {self.revive!r}")
        h = self.hidden
        if not isinstance(h, (tuple, list)) or not h or not all(
                isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in h):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {h!r}")
        object.__setattr__(self, "hidden", tuple(h))


def config_from_record(record: Mapping[str, Any]) -> FrontConfig:
    """The :class:`FrontConfig` a run folder's ``config.json`` stored (``config["classify_front"]``)."""
    return FrontConfig(**{**record, "hidden": tuple(record["hidden"])})


def model_config(cfg: FrontConfig, num_classes: int, input_shape: tuple[int, ...]) -> dict:
    """``model.json``-style description of the network (:func:`evojax_ga.models.model_from_config`)."""
    return {"kind": "MLP", "features": list(cfg.hidden), "out": num_classes, "activation": "relu",
            "flatten": True, "output_activation": "identity", "input_shape": list(input_shape)}


@functools.lru_cache(maxsize=4)
def build(cfg: FrontConfig) -> tuple[Parts, dict, str]:
    """``(Parts, model_config, data summary)`` of ``cfg``: the digits data, the task, the NSGA-II
    strategy and the initial population (cached: a resume in the same process reuses the programs)."""
    import jax

    from evojax_ga import data
    from evojax_ga import mutation as mu
    from evojax_ga.models import model_from_config
    from evojax_ga.nsga2 import nsga2
    from evojax_ga.tasks.sparse_classification import sparse_classification

    ds = data.load(cfg.dataset)
    if cfg.batch_size is not None and cfg.batch_size > ds.x_train.shape[0]:
        raise ValueError(f"batch_size must be at most the {ds.x_train.shape[0]} training samples or None, "
                         f"got {cfg.batch_size}")
    mc = model_config(cfg, ds.num_classes, ds.input_shape)
    task = sparse_classification(model_from_config(mc), ds, batch_size=cfg.batch_size, chunk_size=cfg.chunk_size,
                                 fitness=cfg.fitness)
    step = mu.gaussian(cfg.mutation_rate, cfg.sigma)
    mutate = mu.chain(mu.prune(cfg.prune_rate), step if cfg.revive else mu.keep_zeros(step))
    strategy = nsga2(2, crossover=registry.get("crossover", cfg.crossover)(), mutate=mutate, ref=task.ref)

    @jax.jit
    def init_population(key: Any) -> Any:
        if cfg.init == "model":
            return task.base.init_population(key, cfg.pop_size)
        return task.base.init_population(key, cfg.pop_size, initializer=cfg.init, scale=cfg.init_scale)

    return Parts(task, strategy, init_population), mc, ds.summary()


def front_points(task: Any, state: Any) -> tuple[list[dict], Any]:
    """The distinct points of the first front of ``state`` as ``[{"train_accuracy", "test_accuracy",
    "nonzero", "fitness", "copies"}]`` (``copies``: front members with that point), sorted by
    ``nonzero`` (then training accuracy, descending), accuracies on the whole splits; and one member
    per point (a population, leaves ``[len(points), ...]``, in the same order)."""
    import jax
    import numpy as np

    from evojax_ga.population import gather

    front = np.flatnonzero(np.asarray(state.rank) == 0)
    members = gather(state.population, jax.numpy.asarray(front, jax.numpy.int32))
    score = jax.jit(task.accuracy_on)
    train = np.asarray(score(members, task.base.x_train, task.base.y_train))
    test = np.asarray(score(members, task.base.x_test, task.base.y_test))
    fit = np.asarray(state.fitness)[front]
    nonzero = -fit[:, 1]
    points: dict[tuple, dict] = {}
    rows: list[int] = []
    for i in np.lexsort((-test, -train, nonzero)):
        p = {"train_accuracy": float(train[i]), "test_accuracy": float(test[i]), "nonzero": int(nonzero[i]),
             "fitness": [float(v) for v in fit[i]], "copies": 0}
        k = (float(train[i]), float(test[i]), int(nonzero[i]), *(float(v) for v in fit[i]))
        if k not in points:
            points[k] = p
            rows.append(int(i))
        points[k]["copies"] += 1
    return list(points.values()), gather(members, jax.numpy.asarray(rows, jax.numpy.int32))


def write_front(run_dir: str | Path, points: list[dict], num_params: int, title: str, members: Any = None,
                model_config: Mapping[str, Any] | None = None) -> dict:
    """Write ``front.json`` (``points`` and the parameter count), ``front.png`` (accuracy against
    non-zero parameters, training and test) and, given ``members`` (leaves ``[len(points), ...]``),
    ``front_params.msgpack`` (row ``i`` is point ``i``) and ``model.json``; returns what was written."""
    import jax
    import numpy as np
    from flax import serialization
    from matplotlib.figure import Figure

    from evojax_ga import run_folder as rf
    from evojax_ga.atomic_file import write_atomic
    if members is not None:
        host = serialization.to_state_dict(jax.tree_util.tree_map(np.asarray, members))
        write_atomic(Path(run_dir) / FRONT_PARAMS_FILE, serialization.msgpack_serialize(host))
        rf.write_json(Path(run_dir) / rf.MODEL_FILE, dict(model_config or {}))
    data = {"num_params": num_params, "size": len(points), "members": sum(p["copies"] for p in points),
            "objectives": ["fitness[0] (train accuracy or -cross-entropy)", "-nonzero"], "points": points}
    rf.write_json(Path(run_dir) / FRONT_FILE, data)
    fig = Figure(figsize=(5.5, 4.0), dpi=100)
    ax = fig.subplots()
    nz = [p["nonzero"] for p in points]
    ax.plot(nz, [p["train_accuracy"] for p in points], "o-", ms=3, label="train accuracy")
    ax.plot(nz, [p["test_accuracy"] for p in points], "s--", ms=3, label="test accuracy")
    ax.set_xlabel(f"non-zero parameters (of {num_params})")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(Path(run_dir) / FRONT_PLOT_FILE)
    return data


def make_run(cfg: FrontConfig) -> Run:
    """The run of ``cfg`` (loads the data); ``finish`` scores the first front and writes it."""
    parts, mc, summary_line = build(cfg)
    task = parts.task

    def finish(end: Ending) -> tuple[dict, str]:
        state = end.state
        gens = int(state.generation)
        points, members = front_points(task, state)
        write_front(end.run_dir, points, task.num_params,
                    f"{cfg.dataset}: first front ({len(points)} distinct points), generation {gens}", members, mc)
        hv = float(state.best_fitness)
        best = max(points, key=lambda q: (q["test_accuracy"], -q["nonzero"]))
        total = time.perf_counter() - end.t_start
        summary = {
            "dataset": cfg.dataset, "pop_size": cfg.pop_size, "generations": gens, "num_params": task.num_params,
            "ref": list(task.ref), "hypervolume": hv,
            "front_size": sum(p["copies"] for p in points), "front_points": len(points),
            "best_test_accuracy": best["test_accuracy"], "best_test_nonzero": best["nonzero"],
            "train_wall_s": end.info.get("wall_s", 0.0), "total_wall_s": total,
            "resumed_from_generation": end.resumed_from, "stop_reason": "generations",
        }
        message = (f"{cfg.dataset}: {gens} generations of {cfg.pop_size}: front of {len(points)}, hypervolume "
                   f"{hv:.6g}; best test accuracy {best['test_accuracy']:.4f} with {best['nonzero']} of "
                   f"{task.num_params} parameters non-zero; total {total:.2f} s")
        return summary, message

    record = {"classify_front": dataclasses.asdict(cfg), "data": summary_line, "model": mc,
              "num_params": task.num_params, "ref": list(task.ref), "strategy": parts.strategy.config}
    return nsga2_run(cfg, record, parts, finish, model_config=mc)
