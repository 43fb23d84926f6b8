"""Sharded checkpoints with orbax-checkpoint: every process writes only its own rows.

``DIR/ckpt_<generation:08d>.orbax/`` is a folder written by ``orbax.checkpoint.Checkpointer`` with a
``CompositeCheckpointHandler`` of two items: ``state`` (the strategy state as a flat dict
``{"population": [P, ...], "params.mutation.rate": [], ...}``, typed PRNG keys stored as their
``key_data``; OCDBT format, so each process writes its shards under ``state/ocdbt.process_<i>/``) and
``metadata`` (a JSON dict, written by process 0). :func:`save` is a collective call: in a multi-process
run every process calls it with the same arguments.

Atomicity (orbax 0.12 on a local filesystem): orbax writes into ``<name>.orbax-checkpoint-tmp``, has
process 0 write ``commit_success.txt`` in it once every process has finished, then renames it to
``<name>``. A folder is *committed* when its name carries no temporary suffix and it holds
``commit_success.txt``; only committed folders are listed or loaded (:func:`is_committed`).

:func:`load` restores into a template's structure, shapes, dtypes and shardings, so a checkpoint
written by 2 processes loads into 1 process, or one written on 1 device loads sharded over 4.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import checkpoint as ckpt
from evojax_ga.distributed import spans_processes

__all__ = ["save", "load", "is_committed", "is_tmp", "remove_tmp", "TMP_SUFFIX", "COMMIT_FILE", "SUFFIX"]

SUFFIX = ".orbax"
#: orbax's temporary-folder suffix and commit marker (``orbax.checkpoint._src.path.atomicity_types``)
TMP_SUFFIX = ".orbax-checkpoint-tmp"
COMMIT_FILE = "commit_success.txt"
_STATE, _META = "state", "metadata"


def _ocp() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("format='orbax' needs orbax-checkpoint (a dependency of evojax-ga): "
                          "pip install orbax-checkpoint") from e
    return ocp


def _checkpointer(ocp: Any) -> Any:
    """A synchronous orbax checkpointer of the two items (handlers named, so metadata reads work)."""
    return ocp.Checkpointer(ocp.CompositeCheckpointHandler(**{
        _STATE: ocp.StandardCheckpointHandler(), _META: ocp.JsonCheckpointHandler()}))


def is_tmp(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an orbax temporary folder (a writer still running, or killed)."""
    return TMP_SUFFIX in Path(path).name


def is_committed(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a finished orbax checkpoint folder (renamed into place, commit marker inside)."""
    p = Path(path)
    return p.is_dir() and not is_tmp(p) and (p / COMMIT_FILE).is_file()


def _flat(tree: Any) -> tuple[dict[str, Any], list[str], Any]:
    """``(flat {name: leaf}, names in leaf order, treedef)``; a leaf's name is its path
    (``params.mutation.rate``)."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [jax.tree_util.keystr(p, simple=True, separator=".") or "leaf" for p, _ in with_path]
    if len(set(names)) != len(names):
        raise ValueError(f"state has leaves whose paths give the same name: {sorted(names)}")
    return dict(zip(names, (x for _, x in with_path))), names, treedef


def _stored(x: Any) -> Any:
    """A state leaf as orbax stores it: typed PRNG keys as their raw ``key_data`` (sharding kept)."""
    if ckpt._is_key(x):
        return jax.random.key_data(x)
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


def _host_int(x: Any) -> int:
    """A scalar, replicated over devices possibly of other processes, as a Python int."""
    if spans_processes(x):
        x = x.addressable_data(0)
    return int(np.asarray(x))


def save(directory: str | os.PathLike, state: Any, metadata: dict | None = None, keep: int | None = 3) -> Path:
    """Write ``state`` [any pytree of arrays, sharded or not] and ``metadata`` as
    ``DIRECTORY/ckpt_<generation>.orbax/``; a collective call (every process, same arguments).

    ``keep``: how many most recent checkpoints (of either format) to keep; process 0 deletes older
    ones after the commit (None keeps all). An existing folder of the same generation is replaced
    (removed first, so for a moment only the older checkpoints remain). Returns the folder.
    """
    ocp = _ocp()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    gen = _host_int(state.generation) if hasattr(state, "generation") else int(meta["generation"])
    meta.setdefault("generation", gen)
    meta = json.loads(json.dumps(meta, default=str))  # what the msgpack format stores, too
    flat, _, _ = _flat(state)
    stored = {name: _stored(x) for name, x in flat.items()}
    items = {name: x for name, x in stored.items() if x.size}  # orbax refuses empty arrays: load remakes them
    path = ckpt.checkpoint_path(d, gen, format="orbax")
    checkpointer = _checkpointer(ocp)
    try:
        checkpointer.save(path.absolute(), args=ocp.args.Composite(**{
            _STATE: ocp.args.StandardSave(items), _META: ocp.args.JsonSave(meta)}), force=path.exists())
    finally:
        checkpointer.close()
    if keep is not None and jax.process_index() == 0:
        ckpt.prune(d, keep)
    return path


def _target(t: Any) -> Any:
    """The abstract array orbax restores a template leaf into: shape, dtype and sharding."""
    x = _stored(t)
    return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)


