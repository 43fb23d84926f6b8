"""Shared fixtures: fresh keys and a small Flax MLP population."""

import itertools

import jax
import jax.numpy as jnp
import pytest

jax.config.update("jax_default_matmul_precision", "highest")

_counter = itertools.count()


@pytest.fixture
def key():
    """A fresh PRNG key per test (different per test, same across runs)."""
    return jax.random.key(1000 + next(_counter))


@pytest.fixture(scope="session")
def mlp_pop():
    """A population of 64 Flax MLPs 5-8-3 (two Dense layers)."""
    import evojax_ga as ega
    from evojax_ga.models import MLP
    model = MLP(features=(8,), out=3)
    pop = ega.init_population(jax.random.key(0), model.init, jnp.zeros((5,)), pop_size=64)
    return model, pop
