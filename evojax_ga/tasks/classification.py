"""Supervised classification as a GA task: fitness of every individual on a shared batch.

Fitness (higher is better), from the mean cross-entropy ``CE = mean_i(logsumexp(z_i) - z_i[y_i])``
over the evaluated samples:

* ``"accuracy"`` — fraction of samples whose first arg-max logit is the label (the MNIST-CNN GA
  article's fitness);
* ``"neg_cross_entropy"`` — ``-CE``;
* ``"inverse_cross_entropy"`` — ``1 / CE`` (Gursky's NumPy GeneticMLP notebook,
  ``evaluate_fitness``; CE is floored at 1e-30 so a perfect fit gives a large finite fitness).

Each generation sees either the full training set (``batch_size=None``) or one minibatch drawn
without replacement from the generation's key and shared by every individual. The population is
evaluated in chunks of ``chunk_size`` individuals (:func:`evojax_ga.chunking.map_chunks`: full chunks
in a ``lax.map``, then the remaining rows) and, for each, the samples in chunks of
``sample_chunk_size`` (``lax.scan``), so memory stays bounded; an :class:`~evojax_ga.models.MLP`
uses the population-batched matmul forward of :func:`evojax_ga.models.population_forward`, a
:class:`~evojax_ga.models.ConvNet` on the CPU :mod:`evojax_ga.conv_population` (one shared first
convolution per chunk of members).

``evaluate`` also returns per-generation metrics that ``evolve`` records in its history: the batch
accuracy and cross-entropy of the generation's best individual, its test accuracy and the number of
sample forward passes spent (``forward_passes = P * batch``), the schema shared with the SGD
baselines (:mod:`evojax_ga.baselines.sgd`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks, on_accelerator, split_chunks
from evojax_ga.conv_population import members_per_chunk
from evojax_ga.data import Dataset, validate
from evojax_ga.metrics import ordered_sum
from evojax_ga.models import conv_population_path, population_forward
from evojax_ga.population import from_template, init_population
from evojax_ga.selection import rank_key
from evojax_ga.tasks.model_shapes import _head_message, activation_width, check_head, output_size
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["ClassificationTask", "classification", "FITNESS", "fitness_from_scores", "logits_scores",
           "learning_curve", "activation_width", "accelerator_chunk_bytes", "output_size", "check_head"]

FITNESS = ("accuracy", "neg_cross_entropy", "inverse_cross_entropy")
#: default ``chunk_bytes`` on a CPU: chunks that stay in cache
CPU_CHUNK_BYTES = 2 * 2**20
#: default ``chunk_bytes`` of a ConvNet on a CPU, whose member chunks default to
#: :func:`~evojax_ga.conv_population.members_per_chunk` (``python -m benchmarks.cnn_population``)
CPU_CONV_CHUNK_BYTES = 128 * 2**20
#: default ``chunk_bytes`` on a GPU/TPU whose memory size is unknown: large population x sample
#: blocks, one wide GEMM each
ACCELERATOR_CHUNK_BYTES = 512 * 2**20
#: on a GPU/TPU that reports its memory, ``chunk_bytes`` defaults to this fraction of it, between
#: :data:`ACCELERATOR_CHUNK_BYTES` and :data:`ACCELERATOR_CHUNK_BYTES_MAX` (larger chunks ran faster
#: on a GPU: ``python -m benchmarks.chunk_sweep``, figures in ``benchmarks/README.md``).
ACCELERATOR_CHUNK_FRACTION = 1 / 16
ACCELERATOR_CHUNK_BYTES_MAX = 8 * 2**30
_CE_FLOOR = 1e-30


def fitness_from_scores(kind: str, accuracy: jax.Array, cross_entropy: jax.Array) -> jax.Array:
    """Fitness ``[P]`` from per-individual accuracy ``[P]`` and mean cross-entropy ``[P]``."""
    if kind == "accuracy":
        return accuracy
    if kind == "neg_cross_entropy":
        return -cross_entropy
    if kind == "inverse_cross_entropy":
        return 1.0 / jnp.maximum(cross_entropy, _CE_FLOOR)
    raise ValueError(f"fitness must be one of {FITNESS}, got {kind!r}")


def logits_scores(logits: jax.Array, labels: jax.Array, class_axis: int) -> tuple[jax.Array, jax.Array]:
    """Per-sample ``(correct, nll)`` from logits with classes on ``class_axis``.

    logits: ``[P, B, C]`` (class_axis 2) or ``[P, C, B]`` (class_axis 1); labels ``[B]`` int.
    correct: ``[P, B]`` bool, true when the label is the *first* maximal logit (``argmax`` semantics,
    so tied outputs, e.g. ReLU outputs all 0, count once, for the lowest class);
    nll: ``[P, B]`` float32, ``logsumexp(z) - z[label]``.

    With up to 64 classes the reductions over classes are unrolled into elementwise operations on
    ``[P, B]`` slices, which XLA fuses into one vectorised loop (faster on a CPU than reductions
    over a short axis); larger class counts use ordinary reductions.
    """
    z = logits.astype(jnp.float32)
    C = z.shape[class_axis]
    lab = labels.astype(jnp.int32)[None, :]
    if C <= 64:
        zs = [jax.lax.index_in_dim(z, k, axis=class_axis, keepdims=False) for k in range(C)]
        mx = zs[0]
        for zk in zs[1:]:
            mx = jnp.maximum(mx, zk)
        total = jnp.exp(zs[0] - mx)
        tgt = jnp.where(lab == 0, zs[0], 0.0)
        for k in range(1, C):
            total = total + jnp.exp(zs[k] - mx)
            tgt = tgt + jnp.where(lab == k, zs[k], 0.0)
        first_max = jnp.full(mx.shape, C, jnp.int32)
        for k in reversed(range(C)):
            first_max = jnp.where(zs[k] == mx, k, first_max)
        return first_max == lab, jnp.log(total) + mx - tgt
    shape = [1, 1, 1]
    shape[class_axis] = C
    cls = jnp.arange(C, dtype=jnp.int32).reshape(shape)
    onehot = cls == jnp.expand_dims(lab, class_axis)
    mx = jnp.max(z, axis=class_axis, keepdims=True)
    lse = jnp.log(jnp.sum(jnp.exp(z - mx), axis=class_axis)) + jnp.squeeze(mx, class_axis)
    tgt = jnp.sum(jnp.where(onehot, z, 0.0), axis=class_axis)
    first_max = jnp.min(jnp.where(z == mx, cls, C), axis=class_axis)
    return first_max == lab, lse - tgt


class ClassificationTask(NamedTuple):
    """A classification task: ``evaluate(key, population) -> (fitness [P], metrics)``.

    Build it with :func:`classification`. Arrays are device arrays: ``x_train [N, ...]``,
    ``y_train [N]`` int32, ``x_test [M, ...]``, ``y_test [M]``.
    """
    model: Any
    forward: Callable[[Population, Any], jax.Array]
    class_axis: int
    prepare: Callable[[jax.Array], Any]
    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    num_classes: int
    fitness: str
    batch_size: int | None
    chunk_size: int | None
    sample_chunk_size: int | None
    test_samples: int | None
    activation_width: int
    chunk_bytes: int

    def chunks(self, P: int, B: int) -> tuple[int, int]:
        """``(chunk_size, sample_chunk_size)`` used for ``P`` individuals on ``B`` samples.

        Unset sizes are chosen so that a sample chunk's inputs plus one chunk's widest activation
        (``chunk_size x sample_chunk_size x activation_width`` float32) stay within ``chunk_bytes``
        (inputs get half of it when the whole batch does not fit):
        cache-sized working sets are what make the population-batched GEMMs fast (the input chunk
        stays in cache while the population streams past it). A set size is used as given. A
        :class:`~evojax_ga.models.ConvNet` on the CPU has ``chunk_size`` default to
        :func:`~evojax_ga.conv_population.members_per_chunk`.
        """
        per = 4 * self.activation_width
        inp = 4 * int(np.prod(self.x_train.shape[1:]))
        budget = self.chunk_bytes
        c, s = self.chunk_size, self.sample_chunk_size
        if c is None and conv_population_path(self.model):
            c = members_per_chunk(self.model)
        if s is None:
            need = inp + (per if c is None else c * per)
            # the whole batch if it fits with one population chunk, else inputs take half the budget
            s = B if B * need <= budget else max(1, (budget // 2) // (inp if c is None else need))
        if c is None:
            c = max(1, (budget - min(s, B) * inp) // (min(s, B) * per))
        return min(c, P), min(s, B)

    # -------------------------------------------------------------------- scoring
    def scores(self, population: Population, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(accuracy [P], mean cross-entropy [P])`` of every individual on ``x [B, ...]``, ``y [B]``."""
        leaves = jax.tree_util.tree_leaves(population)
        P, B = leaves[0].shape[0], x.shape[0]
        c, s = self.chunks(P, B)

        def population_sums(xp, yb):
            """Sums over the samples of one sample chunk, for every individual: ``[P]`` twice."""
            def chunk_sums(pop_c, rows):
                logits = self.forward(pop_c, xp)
                if logits.shape[self.class_axis] < self.num_classes:   # static: raised while tracing
                    raise ValueError(_head_message(logits.shape[self.class_axis], self.num_classes))
                correct, nll = logits_scores(logits, yb, self.class_axis)
                # (a fixed order: the same fitness however the population is split over devices)
                return jnp.sum(correct, axis=1, dtype=jnp.float32), ordered_sum(nll, axis=1)

            return map_chunks(chunk_sums, population, c, last="tail")

        # samples outermost: the batch layout change (prepare) runs once per sample chunk, and the
        # chunk stays in cache while the population streams past it
        if s >= B:
            correct, nll = population_sums(self.prepare(x), y)
        else:
            (xh, yh), (xt, yt) = split_chunks((x, y), s)

            def body(acc, xy):
                a, n = population_sums(self.prepare(xy[0]), xy[1])
                return (acc[0] + a, acc[1] + n), None

            zero = (jnp.zeros((P,), jnp.float32), jnp.zeros((P,), jnp.float32))
            (correct, nll), _ = jax.lax.scan(body, zero, (xh, yh))
            if xt.shape[0]:
                a, n = population_sums(self.prepare(xt), yt)
                correct, nll = correct + a, nll + n
        return correct / B, nll / B

    def sample_batch(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The generation's shared batch: ``batch_size`` training samples drawn without replacement
        (the whole training set when ``batch_size`` is None).

        The samples with the ``batch_size`` largest of ``N`` iid uniform keys (``lax.top_k``, ties of
        two equal float32 keys broken by index): a uniform random subset without a sort or a
        permutation of all ``N`` (``jax.random.choice(replace=False)`` permutes all ``N``; timings in
        ``benchmarks/README.md``)."""
        if self.batch_size is None:
            return self.x_train, self.y_train
        _, idx = jax.lax.top_k(jax.random.uniform(key, (self.x_train.shape[0],)), self.batch_size)
        return self.x_train[idx], self.y_train[idx]

    def evaluate(self, key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        """Fitness ``[P]`` on the generation's batch and metrics (scalars):

        ``accuracy_best`` / ``cross_entropy_best``: batch accuracy / CE of the fittest individual;
        ``accuracy_max``: best batch accuracy in the population; ``test_accuracy``: the fittest
        individual's accuracy on the test set (its first ``test_samples``; omitted when 0);
        ``forward_passes``: sample forward passes this generation (P x batch).
        """
        x, y = self.sample_batch(key)
        acc, ce = self.scores(population, x, y)
        fit = fitness_from_scores(self.fitness, acc, ce)
        i = jnp.argmax(rank_key(fit))
        P = acc.shape[0]
        metrics = {"accuracy_best": acc[i], "cross_entropy_best": ce[i], "accuracy_max": jnp.max(acc),
                   "forward_passes": jnp.float32(P * x.shape[0])}
        if self.test_samples != 0:
            best = jax.tree_util.tree_map(lambda leaf: leaf[i], population)
            n = self.x_test.shape[0] if self.test_samples is None else min(self.test_samples, self.x_test.shape[0])
            metrics["test_accuracy"] = self.accuracy(best, self.x_test[:n], self.y_test[:n])
        return fit, metrics

    # -------------------------------------------------------------------- one individual
    def accuracy(self, params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        """Accuracy (scalar) of one individual ``params`` on ``x``, ``y`` (sample-chunked)."""
        one = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[None], params)
        return self.scores(one, x, y)[0][0]

    def test_accuracy(self, params: Any) -> float:
        """Accuracy of one individual on the whole test set (host float)."""
        return float(jax.jit(self.accuracy)(params, self.x_test, self.y_test))

    def select_best(self, population: Population, x: jax.Array | None = None,
                    y: jax.Array | None = None) -> tuple[Any, dict[str, float]]:
        """Re-score a population on ``x, y`` (default: the whole training set) and return its fittest
        individual and that individual's ``{"fitness", "accuracy", "cross_entropy"}``.

        With minibatch fitness the GA's best-so-far is the luckiest individual on some batch; this
        picks the final model on the full training data instead.
        """
        x = self.x_train if x is None else x
        y = self.y_train if y is None else y

        @jax.jit
        def run(pop, x, y):
            acc, ce = self.scores(pop, x, y)
            fit = fitness_from_scores(self.fitness, acc, ce)
            i = jnp.argmax(rank_key(fit))
            return jax.tree_util.tree_map(lambda leaf: leaf[i], pop), fit[i], acc[i], ce[i]

        best, f, a, c = run(population, x, y)
        return best, {"fitness": float(f), "accuracy": float(a), "cross_entropy": float(c)}

    # -------------------------------------------------------------------- construction helpers
    def template(self, key: jax.Array) -> Any:
        """One individual's parameters from the model's own initialiser."""
        return self.model.init(key, self.x_train[:1])

    def init_population(self, key: jax.Array, pop_size: int, initializer: str | Callable | None = None,
                        scale: float = 0.1) -> Population:
        """``pop_size`` individuals: the model's initialiser per individual (``initializer=None``), or
        :func:`~evojax_ga.population.from_template` with ``initializer`` / ``scale``."""
        if initializer is None:
            return init_population(key, self.model.init, self.x_train[:1], pop_size=pop_size)
        k_t, k_p = jax.random.split(key)
        return from_template(k_p, self.template(k_t), pop_size, initializer=initializer, scale=scale)


def accelerator_chunk_bytes(memory_bytes: int | None) -> int:
    """Default ``chunk_bytes`` on a GPU/TPU with ``memory_bytes`` of memory (None: unknown):
    :data:`ACCELERATOR_CHUNK_FRACTION` of it, clamped to
    [:data:`ACCELERATOR_CHUNK_BYTES`, :data:`ACCELERATOR_CHUNK_BYTES_MAX`]."""
    if memory_bytes is None or memory_bytes <= 0:
        return ACCELERATOR_CHUNK_BYTES
    share = int(memory_bytes * ACCELERATOR_CHUNK_FRACTION)
    return max(ACCELERATOR_CHUNK_BYTES, min(ACCELERATOR_CHUNK_BYTES_MAX, share))


def _device_memory_bytes() -> int | None:
    """The first device's memory limit as its backend reports it (None when it does not)."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # backends without memory stats
        return None
    limit = stats.get("bytes_limit")
    return int(limit) if limit else None


def classification(model: Any, data: Dataset, fitness: str = "neg_cross_entropy",
                   batch_size: int | None = None, chunk_size: int | None = None, sample_chunk_size: int | None = None,
                   test_samples: int | None = None, chunk_bytes: int | None = None,
                   dtype: Any = jnp.float32) -> ClassificationTask:
    """A classification task for a Flax ``model`` (logits ``[B, C]``) on a :class:`~evojax_ga.data.Dataset`.

    fitness: one of ``"accuracy"``, ``"neg_cross_entropy"``, ``"inverse_cross_entropy"``.
    batch_size: samples per generation (one shared minibatch), ``None`` = full training set.
    chunk_size: individuals evaluated together (``lax.map`` over chunks); sample_chunk_size: samples
    evaluated together inside a population chunk (``lax.scan``). ``None`` = automatic: the largest
    chunks whose widest activation fits ``chunk_bytes`` (see :meth:`ClassificationTask.chunks`;
    default :data:`CPU_CHUNK_BYTES` on a CPU (:data:`CPU_CONV_CHUNK_BYTES` for a
    :class:`~evojax_ga.models.ConvNet`), :func:`accelerator_chunk_bytes` of the device's memory on a GPU/TPU).
    Throughput knobs, not code paths: results do not depend on them (up to float rounding).
    test_samples: test samples for the per-generation ``test_accuracy`` metric (``None`` = all,
    0 = skip it; at most the test set).
    dtype: input dtype on the device.

    ``data`` is checked by :func:`evojax_ga.data.validate`, and a model with fewer outputs than
    ``data.num_classes`` is refused (:func:`check_head`).
    """
    if fitness not in FITNESS:
        raise ValueError(f"fitness must be one of {FITNESS}, got {fitness!r}")
    validate(data)
    check_head(model, data)
    n_train = int(data.x_train.shape[0])
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=n_train)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if chunk_bytes is None:  # cache-sized on a CPU; large enough to fill a GPU/TPU with one GEMM
        cpu_bytes = CPU_CONV_CHUNK_BYTES if conv_population_path(model) else CPU_CHUNK_BYTES
        chunk_bytes = accelerator_chunk_bytes(_device_memory_bytes()) if on_accelerator() else cpu_bytes
    chunk_bytes = check_int(chunk_bytes, "chunk_bytes", minimum=1)
    if sample_chunk_size is not None:
        sample_chunk_size = check_int(sample_chunk_size, "sample_chunk_size", minimum=1)
    if test_samples is not None:
        test_samples = check_int(test_samples, "test_samples", minimum=0, maximum=int(data.x_test.shape[0]))
    forward, class_axis, prepare = population_forward(model)
    return ClassificationTask(
        model=model, forward=forward, class_axis=class_axis, prepare=prepare,
        x_train=jnp.asarray(data.x_train, dtype), y_train=jnp.asarray(data.y_train, jnp.int32),
        x_test=jnp.asarray(data.x_test, dtype), y_test=jnp.asarray(data.y_test, jnp.int32),
        num_classes=int(data.num_classes), fitness=fitness, batch_size=batch_size, chunk_size=chunk_size,
        sample_chunk_size=sample_chunk_size, test_samples=test_samples,
        activation_width=activation_width(model, data.x_train[:1]), chunk_bytes=chunk_bytes)


def learning_curve(history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The GA history as the curve schema shared with the SGD baselines.

    Returns ``step`` (generation), ``wall_s``, ``forward_passes`` (cumulative sample forward-pass
    equivalents) and ``test_accuracy`` (the generation's fittest individual), all ``[G]`` numpy.
    """
    for k in ("generation", "wall_s", "forward_passes"):
        if k not in history:
            raise ValueError(f"history lacks {k!r}: pass the history evolve() returned for a classification task")
    return {"step": np.asarray(history["generation"]), "wall_s": np.asarray(history["wall_s"], np.float64),
            "forward_passes": np.cumsum(np.asarray(history["forward_passes"], np.float64)),
            "test_accuracy": np.asarray(history.get("test_accuracy", np.full(len(history["generation"]), np.nan)))}
