"""The classification run's configuration: :class:`ClassifyConfig`, the jobs' defaults and the named
GA settings (``--preset``) they start from.

``config_for("mnist", pop_size=400)`` is the mnist job's configuration under its default preset with one
option changed; :func:`config_from_record` rebuilds the configuration a run folder stored.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from evojax_ga import registry
from evojax_ga._checks import INT32_MAX
from evojax_ga.runs import loop

__all__ = ["ClassifyConfig", "JOB_DEFAULTS", "PRESETS", "JOB_PRESETS", "MODELS", "CROSSOVERS", "FITNESSES",
           "BASELINES", "INITS", "DATASETS", "JOB_DATASETS", "BASELINE_SWEEPS", "BASELINE_VAL_FRACTION",
           "BASELINE_VAL_SEED", "config_for", "config_from_record", "model_config"]

MODELS = ("mlp", "small_cnn", "evojax_cnn", "mnist_deep")
#: crossover names the job offers: every registered crossover, built with its factory's defaults
CROSSOVERS = tuple(registry.CROSSOVERS)
FITNESSES = ("accuracy", "neg_cross_entropy", "inverse_cross_entropy")
BASELINES = ("adam", "sgd", "none")
INITS = ("model", "normal", "uniform")
#: data sets a run can name (:data:`evojax_ga.data.DATASETS`); the ``mnist`` job offers the 28x28 ones
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
JOB_DATASETS = {"digits": ("digits",), "mnist": ("mnist", "fashion_mnist")}
#: the baseline's learning-rate sweep: ``auto`` (5 rates, 1/10 to 10x around the baseline's rate), ``off``,
#: or a tuple of rates
BASELINE_SWEEPS = ("auto", "off")
#: fraction of the training set the sweep holds out for validation, and the seed of that split
BASELINE_VAL_FRACTION, BASELINE_VAL_SEED = 0.1, 0


@dataclasses.dataclass(frozen=True)
class ClassifyConfig:
    """Everything that defines a classification run (JSON-able; the run folder stores it). Checked on creation."""
    dataset: str = "digits"
    data: str | None = None
    model: str = "mlp"
    hidden: tuple[int, ...] = (32,)
    pop_size: int = 1000
    generations: int = 300
    time_limit: float | None = None      # seconds of evolution (compilation apart), held within about a generation
    fitness: str = "neg_cross_entropy"
    batch_size: int | None = None        # None: full training set every generation
    sigma: float = 0.05
    mutation_rate: float = 0.1
    crossover: str = "uniform"           # operator name
    elite: float = 0.02                  # fraction of P kept unchanged (at least 1)
    parent_pool: float = 0.1             # parents drawn uniformly from this top fraction
    init: str = "model"                  # model (Flax initialisers) | normal | uniform
    init_scale: float = 0.1
    block: int = 10
    test_samples: int | None = None      # test samples for the per-generation test accuracy
    select_samples: int | None = 10000   # training samples used to pick the final individual (at most all)
    chunk_size: int | None = None        # members evaluated at once (None: automatic)
    baseline: str = "adam"               # adam | sgd (momentum 0.9) | none
    sgd_lr: float | None = None          # None: the optimizer's default (optimizers.default_learning_rate)
    baseline_lr_sweep: str | tuple[float, ...] = "auto"   # auto | off | rates (BASELINE_SWEEPS)
    sgd_batch_size: int = 32
    sgd_epochs: float = 20.0
    preset: str = "truncation"           # the GA family (label): truncation | limited_evaluation
    downsample: int = 1                  # images mean-pooled over k x k blocks before anything else
    crossover_children: float | None = None  # fraction of P made by crossover alone (None: crossed + mutated)
    fitness_ema: float | None = None     # rank by a fitness moving average children inherit (None: raw)
    sigma_tau: float = 0.0               # > 0: self-adaptive sigma per member (log-normal, this tau)
    crossover_tau: float = 0.0           # > 0: self-adaptive uniform-crossover prob per member
    sigma_half_life: float | None = None  # sigma halves every this many generations (None: constant)
    sigma_floor: float = 0.0             # ... never below this

    def __post_init__(self) -> None:
        for name, allowed in (("dataset", DATASETS), ("model", MODELS), ("crossover", tuple(registry.CROSSOVERS)),
                              ("fitness", FITNESSES), ("baseline", BASELINES), ("init", INITS),
                              ("preset", tuple(PRESETS))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for name, lo in (("pop_size", 2), ("generations", 0), ("block", 1), ("sgd_batch_size", 1), ("downsample", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        if self.generations > INT32_MAX:
            raise ValueError(f"generations must be <= {INT32_MAX} (the generation counter is int32), "
                             f"got {self.generations}")
        for name in ("batch_size", "test_samples", "select_samples", "chunk_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be an int >= 1 or None, got {v!r}")
        for name in ("mutation_rate", "elite", "parent_pool"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.crossover_children is not None and not 0.0 <= self.crossover_children <= 1.0:
            raise ValueError(f"crossover_children must be a fraction in [0, 1] or None, got {self.crossover_children}")
        if self.fitness_ema is not None and not 0.0 < self.fitness_ema <= 1.0:
            raise ValueError(f"fitness_ema must be in (0, 1] or None, got {self.fitness_ema}")
        if self.sigma_half_life is not None and not (math.isfinite(self.sigma_half_life) and self.sigma_half_life > 0):
            raise ValueError(f"sigma_half_life must be a finite number of generations > 0 or None, "
                             f"got {self.sigma_half_life}")
        for name in ("sigma_tau", "crossover_tau", "sigma_floor"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if self.crossover_tau > 0 and self.crossover != "uniform":
            raise ValueError(f"crossover_tau needs crossover 'uniform', got {self.crossover!r}")
        if self.parent_pool == 0.0:
            raise ValueError("parent_pool must be in (0, 1], got 0.0")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma}")
        for name in ("init_scale", "sgd_lr", "sgd_epochs"):
            v = getattr(self, name)
            if name == "sgd_lr" and v is None:
                continue
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        if isinstance(self.baseline_lr_sweep, str):
            if self.baseline_lr_sweep not in BASELINE_SWEEPS:
                raise ValueError(f"baseline_lr_sweep must be one of {list(BASELINE_SWEEPS)} or a sequence of "
                                 f"learning rates, got {self.baseline_lr_sweep!r}")
        else:
            from evojax_ga.baselines.sweep import check_rates
            object.__setattr__(self, "baseline_lr_sweep", check_rates(self.baseline_lr_sweep, "baseline_lr_sweep"))
        if self.time_limit is not None and not (math.isfinite(self.time_limit) and self.time_limit > 0):
            raise ValueError(f"time_limit must be a finite number of seconds > 0 or None, got {self.time_limit}")
        if self.model == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {self.hidden!r}")
        elite, pool = self.sizes()
        if elite >= self.pop_size or pool > self.pop_size:
            raise ValueError(f"elite ({elite}) and parent_pool ({pool}) must be below pop_size ({self.pop_size})")
        n_xo = 0 if self.crossover_children is None else round(self.crossover_children * self.pop_size)
        if elite + n_xo > self.pop_size:
            raise ValueError(f"elite ({elite}) + crossover_children ({self.crossover_children} of {self.pop_size}) "
                             f"exceed pop_size ({self.pop_size})")

    def sizes(self) -> tuple[int, int]:
        """``(elite, parent_pool)`` in members."""
        elite = max(1, int(round(self.elite * self.pop_size))) if self.elite > 0 else 0
        return elite, max(2, int(round(self.parent_pool * self.pop_size)))


#: per-job defaults (see benchmarks/bench_classification.py)
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": dict(dataset="digits", hidden=(32,), pop_size=1000, generations=300, batch_size=None, sigma=0.05,
                   mutation_rate=0.1, block=10, sgd_batch_size=32, sgd_epochs=20.0),
    "mnist": dict(dataset="mnist", hidden=(16,), pop_size=1000, generations=100000, time_limit=1800.0,
                  batch_size=256, sigma=0.02, mutation_rate=0.1, block=50, test_samples=2000,
                  sgd_batch_size=64, sgd_epochs=5.0),
}

#: named GA settings (``--preset``), applied over the job's defaults and under the options given:
#: ``truncation``: the job's defaults as they are (every child crossed over and mutated, parents
#: uniform from the top ``parent_pool``); ``limited_evaluation``: Prellberg & Kramer 2018's MNIST setting
#: (14x14 inputs, MLP 256-128-64, population 2,000, minibatch 1,024, elite 5%, crossover-only 75%,
#: mutation-only 20% with sigma 0.001 on every weight, parents from the top half, inherited loss moving
#: average 0.5); ``limited_evaluation_cpu``: the same GA sized for a 2-core CPU's 30 minutes (a smaller
#: network and population, a larger sigma; chosen in ``benchmarks/README.md``, "MNIST by GA alone").
PRESETS: dict[str, dict[str, Any]] = {
    "truncation": {},
    "limited_evaluation": dict(preset="limited_evaluation", downsample=2, hidden=(256, 128, 64), pop_size=2000,
                               batch_size=1024, sigma=0.001, mutation_rate=1.0, elite=0.05, parent_pool=0.5,
                               crossover="uniform", crossover_children=0.75, fitness_ema=0.5, block=100),
    "limited_evaluation_cpu": dict(preset="limited_evaluation_cpu", downsample=2, hidden=(32,), pop_size=200,
                                   batch_size=1024, sigma=0.01, mutation_rate=1.0, generations=1_000_000,
                                   elite=0.05, parent_pool=0.5, crossover="uniform",
                                   crossover_children=0.75, fitness_ema=0.5, block=100),
}
#: the preset a job uses when none is named
JOB_PRESETS = {"digits": "truncation", "mnist": "limited_evaluation_cpu"}

#: config.json keys of runs written before the one-name-per-concept renames
_LEGACY = {"rate": "mutation_rate", "pop_chunk": "chunk_size"}


def config_for(job: str, **overrides: Any) -> ClassifyConfig:
    """The job's default :class:`ClassifyConfig` under its preset (``overrides["preset"]``, else
    :data:`JOB_PRESETS`), with ``overrides`` (``None`` values are ignored; ``batch_size=0`` means None:
    the full training set)."""
    preset = overrides.get("preset") or JOB_PRESETS.get(job, "truncation")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
    defaults = {j: {**d, **PRESETS[preset]} for j, d in JOB_DEFAULTS.items()}
    return loop.job_config(ClassifyConfig, defaults, job, overrides, {"batch_size": 0})


def config_from_record(record: Mapping[str, Any]) -> ClassifyConfig:
    """The :class:`ClassifyConfig` a run folder's ``config.json`` stored (``config["classify"]``); a
    record written before the learning-rate sweep existed gets ``baseline_lr_sweep="off"`` (its
    baseline trained at ``sgd_lr`` alone)."""
    return loop.config_from_record(ClassifyConfig, {"baseline_lr_sweep": "off", **record}, _LEGACY)


def model_config(cfg: ClassifyConfig, num_classes: int, input_shape: tuple[int, ...]) -> dict:
    """``model.json`` content: how to rebuild the network (:func:`evojax_ga.models.model_from_config`)."""
    if cfg.model == "mlp":
        return {"kind": "MLP", "features": list(cfg.hidden), "out": num_classes, "activation": "relu",
                "flatten": True, "output_activation": "identity", "input_shape": list(input_shape)}
    return {"kind": cfg.model, "out": num_classes, "input_shape": list(input_shape)}
