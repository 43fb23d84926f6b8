"""Vectorised candidate training: a whole generation of MLP configurations trained in one program.

Every candidate is a **maximum-size** MLP (``max(depth)`` hidden layers of ``max(width)`` units)
in which a candidate of depth ``d`` and width ``w`` uses

* the first ``w`` units of every hidden layer: the other units' activations are set to exactly 0
  (a select after the activation, so ``sigmoid(0) = 0.5`` does not leak), their parameters start at
  0, their gradients and updates are masked to 0, so they never move and never enter an optimizer
  statistic;
* the first ``d`` hidden layers; hidden layers ``d..L-1`` pass their input through unchanged
  (``h_l = h_{l-1}``, a select), so the single output layer reads the ``d``-th hidden state. This is
  the formulation that keeps one set of parameters for every depth: all hidden layers have the same
  width (Harvey's "neurons per layer"), so the pass-through is shape-consistent, and the skipped
  layers contribute nothing to the output or to the gradients (the select's transpose gives them an
  exact 0 cotangent; the gradient mask makes it explicit).

The result is the small network built directly, with the same weights (summation over the extra
zero units changes only float rounding): see :func:`small_params` and the tests. Initialisation
draws one set of truncated-normal tensors for the maximum-size network from the training key
(shared by all candidates: common random numbers) and scales each candidate's active block by its
own fan-in, exactly Flax's ``lecun_normal`` law for the small network; biases start at 0.

Choices are ``lax.switch``: activation (:data:`ACTIVATIONS`) and optimizer (:data:`OPTIMIZERS`,
optax's own transformations, the learning rate a traced value). All optimizers share one **padded
state** (:func:`switched_optimizer`): each optax state leaf is stored in a slot keyed by its shape and
dtype, so ``adam`` (count, mu, nu) and ``rmsprop`` (nu) use the same buffers and each candidate's
update is bit-for-bit optax's. Under ``vmap`` a ``switch`` with a batched index evaluates every
branch and selects, so the elementwise work is paid per choice; the matmuls are shared.

A batch-size gene is exact too: every step draws ``max(batch)`` rows; a candidate with batch ``b``
masks its loss to its first ``b`` rows (the last batch of an epoch may be partial) and is inactive
(params and optimizer state unchanged, no count increment) once its ``ceil(N / b)`` steps of the
epoch are done. The step loop has ``ceil(N / min(batch))`` steps per epoch for everyone, which is why
batch size is not in the default space.

Data order: epoch ``e`` visits ``permutation(fold_in(k_data, e), N)`` in consecutive windows, the same
for every candidate. Hence a candidate's score is a function of (genome, training key, data) only,
not of which other candidates share its chunk, which makes the score cache exact.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evojax_ga._checks import check_int, check_positive, check_range
from evojax_ga.chunking import map_chunks
from evojax_ga.hparam.space import Genomes, Space
from evojax_ga.models import ACTIVATIONS as _MODEL_ACTIVATIONS

__all__ = ["ACTIVATIONS", "OPTIMIZERS", "DEFAULT_LEARNING_RATES", "KNOWN_GENES", "TrainConfig", "Data",
           "Trainer", "SwitchedOptimizer", "switched_optimizer", "make_trainer", "init_base",
           "candidate_params", "param_mask", "masked_forward", "small_params", "split_validation",
           "training_keys", "data_order",
           "load_dataset", "train_in_chunks"]

#: activation functions by name (the same functions as :class:`evojax_ga.models.MLP`)
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    k: v for k, v in _MODEL_ACTIVATIONS.items() if k in ("relu", "elu", "tanh", "sigmoid", "gelu", "identity")}

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

#: learning rate of each optimizer when the space has no ``learning_rate`` gene (Keras-like defaults)
DEFAULT_LEARNING_RATES: dict[str, float] = {
    "sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "adamax": 2e-3, "rmsprop": 1e-3,
    "adagrad": 1e-2,
}

#: gene names the trainer understands
KNOWN_GENES = ("depth", "width", "activation", "optimizer", "learning_rate", "batch_size")

Params = dict[str, Any]


# ------------------------------------------------------------------------------------------------
# configuration and data
# ------------------------------------------------------------------------------------------------
class TrainConfig(NamedTuple):
    """Static training settings. Fields named like a gene are used when the space lacks that gene.

    epochs: passes over the training split (the per-candidate budget);
    learning_rate: ``None`` = the optimizer's :data:`DEFAULT_LEARNING_RATES` entry;
    eval_batch: samples per chunk when scoring the validation / test splits.
    """
    epochs: int = 10
    batch_size: int = 64
    depth: int = 2
    width: int = 64
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float | None = None
    eval_batch: int = 1024


class Data(NamedTuple):
    """Train / validation / test splits: ``x_*`` ``[N, D]`` float32, ``y_*`` ``[N]`` int32."""
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    num_classes: int
    name: str = "data"

    def device(self) -> "Data":
        """The arrays as device arrays (put once, reused by every training call)."""
        return self._replace(**{k: jnp.asarray(getattr(self, k)) for k in
                                ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")})

    def summary(self) -> str:
        return (f"{self.name}: train {len(self.y_train)}, val {len(self.y_val)}, test {len(self.y_test)}, "
                f"{np.shape(self.x_train)[1]} inputs, {self.num_classes} classes")


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified split of a training set: ``(x_train, y_train, x_val, y_val)``, fixed by ``seed``.

    Every class puts ``round(fraction * n_class)`` (at least 1) of its samples into validation.
    """
    check_range(fraction, "val_fraction", 0.0, 1.0, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        val_idx.append(idx[:max(1, int(round(fraction * len(idx))))])
    val = np.sort(np.concatenate(val_idx))
    mask = np.zeros(len(y), bool)
    mask[val] = True
    return x[~mask], y[~mask], x[mask], y[mask]


def _load_digits_fallback(test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Digits from scikit-learn directly (used when ``evojax_ga.data`` is not available)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data.astype(np.float32) / np.float32(16.0))
    y = d.target.astype(np.int32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return xtr, ytr, xte, yte


def load_dataset(name: str = "digits", path: str | None = None, val_fraction: float = 0.2, seed: int = 0,
                 train_subset: int | None = None) -> Data:
    """A data set with a fixed stratified validation split carved from its training split.

    name: ``digits`` (bundled with scikit-learn; 1,347 train / 450 test before the validation split)
    or any name :func:`evojax_ga.data.load` knows (``cifar10``, ``mnist``, ``fashion_mnist``; local
    files only, ``path`` or ``$EVOJAX_GA_DATA``). Inputs are flattened to ``[N, D]`` in [0, 1].
    train_subset: keep only the first ``n`` training samples (after the validation split; ``None`` =
    all), to bound the cost on large data sets.
    """
    try:
        from evojax_ga import data as _data
    except ImportError:  # pragma: no cover - the data module is optional
        _data = None
    if _data is not None:
        ds = _data.load(name, path=path, flat=True)
        xtr, ytr, xte, yte, ncls, label = ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.num_classes, ds.name
    elif name == "digits":
        xtr, ytr, xte, yte = _load_digits_fallback(0.25, 0)
        ncls, label = 10, "digits"
    else:
        raise ValueError(f"dataset {name!r} needs evojax_ga.data (not installed); without it only 'digits' works")
    xtr, ytr, xv, yv = split_validation(np.asarray(xtr, np.float32), np.asarray(ytr, np.int32), val_fraction, seed)
    if train_subset is not None:
        train_subset = check_int(train_subset, "train_subset", minimum=1)
        xtr, ytr = xtr[:train_subset], ytr[:train_subset]
    return Data(np.ascontiguousarray(xtr, np.float32), ytr.astype(np.int32), np.ascontiguousarray(xv, np.float32),
                yv.astype(np.int32), np.ascontiguousarray(np.asarray(xte, np.float32).reshape(len(yte), -1)),
                np.asarray(yte, np.int32), int(ncls), label)


# ------------------------------------------------------------------------------------------------
# the padded, switched optimizer
# ------------------------------------------------------------------------------------------------
class SwitchedOptimizer(NamedTuple):
    """Several optax optimizers behind one padded state.

    init(index, params) -> padded state (a tuple of slot arrays);
    update(index, learning_rate, grads, state, params) -> (updates, state): optax's own update of
    optimizer ``names[index]`` on the unpacked state, repacked (slots it does not use pass through).
    unpack(index, state) -> that optimizer's optax state (for tests and inspection).
    """
    names: tuple[str, ...]
    init: Callable
    update: Callable
    unpack: Callable


def switched_optimizer(names: Sequence[str], params_template: Params) -> SwitchedOptimizer:
    """Build the padded layout from each optimizer's state shapes (``jax.eval_shape``, no compute).

    Every state leaf goes to slot ``(shape, dtype, k)``, ``k`` counting leaves of that shape within
    one optimizer's state; the padded state has, per shape and dtype, as many slots as the optimizer
    that needs most of them.
    """
    names = tuple(names)
    for n in names:
        if n not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {n!r}")
    layouts, need = [], {}
    for n in names:
        st = jax.eval_shape(OPTIMIZERS[n](1.0).init, params_template)
        leaves, treedef = jax.tree_util.tree_flatten(st)
        count: dict[tuple, int] = {}
        assign = []
        for leaf in leaves:
            k = (tuple(leaf.shape), jnp.dtype(leaf.dtype).name)
            assign.append((k, count.get(k, 0)))
            count[k] = count.get(k, 0) + 1
        for k, c in count.items():
            need[k] = max(need.get(k, 0), c)
        layouts.append((treedef, assign))
    slots = [(k, i) for k in sorted(need) for i in range(need[k])]
    pos = {s: j for j, s in enumerate(slots)}

    def zeros():
        return tuple(jnp.zeros(k[0], k[1]) for k, _ in slots)

    def pack(i, state, base):
        out = list(base)
        for leaf, s in zip(jax.tree_util.tree_leaves(state), layouts[i][1]):
            out[pos[s]] = leaf
        return tuple(out)

    def unpack(i, padded):
        treedef, assign = layouts[i]
        return jax.tree_util.tree_unflatten(treedef, [padded[pos[s]] for s in assign])

    def init(index, params):
        branches = [lambda p, i=i: pack(i, OPTIMIZERS[names[i]](1.0).init(p), zeros()) for i in range(len(names))]
        return jax.lax.switch(index, branches, params)

    def update(index, learning_rate, grads, state, params):
        def branch(i):
            def fn(ops):
                lr, g, st, p = ops
                upd, new = OPTIMIZERS[names[i]](lr).update(g, unpack(i, st), p)
                return upd, pack(i, new, st)
            return fn
        return jax.lax.switch(index, [branch(i) for i in range(len(names))], (learning_rate, grads, state, params))

    return SwitchedOptimizer(names, init, update, lambda index, state: unpack(index, state))


# ------------------------------------------------------------------------------------------------
# the masked network
# ------------------------------------------------------------------------------------------------
_TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2] (Flax's variance_scaling)


def init_base(key: jax.Array, in_dim: int, max_depth: int, max_width: int, num_classes: int) -> Params:
    """Unscaled draws for the maximum-size network: kernels ``truncated_normal(-2, 2)``, biases 0.

    ``{"hidden": [{"kernel": [in, H], "bias": [H]}, {"kernel": [H, H], ...}, ...], "out": {"kernel":
    [H, C], "bias": [C]}}`` with ``H = max_width`` and ``max_depth`` hidden layers.
    """
    keys = jax.random.split(key, max_depth + 1)
    hidden = []
    for l in range(max_depth):
        fan = in_dim if l == 0 else max_width
        hidden.append({"kernel": jax.random.truncated_normal(keys[l], -2.0, 2.0, (fan, max_width), jnp.float32),
                       "bias": jnp.zeros((max_width,), jnp.float32)})
    out = {"kernel": jax.random.truncated_normal(keys[-1], -2.0, 2.0, (max_width, num_classes), jnp.float32),
           "bias": jnp.zeros((num_classes,), jnp.float32)}
    return {"hidden": hidden, "out": out}


def param_mask(params: Params, depth: Any, width: Any) -> Params:
    """Boolean tree like ``params``: True where the entry belongs to the depth-``d``, width-``w`` net."""
    H = params["hidden"][0]["kernel"].shape[-1]
    m = jnp.arange(H) < width
    hidden = []
    for l, layer in enumerate(params["hidden"]):
        on = jnp.asarray(l < depth)
        rows = jnp.ones(layer["kernel"].shape[0], bool) if l == 0 else m
        hidden.append({"kernel": rows[:, None] & m[None, :] & on, "bias": m & on})
    C = params["out"]["bias"].shape[0]
    return {"hidden": hidden, "out": {"kernel": jnp.broadcast_to(m[:, None], (H, C)),
                                      "bias": jnp.ones((C,), bool)}}


def candidate_params(base: Params, depth: Any, width: Any) -> Params:
    """One candidate's initial parameters from :func:`init_base`: kernels scaled by
    ``sqrt(1 / fan_in) / 0.8796`` with the candidate's own fan-in (``in_dim``, then ``width``), the
    inactive entries set to 0."""
    w = jnp.asarray(width, jnp.float32)
    mask = param_mask(base, depth, width)
    hidden = []
    for l, layer in enumerate(base["hidden"]):
        fan = jnp.float32(layer["kernel"].shape[0]) if l == 0 else w
        hidden.append({"kernel": layer["kernel"] * (jnp.sqrt(1.0 / fan) / _TRUNC_STD), "bias": layer["bias"]})
    out = {"kernel": base["out"]["kernel"] * (jnp.sqrt(1.0 / w) / _TRUNC_STD), "bias": base["out"]["bias"]}
    p = {"hidden": hidden, "out": out}
    return jax.tree_util.tree_map(lambda x, k: jnp.where(k, x, 0.0), p, mask)


# Fused activations: under vmap a switch evaluates every branch, so the transcendental work is shared:
# one tanh(alpha z + beta z^3) serves tanh (1, 0), sigmoid (1/2, 0: 0.5 + 0.5 tanh(z/2)) and gelu
# (Flax's tanh approximation: sqrt(2/pi) (z + 0.044715 z^3)), one expm1 serves elu. The results equal
# the reference functions in ACTIVATIONS to float rounding (tested).
_S2P = math.sqrt(2.0 / math.pi)
_TANH_ARGS = {"relu": (0.0, 0.0), "elu": (0.0, 0.0), "tanh": (1.0, 0.0), "sigmoid": (0.5, 0.0),
              "gelu": (_S2P, _S2P * 0.044715), "identity": (0.0, 0.0)}
_COMBINE = {
    "relu": lambda z, t, e: jnp.maximum(z, 0.0),
    "elu": lambda z, t, e: jnp.where(z > 0, z, e),
    "tanh": lambda z, t, e: t,
    "sigmoid": lambda z, t, e: 0.5 + 0.5 * t,
    "gelu": lambda z, t, e: 0.5 * z * (1.0 + t),
    "identity": lambda z, t, e: z,
}


def _activate(index: Any, z: jax.Array, names: Sequence[str]) -> jax.Array:
    """``ACTIVATIONS[names[index]](z)`` as a ``lax.switch`` over cheap combiners of shared terms."""
    if len(names) == 1:
        return ACTIVATIONS[names[0]](z)
    args = np.array([_TANH_ARGS[n] for n in names], np.float32)
    need_t = bool(np.any(args != 0))
    need_e = "elu" in names
    t = e = z
    if need_t:
        a, b = jnp.asarray(args[:, 0])[index], jnp.asarray(args[:, 1])[index]
        t = jnp.tanh(z * (a + b * z * z))
    if need_e:
        e = jnp.expm1(jnp.minimum(z, 0.0))
    return jax.lax.switch(index, [_COMBINE[n] for n in names], z, t, e)


def masked_forward(params: Params, depth: Any, width: Any, activation: Any, x: jax.Array,
                   activation_names: Sequence[str]) -> jax.Array:
    """Logits ``[B, C]`` of one candidate on ``x`` ``[B, D]``.

    depth, width: the candidate's (int scalars, may be traced); activation: index into
    ``activation_names`` (``lax.switch``).
    """
    H = params["hidden"][0]["kernel"].shape[-1]
    m = jnp.arange(H) < width
    h = x
    for l, layer in enumerate(params["hidden"]):
        a = _activate(activation, h @ layer["kernel"] + layer["bias"], activation_names)
        a = jnp.where(m, a, 0.0)
        h = a if l == 0 else jnp.where(l < depth, a, h)
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def small_params(params: Params, depth: int, width: int) -> dict:
    """The small network inside a masked one, as :class:`evojax_ga.models.MLP` params
    ``{"params": {"Dense_0": ..., ..., "Dense_d": ...}}`` for ``MLP(features=(width,) * depth, out=C)``.
    ``depth``, ``width`` must be concrete ints."""
    depth, width = int(depth), int(width)
    out = {}
    for l in range(depth):
        k = params["hidden"][l]["kernel"]
        out[f"Dense_{l}"] = {"kernel": k[:, :width] if l == 0 else k[:width, :width],
                             "bias": params["hidden"][l]["bias"][:width]}
    out[f"Dense_{depth}"] = {"kernel": params["out"]["kernel"][:width], "bias": params["out"]["bias"]}
    return {"params": out}


# ------------------------------------------------------------------------------------------------
# the trainer
# ------------------------------------------------------------------------------------------------
def training_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(k_init, k_data)``: the initial draws (:func:`init_base`) and the data order (:func:`data_order`)."""
    k_init, k_data = jax.random.split(key)
    return k_init, k_data


def data_order(k_data: jax.Array, epoch: Any, n: int) -> jax.Array:
    """``[n]`` int32: the order in which epoch ``epoch`` visits the training samples (all candidates)."""
    return jax.random.permutation(jax.random.fold_in(k_data, epoch), n)


class Trainer(NamedTuple):
    """``train(key, genomes, data, return_params=False) -> metrics`` (jitted, ``vmap`` over genomes).

    ``compile(key, chunk, data) -> train_fn``: the program for ``chunk`` candidates compiled ahead of
    time (once per chunk size and data shapes, then shared); ``train_fn(key, genomes, data) -> metrics``
    runs it without tracing or compiling again (its metrics include ``params``, left on the device).

    metrics: ``val_acc``, ``val_loss``, ``test_acc``, ``test_loss``, ``train_loss`` (mean loss of the
    last epoch), all ``[P]`` float32; with ``return_params`` also ``params`` (the masked networks,
    leaves ``[P, ...]``). ``key`` fixes the initial draws and the data order (the same for every
    candidate). Accuracy counts a sample as wrong when its logits are not finite (diverged training).
    """
    space: Space
    config: TrainConfig
    train: Callable
    compile: Callable
    max_depth: int
    max_width: int
    activation_names: tuple[str, ...]
    optimizer_names: tuple[str, ...]
    batch_sizes: tuple[int, ...]

    def steps_per_epoch(self, n_train: int) -> int:
        """Length of the step loop of one epoch (set by the smallest batch size)."""
        return math.ceil(n_train / min(self.batch_sizes))


def _gene_values(space: Space, name: str, default: Any) -> tuple:
    if name not in space:
        return (default,)
    g = space.gene(name)
    if g.kind != "choice":
        raise ValueError(f"gene {name!r} must be a choice gene (discrete values), got a continuous gene")
    return tuple(g.values)


def make_trainer(space: Space, config: TrainConfig = TrainConfig(), *, in_dim: int, num_classes: int) -> Trainer:
    """A jitted trainer for every configuration of ``space``.

    Genes it understands (:data:`KNOWN_GENES`): ``depth`` and ``width`` (positive int choices),
    ``activation`` (names in :data:`ACTIVATIONS`), ``optimizer`` (names in :data:`OPTIMIZERS`),
    ``learning_rate`` (positive; choice or continuous), ``batch_size`` (positive int choices). A gene
    absent from the space takes ``config``'s value. Any other gene is a ValueError.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    unknown = [n for n in space.names if n not in KNOWN_GENES]
    if unknown:
        raise ValueError(f"genes {unknown} are not training hyper-parameters; known genes: {list(KNOWN_GENES)}")
    check_int(config.epochs, "epochs", minimum=1)
    check_int(config.eval_batch, "eval_batch", minimum=1)
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    depths = _gene_values(space, "depth", config.depth)
    widths = _gene_values(space, "width", config.width)
    batches = _gene_values(space, "batch_size", config.batch_size)
    for name, vals in (("depth", depths), ("width", widths), ("batch_size", batches)):
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} values must be positive ints, got {list(vals)}")
    acts = _gene_values(space, "activation", config.activation)
    for a in acts:
        if a not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {a!r}")
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
    L, H, B_max = max(depths), max(widths), max(batches)
    batch_is_gene = "batch_size" in space
    epochs = config.epochs
    default_lr = jnp.asarray([DEFAULT_LEARNING_RATES[o] if config.learning_rate is None else config.learning_rate
                              for o in opts], jnp.float32)

    def genes_of(genomes: Genomes) -> dict[str, jax.Array]:
        vals = space.decode(genomes)
        P = space.validate(genomes)
        full = lambda v, dt: jnp.full((P,), v, dt)
        g = {"depth": vals.get("depth", full(depths[0], jnp.int32)),
             "width": vals.get("width", full(widths[0], jnp.int32)),
             "activation": vals.get("activation", full(0, jnp.int32)),
             "optimizer": vals.get("optimizer", full(0, jnp.int32))}
        g["learning_rate"] = (vals["learning_rate"].astype(jnp.float32) if "learning_rate" in vals
                              else default_lr[g["optimizer"]])
        if batch_is_gene:
            g["batch_size"] = vals["batch_size"]
        return g

    def evaluate(params, g, x, y, split):
        """Accuracy and mean loss on each of two splits (``split`` 0 / 1 per sample; -1 = padding)."""
        n = x.shape[0]
        eb = min(config.eval_batch, n)
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

    def _train(key: jax.Array, genomes: Genomes, data: dict, return_params: bool) -> dict[str, jax.Array]:
        x, y = data["x_train"], data["y_train"]
        N = x.shape[0]
        if x.shape[1] != in_dim:
            raise ValueError(f"data has {x.shape[1]} inputs, the trainer was built for in_dim={in_dim}")
        b_min = min(batches)
        S = math.ceil(N / b_min)
        k_init, k_data = training_keys(key)
        base = init_base(k_init, in_dim, L, H, num_classes)
        g = genes_of(genomes)
        sw = switched_optimizer(opts, jax.tree_util.tree_map(lambda t: t, base))

        def init_one(gc):
            p = candidate_params(base, gc["depth"], gc["width"])
            return p, sw.init(gc["optimizer"], p)

        params, opt_state = jax.vmap(init_one)(g)

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
        acc, loss = jax.vmap(evaluate, in_axes=(0, 0, None, None, None))(params, g, x_eval, y_eval, split)
        out = {"val_acc": acc[:, 0], "val_loss": loss[:, 0], "test_acc": acc[:, 1], "test_loss": loss[:, 1],
               "train_loss": epoch_loss[-1]}
        if return_params:
            out["params"] = params
        return out

    jitted = jax.jit(_train, static_argnames=("return_params",))

    def arrays(data: Data) -> dict:
        if not isinstance(data, Data):
            raise TypeError(f"data must be a Data (from load_dataset), got {type(data).__name__}")
        return {k: getattr(data, k) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}

    def train(key: jax.Array, genomes: Genomes, data: Data, return_params: bool = False) -> dict[str, jax.Array]:
        return jitted(key, genomes, arrays(data), return_params=return_params)

    compiled: dict[tuple, Any] = {}  # (chunk, key and data shapes) -> executable, shared by callers

    def compile_for(key: jax.Array, chunk: int, data: Data) -> Callable:
        chunk = check_int(chunk, "chunk", minimum=1)
        arr = arrays(data)
        sig = (chunk, str(jax.typeof(key)), tuple((k, tuple(np.shape(v)), str(np.asarray(v[:0]).dtype))
                                                 for k, v in sorted(arr.items())))
        if sig not in compiled:
            example = space.sample(jax.random.key(0), chunk)
            compiled[sig] = jitted.lower(key, example, arr, return_params=True).compile()
        exe = compiled[sig]
        return lambda k, genomes, d: exe(k, genomes, arrays(d))

    return Trainer(space, config, train, compile_for, L, H, tuple(acts), tuple(opts), tuple(batches))


def train_in_chunks(trainer: Trainer, key: jax.Array, genomes: Genomes, data: Data, chunk_size: int,
                    callback: Callable[[int, int], Any] | None = None,
                    train_fn: Callable | None = None,
                    on_result: Callable[[int, int, dict], Any] | None = None) -> dict[str, np.ndarray]:
    """Train ``genomes`` ``chunk_size`` at a time (:func:`~evojax_ga.chunking.map_chunks` in a host
    loop, ``last="pad"``: the last chunk padded with copies of the last genome, whose results are
    dropped), so one compiled program serves every call. Returns host arrays ``[P]`` of the scalar
    metrics (``params`` never leave the device here).

    callback(done, total) after every chunk (progress bars); train_fn: a compiled program from
    ``trainer.compile(key, chunk_size, data)`` (default: ``trainer.train``); on_result(start, n, result)
    gets every chunk's raw result (device arrays, first ``n`` rows valid), e.g. to keep the best
    network's ``params``.
    """
    train_fn = trainer.train if train_fn is None else train_fn
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    P = trainer.space.validate(genomes)

    def one(part: Genomes, rows: np.ndarray) -> dict[str, np.ndarray]:
        start = int(rows[0])
        n = min(chunk_size, P - start)
        res = train_fn(key, part, data)
        if on_result is not None:
            on_result(start, n, res)
        if callback is not None:
            callback(start + n, P)
        return {k: np.asarray(v) for k, v in res.items() if k != "params"}

    return map_chunks(one, genomes, chunk_size, last="pad", loop="python")
