"""Learning-rate sweep of a gradient baseline: a handful of rates trained in one jitted program, the
rate chosen on a validation split carved from the training set, never on the test set.

How the rates are trained together: ``jax.vmap`` of :func:`evojax_ga.baselines.sgd.make_train`'s whole
run over the rate (the rate is a traced value in its ``TrainState``), not :mod:`evojax_ga.hparam`'s
vectorised trainer: that one trains its own masked maximum-size MLPs from its own initial draws, while a
baseline is the GA's own Flax model (an MLP or a CNN) with the model's initialisers. So slot ``r`` of a
sweep is ``make_train(..., learning_rate=rates[r]).train(key)`` on the training samples left after the
validation split: same key, same initial parameters and data order for every rate.
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int, check_positive
from evojax_ga.baselines.sgd import TrainState, make_train
from evojax_ga.data import Dataset, validate, validation_split
from evojax_ga.optimizers import default_learning_rate

__all__ = ["LearningRateSweep", "sweep_learning_rates", "learning_rate_grid", "default_rates", "check_rates"]


class LearningRateSweep(NamedTuple):
    """Result of :func:`sweep_learning_rates` (``R`` rates).

    learning_rates: the rates in the order given; val_accuracy / val_loss / test_accuracy: ``[R]`` of
    each rate's final parameters (trained without the validation samples; a sample with non-finite
    logits counts as wrong); best: index of the chosen rate; learning_rate: ``learning_rates[best]``;
    states: the final :class:`~evojax_ga.baselines.sgd.TrainState`, leaves ``[R, ...]``;
    val_samples / train_samples: sizes of the two parts of the training split; wall_s: seconds,
    compilation included.
    """
    learning_rates: tuple[float, ...]
    val_accuracy: np.ndarray
    val_loss: np.ndarray
    test_accuracy: np.ndarray
    best: int
    learning_rate: float
    states: TrainState
    val_samples: int
    train_samples: int
    wall_s: float

    def summary(self) -> dict[str, Any]:
        """JSON-able record: the rates, their validation accuracies and losses, the chosen rate."""
        return {"learning_rates": list(self.learning_rates), "val_accuracy": self.val_accuracy.tolist(),
                "val_loss": self.val_loss.tolist(), "chosen": self.learning_rate, "val_samples": self.val_samples,
                "train_samples": self.train_samples, "wall_s": self.wall_s}


def check_rates(rates: Any, name: str = "rates") -> tuple[float, ...]:
    """``rates`` as a tuple of floats; ValueError naming ``name`` unless it is a non-empty sequence of
    finite numbers > 0."""
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__len__"):
        raise TypeError(f"{name} must be a sequence of learning rates, got {rates!r}")
    if len(rates) == 0:
        raise ValueError(f"{name} must hold at least one learning rate, got {list(rates)!r}")
    out = []
    for r in rates:
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(float(r)) and float(r) > 0):
            raise ValueError(f"{name} must be finite numbers > 0, got {r!r} in {list(rates)!r}")
        out.append(float(r))
    return tuple(out)


def learning_rate_grid(center: float, num: int = 5, span: float = 10.0) -> tuple[float, ...]:
    """``num`` rates evenly spaced in log from ``center / span`` to ``center * span`` (``num=1``: the
    centre alone)."""
    check_positive(center, "center")
    num = check_int(num, "num", minimum=1)
    if not (math.isfinite(span) and span >= 1.0):
        raise ValueError(f"span must be a finite number >= 1, got {span!r}")
    if num == 1:
        return (float(center),)
    return tuple(float(center * span ** (2.0 * i / (num - 1) - 1.0)) for i in range(num))


def _choose(val_accuracy: np.ndarray, val_loss: np.ndarray) -> int:
    """Highest validation accuracy, ties to the lower validation loss, then to the first rate; NaN last."""
    acc = np.where(np.isfinite(val_accuracy), val_accuracy, -np.inf)
    loss = np.where(np.isfinite(val_loss), val_loss, np.inf)
    return int(np.lexsort((np.arange(len(acc)), loss, -acc))[0])


def sweep_learning_rates(key: jax.Array, model: Any, data: Dataset, optimizer: str = "adam",
                         rates: Sequence[float] | None = None, *, momentum: float = 0.0, batch_size: int = 64,
                         epochs: float = 1.0, val_fraction: float = 0.1, val_seed: int = 0,
                         test_samples: int | None = None, sample_chunk_size: int = 2000,
                         dtype: Any = jnp.float32) -> LearningRateSweep:
    """Train ``model`` at every rate of ``rates`` in one program (the ``vmap`` over the rate of
    ``make_train``'s jitted run), score each on the validation split, and choose the rate with the best
    validation accuracy (ties: lower validation loss, then the first rate).

    optimizer: a name of :data:`evojax_ga.optimizers.OPTIMIZERS` (``"sgd"`` with ``momentum``);
    rates: ``None`` = :func:`learning_rate_grid` around the optimizer's default (5 rates, 1/10 to 10x).
    Validation: ``data``'s own split when it has one, else :func:`evojax_ga.data.validation_split`
    ``(data, val_fraction, val_seed)``; the runs train on the rest of the training split. The other
    arguments are :func:`~evojax_ga.baselines.sgd.make_train`'s (one log point per epoch).
    """
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be an optimizer name for a learning-rate sweep (an optax "
                        f"transformation has its rate built in), got {type(optimizer).__name__}")
    rates = check_rates(default_rates(optimizer, momentum) if rates is None else rates)
    validate(data)
    split = data if data.x_val is not None else validation_split(data, val_fraction, val_seed)
    trainer = make_train(model, split, optimizer, learning_rate=rates[0], batch_size=batch_size, epochs=epochs,
                         momentum=momentum, evals_per_epoch=1, test_samples=test_samples,
                         sample_chunk_size=sample_chunk_size, dtype=dtype)
    assert split.x_val is not None and split.y_val is not None
    x_val = jnp.asarray(split.x_val, dtype)
    y_val = jnp.asarray(split.y_val, jnp.int32)

    score = jax.jit(jax.vmap(trainer.evaluate, in_axes=(0, None, None)))

    t0 = time.perf_counter()
    # trainer.train is a jitted program; its vmap over the rate is one batched program (data unbatched)
    states, metrics = jax.vmap(trainer.train, in_axes=(None, 0))(key, jnp.asarray(rates, jnp.float32))
    val_acc, val_loss = jax.block_until_ready(score(states.params, x_val, y_val))
    wall = time.perf_counter() - t0
    val_acc, val_loss = np.asarray(val_acc, np.float64), np.asarray(val_loss, np.float64)
    best = _choose(val_acc, val_loss)
    return LearningRateSweep(rates, val_acc, val_loss, np.asarray(metrics["test_accuracy"][:, -1], np.float64),
                             best, rates[best], states, int(x_val.shape[0]), int(split.x_train.shape[0]),
                             wall)


def default_rates(optimizer: str, momentum: float = 0.0) -> tuple[float, ...]:
    """The ``auto`` sweep: :func:`learning_rate_grid` (5 rates, 1/10 to 10x) around the optimizer's
    default rate (:func:`evojax_ga.optimizers.default_learning_rate`)."""
    return learning_rate_grid(default_learning_rate(optimizer, momentum))
