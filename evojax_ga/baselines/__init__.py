"""Gradient baselines trained on the same model, data and hardware as the GA (see :mod:`.sgd`), and
their learning-rate sweep (:mod:`.sweep`)."""

from evojax_ga.baselines.sgd import (
                                     FORWARD_EQUIV_PER_SAMPLE,
                                     SGDBaseline,
                                     TrainState,
                                     fit,
                                     level_reached,
                                     make_optimizer,
                                     make_train,
                                     optimizer_factory,
                                     plot_curves,
)
from evojax_ga.baselines.sweep import (
                                     LearningRateSweep,
                                     check_rates,
                                     default_rates,
                                     learning_rate_grid,
                                     sweep_learning_rates,
)

__all__ = ["SGDBaseline", "TrainState", "make_train", "fit", "make_optimizer", "optimizer_factory", "level_reached",
           "plot_curves", "FORWARD_EQUIV_PER_SAMPLE", "LearningRateSweep", "sweep_learning_rates",
           "learning_rate_grid", "default_rates", "check_rates"]
