"""Argument validation shared by every public factory: errors name the argument, value and range."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

__all__ = ["check_int", "check_prob", "check_nonneg", "check_positive", "check_range", "check_probs", "check_seed",
           "check_config_ints", "SEED_MAX", "INT32_MAX"]

#: the largest seed: ``jax.random.key(seed)`` keeps only the low 32 bits (larger seeds would alias smaller ones)
SEED_MAX = 2**32 - 1
#: the largest count a run option takes (generation counters, episode counts and step limits are int32)
INT32_MAX = 2**31 - 1


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a scalar number, got an array of shape {arr.shape}")
    return float(arr)


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_config_ints(config: Any, minimums: Mapping[str, int]) -> None:
    """ValueError unless every field ``name`` of ``config`` is an int in ``[minimums[name], 2**31 - 1]``
    (the config dataclasses' counts: populations, generations, episodes, ...)."""
    for name, lo in minimums.items():
        v = getattr(config, name)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= INT32_MAX:
            raise ValueError(f"{name} must be an int in [{lo}, 2**31 - 1], got {v!r}")


def check_seed(value: Any, name: str = "seed") -> int:
    """An int seed in ``[0, SEED_MAX]``: every seed in range gives its own key, none aliases another."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int in [0, 2**32 - 1], got {value!r}")
    if not 0 <= int(value) <= SEED_MAX:
        raise ValueError(f"{name} must be an int in [0, 2**32 - 1] = [0, {SEED_MAX}] (a larger seed would repeat "
                         f"a smaller one), got {value}")
    return int(value)


def check_range(value: Any, name: str, low: float, high: float, low_open: bool = False,
                high_open: bool = False) -> float:
    v = _as_float(value, name)
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lb}{low}, {high}{hb}, got {value!r}")
    return v


def check_prob(value: Any, name: str) -> float:
    return check_range(value, name, 0.0, 1.0)


def check_nonneg(value: Any, name: str) -> float:
    v = _as_float(value, name)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_positive(value: Any, name: str) -> float:
    v = _as_float(value, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_probs(values: Any, name: str, length: int | None = None) -> tuple[float, ...]:
    """A probability vector: non-negative, finite, summing to 1 (within 1e-6)."""
    try:
        vals = tuple(float(v) for v in values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of probabilities, got {values!r}") from None
    if length is not None and len(vals) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(vals)}: {values!r}")
    if any(not math.isfinite(v) or v < 0 for v in vals) or abs(sum(vals) - 1.0) > 1e-6:
        raise ValueError(f"{name} must be non-negative and sum to 1, got {values!r}")
    return vals
