"""Start-up settings of the ``evojax-ga`` process, applied by the command line before the first JAX
computation (process-wide settings: library code never calls these). The measured gains are in
``benchmarks/README.md``.

* :func:`set_fast_compile` — XLA's CPU backend optimisation level 0 (``XLA_FLAGS``): compiles faster,
  runs slower, so it pays when compilation dominates a run (small populations). ``--fast-compile
  auto`` turns it on up to :data:`FAST_COMPILE_MAX_EPISODES` episodes per generation. It changes the
  numerics: float rounding differs between the levels, so a run's metrics and best parameters
  differ with it on and off (each setting is reproducible); run folders record it.
* :func:`import_gymnax` — ``import gymnax`` without the plotting libraries it loads only for
  rendering (``seaborn`` for pong, ``matplotlib.pyplot`` for catch and pong, most of its import time).
* :func:`warm_up` — compile a function on a background thread while the main thread compiles
  another (XLA compiles without holding the GIL). The control run layer uses it for its solved
  check, which would otherwise compile only after the GA block. (The only other thread in the
  package watches for a second SIGINT / SIGTERM: :mod:`evojax_ga.runs.interrupts`.)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Any, Callable

__all__ = ["FAST_COMPILE_MAX_EPISODES", "FAST_COMPILE_NUMERICS", "fast_compile_wanted", "set_fast_compile",
           "import_gymnax", "warm_up"]

#: ``--fast-compile auto`` turns it on up to this many episodes per generation (pop_size * episodes)
FAST_COMPILE_MAX_EPISODES = 2048

#: what a run folder's ``config.json`` says next to ``fast_compile``
FAST_COMPILE_NUMERICS = ("fast_compile (XLA CPU optimisation level 0) changes float rounding: metrics and best "
                         "parameters differ between fast_compile true and false (each is reproducible); "
                         f"--fast-compile auto turns it on when pop_size * episodes <= {FAST_COMPILE_MAX_EPISODES}")

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


#: modules gymnax imports only to render
DEFERRED = ("seaborn", "matplotlib.pyplot")


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module until one of its attributes is first used."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update({k: v for k, v in real.__dict__.items() if k != "__class__"})
        return getattr(real, attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        importlib.import_module(parent)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    module = _DeferredModule(name)
    module.__spec__ = spec
    sys.modules[name] = module


def import_gymnax(defer_plotting: bool = True) -> Any:
    """``import gymnax``; with ``defer_plotting`` (the command line's choice) the modules in
    :data:`DEFERRED` are replaced by stand-ins that load them on first use."""
    if defer_plotting and "gymnax" not in sys.modules:
        for name in DEFERRED:
            _defer(name)
    import gymnax
    return gymnax


def warm_up(fn: Callable[[], Any]) -> Callable[[], None]:
    """Call ``fn()`` on a background thread and wait for its result (discarded): a jitted function
    called on a dummy input is then compiled by the time it is needed. Returns ``join()``, which
    waits for the thread and re-raises what ``fn`` raised (nothing is swallowed)."""
    import jax

    failure: list[BaseException] = []

    def target() -> None:
        try:
            jax.block_until_ready(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to join()
            failure.append(exc)

    # not a daemon: the interpreter waits for it at exit instead of finalising under a running compile
    thread = threading.Thread(target=target, name="evojax-ga-warm-up", daemon=False)
    thread.start()

    def join() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return join
