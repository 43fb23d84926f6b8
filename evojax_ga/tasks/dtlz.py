"""DTLZ2, the scalable spherical-front test problem, as a task (maximised: fitness ``[P, M] = -f``).

Source: Deb, Thiele, Laumanns & Zitzler 2002, "Scalable multi-objective optimization test problems".
A genome (its leaves flattened and concatenated, as in :mod:`evojax_ga.tasks.functions`) of ``dim``
genes is decoded by clipping each gene to ``[0, 1]``; the first ``M - 1`` genes are angles, the other
``k = dim - M + 1`` set ``g = sum((x_i - 0.5)^2)``. The Pareto-optimal front is the part of the unit
sphere ``sum(f_m^2) = 1`` in the positive orthant (``g = 0``: every distance gene at 0.5).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.tasks.functions import _flat
from evojax_ga.types import Metrics, Population, PRNGKey

__all__ = ["DTLZTask", "dtlz2", "dtlz2_front"]


class DTLZTask(NamedTuple):
    """``evaluate(key, pop) -> (fitness [P, M] = -f of the clipped genome, {})``."""
    name: str
    dim: int
    num_objectives: int

    def evaluate(self, key: PRNGKey, pop: Population) -> tuple[jax.Array, Metrics]:
        """``(fitness [P, M], {})``; every objective maximised (the optimum front is ``-f`` on the unit sphere)."""
        x = _flat(pop)
        if x.shape[1] != self.dim:
            raise ValueError(f"{self.name} task expects genomes of {self.dim} genes, got {x.shape[1]}")
        x = jnp.clip(x, 0.0, 1.0)
        M = self.num_objectives
        g = jnp.sum((x[:, M - 1:] - 0.5) ** 2, axis=1)
        return -(1.0 + g)[:, None] * _sphere(x[:, :M - 1], M), {}

    def template(self) -> jax.Array:
        """One individual: a ``[dim]`` float32 vector."""
        return jnp.zeros((self.dim,), jnp.float32)


def _sphere(u: jax.Array, M: int) -> jax.Array:
    """``[P, M]`` unit vectors at angles ``theta = u pi / 2`` (``u [P, M - 1]`` in ``[0, 1]``):
    ``f_m = prod_{i < M-m} cos(theta_i) * sin(theta_{M-m})``. ``cos(theta)`` is computed as
    ``sin((1 - u) pi / 2)``, exactly 0 at ``u = 1`` (float32 ``cos(pi / 2)`` is ``-4e-8``, which would let
    a point with a larger ``g`` dominate-resist along that axis)."""
    cos, sin = jnp.sin((1.0 - u) * (jnp.pi / 2)), jnp.sin(u * (jnp.pi / 2))
    cols = []
    for m in range(M):  # static loop over objectives
        f = jnp.prod(cos[:, :M - 1 - m], axis=1)
        if m > 0:
            f = f * sin[:, M - 1 - m]
        cols.append(f)
    return jnp.stack(cols, axis=1)


def dtlz2(num_objectives: int = 3, dim: int | None = None) -> DTLZTask:
    """DTLZ2 with ``num_objectives`` (>= 2) objectives over ``dim`` genes (default ``num_objectives + 9``, k = 10)."""
    M = check_int(num_objectives, "num_objectives", minimum=2)
    n = M + 9 if dim is None else check_int(dim, "dim", minimum=M)
    return DTLZTask("dtlz2", n, M)


def dtlz2_front(angles: jax.Array) -> jax.Array:
    """Points of the true front (minimised ``f``, unit norm) at ``angles [P, M - 1]`` in ``[0, 1]``: ``[P, M]``."""
    angles = jnp.asarray(angles, jnp.float32)
    return _sphere(angles, angles.shape[1] + 1)
