"""Standard test functions as tasks (maximised: fitness = -f(x)), for checking that a GA optimises.

Sources: the sphere and Rastrigin functions (Rastrigin 1974; Mühlenbein et al. 1991), Ackley (1987).
A genome is a pytree whose leaves are flattened and concatenated (so any population works).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int
from evojax_ga.types import Fitness, Metrics, Population, PRNGKey

__all__ = ["FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS"]


def _flat(pop: Population) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(pop)
    return jnp.concatenate([x.reshape(x.shape[0], -1).astype(jnp.float32) for x in leaves], axis=1)


class FunctionTask(NamedTuple):
    """``evaluate(key, pop) -> (fitness [P] = -f(flattened genome), {})``; optimum fitness 0 at x = 0."""
    name: str
    dim: int
    f: Callable[[jax.Array], jax.Array]
    init_scale: float

    def evaluate(self, key: PRNGKey, pop: Population) -> tuple[Fitness, Metrics]:
        """``(fitness [P] = -f(x), {})``."""
        x = _flat(pop)
        if x.shape[1] != self.dim:
            raise ValueError(f"{self.name} task expects genomes of {self.dim} genes, got {x.shape[1]}")
        return -self.f(x), {}

    def template(self) -> jax.Array:
        """One individual: a ``[dim]`` float32 vector."""
        return jnp.zeros((self.dim,), jnp.float32)


def _sphere(x):
    return jnp.sum(x * x, axis=-1)


def _rastrigin(x):
    return 10.0 * x.shape[-1] + jnp.sum(x * x - 10.0 * jnp.cos(2 * jnp.pi * x), axis=-1)


def _ackley(x):
    n = x.shape[-1]
    return (-20.0 * jnp.exp(-0.2 * jnp.sqrt(jnp.sum(x * x, -1) / n))
            - jnp.exp(jnp.sum(jnp.cos(2 * jnp.pi * x), -1) / n) + 20.0 + jnp.e)


def sphere(dim: int = 100) -> FunctionTask:
    """f(x) = sum x_i^2; initial genes ~ N(0, 1)."""
    return FunctionTask("sphere", check_int(dim, "dim", minimum=1), _sphere, 1.0)


def rastrigin(dim: int = 100) -> FunctionTask:
    """f(x) = 10 n + sum (x_i^2 - 10 cos(2 pi x_i)); many local optima; initial genes ~ N(0, 1)."""
    return FunctionTask("rastrigin", check_int(dim, "dim", minimum=1), _rastrigin, 1.0)


def ackley(dim: int = 100) -> FunctionTask:
    """Ackley's function; initial genes ~ N(0, 1)."""
    return FunctionTask("ackley", check_int(dim, "dim", minimum=1), _ackley, 1.0)


FUNCTIONS = {"sphere": sphere, "rastrigin": rastrigin, "ackley": ackley}
