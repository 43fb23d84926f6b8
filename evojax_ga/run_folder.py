"""Run folders: everything a command-line run leaves behind, readable without the code that wrote it.

Layout of ``RUN_DIR``::

    config.json       job, full arguments and resolved configuration, the exact command line,
                      package versions, device, start time (written at the start of the run)
    metrics.jsonl     one JSON object per generation (appended after every block, so a killed run
                      keeps what it had)
    best_params.msgpack  the best individual (``flax.serialization.msgpack_serialize`` of its
                      parameter dict)
    model.json        how to rebuild the model the parameters belong to (``{"kind": "MLP", ...}``)
    fitness.png       best / mean fitness over generations
    summary.json      final figures (final evaluation, timings), written at the end
    checkpoints/      ``ckpt_<generation>.msgpack``: the strategy state every ``--checkpoint-every``
                      generations and at the end (see :mod:`evojax_ga.checkpoint`; a multi-process
                      run's sharded ones are ``ckpt_<generation>.orbax/`` folders); ``evojax-ga
                      resume RUN_DIR`` continues from the newest one that verifies
    .lock             the lock a running ``run`` / ``resume`` holds (:mod:`evojax_ga.folder_lock`):
                      its PID, host and start time; never read for results

Everything here is host-side I/O; nothing draws random numbers. The figures are drawn by
:mod:`evojax_ga.plots`, the model is rebuilt by :func:`evojax_ga.models.model_from_config`, and the
run / resume / eval loop over a folder is :mod:`evojax_ga.runs`.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from evojax_ga.atomic_file import write_atomic

__all__ = ["create_run_dir", "write_json", "read_json", "write_config", "append_metrics", "read_metrics",
           "save_params", "load_params", "environment_info", "command_line", "PARAMS_FILE", "MODEL_FILE",
           "CONFIG_FILE", "METRICS_FILE", "PLOT_FILE", "SUMMARY_FILE", "CHECKPOINT_DIR", "truncate_metrics",
           "latest_checkpoint", "last_wall_s", "process_age_s", "to_jsonable", "has_progress", "check_unused",
           "clear_unused", "remove_stale_tmp"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
PARAMS_FILE = "best_params.msgpack"
MODEL_FILE = "model.json"
PLOT_FILE = "fitness.png"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"

#: versions recorded in config.json
PACKAGES = ("evojax-ga", "jax", "jaxlib", "flax", "optax", "numpy", "gymnax", "tqdm", "matplotlib")


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy/jax scalars and arrays to Python, non-finite floats to None."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def command_line(argv: Iterable[str] | None = None) -> str:
    """The command as typed (``argv`` defaults to ``sys.argv``), shell-quoted."""
    args = list(sys.argv if argv is None else argv)
    return " ".join(shlex.quote(a) for a in args)


def process_age_s() -> float | None:
    """Seconds since this process started (interpreter start included), from ``/proc`` on Linux;
    None elsewhere."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def create_run_dir(out: str | os.PathLike | None, job: str, root: str | os.PathLike = "runs") -> Path:
    """Create the run folder: ``out`` if given (it may exist), else ``root/<job>-<UTC timestamp>``
    (suffixed ``-2``, ``-3`` ... if taken). ValueError naming ``out`` when it cannot be created (a
    plain file on the way, no permission). Whether the folder already holds a run is
    :func:`check_unused`'s question, asked under the folder's lock."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise ValueError(f"out={str(path)!r} exists and is not a directory")
        _mkdir(path, exist_ok=True)
        return path
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{job}-{stamp}"
    path, n = base, 1
    while True:
        try:
            _mkdir(path, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def _mkdir(path: Path, exist_ok: bool) -> None:
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            raise
        raise ValueError(f"out={str(path)!r} exists and is not a directory") from None
    except OSError as exc:
        existing = next((p for p in path.parents if p.exists()), Path("."))
        why = (f"{str(existing)!r} is a plain file, not a folder" if not existing.is_dir()
               else f"{exc.strerror} in {str(existing)!r}")
        raise ValueError(f"out={str(path)!r} cannot be created: {why}") from exc


def has_progress(run_dir: str | os.PathLike) -> bool:
    """Whether a run folder holds anything of a run worth keeping: a generation in ``metrics.jsonl``,
    a checkpoint or ``summary.json`` (a ``config.json`` alone is a run that ended before its first
    generation)."""
    from evojax_ga import checkpoint
    path = Path(run_dir)
    return bool((path / SUMMARY_FILE).exists() or checkpoint.list_checkpoints(path / CHECKPOINT_DIR)
                or _metric_rows(path))


def check_unused(run_dir: str | os.PathLike) -> None:
    """ValueError naming ``out`` when the folder holds a run (:func:`has_progress`). A folder whose
    run ended before its first generation is cleared for reuse (its ``config.json``,
    ``metrics.jsonl`` and stale temporary files removed). Call it holding the folder's lock."""
    path = Path(run_dir)
    if not (path / CONFIG_FILE).exists():
        return
    if has_progress(path):
        raise ValueError(f"out={str(path)!r} already holds a run ({CONFIG_FILE} exists); "
                         f"choose a new folder or delete it")
    clear_unused(path)


