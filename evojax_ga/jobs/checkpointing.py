"""Checkpoint options and resume plumbing shared by the command-line jobs.

A job that supports ``evojax-ga resume RUN_DIR`` adds :func:`add_arguments` to its parser, builds its
``on_block`` callback with :func:`evojax_ga.run_folder.block_logger` and ``every =``
:func:`interval`, saves a final checkpoint with ``{"final": True}`` in its metadata, and implements
``resume_run(run_dir, args)`` with :func:`restore` (newest verified checkpoint; metrics written after
it dropped).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

__all__ = ["add_arguments", "interval", "recorded_interval", "restore", "DEFAULT_BLOCKS"]

#: default checkpoint interval, in blocks of generations
DEFAULT_BLOCKS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint-every N`` (generations; 0 = none)."""
    k = parser.add_argument_group("checkpoints")
    k.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help=f"save the full GA state into RUN_DIR/checkpoints when the generation count passes a "
                        f"multiple of N (checked after each --block), and at the end; 'evojax-ga resume RUN_DIR' "
                        f"continues from the newest; 0 = none (default: {DEFAULT_BLOCKS} blocks)")


def interval(value: Any, block: int) -> int:
    """The checkpoint interval in generations: ``value`` (from ``--checkpoint-every`` or a run's
    recorded arguments), or :data:`DEFAULT_BLOCKS` blocks when None."""
    every = DEFAULT_BLOCKS * block if value is None else value
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"--checkpoint-every must be an int >= 0 (0 = no checkpoints), got {every!r}")
    return every


def restore(run_dir: str | Path, template: Any) -> tuple[Any, dict]:
    """``(state, metadata)`` of the newest verified checkpoint in ``run_dir``, with ``metrics.jsonl``
    cut back to that checkpoint's generation (the lines after it are recomputed on resume)."""
    from evojax_ga import run_folder as rf
    state, meta = rf.latest_checkpoint(run_dir, template)
    rf.truncate_metrics(run_dir, int(state.generation))
    return state, meta


def recorded_interval(config: Mapping[str, Any], block: int) -> int:
    """The interval a run folder's ``config.json`` asked for."""
    return interval(config.get("args", {}).get("checkpoint_every"), block)
