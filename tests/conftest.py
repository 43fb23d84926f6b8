"""Shared fixtures: fresh keys and a small Flax MLP population."""

import itertools
import os

import pytest

# Tests check behaviour, not speed: they compile at XLA's CPU optimisation level 0 (about a third
# less time for the suite). Set in the environment before JAX starts, so the subprocesses tests start
# (CLI runs compared with in-process ones) compile the same way and give the same numbers.
_FLAG = "--xla_backend_optimization_level"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FLAG}=0".strip()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

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