def _zeros(target: Any) -> jax.Array:
    """An array of zeros (here: of size 0) with ``target``'s shape, dtype and sharding, on any processes."""
    host = np.zeros(target.shape, target.dtype)
    return jax.make_array_from_callback(target.shape, target.sharding, lambda index: host[index])


def load(path: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """Restore ``(state, metadata)`` from an orbax checkpoint folder into ``template``'s structure,
    shapes, dtypes and shardings (a state of the same strategy, placed as wanted: one device, a mesh,
    several processes; collective when it spans processes). Typed PRNG keys are re-wrapped.

    :class:`~evojax_ga.checkpoint.CorruptCheckpointError` for a folder that is missing, uncommitted
    or unreadable; ``ValueError`` naming the leaf when a shape differs from the template's.
    """
    ocp = _ocp()
    path = Path(path)
    if not is_committed(path):
        why = "does not exist" if not path.exists() else "was never committed (a writer was killed)"
        raise ckpt.CorruptCheckpointError(f"orbax checkpoint {path} {why}")
    flat, names, treedef = _flat(template)
    checkpointer = _checkpointer(ocp)
    try:
        try:
            stored = checkpointer.metadata(path.absolute()).item_metadata[_STATE].tree
        except Exception as e:  # noqa: BLE001 - any failure to read the tree means a damaged folder
            raise ckpt.CorruptCheckpointError(f"orbax checkpoint {path} is unreadable: {e}") from e
        targets = {name: x for name, x in ((n, _target(t)) for n, t in flat.items()) if x.size}
        _check_leaves(path, targets, stored)
        try:
            out = checkpointer.restore(path.absolute(), args=ocp.args.Composite(**{
                _STATE: ocp.args.StandardRestore(targets), _META: ocp.args.JsonRestore()}))
        except Exception as e:  # noqa: BLE001
            raise ckpt.CorruptCheckpointError(f"orbax checkpoint {path} could not be restored: {e}") from e
    finally:
        checkpointer.close()
    leaves = []
    for name in names:
        t = flat[name]
        r = out[_STATE][name] if name in targets else _zeros(_target(t))
        if ckpt._is_key(t):
            leaves.append(jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)))
        else:
            dtype = t.dtype if hasattr(t, "dtype") else jnp.asarray(t).dtype
            leaves.append(r if r.dtype == dtype else r.astype(dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves), dict(out[_META] or {})


def _check_leaves(path: Path, targets: dict[str, Any], stored: dict[str, Any]) -> None:
    """ValueError naming the first leaf whose shape differs, or that only one side has."""
    missing = [n for n in targets if n not in stored]
    extra = [n for n in stored if n not in targets]
    if missing or extra:
        raise ValueError(f"checkpoint {path} does not match the strategy/population it is loaded into: "
                         f"leaves missing from the checkpoint {missing}, leaves the template lacks {extra}")
    for name, t in targets.items():
        shape = tuple(stored[name].shape)
        if shape != tuple(t.shape):
            raise ValueError(f"checkpoint {path} leaf {name!r} has shape {shape}, the template's is {tuple(t.shape)} "
                             f"(does not match the strategy/population it is loaded into)")


def remove_tmp(directory: str | os.PathLike) -> list[Path]:
    """Delete orbax temporary folders (``*.orbax-checkpoint-tmp*``) in ``directory``; returns them.
    Only when no writer is running (e.g. holding the run folder's lock)."""
    d = Path(directory)
    removed = [p for p in d.iterdir() if is_tmp(p) and p.is_dir()] if d.is_dir() else []
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed
