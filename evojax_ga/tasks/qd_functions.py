"""Test functions with behaviour descriptors, for quality-diversity strategies (:mod:`evojax_ga.map_elites`).

The genome (leaves flattened and concatenated, as in :mod:`evojax_ga.tasks.functions`) is clipped to
the box ``[-bound, bound]^n``; fitness is ``-f(x)`` of the clipped genome and the descriptors are its
first ``D`` genes, returned as ``metrics["descriptors"]`` ``[P, D]`` (the descriptor convention of
:mod:`evojax_ga.map_elites`). Source: the Rastrigin QD benchmark of Cully et al. / QDax
("rastrigin" with the first two clipped genes as descriptors).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.tasks.functions import _flat, _rastrigin, _sphere
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["QDFunctionTask", "rastrigin_qd", "sphere_qd"]

#: the Rastrigin domain: each gene in [-5.12, 5.12]
RASTRIGIN_BOUND = 5.12


class QDFunctionTask(NamedTuple):
    """``evaluate(key, pop) -> (fitness [P] = -f(clip(x)), {"descriptors": clip(x)[:, :D]})``.

    lower / upper: the descriptor bounds (``D`` entries each) for the grid; min_fitness: a lower bound of
    the fitness on the box (a QD-score offset).
    """
    name: str
    dim: int
    num_descriptors: int
    bound: float
    f: Callable[[jax.Array], jax.Array]
    min_fitness: float

    @property
    def lower(self) -> tuple[float, ...]:
        return (-self.bound,) * self.num_descriptors

    @property
    def upper(self) -> tuple[float, ...]:
        return (self.bound,) * self.num_descriptors

    def evaluate(self, key: PRNGKey, pop: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P], {"descriptors": [P, D]})``."""
        x = _flat(pop)
        if x.shape[1] != self.dim:
            raise ValueError(f"{self.name} task expects genomes of {self.dim} genes, got {x.shape[1]}")
        x = jnp.clip(x, -self.bound, self.bound)
        return -self.f(x), {"descriptors": x[:, :self.num_descriptors]}

    def template(self) -> jax.Array:
        """One individual: a ``[dim]`` float32 vector."""
        return jnp.zeros((self.dim,), jnp.float32)


def _check(dim: int, num_descriptors: int) -> tuple[int, int]:
    d = check_int(num_descriptors, "num_descriptors", minimum=1)
    return check_int(dim, "dim", minimum=d), d


def rastrigin_qd(dim: int = 10, num_descriptors: int = 2) -> QDFunctionTask:
    """Rastrigin on ``[-5.12, 5.12]^dim`` (fitness in ``[-46.2144 * dim, 0]``), descriptors the first genes."""
    dim, d = _check(dim, num_descriptors)
    b = RASTRIGIN_BOUND
    return QDFunctionTask("rastrigin_qd", dim, d, b, _rastrigin, -(20.0 + b * b) * dim)


def sphere_qd(dim: int = 10, num_descriptors: int = 2, bound: float = 1.0) -> QDFunctionTask:
    """Sphere on ``[-bound, bound]^dim`` (fitness in ``[-bound^2 * dim, 0]``), descriptors the first genes."""
    dim, d = _check(dim, num_descriptors)
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound!r}")
    return QDFunctionTask("sphere_qd", dim, d, float(bound), _sphere, -float(bound) ** 2 * dim)
