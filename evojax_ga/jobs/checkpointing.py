"""The ``--checkpoint-every`` option shared by the jobs that support ``evojax-ga resume RUN_DIR``
(the cadence itself is :func:`evojax_ga.runs.loop.checkpoint_interval` and
:func:`evojax_ga.checkpoint.saver`)."""

from __future__ import annotations

import argparse

from evojax_ga.runs.loop import DEFAULT_CHECKPOINT_BLOCKS

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint-every N`` (generations; 0 = none)."""
    k = parser.add_argument_group("checkpoints")
    k.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help=f"save the full GA state into RUN_DIR/checkpoints when the generation count passes a "
                        f"multiple of N (checked after each --block), and at the end; 'evojax-ga resume RUN_DIR' "
                        f"continues from the newest; 0 = none (default: {DEFAULT_CHECKPOINT_BLOCKS} blocks)")
