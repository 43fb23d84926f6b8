"""Gradient optimizers by name: one table of optax factories, shared by the SGD baselines
(:mod:`evojax_ga.baselines.sgd`) and the hyper-parameter search (:mod:`evojax_ga.hparam`).

Every entry is ``factory(learning_rate) -> optax.GradientTransformation``; the learning rate may be a
traced value (the hyper-parameter search switches optimizers and learning rates inside one program).
"""

from __future__ import annotations

from typing import Any, Callable

import optax

__all__ = ["OPTIMIZERS", "DEFAULT_LEARNING_RATES"]

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

#: learning rate of each optimizer when none is given (Keras-like defaults)
DEFAULT_LEARNING_RATES: dict[str, float] = {
    "sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "adamax": 2e-3, "rmsprop": 1e-3,
    "adagrad": 1e-2,
}

