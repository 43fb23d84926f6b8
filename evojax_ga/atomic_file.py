"""Atomic file writes: a reader, or a process killed mid-write, sees the old file or the new one,
never half of one.

:func:`write_atomic` writes the bytes to a temporary name beside the file (``.<name>.<pid>.tmp``
unless given), flushes and fsyncs them, then renames over the file. When anything fails (a full
disk, an interrupt) the temporary file is removed before the error goes on, so none is left behind;
a writer killed outright leaves one, which :func:`evojax_ga.run_folder.remove_stale_tmp` clears
(every temporary name ends in ``.<pid>.tmp``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic", "tmp_path"]


def tmp_path(path: Path) -> Path:
    """The default temporary name of ``path``'s writer: ``.<name>.<pid>.tmp`` in the same folder."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: str | os.PathLike, data: bytes, tmp: Path | None = None) -> Path:
    """Write ``data`` to ``path`` atomically through ``tmp`` (default :func:`tmp_path`); returns ``path``."""
    path = Path(path)
    tmp = tmp_path(path) if tmp is None else tmp
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:   # disk full, or interrupted: no half-written temporary file is left
        tmp.unlink(missing_ok=True)
        raise
    return path
