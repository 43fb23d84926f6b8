"""Gradient baselines: the GA's model and data trained with optax (SGD, Adam), jitted end to end.

``make_train`` (purejaxrl's shape) returns an :class:`SGDBaseline` of pure functions: ``init(key)``,
``run_block(state) -> (state, metrics)`` (``steps_per_block`` optimiser steps in one ``lax.scan``,
then the test accuracy) and ``train(key)``, the whole run as a single jitted program. The learning
rate is a traced value in the :class:`TrainState` (``init(key, learning_rate)``; the optax
transformation is rebuilt from it at every step), so ``jax.vmap`` of ``train`` over rates is a sweep
(:mod:`evojax_ga.baselines.sweep`). ``fit`` drives
``run_block`` from the host so every block also gets a wall-clock time stamp; its history uses the
curve schema of :func:`evojax_ga.tasks.classification.learning_curve`, so GA and SGD curves share a
plot (:func:`plot_curves`):

* ``step`` — optimiser steps so far; ``epoch`` — fractional epochs;
* ``wall_s`` — seconds since the start of ``fit`` (the first block includes compilation, as in
  ``evolve``);
* ``forward_passes`` — sample forward-pass equivalents: one step on B samples counts 3 B (a forward
  pass, and a backward pass costing about two); evaluation passes are not counted (nor are the GA's);
* ``train_loss`` / ``train_accuracy`` — means over the block's batches; ``test_accuracy`` (a sample
  whose logits are not finite, as after divergence, counts as wrong).

Batches: every epoch is a fresh permutation of the training set (``fold_in(key, epoch)``), cut into
``N // batch_size`` batches (the remainder is dropped).
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evojax_ga._checks import check_int, check_nonneg, check_positive
from evojax_ga.data import Dataset, validate
from evojax_ga.optimizers import OPTIMIZERS, default_learning_rate
from evojax_ga.plots import plot_curves
from evojax_ga.tasks.model_shapes import check_head

__all__ = ["SGDBaseline", "TrainState", "make_train", "fit", "make_optimizer", "optimizer_factory",
           "FORWARD_EQUIV_PER_SAMPLE", "level_reached", "plot_curves"]

#: forward-pass equivalents of one training sample in one SGD step (forward + backward ~ 2 forwards)
FORWARD_EQUIV_PER_SAMPLE = 3


class TrainState(NamedTuple):
    """params: the model's parameters; opt_state: optax state; step: int32; key: data-order key;
    learning_rate: float32 (NaN for an optax transformation given as is, whose rate is built in)."""
    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array
    learning_rate: jax.Array


class SGDBaseline(NamedTuple):
    """Pure functions of one configured SGD run (see :func:`make_train`), each a jitted program with the
    data as arguments; ``init`` and ``train`` take an optional ``learning_rate`` (traced; default: the
    configured one)."""
    init: Callable[..., TrainState]
    run_block: Callable[[TrainState], tuple[TrainState, dict]]
    train: Callable[..., tuple[TrainState, dict]]
    evaluate: Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
    steps_per_block: int
    num_blocks: int
    steps_per_epoch: int
    config: dict


def optimizer_factory(optimizer: str | optax.GradientTransformation,
                      momentum: float = 0.0) -> Callable[[Any], optax.GradientTransformation]:
    """``factory(learning_rate) -> GradientTransformation`` (the rate may be traced) of an optimizer of
    :data:`evojax_ga.optimizers.OPTIMIZERS` by name (``"sgd"`` with an optional ``momentum``); an
    optax transformation is returned as is by a factory that ignores the rate."""
    if isinstance(optimizer, optax.GradientTransformation):
        return lambda lr: optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an optax.GradientTransformation, "
                         f"got {optimizer!r}")
    check_nonneg(momentum, "momentum")
    if momentum and optimizer != "sgd":
        raise ValueError(f"momentum applies to optimizer 'sgd' only, got momentum={momentum!r} with {optimizer!r}")
    if momentum:
        return lambda lr: optax.sgd(lr, momentum=momentum)
    return OPTIMIZERS[optimizer]


class _Arrays(NamedTuple):
    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array


def make_optimizer(optimizer: str | optax.GradientTransformation, learning_rate: float,
                   momentum: float = 0.0) -> optax.GradientTransformation:
    """An optimizer of :data:`evojax_ga.optimizers.OPTIMIZERS` by name (``"sgd"`` with an optional
    ``momentum``), or an optax transformation as is."""
    factory = optimizer_factory(optimizer, momentum)
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    check_positive(learning_rate, "learning_rate")
    return factory(learning_rate)


def make_train(model: Any, data: Dataset, optimizer: str | optax.GradientTransformation = "adam",
               learning_rate: float | None = None, batch_size: int = 64, epochs: float = 1.0, momentum: float = 0.0,
               evals_per_epoch: int = 4, test_samples: int | None = None, sample_chunk_size: int = 2000,
               dtype: Any = jnp.float32) -> SGDBaseline:
    """Configure an SGD/Adam run of the Flax ``model`` (logits ``[B, C]``) on ``data``.

    learning_rate: ``None`` = the optimizer's default
    (:func:`evojax_ga.optimizers.default_learning_rate`; ignored for an optax transformation).
    epochs: may be fractional; the run has ``round(epochs * N // batch_size)`` steps, logged every
    ``steps_per_epoch / evals_per_epoch`` steps (rounded up; at least one step per block).
    test_samples: test samples scored at every log point (``None`` = all; at most the test set);
    sample_chunk_size: test samples per forward call (bounds memory for CNNs).
    ``data`` is checked by :func:`evojax_ga.data.validate`; a model with fewer outputs than classes is
    refused (:func:`evojax_ga.tasks.model_shapes.check_head`).
    """
    validate(data)
    check_head(model, data)
    n = int(data.x_train.shape[0])
    batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=n)
    evals_per_epoch = check_int(evals_per_epoch, "evals_per_epoch", minimum=1)
    sample_chunk_size = check_int(sample_chunk_size, "sample_chunk_size", minimum=1)
    check_positive(epochs, "epochs")
    if test_samples is not None:
        test_samples = check_int(test_samples, "test_samples", minimum=1, maximum=int(data.x_test.shape[0]))
    tx_at = optimizer_factory(optimizer, momentum)
    if isinstance(optimizer, str):
        learning_rate = (default_learning_rate(optimizer, momentum) if learning_rate is None
                         else check_positive(learning_rate, "learning_rate"))
    lr_default = float("nan") if learning_rate is None else float(learning_rate)
    apply = model.apply
    m = int(data.x_test.shape[0]) if test_samples is None else min(test_samples, int(data.x_test.shape[0]))
    # arguments of the jitted programs, not closure constants (XLA would fold large constants slowly)
    arrays = _Arrays(jnp.asarray(data.x_train, dtype), jnp.asarray(data.y_train, jnp.int32),
                     jnp.asarray(data.x_test[:m], dtype), jnp.asarray(data.y_test[:m], jnp.int32))

    spe = n // batch_size
    total_steps = max(1, int(round(float(epochs) * spe)))
    block = max(1, min(-(-spe // evals_per_epoch), total_steps))
    num_blocks = -(-total_steps // block)

    def loss_fn(params, x, y):
        logits = apply(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def evaluate(params, x, y):
        """(accuracy, mean cross-entropy) of ``params`` on ``x, y`` in chunks of ``sample_chunk_size``."""
        k = x.shape[0]
        full = (k // sample_chunk_size) * sample_chunk_size

        def sums(xb, yb):
            z = apply(params, xb)
            nll = optax.softmax_cross_entropy_with_integer_labels(z, yb)
            correct = (jnp.argmax(z, -1) == yb) & jnp.all(jnp.isfinite(z), axis=-1)
            return jnp.sum(correct, dtype=jnp.float32), jnp.sum(nll)

        c, s = jnp.float32(0.0), jnp.float32(0.0)
        if full:   # chunks sliced in place (a reshape of an argument would copy it on every call)
            cut = lambda a, i: jax.lax.dynamic_slice_in_dim(a, i * sample_chunk_size, sample_chunk_size)
            cs, ss = jax.lax.map(lambda i: sums(cut(x, i), cut(y, i)), jnp.arange(full // sample_chunk_size))
            c, s = jnp.sum(cs), jnp.sum(ss)
        if k > full:
            c2, s2 = sums(x[full:], y[full:])
            c, s = c + c2, s + s2
        return c / k, s / k

    def init(arr: _Arrays, key: jax.Array, learning_rate: Any = None) -> TrainState:
        lr = jnp.asarray(lr_default if learning_rate is None else learning_rate, jnp.float32)
        k_init, k_data = jax.random.split(key)
        params = model.init(k_init, arr.x_train[:1])
        return TrainState(params, tx_at(lr).init(params), jnp.int32(0), k_data, lr)

    def run_block(arr: _Arrays, state: TrainState) -> tuple[TrainState, dict]:
        e0 = state.step // spe
        perm_a = jax.random.permutation(jax.random.fold_in(state.key, e0), n)
        perm_b = jax.random.permutation(jax.random.fold_in(state.key, e0 + 1), n)

        def one(carry, _):
            params, opt_state, step = carry
            active = step < total_steps
            j = step % spe
            idx = jnp.where(step // spe == e0, jax.lax.dynamic_slice(perm_a, (j * batch_size,), (batch_size,)),
                            jax.lax.dynamic_slice(perm_b, (j * batch_size,), (batch_size,)))
            (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, arr.x_train[idx],
                                                                                arr.y_train[idx])
            updates, new_opt = tx_at(state.learning_rate).update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            params = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new_params, params)
            opt_state = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new_opt, opt_state)
            return (params, opt_state, step + active.astype(jnp.int32)), (loss, acc, active)

        (params, opt_state, step), (loss, acc, active) = jax.lax.scan(
            one, (state.params, state.opt_state, state.step), None, length=block)
        done = jnp.maximum(jnp.sum(active), 1)
        test_acc, test_ce = evaluate(params, arr.x_test, arr.y_test)
        metrics = {"step": step, "epoch": step.astype(jnp.float32) / spe,
                   "forward_passes": step.astype(jnp.float32) * (FORWARD_EQUIV_PER_SAMPLE * batch_size),
                   "train_loss": jnp.sum(jnp.where(active, loss, 0.0)) / done,
                   "train_accuracy": jnp.sum(jnp.where(active, acc, 0.0)) / done,
                   "test_accuracy": test_acc, "test_loss": test_ce}
        return TrainState(params, opt_state, step, state.key, state.learning_rate), metrics

    def train(arr: _Arrays, key: jax.Array, learning_rate: Any = None) -> tuple[TrainState, dict]:
        """The whole run as one program: ``num_blocks`` blocks in a ``lax.scan`` (metrics ``[num_blocks]``)."""
        return jax.lax.scan(lambda s, _: run_block(arr, s), init(arr, key, learning_rate), None, length=num_blocks)

    j_init, j_block, j_train = jax.jit(init), jax.jit(run_block), jax.jit(train)

    config = dict(optimizer=optimizer if isinstance(optimizer, str) else "custom", learning_rate=learning_rate,
                  batch_size=batch_size, epochs=epochs, momentum=momentum, steps=total_steps,
                  steps_per_block=block, test_samples=m)
    return SGDBaseline(lambda key, learning_rate=None: j_init(arrays, key, learning_rate),
                       lambda state: j_block(arrays, state),
                       lambda key, learning_rate=None: j_train(arrays, key, learning_rate),
                       evaluate, block, num_blocks, spe, config)


def fit(key: jax.Array, trainer: SGDBaseline, progress: bool = False,
        callback: Callable[[TrainState, dict], Any] | None = None) -> tuple[TrainState, dict[str, np.ndarray]]:
    """Run ``trainer`` block by block from the host; returns the final state and the history
    (``[num_blocks]`` numpy arrays in the shared curve schema plus ``train_loss`` etc.).

    callback(state, metrics) after each block; returning ``False`` stops the run.
    """
    state = trainer.init(key)
    history: dict[str, list] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        label = str(trainer.config.get("optimizer", "sgd"))   # the optimizer's name: adam, sgd, ... (custom)
        bar = tqdm(total=trainer.num_blocks, desc=label, unit="block", dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        for _ in range(trainer.num_blocks):
            state, metrics = trainer.run_block(state)
            metrics = {k: np.asarray(v).item() for k, v in metrics.items()}
            metrics["wall_s"] = time.perf_counter() - t0
            for k, v in metrics.items():
                history.setdefault(k, []).append(v)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train_loss']:.4g}", test_acc=f"{metrics['test_accuracy']:.4f}")
            if callback is not None and callback(state, metrics) is False:
                break
    finally:
        if bar is not None:
            bar.close()
    return state, {k: np.asarray(v) for k, v in history.items()}


def level_reached(curve: dict[str, np.ndarray], fraction: float = 0.9, key: str = "forward_passes",
                  metric: str = "test_accuracy") -> float:
    """``curve[key]`` at the first point where ``curve[metric] >= fraction * final value``
    (e.g. forward passes to reach 90% of the final test accuracy); NaN for an empty curve."""
    vals = np.asarray(curve[metric], np.float64)
    if vals.size == 0:
        return float("nan")
    hit = np.nonzero(vals >= fraction * vals[-1])[0]
    return float(np.asarray(curve[key], np.float64)[hit[0]])
