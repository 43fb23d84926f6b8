"""Hyper-parameter search runs: evolve MLP configurations (depth, width, activation, optimizer) by GA.

Harvey's experiment (2017, "Let's evolve a neural network with a genetic algorithm"): a population of
configurations, the top ``keep`` fraction plus ``random_survivors`` others kept, children bred by
per-gene crossover and mutated by resampling genes. Every configuration is trained with optax for
``epochs`` and scored by validation accuracy; a whole chunk of configurations trains at once (see
:mod:`evojax_ga.hparam.train`); configurations already scored are looked up, not retrained.
``method="grid"`` trains every configuration of the space instead, ``method="random"`` a random sample
of ``budget`` configurations.

``make_run(HparamConfig())(jax.random.key(0))`` searches in memory; :func:`execute` writes a run
folder: ``metrics.jsonl`` (one line per generation / grid chunk / random round), ``scores.json``
(every configuration scored), ``best_params.msgpack`` + ``model.json`` (the best configuration's
trained network), ``fitness.png`` and ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from evojax_ga._checks import INT32_MAX, check_config_ints, check_seed

__all__ = ["HparamConfig", "HparamRun", "SPACES", "DATASETS", "METHODS", "make_space", "make_run", "execute",
           "evaluate_saved"]

SPACES = ("auto", "harvey", "digits", "default")
DATASETS = ("digits", "cifar10", "mnist", "fashion_mnist")
METHODS = ("ga", "grid", "random")


@dataclasses.dataclass(frozen=True)
class HparamConfig:
    """Everything that defines a hyper-parameter search (JSON-able). Checked on creation."""
    dataset: str = "digits"
    data: str | None = None
    val_fraction: float = 0.2            # training split held out (stratified, fixed) for validation
    train_subset: int | None = None      # train on the first N training samples only
    method: str = "ga"                   # ga | grid | random
    space: str = "auto"
    pop_size: int = 20                   # GA population
    generations: int = 10
    keep: float = 0.25                   # GA: fraction of the population kept as elite
    random_survivors: int = 3            # GA: other members kept at random
    mutation_rate: float = 0.1           # GA: probability that a child's gene is resampled
    crossover_prob: float = 0.5          # GA: probability that a gene comes from parent b
    fresh_children: bool = True          # GA: mutate already-scored children again until new
    budget: int | None = None            # random search: configurations (default: the GA's maximum)
    epochs: int = 10                     # per configuration
    batch_size: int = 64                 # when the space has no batch gene
    chunk_size: int | None = None        # configurations trained per compiled call (default: by method)

    def __post_init__(self) -> None:
        for name, allowed in (("dataset", DATASETS), ("method", METHODS), ("space", SPACES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        check_config_ints(self, dict.fromkeys(("pop_size", "generations", "epochs", "batch_size"), 1))
        for name in ("chunk_size", "budget", "train_subset"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= INT32_MAX):
                raise ValueError(f"{name} must be an int in [1, 2**31 - 1] or None, got {v!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.method == "ga":
            if self.pop_size < 2:
                raise ValueError(f"pop_size must be an int >= 2 for the GA, got {self.pop_size}")
            if not 0.0 < self.keep <= 1.0:
                raise ValueError(f"keep must be in (0, 1], got {self.keep}")
            for name in ("mutation_rate", "crossover_prob"):
                if not 0.0 <= getattr(self, name) <= 1.0:
                    raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
            if not isinstance(self.random_survivors, int) or self.random_survivors < 0:
                raise ValueError(f"random_survivors must be an int >= 0, got {self.random_survivors!r}")
            if self.children() < 1 or self.kept() + self.random_survivors >= self.pop_size:
                raise ValueError(f"keep ({self.keep} -> {self.kept()} kept) + random_survivors "
                                 f"({self.random_survivors}) must leave room for children in a population of "
                                 f"{self.pop_size}")

    def kept(self) -> int:
        """GA members kept as elite."""
        return max(1, int(round(self.keep * self.pop_size)))

    def children(self) -> int:
        """GA children per generation."""
        return max(1, self.pop_size - self.kept() - self.random_survivors)

    def resolved_chunk_size(self) -> int:
        """Configurations per compiled call: ``chunk_size``, else the GA's children per generation, else 48."""
        return self.chunk_size or (self.children() if self.method == "ga" else 48)

    def resolved_budget(self) -> int:
        """Random search's configurations: ``budget``, else the GA's maximum."""
        return self.budget or (self.pop_size + (self.generations - 1) * self.children())


def make_space(name: str, dataset: str) -> Any:
    """The search space called ``name`` (``auto``: ``digits`` for the digits data set, else ``harvey``)."""
    from evojax_ga import hparam as hp
    if name not in SPACES:
        raise ValueError(f"space must be one of {list(SPACES)}, got {name!r}")
    if name == "auto":
        name = "digits" if dataset == "digits" else "harvey"
    return {"harvey": hp.harvey_space, "digits": hp.digits_space, "default": hp.default_space}[name]()


