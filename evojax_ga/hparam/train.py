"""Vectorised candidate training: a whole generation of MLP configurations trained in one program.

Every candidate is a masked maximum-size network (:mod:`~evojax_ga.hparam.masked_mlp`) with its
activation and optimizer chosen by ``lax.switch`` (:mod:`~evojax_ga.hparam.optimizer_switch`, over
:data:`evojax_ga.optimizers.OPTIMIZERS`, the learning rate a traced value); :func:`make_trainer`
trains them all in one jitted ``vmap``. The matmuls are shared; the elementwise work of a switch is
paid per choice.

A batch-size gene is exact too: every step draws ``max(batch)`` rows; a candidate with batch ``b``
masks its loss to its first ``b`` rows (the last batch of an epoch may be partial) and is inactive
(params and optimizer state unchanged, no count increment) once its ``ceil(N / b)`` steps of the
epoch are done. The step loop has ``ceil(N / min(batch))`` steps per epoch for everyone, which is why
batch size is not in the default space.

Data order: epoch ``e`` visits ``permutation(fold_in(k_data, e), N)`` in consecutive windows, the same
for every candidate. Hence a candidate's score is a function of (genome, training key, data) only,
not of which other candidates share its chunk, which makes the score cache exact.

Data: a :class:`evojax_ga.data.Dataset` with a validation split (:func:`load_dataset`, or
:func:`evojax_ga.data.validation_split` of any flat data set).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evojax_ga._checks import check_int, check_positive, check_range
from evojax_ga.data import Dataset, load, validate, validation_split
from evojax_ga.hparam.masked_mlp import (
    Params,
    candidate_params,
    check_activations,
    init_base,
    masked_forward,
    param_mask,
)
from evojax_ga.hparam.optimizer_switch import SwitchedOptimizer, switched_optimizer
from evojax_ga.hparam.space import Genomes, Space
from evojax_ga.optimizers import DEFAULT_LEARNING_RATES, OPTIMIZERS

__all__ = ["KNOWN_GENES", "TrainConfig", "CandidateTrainer", "make_trainer", "check_trainer_data", "load_dataset",
           "on_device", "training_keys", "data_order"]

#: gene names the trainer understands
KNOWN_GENES = ("depth", "width", "activation", "optimizer", "learning_rate", "batch_size")

#: the splits a trainer reads from a :class:`~evojax_ga.data.Dataset`
SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


# ------------------------------------------------------------------------------------------------
# configuration and data
# ------------------------------------------------------------------------------------------------
class TrainConfig(NamedTuple):
    """Static training settings. Fields named like a gene are used when the space lacks that gene.

    epochs: passes over the training split (the per-candidate budget);
    learning_rate: ``None`` = the optimizer's :data:`~evojax_ga.optimizers.DEFAULT_LEARNING_RATES` entry;
    sample_chunk_size: samples per chunk when scoring the validation / test splits.
    """
    epochs: int = 10
    batch_size: int = 64
    depth: int = 2
    width: int = 64
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float | None = None
    sample_chunk_size: int = 1024


def load_dataset(name: str = "digits", path: str | None = None, val_fraction: float = 0.2, seed: int = 0,
                 train_subset: int | None = None) -> Dataset:
    """A flat data set with a fixed stratified validation split carved from its training split
    (:func:`evojax_ga.data.validation_split`).

    name: ``digits`` (bundled with scikit-learn) or any name :func:`evojax_ga.data.load` knows
    (``cifar10``, ``mnist``, ``fashion_mnist``; local files only, ``path`` or ``$EVOJAX_GA_DATA``).
    Inputs are flattened to ``[N, D]`` in [0, 1]. train_subset: keep only the first ``n`` training
    samples (after the validation split; ``None`` = all), to bound the cost on large data sets.
    """
    check_range(val_fraction, "val_fraction", 0.0, 1.0, low_open=True, high_open=True)
    ds = validation_split(load(name, path=path, flat=True), val_fraction, seed)
    if train_subset is not None:
        train_subset = check_int(train_subset, "train_subset", minimum=1)
        ds = ds._replace(x_train=ds.x_train[:train_subset], y_train=ds.y_train[:train_subset])
    return ds


def _check_data(data: Any) -> Dataset:
    if not isinstance(data, Dataset) or data.x_val is None or data.y_val is None:
        got = type(data).__name__ if not isinstance(data, Dataset) else "a Dataset without a validation split"
        raise TypeError(f"data must be an evojax_ga.data.Dataset with a validation split "
                        f"(load_dataset or data.validation_split), got {got}")
    return data


def on_device(data: Dataset) -> Dataset:
    """``data`` with its splits as device arrays (put once, reused by every training call)."""
    arrays: dict[str, Any] = {k: jnp.asarray(getattr(_check_data(data), k)) for k in SPLITS}
    return data._replace(**arrays)


def _arrays(data: Dataset) -> dict[str, Any]:
    return {k: getattr(_check_data(data), k) for k in SPLITS}


def training_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(k_init, k_data)``: the initial draws (:func:`~evojax_ga.hparam.masked_mlp.init_base`) and the
    data order (:func:`data_order`)."""
    k_init, k_data = jax.random.split(key)
    return k_init, k_data


