"""Command-line start-up: import gymnax without the plotting libraries it loads only for rendering.

gymnax imports ``seaborn`` (pong) and ``matplotlib.pyplot`` (catch, pong) at import time, which is
most of its import time. Only the command line calls :func:`import_gymnax` (its cold start
matters); library imports of gymnax are left alone. The measured gain is in ``benchmarks/README.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

__all__ = ["import_gymnax"]

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
