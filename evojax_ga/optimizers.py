"""Gradient optimizers by name: one table of optax factories, shared by the SGD baselines
(:mod:`evojax_ga.baselines.sgd`) and the hyper-parameter search (:mod:`evojax_ga.hparam`).

Every entry is ``factory(learning_rate) -> optax.GradientTransformation``; the learning rate may be a
traced value (the hyper-parameter search switches optimizers and learning rates inside one program).
"""

from __future__ import annotations

from typing import Any, Callable

import optax

__all__ = ["OPTIMIZERS", "DEFAULT_LEARNING_RATES", "default_learning_rate"]

#: optax optimizers by name: ``factory(learning_rate) -> GradientTransformation``
OPTIMIZERS: dict[str, Callable[[Any], optax.GradientTransformation]] = {
    "sgd": lambda lr: optax.sgd(lr),
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    "adam": lambda lr: optax.adam(lr),
    "adamax": lambda lr: optax.adamax(lr),
    "rmsprop": lambda lr: optax.rmsprop(lr),
    "adagrad": lambda lr: optax.adagrad(lr),
}

#: learning rate of each optimizer when none is given: Keras-like, except adam, momentum and nesterov,
#: chosen from learning-rate sweeps of small MLPs on digits and MNIST (benchmarks/baseline_sweep.py)
DEFAULT_LEARNING_RATES: dict[str, float] = {
    "sgd": 0.01, "momentum": 0.03, "nesterov": 0.03, "adam": 3e-3, "adamax": 2e-3, "rmsprop": 1e-3,
    "adagrad": 1e-2,
}



def default_learning_rate(name: str, momentum: float = 0.0) -> float:
    """The :data:`DEFAULT_LEARNING_RATES` entry of optimizer ``name``; plain ``"sgd"`` with a
    ``momentum`` > 0 takes the ``"momentum"`` entry (chosen at momentum 0.9)."""
    if name not in DEFAULT_LEARNING_RATES:
        raise ValueError(f"optimizer must be one of {sorted(DEFAULT_LEARNING_RATES)}, got {name!r}")
    return DEFAULT_LEARNING_RATES["momentum" if name == "sgd" and momentum else name]