def data_order(k_data: jax.Array, epoch: Any, n: int) -> jax.Array:
    """``[n]`` int32: the order in which epoch ``epoch`` visits the training samples (all candidates)."""
    return jax.random.permutation(jax.random.fold_in(k_data, epoch), n)


# ------------------------------------------------------------------------------------------------
# the trainer
# ------------------------------------------------------------------------------------------------
class CandidateTrainer(NamedTuple):
    """Trains a batch of candidate networks (genomes of ``space``) at once.

    ``train(key, genomes, data, return_params=False) -> metrics`` (jitted, ``vmap`` over genomes).
    ``compile(key, chunk_size, data) -> train_fn``: the program for ``chunk_size`` candidates
    compiled ahead of time (once per chunk size and data shapes, then shared);
    ``train_fn(key, genomes, data) -> metrics`` runs it without tracing or compiling again (its
    metrics include ``params``, left on the device).

    metrics: ``val_acc``, ``val_loss``, ``test_acc``, ``test_loss``, ``train_loss`` (mean loss of the
    last epoch), all ``[P]`` float32; with ``return_params`` also ``params`` (the masked networks,
    leaves ``[P, ...]``). ``key`` fixes the initial draws and the data order (the same for every
    candidate). Accuracy counts a sample as wrong when its logits are not finite (diverged training).
    """
    space: Space
    config: TrainConfig
    train: Callable[..., dict[str, jax.Array]]
    compile: Callable[[jax.Array, int, Dataset], Callable[[jax.Array, Genomes, Dataset], dict[str, Any]]]
    max_depth: int
    max_width: int
    activation_names: tuple[str, ...]
    optimizer_names: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    in_dim: int = 0          # input features the networks take (0: unknown)
    num_classes: int = 0     # outputs of the networks (0: unknown)

    def steps_per_epoch(self, n_train: int) -> int:
        """Length of the step loop of one epoch (set by the smallest batch size)."""
        return math.ceil(n_train / min(self.batch_sizes))


class _Choices(NamedTuple):
    """The values each gene can take (a gene absent from the space: the config's value alone)."""
    depths: tuple
    widths: tuple
    batches: tuple
    acts: tuple[str, ...]
    opts: tuple[str, ...]


def _gene_values(space: Space, name: str, default: Any) -> tuple:
    if name not in space:
        return (default,)
    g = space.gene(name)
    if g.kind != "choice":
        raise ValueError(f"gene {name!r} must be a choice gene (discrete values), got a continuous gene")
    return tuple(g.values)


