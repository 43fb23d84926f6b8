"""Benchmarks for evojax_ga: ``python -m benchmarks NAME [--quick] [--repeats N]``.

Each ``benchmarks/bench_<name>.py`` exposes ``run(quick: bool, repeats: int) -> dict`` returning
``{"rows": [dict, ...], "notes": [str, ...]}`` (optionally ``"roofline"``); see ``harness.py``.
"""

from __future__ import annotations

from pathlib import Path

BENCH_DIR: Path = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the benchmarks found as ``benchmarks/bench_*.py``."""
    return sorted(p.stem[len("bench_"):] for p in BENCH_DIR.glob("bench_*.py"))