class HparamRun(NamedTuple):
    """A configured search: ``run(key, report=None) -> (SearchResult, Evaluator)``."""
    config: HparamConfig
    space: Any
    data: Any
    train_config: Any
    trainer: Any
    record: Mapping[str, Any]

    def evaluator(self, key: Any) -> Any:
        """The score cache and trainer of a search from the run key (training keys come from it)."""
        import jax

        from evojax_ga import hparam as hp
        k_train = jax.random.split(key)[0]
        return hp.Evaluator(self.trainer, self.data, k_train, chunk_size=self.config.resolved_chunk_size())

    def __call__(self, key: Any, report: Callable[[int, dict], Any] | None = None,
                 evaluator: Any = None) -> tuple[Any, Any]:
        """Search from the run key (split into a training key and a search key)."""
        import jax

        from evojax_ga import hparam as hp
        cfg = self.config
        ev = self.evaluator(key) if evaluator is None else evaluator
        k_search = jax.random.split(key)[1]
        if cfg.method == "ga":
            res = hp.ga_search(k_search, ev, pop_size=cfg.pop_size, generations=cfg.generations, keep=cfg.keep,
                               random_survivors=cfg.random_survivors, mutation_rate=cfg.mutation_rate,
                               crossover_prob=cfg.crossover_prob, fresh_children=cfg.fresh_children, callback=report)
        elif cfg.method == "grid":
            res = hp.brute_force(ev, callback=report)
        else:
            res = hp.random_search(k_search, ev, cfg.resolved_budget(), callback=report)
        return res, ev


def make_run(cfg: HparamConfig) -> HparamRun:
    """Load the data and build the search space and the vectorised trainer of ``cfg``."""
    import numpy as np

    from evojax_ga import hparam as hp
    space = make_space(cfg.space, cfg.dataset)
    if cfg.method == "random" and cfg.budget is not None and not space.continuous and cfg.budget > space.grid_size:
        raise ValueError(f"budget must be <= the {space.grid_size} configurations of the space, got {cfg.budget}")
    data = hp.load_dataset(cfg.dataset, path=cfg.data, val_fraction=cfg.val_fraction, seed=0,
                           train_subset=cfg.train_subset)
    n_train = len(data.y_train)
    for name in ("train_subset", "batch_size"):   # [:N] would keep them all, a batch would be the whole set
        v = getattr(cfg, name)
        if v is not None and n_train < v and not (name == "batch_size" and "batch_size" in space):
            raise ValueError(f"{name} must be <= the {n_train} training samples of {cfg.dataset} "
                             f"(after the validation split), got {v}")
    train_config = hp.TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size)
    in_dim = int(np.shape(data.x_train)[1])
    trainer = hp.make_trainer(space, train_config, in_dim=in_dim, num_classes=data.num_classes)
    _check_memory(cfg, trainer, in_dim, data.num_classes)
    record = {"hparam": dataclasses.asdict(cfg), "space": repr(space), "grid_size": space.grid_size,
              "train": train_config._asdict(), "data": data.summary(), "chunk_size": cfg.resolved_chunk_size()}
    return HparamRun(cfg, space, data, train_config, trainer, record)


#: copies of a candidate's maximum-size network held while a chunk trains (parameters, gradients and
#: two optimizer moments: a lower bound)
TRAINING_COPIES = 4


def _check_memory(cfg: HparamConfig, trainer: Any, in_dim: int, num_classes: int) -> None:
    """Refuse a chunk of configurations (trained at once, each as the space's largest network) that
    cannot fit, before anything is allocated."""
    import jax

    from evojax_ga import memory
    from evojax_ga.hparam.masked_mlp import init_base
    net = jax.eval_shape(lambda k: init_base(k, in_dim, trainer.max_depth, trainer.max_width, num_classes),
                         jax.random.key(0))
    activations = 4 * max(trainer.batch_sizes) * trainer.max_width * (trainer.max_depth + 1) * 2
    chunk = cfg.resolved_chunk_size()
    what = (f"chunk_size={chunk}" if cfg.chunk_size or cfg.method != "ga" else
            f"pop_size={cfg.pop_size} (its {chunk} children per generation train at once: chunk_size)")
    memory.check_fits(memory.population_bytes(net, chunk, copies=TRAINING_COPIES, extra_per_member=activations),
                      what, needs=f"training {chunk} configurations at once")