def _choices(space: Space, config: TrainConfig) -> _Choices:
    """Every check of the space and config against what the trainer can train."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    unknown = [n for n in space.names if n not in KNOWN_GENES]
    if unknown:
        raise ValueError(f"genes {unknown} are not training hyper-parameters; known genes: {list(KNOWN_GENES)}")
    check_int(config.epochs, "epochs", minimum=1)
    check_int(config.sample_chunk_size, "sample_chunk_size", minimum=1)
    depths = _gene_values(space, "depth", config.depth)
    widths = _gene_values(space, "width", config.width)
    batches = _gene_values(space, "batch_size", config.batch_size)
    for name, vals in (("depth", depths), ("width", widths), ("batch_size", batches)):
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} values must be positive ints, got {list(vals)}")
    acts = check_activations(_gene_values(space, "activation", config.activation))
    opts = _gene_values(space, "optimizer", config.optimizer)
    for o in opts:
        if o not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {o!r}")
    if "learning_rate" in space:
        g = space.gene("learning_rate")
        lows = [g.low] if g.kind == "continuous" else list(g.values)
        if any(not isinstance(v, (int, float, np.number)) or not v > 0 for v in lows):
            raise ValueError(f"learning_rate values must be positive numbers, got {g}")
    elif config.learning_rate is not None:
        check_positive(config.learning_rate, "learning_rate")
    return _Choices(depths, widths, batches, acts, tuple(opts))


def _genes_of(space: Space, c: _Choices, default_lr: jax.Array, genomes: Genomes) -> dict[str, jax.Array]:
    """Per-candidate gene values ``[P]``: depth, width, activation / optimizer indices, learning rate
    (and batch size when it is a gene)."""
    vals = space.decode(genomes)
    P = space.validate(genomes)

    def full(v: Any, dt: Any) -> jax.Array:
        return jnp.full((P,), v, dt)

    g = {"depth": vals.get("depth", full(c.depths[0], jnp.int32)),
         "width": vals.get("width", full(c.widths[0], jnp.int32)),
         "activation": vals.get("activation", full(0, jnp.int32)),
         "optimizer": vals.get("optimizer", full(0, jnp.int32))}
    g["learning_rate"] = (vals["learning_rate"].astype(jnp.float32) if "learning_rate" in vals
                          else default_lr[g["optimizer"]])
    if "batch_size" in space:
        g["batch_size"] = vals["batch_size"]
    return g


def _evaluate(params: Params, g: dict[str, jax.Array], x: jax.Array, y: jax.Array, split: jax.Array,
              sample_chunk_size: int, acts: tuple[str, ...]) -> tuple[jax.Array, jax.Array]:
    """Accuracy and mean loss ``[2]`` of one candidate on each of two splits (``split`` 0 / 1 per
    sample; -1 = padding), ``sample_chunk_size`` samples at a time."""
    n = x.shape[0]
    eb = min(sample_chunk_size, n)
    chunks = math.ceil(n / eb)
    pad = chunks * eb - n
    xp = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)]).reshape((chunks, eb) + x.shape[1:])
    yp = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)]).reshape(chunks, eb)
    sp = jnp.concatenate([split, jnp.full((pad,), -1, split.dtype)]).reshape(chunks, eb)

    def body(acc, xys):
        xb, yb, sb = xys
        logits = masked_forward(params, g["depth"], g["width"], g["activation"], xb, acts)
        ok = jnp.all(jnp.isfinite(logits), axis=-1)
        correct = (jnp.argmax(logits, -1) == yb) & ok
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
        onehot = sb[:, None] == jnp.arange(2)[None, :]                      # [eb, 2]
        return (acc[0] + jnp.sum(onehot & correct[:, None], 0),
                acc[1] + jnp.sum(jnp.where(onehot, ce[:, None], 0.0), 0)), None

    init = (jnp.zeros((2,), jnp.int32), jnp.zeros((2,), jnp.float32))
    (correct, loss), _ = jax.lax.scan(body, init, (xp, yp, sp))
    counts = jnp.maximum(jnp.sum(split[:, None] == jnp.arange(2)[None, :], 0), 1)
    return correct.astype(jnp.float32) / counts, loss / counts


def _step_fn(x: jax.Array, y: jax.Array, B_max: int, batch_is_gene: bool, acts: tuple[str, ...],
             sw: SwitchedOptimizer) -> Callable:
    """``step_one((params, opt_state), genes, perm, s) -> ((params, opt_state), (loss, active))``: one
    candidate's optimizer step ``s`` of an epoch that visits the training samples in order ``perm``."""
    N = x.shape[0]

    def step_one(carry, gc, perm, s):
        p, st = carry
        b = gc["batch_size"] if batch_is_gene else B_max
        rows = s * b + jnp.arange(B_max)
        valid = (jnp.arange(B_max) < b) & (rows < N)
        idx = perm[jnp.minimum(rows, N - 1)]
        xb, yb = x[idx], y[idx]
        mask = param_mask(p, gc["depth"], gc["width"])

        def loss_fn(pp):
            logits = masked_forward(pp, gc["depth"], gc["width"], gc["activation"], xb, acts)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
            return jnp.sum(jnp.where(valid, ce, 0.0)) / jnp.maximum(jnp.sum(valid), 1)

        loss, grads = jax.value_and_grad(loss_fn)(p)
        grads = jax.tree_util.tree_map(lambda gr, m: jnp.where(m, gr, 0.0), grads, mask)
        upd, new_st = sw.update(gc["optimizer"], gc["learning_rate"], grads, st, p)
        new_p = jax.tree_util.tree_map(lambda a, u, m: jnp.where(m, a + u, a), p, upd, mask)
        if batch_is_gene:
            active = s * b < N
            new_p = jax.tree_util.tree_map(lambda a, o: jnp.where(active, a, o), new_p, p)
            new_st = jax.tree_util.tree_map(lambda a, o: jnp.where(active, a, o), new_st, st)
            loss = jnp.where(active, loss, 0.0)
        else:
            active = jnp.bool_(True)
        return (new_p, new_st), (loss, active)

    return step_one


