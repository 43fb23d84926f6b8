"""Checkpoints: the full state of a run written atomically and verified on load.

A checkpoint file holds a strategy state (any pytree of arrays: ``GAState``, seed-encoded state,
PRNG keys included) plus a JSON-able metadata dict (generation, run key, config, ...). The bytes are
``MAGIC | sha256(payload) | payload`` with ``payload = msgpack(flax state dict)``; they are written to
a temporary name in the same folder, flushed and fsynced, then renamed into place, so a process
killed mid-write leaves either the previous checkpoint or a ``.tmp`` file that is never read. A file
whose digest does not match (truncated, corrupted) raises :class:`CorruptCheckpointError`.

``format="orbax"`` writes a folder ``ckpt_<generation>.orbax/`` instead, each process its own shards
(:mod:`evojax_ga.orbax_checkpoint`; needed when the population is sharded over several processes).
Listing, :func:`load`, :func:`latest` and pruning handle both kinds, ordered by generation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from evojax_ga.atomic_file import write_atomic
from evojax_ga.distributed import spans_processes

__all__ = ["save", "load", "latest", "list_checkpoints", "CorruptCheckpointError", "checkpoint_path", "saver", "due",
           "prune", "FORMATS"]

MAGIC = b"EGACKPT1"
_NAME = re.compile(r"^ckpt_(\d{8})\.(msgpack|orbax)$")
#: checkpoint formats: one verified msgpack file, or an orbax folder of per-process shards
FORMATS = ("msgpack", "orbax")


class CorruptCheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted or not a checkpoint."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _encode(tree: Any) -> Any:
    """Arrays to numpy; typed PRNG keys to their raw data."""
    return jax.tree_util.tree_map(lambda x: np.asarray(jax.random.key_data(x) if _is_key(x) else x), tree)


def _local(tree: Any) -> Any:
    """``tree`` with every array that spans other processes' devices replaced by host zeros of its
    shape and dtype (a template only gives structure, shapes and dtypes)."""
    def one(x: Any) -> Any:
        if not spans_processes(x):
            return x
        if _is_key(x):
            return jax.random.wrap_key_data(jnp.zeros(jax.random.key_data(x).shape, jnp.uint32),
                                            impl=jax.random.key_impl(x))
        return np.zeros(x.shape, x.dtype)
    return jax.tree_util.tree_map(one, tree)


def _check_format(format: str) -> str:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return format


def checkpoint_path(directory: str | os.PathLike, generation: int, format: str = "msgpack") -> Path:
    """``DIRECTORY/ckpt_<generation:08d>.<format>`` (a file for msgpack, a folder for orbax)."""
    return Path(directory) / f"ckpt_{int(generation):08d}.{_check_format(format)}"


def _not_addressable(state: Any) -> list[str]:
    """Paths of the leaves that span devices of other processes (a multi-process sharded state)."""
    return [jax.tree_util.keystr(p, simple=True, separator=".") for p, x in jax.tree_util.tree_leaves_with_path(state)
            if spans_processes(x)]


def save(directory: str | os.PathLike, state: Any, metadata: dict | None = None, keep: int | None = 3,
         format: str = "msgpack") -> Path:
    """Write ``state`` (and ``metadata``) as ``DIRECTORY/ckpt_<generation>.msgpack`` atomically.

    ``keep``: how many most recent checkpoints (of either format) to keep (older ones are deleted;
    None keeps all). ``format="orbax"``: a sharded folder ``ckpt_<generation>.orbax/`` written by
    every process (a collective call, :func:`evojax_ga.orbax_checkpoint.save`). Returns the path
    written. ValueError when a msgpack checkpoint is asked of a state sharded over several processes.
    """
    if _check_format(format) == "orbax":
        from evojax_ga import orbax_checkpoint
        return orbax_checkpoint.save(directory, state, metadata, keep=keep)
    spread = _not_addressable(state)
    if spread:
        more = f" (and {len(spread) - 1} more)" if len(spread) > 1 else ""
        raise ValueError(f"state leaf {spread[0]!r}{more} spans devices of other processes; format='msgpack' "
                         f"writes one file from one process: save with format='orbax'")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    gen = int(np.asarray(state.generation)) if hasattr(state, "generation") else int((metadata or {})["generation"])
    meta = dict(metadata or {})
    meta.setdefault("generation", gen)
    payload = serialization.msgpack_serialize({
        "state": serialization.to_state_dict(_encode(state)),
        "metadata": json.dumps(meta, default=str),
    })
    blob = MAGIC + hashlib.sha256(payload).digest() + payload
    path = checkpoint_path(d, gen)
    # disk full, or interrupted: the previous checkpoints stay and no .tmp is left
    write_atomic(path, blob, path.with_name(path.name + f".{os.getpid()}.tmp"))
    try:  # make the rename durable
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    if keep is not None:
        prune(d, keep)
    return path


def prune(directory: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest checkpoints (files and orbax folders); returns those deleted."""
    old = list_checkpoints(directory)[:-keep] if keep > 0 else list_checkpoints(directory)
    for p in old:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return old


