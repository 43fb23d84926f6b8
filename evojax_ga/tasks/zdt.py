"""The ZDT two-objective test problems as tasks (maximised: fitness ``[P, 2] = -(f1, f2)``).

Source: Zitzler, Deb & Thiele 2000, "Comparison of multiobjective evolutionary algorithms: empirical
results". Every problem is defined on the box ``[0, 1]^n``: a genome (its leaves flattened and
concatenated, as in :mod:`evojax_ga.tasks.functions`) is decoded by clipping each gene to ``[0, 1]``
(so an unbounded mutation still gives a point of the box). The Pareto-optimal front has
``x_2 = ... = x_n = 0`` (``g = 1``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.tasks.functions import _flat
from evojax_ga.types import Metrics, Population, PRNGKey

__all__ = ["ZDTTask", "zdt1", "zdt2", "zdt3", "ZDT"]


class ZDTTask(NamedTuple):
    """``evaluate(key, pop) -> (fitness [P, 2] = -(f1, f2) of the clipped genome, {})``."""
    name: str
    dim: int
    h: Callable[[jax.Array, jax.Array], jax.Array]
    num_objectives: int = 2

    def evaluate(self, key: PRNGKey, pop: Population) -> tuple[jax.Array, Metrics]:
        """``(fitness [P, 2], {})``; both objectives maximised (their optimum front is at ``g = 1``)."""
        x = _flat(pop)
        if x.shape[1] != self.dim:
            raise ValueError(f"{self.name} task expects genomes of {self.dim} genes, got {x.shape[1]}")
        x = jnp.clip(x, 0.0, 1.0)
        f1 = x[:, 0]
        g = 1.0 + 9.0 * jnp.sum(x[:, 1:], axis=1) / (self.dim - 1)
        f2 = g * self.h(f1, g)
        return -jnp.stack([f1, f2], axis=1), {}

    def template(self) -> jax.Array:
        """One individual: a ``[dim]`` float32 vector."""
        return jnp.zeros((self.dim,), jnp.float32)


def _make(name: str, h: Callable[[jax.Array, jax.Array], jax.Array], dim: int) -> ZDTTask:
    return ZDTTask(name, check_int(dim, "dim", minimum=2), h)


def zdt1(dim: int = 30) -> ZDTTask:
    """ZDT1: convex front ``f2 = 1 - sqrt(f1)``."""
    return _make("zdt1", lambda f1, g: 1.0 - jnp.sqrt(f1 / g), dim)


def zdt2(dim: int = 30) -> ZDTTask:
    """ZDT2: concave front ``f2 = 1 - f1^2``."""
    return _make("zdt2", lambda f1, g: 1.0 - (f1 / g) ** 2, dim)


def zdt3(dim: int = 30) -> ZDTTask:
    """ZDT3: disconnected front ``f2 = 1 - sqrt(f1) - f1 sin(10 pi f1)``."""
    return _make("zdt3", lambda f1, g: 1.0 - jnp.sqrt(f1 / g) - (f1 / g) * jnp.sin(10 * jnp.pi * f1), dim)


ZDT = {"zdt1": zdt1, "zdt2": zdt2, "zdt3": zdt3}
