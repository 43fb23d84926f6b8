"""Classification runs: evolve a network's weights (no gradients) on digits, MNIST or Fashion-MNIST.

A run evolves a population of MLPs (or CNNs) with the GA its preset names
(:mod:`evojax_ga.runs.classify_config`): the fittest ``elite`` fraction is kept unchanged, parents are
drawn uniformly from the top ``parent_pool`` fraction, and children get crossover and Gaussian mutation
(``truncation``) or, with ``crossover_children``, either crossover or mutation (the limited-evaluation
presets, with a fitness moving average children inherit). Fitness is the negative cross-entropy (or
accuracy / the notebook's inverse cross-entropy) on the full training set or on one shared minibatch per
generation. At the end the final population is re-scored on training data and its best member kept; a
gradient baseline on the same model and data (``baseline``) is trained beside it and both test-accuracy
curves plotted. The baseline's learning rate is tuned first (``baseline_lr_sweep``, on by default): a
few rates trained in one program (:func:`evojax_ga.baselines.sweep_learning_rates`), chosen on a
validation split carved from the training set, so the GA is compared with a tuned baseline.

``make_run(config_for("digits"))(jax.random.key(0))`` evolves in memory (:func:`select_final` then picks
the member to keep); the CLI runs it over a run folder with :func:`evojax_ga.runs.loop.start`.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from evojax_ga import registry
from evojax_ga.runs import loop
from evojax_ga.runs.classify_config import (  # noqa: F401  (re-exported: the run's configuration)
    BASELINE_SWEEPS,
    BASELINE_VAL_FRACTION,
    BASELINE_VAL_SEED,
    BASELINES,
    CROSSOVERS,
    DATASETS,
    FITNESSES,
    INITS,
    JOB_DATASETS,
    JOB_DEFAULTS,
    JOB_PRESETS,
    MODELS,
    PRESETS,
    ClassifyConfig,
    config_for,
    config_from_record,
    model_config,
)
from evojax_ga.runs.loop import Ending, Run

__all__ = ["ClassifyConfig", "JOB_DEFAULTS", "MODELS", "CROSSOVERS", "Parts", "config_for", "config_from_record",
           "model_config", "build", "make_run", "initial_population", "select_final", "BaselineRun", "run_baseline",
           "baseline_rates", "evaluate_saved"]

class Parts(NamedTuple):
    """Data, model, task and strategy of a configured run."""
    data: Any            # evojax_ga.data.Dataset
    model: Any
    model_config: dict
    task: Any            # ClassificationTask
    strategy: Any        # ega.Strategy


def build(cfg: ClassifyConfig, dataset: Any = None) -> Parts:
    """Load the data (unless ``dataset`` is given) and build model, task and strategy. The options
    bounded by the data (``batch_size``, ``test_samples``, ``sgd_batch_size`` with a baseline) are
    checked here, before anything is compiled."""
    import evojax_ga as ega
    from evojax_ga import adaptation, crossover, data, mutation, selection
    from evojax_ga._checks import check_int
    from evojax_ga.models import model_from_config

    ds = data.validate(dataset) if dataset is not None else data.load(cfg.dataset, path=cfg.data)
    ds = data.downsample(ds, cfg.downsample)
    if cfg.baseline != "none":
        n = int(ds.x_train.shape[0])
        check_int(cfg.sgd_batch_size, "sgd_batch_size", minimum=1, maximum=n)
        held = data.validation_size(ds.y_train, BASELINE_VAL_FRACTION) if ds.x_val is None else 0
        if baseline_rates(cfg) is not None and cfg.sgd_batch_size > n - held:
            raise ValueError(f"sgd_batch_size must be <= {n - held} (the {n} training samples less the {held} "
                             f"the learning-rate sweep holds out for validation), got {cfg.sgd_batch_size}")
    mc = model_config(cfg, ds.num_classes, ds.input_shape)
    model = model_from_config(mc)
    task = ega.tasks.classification(model, ds, fitness=cfg.fitness, batch_size=cfg.batch_size,
                                    chunk_size=cfg.chunk_size, test_samples=cfg.test_samples)
    elite, pool = cfg.sizes()
    xo = registry.get("crossover", cfg.crossover)()
    if cfg.crossover_tau > 0:
        xo = crossover.self_adaptive(xo, cfg.crossover_tau)
    mutate = mutation.gaussian(cfg.mutation_rate, cfg.sigma)
    if cfg.sigma_tau > 0:
        mutate = mutation.self_adaptive(mutate, cfg.sigma_tau)
    strategy = ega.ga(select=selection.uniform(), crossover=xo, mutate=mutate, elite=elite, parent_pool=pool,
                      crossover_children=cfg.crossover_children, fitness_ema=cfg.fitness_ema, diversity_metric=False,
                      adapt=None if cfg.sigma_half_life is None else adaptation.decay(cfg.sigma_half_life,
                                                                                       cfg.sigma_floor))
    return Parts(ds, model, mc, task, strategy)


def initial_population(cfg: ClassifyConfig, parts: Parts, key: Any) -> Any:
    """The configured initial population ``[pop_size, ...]``."""
    if cfg.init == "model":
        return parts.task.init_population(key, cfg.pop_size)
    return parts.task.init_population(key, cfg.pop_size, initializer=cfg.init, scale=cfg.init_scale)


def select_final(cfg: ClassifyConfig, parts: Parts, state: Any) -> dict:
    """The member to keep: the fittest of the final population re-scored on ``select_samples``
    training samples. Returns ``params``, ``train_accuracy``, ``train_samples``, ``test_accuracy``,
    ``select_s``."""
    t0 = time.perf_counter()
    task = parts.task
    n = task.x_train.shape[0] if cfg.select_samples is None else min(cfg.select_samples, task.x_train.shape[0])
    best, scores = task.select_best(state.population, task.x_train[:n], task.y_train[:n])
    return {"params": best, "train_accuracy": scores["accuracy"], "train_samples": int(n),
            "test_accuracy": task.test_accuracy(best), "select_s": time.perf_counter() - t0}


class BaselineRun(NamedTuple):
    """A trained gradient baseline: final state, curve (:func:`evojax_ga.baselines.fit`'s history), the
    learning rate it trained at, and the sweep that chose that rate (``None`` when not swept)."""
    state: Any
    history: dict
    learning_rate: float
    sweep: Any           # evojax_ga.baselines.LearningRateSweep | None


def _momentum(cfg: ClassifyConfig) -> float:
    return 0.9 if cfg.baseline == "sgd" else 0.0


def _baseline_lr(cfg: ClassifyConfig) -> float:
    """``sgd_lr``, or the baseline optimizer's default rate when it is None."""
    from evojax_ga.optimizers import default_learning_rate
    return default_learning_rate(cfg.baseline, _momentum(cfg)) if cfg.sgd_lr is None else cfg.sgd_lr


def baseline_rates(cfg: ClassifyConfig) -> tuple[float, ...] | None:
    """The rates the baseline's sweep trains (``None``: no sweep, or no baseline): the configured
    tuple, or for ``auto`` 5 rates from 1/10 to 10x ``sgd_lr`` (default: the optimizer's rate)."""
    from evojax_ga.baselines import learning_rate_grid
    if cfg.baseline == "none" or cfg.baseline_lr_sweep == "off":
        return None
    if cfg.baseline_lr_sweep == "auto":
        return learning_rate_grid(_baseline_lr(cfg))
    return tuple(float(r) for r in cfg.baseline_lr_sweep)


def run_baseline(cfg: ClassifyConfig, parts: Parts, key: Any, progress: bool = False) -> BaselineRun | None:
    """Train the configured gradient baseline on the same model and data; ``None`` when disabled.

    With a sweep (:func:`baseline_rates`), ``key`` splits into ``(k_sweep, k_fit)``: the sweep picks the
    rate on ``BASELINE_VAL_FRACTION`` of the training set, then the baseline trains at that rate on the
    whole training set (its curve); without one it trains at ``sgd_lr`` (or the optimizer's default)."""
    import jax

    from evojax_ga import baselines
    if cfg.baseline == "none":
        return None
    momentum, lr = _momentum(cfg), _baseline_lr(cfg)
    rates, sweep = baseline_rates(cfg), None
    if rates is not None:
        k_sweep, key = jax.random.split(key)
        sweep = baselines.sweep_learning_rates(k_sweep, parts.model, parts.data, cfg.baseline, rates,
                                               momentum=momentum, batch_size=cfg.sgd_batch_size, epochs=cfg.sgd_epochs,
                                               val_fraction=BASELINE_VAL_FRACTION, val_seed=BASELINE_VAL_SEED)
        lr = sweep.learning_rate
    trainer = baselines.make_train(parts.model, parts.data, cfg.baseline, learning_rate=lr,
                                   batch_size=cfg.sgd_batch_size, epochs=cfg.sgd_epochs, momentum=momentum,
                                   evals_per_epoch=4)
    state, history = baselines.fit(key, trainer, progress=progress)
    return BaselineRun(state, history, float(lr), sweep)


def _say_sweep(cfg: ClassifyConfig, sweep: Any) -> str:
    """One line: every swept rate with its validation accuracy, the chosen one starred."""
    rates = ", ".join(f"{r:.3g}{'*' if i == sweep.best else ''} {a:.4f}"
                      for i, (r, a) in enumerate(zip(sweep.learning_rates, sweep.val_accuracy)))
    return (f"{cfg.baseline} learning-rate sweep ({cfg.sgd_epochs:g} epochs, validation accuracy on "
            f"{sweep.val_samples} held-out training samples, {sweep.wall_s:.1f} s): {rates}")


def make_run(cfg: ClassifyConfig, parts: Parts | None = None) -> Run:
    """The run of ``cfg`` (``parts``: default ``build(cfg)``, which loads the data). Keys: the run key
    splits into ``(k_ga, k_baseline)``, ``k_ga`` into ``(k_init, k_evolve)``.

    ``info`` after the run: ``wall_s`` (evolution, compilation apart), ``compile_s``, ``generations``,
    ``stop_reason`` (``"generations"`` or ``"time_limit"``).
    """
    import jax

    import evojax_ga as ega
    from evojax_ga import baselines, memory, plots
    from evojax_ga import run_folder as rf
    from evojax_ga.tasks.classification import learning_curve

    p = build(cfg) if parts is None else parts
    memory.check_fits(memory.population_bytes(jax.eval_shape(p.task.template, jax.random.key(0)), cfg.pop_size),
                      f"pop_size={cfg.pop_size}")   # before the population is allocated

    def init(key: Any) -> Any:
        k_init, k_evolve = jax.random.split(jax.random.split(key)[0])
        return p.strategy.init(jax.random.split(k_evolve)[0], initial_population(cfg, p, k_init))

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        k_evolve = jax.random.split(jax.random.split(key)[0])[1]
        left = loop.remaining_generations(state, cfg.generations)
        t0 = time.perf_counter()
        evolution = ega.evolve_blocks(k_evolve, p.strategy, p.task, state, left, block=cfg.block, progress=progress,
                                      time_limit=cfg.time_limit)
        with closing(evolution):
            for state, block_history in evolution:
                yield state, block_history
        info.update(wall_s=time.perf_counter() - t0 - evolution.compile_s, compile_s=evolution.compile_s,
                    generations=int(state.generation), stop_reason=evolution.stop_reason)

    def checkpoint_info(key: Any, info: Mapping[str, Any]) -> dict:
        return {}

    def finish(end: Ending) -> tuple[dict, str]:
        run_dir, key, state, info, history = end.run_dir, end.key, end.state, end.info, end.history
        kept = select_final(cfg, p, state)
        gens, wall, compile_s = int(state.generation), info.get("wall_s", 0.0), info.get("compile_s")
        # the only early stop of the job (a run resumed after it evolved has no stop_reason in info)
        stop = info.get("stop_reason") or ("generations" if gens >= cfg.generations else "time_limit")
        rf.save_params(run_dir, kept["params"], p.model_config)
        plots.plot_fitness(run_dir, history, title=f"{cfg.dataset}: GA ({cfg.preset}), pop {cfg.pop_size}, "
                           f"fitness {cfg.fitness}")
        curves = {"GA": learning_curve(history)}
        names = {"GA": "GA"}   # plot label -> summary key prefix
        summary: dict[str, Any] = {
            "dataset": cfg.dataset, "preset": cfg.preset, "ga_test_accuracy": kept["test_accuracy"],
            "ga_train_accuracy": kept["train_accuracy"], "ga_wall_s": wall, "compile_s": compile_s,
            "generations": gens,
            "ga_forward_passes": float(curves["GA"]["forward_passes"][-1]) if gens else 0.0,
            "resumed_from_generation": end.resumed_from, "stop_reason": stop,
        }
        said = f"; stopped by --time-limit {cfg.time_limit:g} s" if stop == "time_limit" else ""
        compiled = f" + {compile_s:.1f} s compiling" if compile_s is not None else ""
        print(f"GA: test accuracy {kept['test_accuracy']:.4f} after {gens} generations ({wall:.1f} s{compiled}{said})",
              flush=True)
        base = run_baseline(cfg, p, jax.random.split(key)[1], progress=end.progress)
        if base is not None:
            sgd_hist = base.history
            label = f"{cfg.baseline} lr {base.learning_rate:.3g}" + (" (tuned)" if base.sweep is not None else "")
            curves[label], names[label] = sgd_hist, cfg.baseline
            summary.update({"baseline": cfg.baseline, "baseline_test_accuracy": float(sgd_hist["test_accuracy"][-1]),
                            "baseline_wall_s": float(sgd_hist["wall_s"][-1]),
                            "baseline_forward_passes": float(sgd_hist["forward_passes"][-1]),
                            "baseline_lr": base.learning_rate,
                            "baseline_lr_sweep": None if base.sweep is None else base.sweep.summary()})
            if base.sweep is not None:
                print(_say_sweep(cfg, base.sweep), flush=True)
            print(f"{label}: test accuracy {sgd_hist['test_accuracy'][-1]:.4f} after {cfg.sgd_epochs:g} "
                  f"epochs ({sgd_hist['wall_s'][-1]:.1f} s)", flush=True)
        for label, c in curves.items():
            summary[f"{names[label]}_forward_passes_to_90pct_of_final"] = baselines.level_reached(c, 0.9)
        plots.plot_curves(curves, Path(run_dir) / "curves.png",
                          title=f"{cfg.dataset}: test accuracy (GA: {cfg.preset}, pop {cfg.pop_size})")
        return summary, ""

    record = {"classify": dataclasses.asdict(cfg), "data": p.data.summary(), "model": p.model_config,
              "strategy": p.strategy.config}
    return Run(cfg, record, p.model_config, cfg.block, init, blocks, checkpoint_info, finish)


def evaluate_saved(run_dir: str | Path, data_path: str | None = None) -> tuple[float, int, str]:
    """Reload a classification run folder's saved member; ``(test accuracy, test samples, dataset)``."""
    import jax

    from evojax_ga import data
    from evojax_ga import run_folder as rf
    from evojax_ga.models import model_from_config
    from evojax_ga.tasks.classification import classification

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)["config"]["classify"]
    model = model_from_config(rf.read_json(Path(run_dir) / rf.MODEL_FILE))
    ds = data.downsample(data.load(config["dataset"], path=data_path or config.get("data")),
                         int(config.get("downsample", 1)))
    template = jax.eval_shape(model.init, jax.random.key(0), ds.x_train[:1])
    params, _ = rf.load_params(run_dir, template)
    return classification(model, ds).test_accuracy(params), int(ds.x_test.shape[0]), config["dataset"]