def _program(space: Space, config: TrainConfig, c: _Choices, in_dim: int, num_classes: int) -> Callable:
    """``train(key, genomes, arrays, return_params) -> metrics``, the whole training of a batch of
    candidates and their scores (to be jitted)."""
    L, H, B_max = max(c.depths), max(c.widths), max(c.batches)
    batch_is_gene = "batch_size" in space
    epochs = config.epochs
    default_lr = jnp.asarray([DEFAULT_LEARNING_RATES[o] if config.learning_rate is None else config.learning_rate
                              for o in c.opts], jnp.float32)

    def train(key: jax.Array, genomes: Genomes, data: dict, return_params: bool) -> dict[str, jax.Array]:
        x, y = data["x_train"], data["y_train"]
        N = x.shape[0]
        if x.shape[1] != in_dim:
            raise ValueError(f"data has {x.shape[1]} inputs, the trainer was built for in_dim={in_dim}")
        S = math.ceil(N / min(c.batches))
        k_init, k_data = training_keys(key)
        base = init_base(k_init, in_dim, L, H, num_classes)
        g = _genes_of(space, c, default_lr, genomes)
        sw = switched_optimizer(c.opts, jax.tree_util.tree_map(lambda t: t, base))

        def init_one(gc):
            p = candidate_params(base, gc["depth"], gc["width"])
            return p, sw.init(gc["optimizer"], p)

        params, opt_state = jax.vmap(init_one)(g)
        step_one = _step_fn(x, y, B_max, batch_is_gene, c.acts, sw)

        def epoch(carry, e):
            perm = data_order(k_data, e, N)

            def step(c, s):
                return jax.vmap(step_one, in_axes=(0, 0, None, None))(c, g, perm, s)

            carry, (losses, active) = jax.lax.scan(step, carry, jnp.arange(S))
            mean_loss = jnp.sum(losses, 0) / jnp.maximum(jnp.sum(active, 0), 1)
            return carry, mean_loss

        (params, opt_state), epoch_loss = jax.lax.scan(epoch, (params, opt_state), jnp.arange(epochs))
        x_eval = jnp.concatenate([data["x_val"], data["x_test"]])
        y_eval = jnp.concatenate([data["y_val"], data["y_test"]])
        split = jnp.concatenate([jnp.zeros(data["y_val"].shape, jnp.int32), jnp.ones(data["y_test"].shape, jnp.int32)])
        acc, loss = jax.vmap(_evaluate, in_axes=(0, 0, None, None, None, None, None))(
            params, g, x_eval, y_eval, split, config.sample_chunk_size, c.acts)
        out = {"val_acc": acc[:, 0], "val_loss": loss[:, 0], "test_acc": acc[:, 1], "test_loss": loss[:, 1],
               "train_loss": epoch_loss[-1]}
        if return_params:
            out["params"] = params
        return out

    return train