def _read(path: Path) -> dict:
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {e}") from e
    if len(blob) < len(MAGIC) + 32 or not blob.startswith(MAGIC):
        raise CorruptCheckpointError(f"{path} is not an evojax_ga checkpoint (bad header)")
    digest, payload = blob[len(MAGIC):len(MAGIC) + 32], blob[len(MAGIC) + 32:]
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptCheckpointError(f"{path} is corrupt or was truncated (checksum mismatch)")
    try:
        return serialization.msgpack_restore(payload)
    except Exception as e:  # noqa: BLE001 - any decoding failure means a corrupt file
        raise CorruptCheckpointError(f"{path} could not be decoded: {e}") from e


def load(path: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """Restore ``(state, metadata)`` from ``path`` into the structure of ``template``.

    ``template`` is a state of the same strategy and shapes (e.g. ``strategy.init(key, pop)``); its
    typed PRNG keys tell which leaves to re-wrap. A ``.orbax`` folder is restored by
    :func:`evojax_ga.orbax_checkpoint.load`, into the template's shardings too. Raises
    :class:`CorruptCheckpointError` for a bad file and ``ValueError`` when shapes do not match the template.
    """
    path = Path(path)
    if path.suffix == ".orbax":
        from evojax_ga import orbax_checkpoint
        return orbax_checkpoint.load(path, template)
    raw = _read(path)
    state_dict = raw["state"]
    template = _local(template)   # the file holds whole arrays: the caller splits them as it needs
    expected = serialization.to_state_dict(_encode(template))
    if isinstance(state_dict, dict) and isinstance(expected, dict):
        # fields removed from the state since the file was written, which held nothing (GAState's sigma)
        state_dict = {k: v for k, v in state_dict.items()
                      if k in expected or any(np.size(x) for x in jax.tree_util.tree_leaves(v))}
    try:
        restored = serialization.from_state_dict(_encode(template), state_dict)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"checkpoint {path} does not match the strategy/population it is loaded into: {e}") from e
    t_leaves, treedef = jax.tree_util.tree_flatten(template)
    r_leaves = jax.tree_util.tree_leaves(restored)
    out = []
    for t, r in zip(t_leaves, r_leaves):
        r = np.asarray(r)
        expect = jax.random.key_data(t).shape if _is_key(t) else np.shape(t)
        if r.shape != tuple(expect):
            raise ValueError(f"checkpoint {path} leaf shape {r.shape} does not match the template's {expect}")
        if _is_key(t):
            out.append(jax.random.wrap_key_data(jnp.asarray(r), impl=jax.random.key_impl(t)))
        else:
            out.append(jnp.asarray(r, dtype=t.dtype))
    return jax.tree_util.tree_unflatten(treedef, out), json.loads(raw["metadata"])


def _complete(p: Path) -> bool:
    if p.suffix == ".orbax":
        from evojax_ga.orbax_checkpoint import is_committed
        return is_committed(p)
    return p.is_file()


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest generation first: ``ckpt_N.msgpack`` files and
    committed ``ckpt_N.orbax`` folders (``.tmp`` files and uncommitted orbax folders ignored)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = ((m, p) for p in d.iterdir() if (m := _NAME.match(p.name)))
    return [p for _, _, p in sorted((int(m.group(1)), p.name, p) for m, p in found if _complete(p))]


def latest(directory: str | os.PathLike, template: Any) -> tuple[Any, dict] | None:
    """The newest checkpoint that verifies, as ``(state, metadata)``; corrupt newer files are skipped
    with a warning. None when there is no valid checkpoint. Orbax folders load collectively (every
    process calls it)."""
    for path in reversed(list_checkpoints(directory)):
        try:
            return load(path, template)
        except CorruptCheckpointError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
    return None


def due(generation: int, block_generations: int, every: int) -> bool:
    """Whether a block that ran ``block_generations`` generations up to ``generation`` passed (or
    reached) a multiple of ``every`` (0: never) -- the one checkpoint cadence of the library."""
    return bool(every) and generation // every > (generation - block_generations) // every


def saver(directory: str | os.PathLike, every: int = 10, metadata: Any = None, keep: int | None = 3,
          format: str = "msgpack"):
    """An ``evolve`` callback that checkpoints whenever the generation count passes a multiple of
    ``every`` (0: never; checks happen between ``lax.scan`` blocks, so choose ``every`` >= the block
    length). ``metadata``: a dict, or a callable returning one when a checkpoint is written;
    ``format``: as :func:`save` (``"orbax"``: a collective call, every process writes its shards).

    Usage: ``evolve(..., callback=checkpoint.saver("run/ckpt", every=20, metadata={"seed": 0}))``;
    call ``checkpoint.save(...)`` once more after ``evolve`` returns for the final state.
    """
    from evojax_ga._checks import check_int
    every = check_int(every, "every", minimum=0)

    def callback(state: Any, block_history: dict) -> None:
        gen = int(np.asarray(state.generation))
        if due(gen, len(block_history.get("generation", ())), every):
            save(directory, state, metadata() if callable(metadata) else metadata, keep=keep, format=format)

    return callback
