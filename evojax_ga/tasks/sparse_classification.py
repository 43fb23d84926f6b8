"""Accuracy against size: a two-objective classification task for NSGA-II (:func:`evojax_ga.nsga2.nsga2`).

Fitness ``[P, 2]``, both columns maximised (the project's convention):

* column 0: accuracy on the generation's batch (the whole training set, or one shared minibatch), as
  :class:`~evojax_ga.tasks.classification.ClassificationTask` scores it (or, with
  ``fitness="neg_cross_entropy"``, minus the mean cross-entropy: a smoother signal);
* column 1: ``-(number of non-zero parameters)`` of the individual (weights and biases; exact as
  float32 up to 2^24 parameters).

A member with a NaN or infinite parameter gets a NaN row (it ranks after every other row,
:mod:`evojax_ga.pareto`). Gaussian mutation never lands on exactly 0: chain
:func:`evojax_ga.mutation.prune` with it so that smaller networks are reachable.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga.data import Dataset
from evojax_ga.tasks.classification import ClassificationTask, classification
from evojax_ga.types import Metrics, Population, PRNGKey

__all__ = ["SparseClassificationTask", "sparse_classification", "nonzero_count", "finite_rows", "objectives",
           "OBJECTIVES", "FITNESS"]

#: objective names, in column order
OBJECTIVES = ("accuracy", "neg_nonzero")
#: what column 0 may be
FITNESS = ("accuracy", "neg_cross_entropy")


def nonzero_count(population: Population) -> jax.Array:
    """``[P]`` int32: parameters of each individual that are not exactly 0 (NaN counts as non-zero)."""
    leaves = jax.tree_util.tree_leaves(population)
    return jnp.stack([jnp.sum(x.reshape(x.shape[0], -1) != 0, axis=1, dtype=jnp.int32) for x in leaves]).sum(0)


def finite_rows(population: Population) -> jax.Array:
    """``[P]`` bool: individuals whose parameters are all finite."""
    leaves = jax.tree_util.tree_leaves(population)
    ok = [jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves]
    return jnp.stack(ok).all(axis=0)


def objectives(score: jax.Array, population: Population) -> jax.Array:
    """Fitness ``[P, 2]``: ``(score [P], -nonzero_count)``; NaN rows for non-finite individuals."""
    F = jnp.stack([score.astype(jnp.float32), -nonzero_count(population).astype(jnp.float32)], axis=1)
    return jnp.where(finite_rows(population)[:, None], F, jnp.nan)


class SparseClassificationTask(NamedTuple):
    """``evaluate(key, population) -> (fitness [P, 2], metrics)``; build it with :func:`sparse_classification`.

    ``base``: the accuracy-fitness :class:`ClassificationTask` that scores the batch and holds the data;
    ``num_params``: parameters of one individual (the size objective's worst value is ``-num_params``);
    ``fitness``: column 0, ``"accuracy"`` or ``"neg_cross_entropy"``.
    """
    base: ClassificationTask
    num_params: int
    fitness: str = "accuracy"

    def evaluate(self, key: PRNGKey, population: Population) -> tuple[jax.Array, Metrics]:
        """Fitness ``[P, 2]`` on the generation's batch; metrics: ``accuracy_max`` (batch, finite rows),
        ``nonzero_min`` (finite rows), ``forward_passes`` (P x batch)."""
        x, y = self.base.sample_batch(key)
        acc, ce = self.base.scores(population, x, y)
        F = objectives(acc if self.fitness == "accuracy" else -ce, population)
        P = F.shape[0]
        ok = ~jnp.isnan(F[:, 0])
        metrics = {"accuracy_max": jnp.max(jnp.where(ok, acc, -jnp.inf)), "nonzero_min": -jnp.nanmax(F[:, 1]),
                   "forward_passes": jnp.float32(P * x.shape[0])}
        return F, metrics

    def accuracy_on(self, population: Population, x: jax.Array, y: jax.Array) -> jax.Array:
        """``[P]`` accuracy of every individual on ``x [B, ...]``, ``y [B]`` (e.g. the test split)."""
        return self.base.scores(population, x, y)[0]

    @property
    def ref(self) -> tuple[float, float]:
        """Hypervolume reference point ``(0, -num_params)``: no accuracy, every parameter non-zero (with
        ``neg_cross_entropy``: ``-ln(num_classes)``, the cross-entropy of a uniform guess, for the 0)."""
        worst = 0.0 if self.fitness == "accuracy" else -math.log(self.base.num_classes)
        return (worst, -float(self.num_params))


def sparse_classification(model: Any, data: Dataset, batch_size: int | None = None, chunk_size: int | None = None,
                          chunk_bytes: int | None = None, fitness: str = "accuracy") -> SparseClassificationTask:
    """Accuracy and size objectives for a Flax ``model`` (logits ``[B, C]``) on ``data``.

    batch_size: training samples per generation (one shared minibatch; None = the whole training set);
    chunk_size / chunk_bytes: evaluation chunking, as in :func:`~evojax_ga.tasks.classification.classification`;
    fitness: column 0, ``"accuracy"`` or ``"neg_cross_entropy"``.
    """
    if fitness not in FITNESS:
        raise ValueError(f"fitness must be one of {list(FITNESS)}, got {fitness!r}")
    base = classification(model, data, fitness="accuracy", batch_size=batch_size, chunk_size=chunk_size,
                          test_samples=0, chunk_bytes=chunk_bytes)
    shapes = jax.eval_shape(base.template, jax.random.key(0))
    n = sum(int(leaf.size) for leaf in jax.tree_util.tree_leaves(shapes))
    return SparseClassificationTask(base, n, fitness)
