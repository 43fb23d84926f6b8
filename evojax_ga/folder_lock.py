"""An exclusive OS lock on a run folder, so that one process at a time writes it.

``with lock_folder(run_dir):`` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``RUN_DIR/.lock`` and writes
the holder's PID, host and start time into it; a second process (or a second ``lock_folder`` in the
same process) gets :class:`FolderBusyError` naming the holder's PID at once. The OS drops the lock
when its holder ends, however it ends (SIGKILL included), so no stale lock is ever left; the file
itself stays (it is never deleted while a process may wait on it) and readers ignore it. Where
``fcntl`` is missing (Windows) the folder is not locked and a warning says so.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "FolderBusyError", "lock_folder", "holder"]

LOCK_FILE = ".lock"


class FolderBusyError(ValueError):
    """The run folder is locked by another process (or another lock of this one)."""


def holder(run_dir: str | os.PathLike) -> str:
    """What the lock file says about its holder (``"PID 123 on host since ..."``), or ``""``."""
    try:
        text = (Path(run_dir) / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if "pid" not in fields:
        return ""
    return f"PID {fields['pid']} on {fields.get('host', '?')} since {fields.get('started_utc', '?')}"


@contextmanager
def lock_folder(run_dir: str | os.PathLike, name: str = "RUN_DIR") -> Iterator[Path]:
    """Hold an exclusive lock on the existing folder ``run_dir`` for the body of the ``with``.

    Raises :class:`FolderBusyError` (a ValueError naming ``name``, the folder and the holder's PID)
    when another process holds it, and ValueError when the lock file cannot be created.
    """
    path = Path(run_dir)
    if fcntl is None:
        warnings.warn(f"{name}={str(path)!r} is not locked: this platform has no fcntl.flock, so nothing stops "
                      f"two processes from writing the same run folder", stacklevel=3)
        yield path
        return
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ValueError(f"{name}={str(path)!r} cannot be locked: {exc.strerror} ({path / LOCK_FILE})") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _wait_for_holder(path)
            raise FolderBusyError(f"{name}={str(path)!r} is in use by another evojax-ga process "
                                  f"({who or 'PID unknown'}); wait for it to end or choose another folder") from None
        os.ftruncate(fd, 0)
        started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid={os.getpid()}\nhost={socket.gethostname()}\nstarted_utc={started}\n".encode())
        yield path
    finally:
        os.close(fd)   # releases the lock


def _wait_for_holder(path: Path, tries: int = 20) -> str:
    """The holder's description; it may still be writing it, so look a few times (up to 0.2 s)."""
    import time
    for _ in range(tries):
        who = holder(path)
        if who:
            return who
        time.sleep(0.01)
    return ""
