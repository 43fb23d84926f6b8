"""Option parsers (argparse ``type=``) shared by the jobs: each turns the text of one option into its
value or raises ``argparse.ArgumentTypeError`` with a one-line message (argparse puts the option's name
in front)."""

from __future__ import annotations

import argparse

__all__ = ["hidden_widths", "count_or_fraction", "chunk_size", "learning_rates"]


def hidden_widths(text: str) -> tuple[int, ...]:
    """``--hidden``: comma-separated positive layer widths such as ``16,16`` (empty items are skipped)."""
    try:
        vals = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden must be comma-separated positive ints like 16,16; got {text!r}") \
            from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"hidden must be a non-empty sequence of positive ints, got {text!r}")
    return vals


def count_or_fraction(text: str) -> int | float:
    """``--truncation``: an int (members) or a fraction such as 0.5 (ranges are checked by the config)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int (members) or a fraction in (0, 1], got {text!r}") \
                from None


def chunk_size(text: str) -> int | str:
    """``--chunk-size``: a positive int, ``auto`` or ``all``."""
    if text in ("auto", "all"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--chunk-size must be a positive int, 'auto' or 'all'; got {text!r}")
    return value


def learning_rates(text: str) -> str | tuple[float, ...]:
    """``--baseline-lr-sweep``: ``auto``, ``off`` or comma-separated rates such as ``1e-3,1e-2`` (their
    range is checked by the config)."""
    if text in ("auto", "off"):
        return text
    try:
        return tuple(float(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'auto', 'off' or comma-separated learning rates like "
                                         f"1e-3,1e-2; got {text!r}") from None
