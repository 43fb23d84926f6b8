"""SIGINT and SIGTERM during a run over a run folder: stop cleanly at the end of the current block.

``with stop_signals(run_dir) as stop:`` installs handlers for SIGINT and SIGTERM (main thread only;
the previous handlers come back afterwards). The first signal only sets ``stop.signum``: the run
loop (:func:`evojax_ga.runs.loop.execute`) checks it after each block, writes a checkpoint and raises
:class:`RunInterrupted`, which the command line prints as one line and exits with 128 + the signal
number (130 for SIGINT, 143 for SIGTERM). A second signal while the block is still running aborts
at once with the same exit status and one line: a small watcher thread reads the signals from
``signal.set_wakeup_fd`` as they arrive (a Python handler would wait for the block to end), so the
previous checkpoint is what ``evojax-ga resume`` continues from.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["RunInterrupted", "Stop", "stop_signals", "SIGNALS", "exit_code"]

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def exit_code(signum: int) -> int:
    """The shell's exit status of a process ended by ``signum``: 128 + its number."""
    return 128 + int(signum)


def interrupted_line(run_dir: Path, generation: int | None, resumable: bool) -> str:
    """The one line said when a run stops on a signal."""
    at = f"interrupted at generation {generation}" if generation is not None else "interrupted before generation 1"
    if resumable:
        return f"{at}; continue with evojax-ga resume {run_dir}"
    return f"{at}; {run_dir} has no checkpoint to continue from: start it again with 'evojax-ga run'"


class RunInterrupted(Exception):
    """A run stopped on SIGINT / SIGTERM after writing what it had; ``str()`` is the line to print."""

    def __init__(self, line: str, signum: int, generation: int | None) -> None:
        super().__init__(line)
        self.signum, self.generation = signum, generation

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)


class Stop:
    """What :func:`stop_signals` yields: ``signum`` (the first signal received, else None), and what
    the loop reports for an abort line (``generation`` reached, ``resumable``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.signum: int | None = None
        self.generation: int | None = None
        self.resumable = False

    def line(self) -> str:
        return interrupted_line(self.run_dir, self.generation, self.resumable)


@contextmanager
def stop_signals(run_dir: str | os.PathLike) -> Iterator[Stop]:
    """Catch SIGINT / SIGTERM for the body (see the module docstring). Outside the main thread,
    signals cannot be caught: ``stop.signum`` then stays None and the old behaviour holds."""
    stop = Stop(Path(run_dir))
    if threading.current_thread() is not threading.main_thread() or not SIGNALS:
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.signum is None:
            stop.signum = signum

    reader, writer = socket.socketpair()
    writer.setblocking(False)
    old_handlers = {s: signal.signal(s, handler) for s in SIGNALS}
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=_watch, args=(reader, stop), name="evojax-ga-signals", daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        signal.set_wakeup_fd(old_fd)
        for s, h in old_handlers.items():
            signal.signal(s, h)
        writer.send(b"\0")   # ends the watcher
        watcher.join()
        reader.close()
        writer.close()


def _watch(reader: socket.socket, stop: Stop) -> None:
    """Count SIGINT / SIGTERM as they arrive; on the second, say one line and end the process."""
    seen = 0
    while True:
        data = reader.recv(64)
        for byte in data:
            if byte == 0:
                return
            if byte in SIGNALS:
                seen += 1
                if seen >= 2:
                    os.write(2, (stop.line() + "\n").encode())
                    os._exit(exit_code(stop.signum or byte))
        if not data:
            return
