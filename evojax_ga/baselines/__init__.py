"""Gradient baselines trained on the same model, data and hardware as the GA (see :mod:`.sgd`)."""

from evojax_ga.baselines.sgd import (
                                     FORWARD_EQUIV_PER_SAMPLE,
                                     SGDBaseline,
                                     TrainState,
                                     fit,
                                     level_reached,
                                     make_optimizer,
                                     make_train,
                                     plot_curves,
)

__all__ = ["SGDBaseline", "TrainState", "make_train", "fit", "make_optimizer", "level_reached", "plot_curves",
           "FORWARD_EQUIV_PER_SAMPLE"]
