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

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from evojax_ga.population import validate_population

__all__ = ["pop_mesh", "shard_population", "shard_state", "replicate", "initialize", "AXIS", "spans_processes",
           "replicate_rest", "process_count", "is_writer", "barrier", "place_state", "agree_max"]

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


def spans_processes(x: Any) -> bool:
    """Whether array ``x`` has shards on devices of other processes (it cannot be read on this host alone)."""
    return isinstance(x, jax.Array) and not x.is_fully_addressable


def _population_sharding(state: Any) -> Any:
    leaves = jax.tree_util.tree_leaves(getattr(state, "population", None))
    return leaves[0].sharding if leaves and spans_processes(leaves[0]) else None


def replicate_rest(state: Any) -> Any:
    """``state`` with every field but the population replicated on all devices, when its population is
    sharded over several processes (a no-op otherwise). The GA step leaves per-member vectors such as
    the fitness ``[P]`` split like the population; replicated, every process can read them (ranking,
    the solved check, metrics) without a gather of its own."""
    sharding = _population_sharding(state)
    if sharding is None:
        return state
    rest = _replicator(sharding.mesh)(state.replace(population=None))
    return rest.replace(population=state.population)


@functools.lru_cache(maxsize=8)
def _replicator(mesh: Mesh) -> Any:
    return jax.jit(lambda tree: tree, out_shardings=NamedSharding(mesh, PartitionSpec()))


def process_count() -> int:
    """Processes in this run (1 unless :func:`initialize` joined several)."""
    return int(jax.process_count())


def is_writer() -> bool:
    """Whether this process writes the run's files (process 0; always true in a single process)."""
    return int(jax.process_index()) == 0


def barrier(name: str, timeout_s: int = 600) -> None:
    """Wait until every process reaches the barrier ``name`` (a no-op in a single process); an error
    naming the barrier when one does not arrive within ``timeout_s`` (it died or failed)."""
    if jax.process_count() == 1:
        return
    from jax._src import distributed as _dist
    client = _dist.global_state.client
    assert client is not None   # several processes exist only once initialize made the client
    try:
        client.wait_at_barrier(name, timeout_in_ms=int(timeout_s * 1000))
    except Exception as exc:  # noqa: BLE001 - jaxlib's error type
        raise RuntimeError(f"process {jax.process_index()} of {jax.process_count()}: another process did not reach "
                           f"'{name}' within {timeout_s} s (it failed or was killed; see its output): "
                           f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}") from None


def place_state(state: Any) -> Any:
    """``state`` sharded over every device of every process (:func:`shard_state`) when there are
    several devices; unchanged on one. Several processes need a population divisible by the device
    count (ValueError otherwise); one process with several local devices keeps a population that does
    not divide on its first device, with a warning."""
    n = jax.device_count()
    if n == 1 or getattr(state, "population", None) is None:
        return state
    P = validate_population(state.population)
    if P % n:
        if jax.process_count() > 1:
            _check_divisible(P, pop_mesh())
        import warnings
        warnings.warn(f"population size {P} is not divisible by the {n} devices: the run uses one device "
                      f"(choose a multiple of {n} to use them all)", stacklevel=2)
        return state
    return shard_state(state, pop_mesh())


def agree_max(value: int) -> int:
    """The largest of every process's ``value`` (a collective in a run of several processes; the value
    itself in one): decisions that each process could take alone from its own clock or signals, such
    as how many generations fit a time limit or whether to stop, taken alike by all."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils
    return int(np.max(multihost_utils.process_allgather(np.asarray(value, np.int32))))