def execute(run: HparamRun, run_dir: Path, seed: int, progress: bool = False) -> dict:
    """Search from ``jax.random.key(seed)`` and write the run folder's results; returns the summary."""
    import jax
    import numpy as np

    from evojax_ga import hparam as hp
    from evojax_ga import plots
    from evojax_ga import run_folder as rf
    from evojax_ga.models import model_from_config

    seed = check_seed(seed)
    t_start = time.perf_counter()
    cfg, space, data = run.config, run.space, run.data
    say = (lambda msg: print(msg, flush=True)) if progress else (lambda msg: None)
    say(f"{data.summary()}\nspace: {space!r} ({space.grid_size} configurations); method {cfg.method}; "
        f"{cfg.epochs} epochs per configuration; {cfg.resolved_chunk_size()} configurations per compiled call")
    key = jax.random.key(seed)
    ev = run.evaluator(key)
    say(f"compiling the training program ... {ev.compile():.1f} s")

    def report(step: int, info: dict) -> None:
        total = {"ga": cfg.generations}.get(cfg.method, "")
        say(f"{cfg.method} step {step}{'/' + str(total) if total else ''}: best val acc {info['best_val']:.4f}; "
            f"{info['trained']} trained; {info['wall_s']:.1f} s {info.get('best_config', '')}")

    res, ev = run(key, report, evaluator=ev)
    h = res.history
    history = {"generation": np.asarray(h["step"]), "best": np.asarray(h["best_step_val"]),
               "mean": np.asarray(h["mean_val"]), "best_so_far": np.asarray(h["best_val"]),
               "best_test": np.asarray(h["best_test"]), "trained": np.asarray(h["trained"]),
               "wall_s": np.asarray(h["wall_s"])}
    rf.append_metrics(run_dir, history)
    plots.plot_fitness(run_dir, history, title=f"hparam {cfg.method} on {cfg.dataset}: validation accuracy")
    scores = [dict(c, **m) for c, m in zip(space.to_configs(space.from_keys(list(ev.cache))), ev.cache.values())]
    rf.write_json(Path(run_dir) / "scores.json", {"scores": scores})
    # the best configuration's trained network, kept on the device while the search ran
    best_key, masked = ev.best_network()
    if best_key != res.best_key:  # not expected with one evaluator per search; retrain (same key, same weights)
        k_train = jax.random.split(key)[0]
        masked = jax.tree_util.tree_map(lambda a: a[0], run.trainer.train(
            k_train, space.from_keys([res.best_key]), ev.data, return_params=True)["params"])
    best = res.best_config
    depth = int(best.get("depth", run.train_config.depth))
    width = int(best.get("width", run.train_config.width))
    params = hp.small_params(jax.tree_util.tree_map(np.asarray, masked), depth, width)
    model_config = {"kind": "MLP", "features": [width] * depth, "out": data.num_classes,
                    "activation": best.get("activation", run.train_config.activation), "flatten": False}
    rf.save_params(run_dir, params, model_config)
    recheck = _accuracies(model_from_config(model_config), params, data)
    total = time.perf_counter() - t_start
    summary = {"method": cfg.method, "dataset": cfg.dataset, "best_config": best,
               "best_val_acc": res.best["val_acc"], "best_test_acc": res.best["test_acc"],
               "saved_network_val_acc": recheck["val"], "saved_network_test_acc": recheck["test"],
               "trained": res.trained, "grid_size": space.grid_size, "search_wall_s": res.wall_s,
               "compile_s": ev.compile_s, "train_s": ev.train_s, "total_wall_s": total}
    rf.write_json(Path(run_dir) / rf.SUMMARY_FILE, summary)
    print(f"best configuration {best}: validation accuracy {res.best['val_acc']:.4f}, test accuracy "
          f"{res.best['test_acc']:.4f}; {res.trained} of {space.grid_size} configurations trained in "
          f"{res.wall_s:.1f} s (+{ev.compile_s:.1f} s compile); total {total:.1f} s", flush=True)
    print(f"run folder: {run_dir}", flush=True)
    return summary


def _accuracies(model: Any, params: Any, data: Any) -> dict[str, float]:
    import numpy as np
    return {s: float(np.mean(np.argmax(np.asarray(model.apply(params, getattr(data, f"x_{s}"))), -1)
                             == getattr(data, f"y_{s}"))) for s in ("val", "test")}


def evaluate_saved(run_dir: str | Path) -> tuple[dict, dict[str, float], int]:
    """Reload a search's best network and score it on the validation and test splits:
    ``(model_config, {"val": acc, "test": acc}, test samples)``."""
    from evojax_ga import hparam as hp
    from evojax_ga import run_folder as rf
    from evojax_ga.models import model_from_config

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    rec = config.get("config", {}).get("hparam") or config["args"]
    params, model_config = rf.load_params(run_dir)
    data = hp.load_dataset(rec.get("dataset", "digits"), path=rec.get("data"),
                           val_fraction=rec.get("val_fraction", 0.2), seed=0, train_subset=rec.get("train_subset"))
    return model_config, _accuracies(model_from_config(model_config), params, data), len(data.y_test)