def clear_unused(run_dir: str | os.PathLike) -> None:
    """Remove what a run that never reached a generation wrote (config, metrics, stale temporary
    files, an empty checkpoints folder); other files are left alone."""
    path = Path(run_dir)
    remove_stale_tmp(path)
    for name in (CONFIG_FILE, METRICS_FILE):
        (path / name).unlink(missing_ok=True)
    try:
        (path / CHECKPOINT_DIR).rmdir()
    except OSError:
        pass


_TMP = re.compile(r"\.\d+\.tmp$")


def remove_stale_tmp(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (``*.<pid>.tmp``) a killed writer left in the run folder and its
    checkpoints, and orbax's temporary checkpoint folders (``*.orbax-checkpoint-tmp*``); returns them.
    Call it holding the folder's lock (then none is a live writer's)."""
    from evojax_ga.orbax_checkpoint import remove_tmp
    path = Path(run_dir)
    removed = []
    for d in (path, path / CHECKPOINT_DIR):
        if d.is_dir():
            for p in d.iterdir():
                if _TMP.search(p.name) and p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed + remove_tmp(path / CHECKPOINT_DIR)


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (temporary file, then rename)."""
    return write_atomic(path, (json.dumps(to_jsonable(data), indent=2) + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """Package versions, Python, platform and the JAX devices (imports jax)."""
    import jax
    devices = jax.devices()
    return {
        "packages": {p: _version(p) for p in PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind if devices else None,
    }


def write_config(run_dir: str | os.PathLike, job: str, args: Mapping[str, Any], config: Mapping[str, Any],
                 argv: Iterable[str] | None = None) -> Path:
    """Write ``config.json``: job, arguments, resolved configuration, command line, environment."""
    data = {
        "job": job,
        "command": command_line(argv),
        "argv": list(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
        "started_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "args": dict(args),
        "config": dict(config),
        "environment": environment_info(),
    }
    return write_json(Path(run_dir) / CONFIG_FILE, data)


def append_metrics(run_dir: str | os.PathLike, history: Mapping[str, Any]) -> int:
    """Append one JSON line per generation of ``history`` (a dict of equal-length arrays, as
    ``evolve`` hands to its callback). Returns the number of lines written."""
    cols = {k: np.asarray(v) for k, v in history.items()}
    n = min((len(v) for v in cols.values() if v.ndim >= 1), default=0)
    with open(Path(run_dir) / METRICS_FILE, "a", encoding="utf-8") as fh:
        for i in range(n):
            row = {k: to_jsonable(v[i].item() if v[i].ndim == 0 else v[i]) for k, v in cols.items()}
            fh.write(json.dumps(row) + "\n")
    return n


def truncate_metrics(run_dir: str | os.PathLike, generation: int) -> int:
    """Drop the ``metrics.jsonl`` lines of generations after ``generation`` (what a killed run wrote
    after its last checkpoint), atomically. Returns the number of lines kept."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return 0
    kept = [json.dumps(row) + "\n" for row in _metric_rows(run_dir) if int(row.get("generation", 0)) <= generation]
    write_atomic(path, "".join(kept).encode("utf-8"))
    return len(kept)


def _metric_rows(run_dir: str | os.PathLike) -> list[dict]:
    """The rows of ``metrics.jsonl`` that parse (a line cut short by a kill is skipped)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def last_wall_s(run_dir: str | os.PathLike) -> float:
    """The ``wall_s`` of the last line of ``metrics.jsonl`` (0.0 when there is none)."""
    wall = read_metrics(run_dir).get("wall_s")
    return float(wall[-1]) if wall is not None and len(wall) and np.isfinite(wall[-1]) else 0.0


def latest_checkpoint(run_dir: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """The newest verified checkpoint of a run folder as ``(state, metadata)``; ValueError naming the
    folder when there is none."""
    from evojax_ga import checkpoint
    found = checkpoint.latest(Path(run_dir) / CHECKPOINT_DIR, template)
    if found is None:
        again = ("'evojax-ga run' and another --out (its metrics.jsonl keeps the generations it ran)"
                 if _metric_rows(run_dir) else f"'evojax-ga run ... --out {run_dir}'")
        raise ValueError(f"RUN_DIR={str(run_dir)!r} has no complete checkpoint in {CHECKPOINT_DIR}/ (the run was "
                         f"killed before its first one, or ran with --checkpoint-every 0): start it again with "
                         f"{again}")
    return found


def read_metrics(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """``metrics.jsonl`` back as a dict of arrays (missing values as NaN)."""
    rows = []
    path = Path(run_dir) / METRICS_FILE
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    return {k: np.asarray([np.nan if r.get(k) is None else r[k] for r in rows], dtype=np.float64) for k in keys}


def save_params(run_dir: str | os.PathLike, params: Any, model_config: Mapping[str, Any]) -> Path:
    """Save one individual's parameters (msgpack) and ``model.json`` (how to rebuild the model)."""
    import jax
    from flax import serialization
    host = jax.tree_util.tree_map(np.asarray, params)
    try:
        state = serialization.to_state_dict(host)
        data = serialization.msgpack_serialize(state)
    except Exception as exc:  # not a dict of arrays
        raise TypeError(f"params must be a pytree of arrays that flax.serialization can store, got "
                        f"{type(params).__name__}: {exc}") from exc
    path = write_atomic(Path(run_dir) / PARAMS_FILE, data)
    write_json(Path(run_dir) / MODEL_FILE, model_config)
    return path


def load_params(run_dir: str | os.PathLike, template: Any = None) -> tuple[Any, dict]:
    """``(params, model_config)`` saved by :func:`save_params`.

    With ``template`` (e.g. ``model.init(...)`` or its ``jax.eval_shape``) the stored dict is checked
    against it and restored into its structure (ValueError on a mismatch); without, the nested dict
    of numpy arrays is returned as stored.
    """
    from flax import serialization
    run_dir = Path(run_dir)
    ppath, mpath = run_dir / PARAMS_FILE, run_dir / MODEL_FILE
    for p in (ppath, mpath):
        if not p.exists():
            raise ValueError(f"run_dir={str(run_dir)!r} has no {p.name}; is it a finished evojax-ga run folder?")
    state = serialization.msgpack_restore(ppath.read_bytes())
    model_config = read_json(mpath)
    if template is None:
        return state, model_config
    import jax
    def shape(x):
        return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))

    want = jax.tree_util.tree_map(shape, serialization.to_state_dict(template))
    got = jax.tree_util.tree_map(shape, state)
    if want != got:
        raise ValueError(f"saved parameters in {ppath} do not match the model: expected shapes {want}, got {got}")
    return serialization.from_state_dict(template, state), model_config
