"""Will a population fit? A bound on the memory a run needs, checked before anything is allocated.

A GA generation holds the population several times at once: the current one (in the state), the
parents gathered for breeding, the children, and the next state's population while the old one is
still alive. :func:`population_bytes` counts :data:`POPULATION_COPIES` copies of every member's
leaves (a lower bound: XLA may keep more temporaries), plus per-member extra bytes such as the
evaluation's working set. :func:`check_fits` compares that with :func:`available_bytes` of the
device and refuses, in one line giving both figures, a run that cannot fit, instead of an
out-of-memory error after minutes of compilation.
"""

from __future__ import annotations

import math
import os
from typing import Any

__all__ = ["POPULATION_COPIES", "population_bytes", "available_bytes", "check_fits", "format_bytes"]

#: copies of the population a generation holds at once (state, parents, children, next state)
POPULATION_COPIES = 4


def population_bytes(member: Any, pop_size: int, copies: int = POPULATION_COPIES, extra_per_member: int = 0) -> int:
    """Bytes of ``copies`` copies of a population of ``pop_size`` members shaped like ``member`` (a
    pytree of arrays or ``jax.ShapeDtypeStruct`` without the population axis), plus
    ``extra_per_member`` bytes per member (fitness, evaluation working set)."""
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves(member)
    one = sum(math.prod(np.shape(x)) * np.dtype(x.dtype).itemsize for x in leaves)
    return int(pop_size) * (int(copies) * int(one) + int(extra_per_member))


def available_bytes(device: Any = None) -> int | None:
    """Memory free for a run on ``device`` (default: JAX's first device): on a GPU/TPU its
    ``bytes_limit`` less ``bytes_in_use`` (``device.memory_stats()``); on a CPU the host's
    ``MemAvailable`` (``/proc/meminfo``) or free physical pages. None when unknown."""
    if device is None:
        import jax
        device = jax.devices()[0]
    if getattr(device, "platform", "cpu") != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - a backend without memory statistics
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    return _host_available()


def _host_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units (``'1.5 GiB'``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_fits(nbytes: int, what: str, device: Any = None, needs: str = "the population") -> None:
    """ValueError when ``nbytes`` exceed :func:`available_bytes` of ``device``; ``what`` names the
    argument that sets the size (``"pop_size=100000000 (--pop-size)"``), ``needs`` what takes the
    memory. Nothing when the available memory is unknown."""
    avail = available_bytes(device)
    if avail is not None and nbytes > avail:
        kind = getattr(device, "platform", None) or _default_platform()
        raise ValueError(f"{what}: {needs} needs about {format_bytes(nbytes)} ({nbytes} bytes), more than the "
                         f"{format_bytes(avail)} of memory available on the {kind}; make it smaller")


def _default_platform() -> str:
    import jax
    return str(jax.devices()[0].platform)
