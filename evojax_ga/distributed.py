"""Several devices and hosts: shard the population axis with ``jax.sharding``.

The population's leading axis is split over a one-dimensional ``Mesh`` named ``'pop'``
(``NamedSharding(mesh, PartitionSpec('pop'))``); everything else in the state (operator params,
best-so-far, the fitness vector) is small and replicated. The jitted GA step is then partitioned by
XLA: each device evaluates and mutates its own rows, and only the fitness vector ``[P]`` is gathered
for ranking. Because every random draw is keyed by the global row (:mod:`evojax_ga.prng`) and JAX's
threefry is partitionable, the same key gives the same result on 1, 2, 4 or 8 devices.

Several hosts: call :func:`initialize` (``jax.distributed.initialize``) in every process first;
``jax.devices()`` then lists every host's devices and :func:`pop_mesh` spans them all.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from evojax_ga.population import validate_population

__all__ = ["pop_mesh", "shard_population", "shard_state", "replicate", "initialize", "AXIS"]

AXIS = "pop"


def pop_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: every device of every process) with axis ``'pop'``."""
    devs = list(jax.devices() if devices is None else devices)
    if not devs:
        raise ValueError("devices must not be empty")
    return Mesh(np.array(devs), (AXIS,))


def _check_divisible(P: int, mesh: Mesh) -> None:
    n = mesh.devices.size
    if P % n:
        raise ValueError(f"population size {P} is not divisible by the {n} devices of the mesh; choose a "
                         f"population size that is a multiple of {n} (it is never changed silently)")


def shard_population(pop: Any, mesh: Mesh) -> Any:
    """Place every leaf ``[P, ...]`` with its leading axis split over ``mesh``'s ``'pop'`` axis."""
    P = validate_population(pop)
    _check_divisible(P, mesh)
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return jax.device_put(pop, sharding)


def _replicate(x: Any, sharding: NamedSharding) -> Any:
    """``x`` on every device of ``sharding``. A device array is placed from its host copy: jax 0.10's
    ``device_put`` of a device array onto devices of several processes makes an array whose
    ``addressable_shards`` fail (orbax cannot save it); typed keys go through their key data."""
    if jnp.issubdtype(getattr(x, "dtype", None) or np.float32, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_replicate(jax.random.key_data(x), sharding), impl=jax.random.key_impl(x))
    if isinstance(x, jax.Array) and x.is_fully_addressable:
        x = np.asarray(x)
    return jax.device_put(x, sharding)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every leaf of ``tree`` (typed PRNG keys included) whole on every device of ``mesh``."""
    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda x: _replicate(x, replicated), tree)


def shard_state(state: Any, mesh: Mesh) -> Any:
    """Shard a ``GAState``: population rows over the mesh, everything else replicated."""
    P = validate_population(state.population)
    _check_divisible(P, mesh)
    rest = replicate(state.replace(population=None), mesh)
    return rest.replace(population=shard_population(state.population, mesh))


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs: Any) -> None:
    """Join a multi-host run (wraps ``jax.distributed.initialize``; arguments as there).

    On CPU hosts set ``jax.config.update("jax_cpu_collectives_implementation", "gloo")`` before this
    call so that cross-process collectives work.
    """
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)