def make_trainer(space: Space, config: TrainConfig | None = None, *, in_dim: int,
                 num_classes: int) -> CandidateTrainer:
    """A jitted trainer for every configuration of ``space``.

    Genes it understands (:data:`KNOWN_GENES`): ``depth`` and ``width`` (positive int choices),
    ``activation`` (names in :data:`evojax_ga.models.ACTIVATIONS`), ``optimizer`` (names in
    :data:`evojax_ga.optimizers.OPTIMIZERS`), ``learning_rate`` (positive; choice or continuous),
    ``batch_size`` (positive int choices). A gene absent from the space takes ``config``'s value. Any
    other gene is a ValueError.
    """
    config = TrainConfig() if config is None else config
    c = _choices(space, config)
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    jitted = jax.jit(_program(space, config, c, in_dim, num_classes), static_argnames=("return_params",))

    def train(key: jax.Array, genomes: Genomes, data: Dataset, return_params: bool = False) -> dict[str, jax.Array]:
        return jitted(key, genomes, _arrays(data), return_params=return_params)

    compiled: dict[tuple, Any] = {}  # (chunk size, key and data shapes) -> executable, shared by callers

    def compile_for(key: jax.Array, chunk_size: int, data: Dataset) -> Callable:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        arr = _arrays(data)
        sig = (chunk_size, str(jax.typeof(key)), tuple((k, tuple(np.shape(v)), str(np.asarray(v[:0]).dtype))
                                                      for k, v in sorted(arr.items())))
        if sig not in compiled:
            example = space.sample(jax.random.key(0), chunk_size)
            compiled[sig] = jitted.lower(key, example, arr, return_params=True).compile()
        exe = compiled[sig]
        return lambda k, genomes, d: exe(k, genomes, _arrays(d))

    return CandidateTrainer(space, config, train, compile_for, max(c.depths), max(c.widths), c.acts, c.opts,
                            tuple(c.batches), in_dim, num_classes)


def check_trainer_data(trainer: CandidateTrainer, data: Dataset) -> Dataset:
    """``data`` once checked (:func:`evojax_ga.data.validate`, a validation split required) and
    matched to ``trainer``: flat inputs ``[N, in_dim]`` and at most ``num_classes`` classes."""
    validate(_check_data(data))
    shape = tuple(np.shape(data.x_train)[1:])
    if trainer.in_dim and shape != (trainer.in_dim,):
        raise ValueError(f"the trainer takes flat inputs of in_dim={trainer.in_dim} features but x_train has "
                         f"inputs of shape {shape} (flatten the data: data.flat())")
    if trainer.num_classes and trainer.num_classes < int(data.num_classes):
        raise ValueError(f"the trainer's networks have num_classes={trainer.num_classes} outputs but the data "
                         f"have num_classes={data.num_classes}: it needs at least one output per class")
    return data
