"""Start-up settings of the ``evojax-ga`` process, applied by the command line before the first JAX
computation (a process-wide setting: library code never calls these).

* :func:`set_fast_compile` — XLA's CPU backend optimisation level 0 (``XLA_FLAGS``): compiles faster,
  runs slower, so it pays when compilation dominates a run (small populations; see
  ``benchmarks/README.md`` for the measurements). ``--fast-compile auto`` turns it on up to
  :data:`FAST_COMPILE_MAX_EPISODES` episodes per generation.
"""

from __future__ import annotations

import os

__all__ = ["FAST_COMPILE_MAX_EPISODES", "fast_compile_wanted", "set_fast_compile"]

#: ``--fast-compile auto`` turns it on up to this many episodes per generation (pop_size * episodes)
FAST_COMPILE_MAX_EPISODES = 2048

_FLAG = "xla_backend_optimization_level"


def fast_compile_wanted(choice: str | None, episodes_per_generation: int) -> bool:
    """``--fast-compile`` ``on`` / ``off`` / ``auto`` (None: auto) for a run of that many episodes per
    generation."""
    if choice in (None, "auto"):
        return episodes_per_generation <= FAST_COMPILE_MAX_EPISODES
    if choice not in ("on", "off"):
        raise ValueError(f"fast_compile must be one of ['auto', 'on', 'off'], got {choice!r}")
    return choice == "on"


def set_fast_compile(on: bool) -> bool:
    """Set XLA's CPU backend optimisation level to 0 in ``XLA_FLAGS`` when ``on``; returns whether
    the level is 0. A level the user set in ``XLA_FLAGS`` wins. XLA reads the flag when its backend
    starts: call this at process start, before the first JAX computation (the command line does, and
    only when it is the process's entry point)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if _FLAG in flags:
        return f"{_FLAG}=0" in flags
    if on:
        os.environ["XLA_FLAGS"] = f"{flags} --{_FLAG}=0".strip()
    return on
