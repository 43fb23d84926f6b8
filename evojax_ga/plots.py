"""Plots of run histories (matplotlib, Agg backend, no GUI): one module for every figure a run writes.

* :func:`plot_fitness` — a run folder's ``fitness.png``: best, mean and best-so-far per generation;
* :func:`plot_runs` — several run folders (GA and SGD alike) on one figure (``evojax-ga plot``);
* :func:`plot_curves` — test accuracy vs wall-clock and vs forward passes, one line per labelled
  learning curve (GA histories via ``learning_curve``, SGD histories from ``baselines.fit``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from evojax_ga.run_folder import METRICS_FILE, PLOT_FILE, read_metrics

__all__ = ["plot_fitness", "plot_runs", "plot_curves", "plot_front", "RUNS_PLOT_FILE"]

#: the file :func:`plot_runs` writes when ``out`` is an existing folder
RUNS_PLOT_FILE = "runs-plot.png"


def plot_fitness(run_dir: str | os.PathLike, history: Mapping[str, Any], title: str = "",
                 target: float | None = None) -> Path:
    """Write ``RUN_DIR/fitness.png``: best, mean and best-so-far fitness per generation."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, no GUI

    gen = np.asarray(history.get("generation", []), dtype=float)
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.subplots()
    for key, style in (("best", "-"), ("mean", "-"), ("best_so_far", "--")):
        if key in history and len(history[key]):
            ax.plot(gen, np.asarray(history[key], dtype=float), style, label=key.replace("_", " "))
    if target is not None:
        ax.axhline(float(target), color="grey", lw=0.8, ls=":", label=f"target {target:g}")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path = Path(run_dir) / PLOT_FILE
    fig.savefig(path)
    return path


def plot_runs(run_dirs: Iterable[str | os.PathLike], out: str | os.PathLike,
              metrics: Iterable[str] = ("best_so_far", "test_accuracy")) -> Path:
    """Several runs on one figure: each metric against generation (left) and wall-clock (right).

    Works for GA and SGD run folders alike (anything with a ``metrics.jsonl``); a metric a run lacks
    is skipped for that run. ``out``: the PNG file (``.png`` added to a name without extension), or
    an existing folder (then ``out/`` :data:`RUNS_PLOT_FILE`). Returns the file written. Raises
    ValueError when a folder has no metrics or none of the metrics, or when ``out`` cannot be
    written (a parent that is a file is found before plotting).
    """
    from matplotlib.figure import Figure

    _plot_path(out, create=False)   # a bad --out fails before the run folders are read
    runs = []
    for d in run_dirs:
        m = read_metrics(d)
        if not m:
            raise ValueError(f"RUN_DIR={str(d)!r} has no {METRICS_FILE} (not a run folder, or empty)")
        runs.append((Path(d), m))
    names = [k for k in metrics if any(k in m for _, m in runs)]
    if not names:
        raise ValueError("none of the requested metrics is in any of the runs' metrics.jsonl")
    path = _plot_path(out)
    fig = Figure(figsize=(11, 3.6 * len(names)))
    axes = fig.subplots(len(names), 2, squeeze=False)
    for row, key in enumerate(names):
        for d, m in runs:
            if key not in m:
                continue
            x_gen = m.get("generation", np.arange(1, len(m[key]) + 1))
            axes[row, 0].plot(x_gen, m[key], label=d.name)
            if "wall_s" in m:
                axes[row, 1].plot(m["wall_s"], m[key], label=d.name)
        axes[row, 0].set_xlabel("generation")
        axes[row, 1].set_xlabel("wall-clock seconds")
        for ax in axes[row]:
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise ValueError(f"out={str(out)!r} (--out): cannot write {path}: {exc.strerror or exc}") from None
    except ValueError as exc:   # an extension matplotlib cannot write
        raise ValueError(f"out={str(out)!r} (--out): {exc}") from None
    return path


def _plot_path(out: str | os.PathLike, create: bool = True) -> Path:
    """The file :func:`plot_runs` writes for ``out`` (with ``create``, its parent folders made);
    ValueError naming ``--out`` when that is not possible (a parent is a file, no permission)."""
    path = Path(out)
    if path.is_dir():
        path = path / RUNS_PLOT_FILE
    elif not path.suffix:   # matplotlib would append ".png" to the name: say the name it writes
        path = path.with_name(path.name + ".png")
    above = next((a for a in path.absolute().parents if a.exists()), None)
    if above is not None and not above.is_dir():
        raise ValueError(f"out={str(out)!r} (--out): {above} is a file, not a folder")
    if not create:
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out={str(out)!r} (--out): cannot create the folder {path.parent} "
                         f"({exc.strerror or exc})") from None
    if path.is_dir():
        raise ValueError(f"out={str(out)!r} (--out): {path} is a folder; pass a .png file name")
    return path


def plot_curves(curves: Mapping[str, Mapping[str, np.ndarray]], path: str | os.PathLike, title: str = "") -> str:
    """Test accuracy vs wall-clock seconds and vs forward passes, one line per labelled curve
    (each curve a dict with ``wall_s``, ``forward_passes`` and ``test_accuracy`` arrays). Writes
    ``path`` (PNG) and returns it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for label, c in curves.items():
        axes[0].plot(c["wall_s"], c["test_accuracy"], label=label)
        axes[1].plot(c["forward_passes"], c["test_accuracy"], label=label)
    axes[0].set_xlabel("wall-clock seconds")
    axes[1].set_xlabel("sample forward-pass equivalents")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def plot_front(path: str | os.PathLike, objectives: Any, title: str = "") -> Path:
    """Write a scatter of a front ``objectives [n, M]`` (minimised values) to ``path``: one panel for
    2 objectives, the pairwise projections for more."""
    from matplotlib.figure import Figure

    f = np.asarray(objectives, dtype=float)
    M = f.shape[1]
    pairs = [(0, 1)] if M == 2 else [(i, j) for i in range(M) for j in range(i + 1, M)]
    fig = Figure(figsize=(4.2 * len(pairs), 4.0), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(pairs)))
    for ax, (i, j) in zip(axes, pairs):
        ax.scatter(f[:, i], f[:, j], s=8)
        ax.set_xlabel(f"f{i + 1}")
        ax.set_ylabel(f"f{j + 1}")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
