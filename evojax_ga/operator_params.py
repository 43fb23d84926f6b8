"""A named parameter of an operator's params: a dict, or a chain's tuple of dicts (mutation chains).

Used by the adaptations (:mod:`evojax_ga.adaptation`) on mutation and selection params alike, and
re-exported by :mod:`evojax_ga.mutation`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["set_param", "get_param"]


def set_param(params: Any, name: str, value: Any) -> Any:
    """Replace ``name`` in an operator's params (in every member of a chain that has it)."""
    if isinstance(params, dict):
        return {**params, name: value} if name in params else params
    if isinstance(params, tuple):
        return tuple(set_param(p, name, value) for p in params)
    return params


def get_param(params: Any, name: str) -> Any:
    """The first value of ``name`` in an operator's params (searching chains in order), or None."""
    if isinstance(params, dict):
        return params.get(name)
    if isinstance(params, tuple):
        for p in params:
            v = get_param(p, name)
            if v is not None:
                return v
    return None
