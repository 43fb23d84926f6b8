"""The machine a benchmark ran on: hardware, package versions, git commit, peers present, device memory."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT: Path = Path(__file__).resolve().parents[1]

#: packages whose versions are recorded with every result (None when not installed)
TRACKED_PACKAGES: tuple[str, ...] = (
    "jax", "jaxlib", "flax", "optax", "numpy", "gymnax", "evosax", "evojax", "pygad", "torch",
)


# --------------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------------
def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 2**30, 1)
    except (OSError, ValueError):
        pass
    return None


def pkg_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def env_info() -> dict[str, Any]:
    """Hostname-free description of hardware, software versions, git commit and UTC time."""
    import jax

    devices = jax.devices()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "mem_total_gib": _mem_total_gib(),
        "machine": platform.machine(),
        "os": platform.system(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind if devices else None,
        "python": platform.python_version(),
        "packages": {p: pkg_version(p) for p in TRACKED_PACKAGES},
        "git": _git_commit(),
        "utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def hardware_line(env: dict[str, Any]) -> str:
    """One-line human summary of an :func:`env_info` result."""
    pk = env.get("packages", {})
    git = env.get("git") or {}
    commit = (git.get("commit") or "?")[:10] + ("+dirty" if git.get("dirty") else "")
    return (
        f"{env.get('cpu_model')} ({env.get('cpu_usable')} usable cores), "
        f"{env.get('mem_total_gib')} GiB RAM; jax {pk.get('jax')} on {env.get('jax_backend')} "
        f"({env.get('device_kind')}, {len(env.get('jax_devices', []))} device(s)); "
        f"Python {env.get('python')}; commit {commit}; {env.get('utc')}"
    )


# --------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------
def peer_available(module_name: str) -> bool:
    """True when ``module_name`` can be found (not imported) in this environment."""
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def skip_note(peer: str, reason: str) -> str:
    """Uniform note for a peer that was not measured."""
    return f"skipped peer {peer}: {reason}"


def device_peak_gib() -> float | None:
    """Peak bytes the default device's allocator has held (GiB), or None where JAX does not say
    (the CPU backend)."""
    import jax
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        return None
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**30
