"""Interleaved timing: every contender's call once per repeat, in turn (A, B, C, A, B, C, ...), in one
process, so that a change of machine load during the run hits all contenders alike.

A contender is ``Timed(fn, args, chained)``: ``fn(*args)`` timed as is, or, when ``chained``,
``state = fn(state, *rest)`` fed back into itself (``args = (state, *rest)``; for steps that donate or
whose next input is their output). Protocol per contender as in :func:`benchmarks.harness.time_fn`:
the first call timed apart as ``compile_s``, ``warmup`` untimed calls, then ``repeats`` timed calls,
each ended by ``jax.block_until_ready``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

from benchmarks.harness import _block, _summary


class Timed(NamedTuple):
    fn: Callable[..., Any]
    args: tuple
    chained: bool = False


def time_interleaved(contenders: dict[str, Timed], repeats: int = 5, warmup: int = 1) -> dict[str, dict[str, Any]]:
    """``{name: {"compile_s", "median_s", "min_s", "times_s"}}`` for every contender, timed in turn."""
    state = {name: c.args for name, c in contenders.items()}

    def call(name: str) -> float:
        c = contenders[name]
        t0 = time.perf_counter()
        out = _block(c.fn(*state[name]))
        dt = time.perf_counter() - t0
        if c.chained:
            state[name] = (out, *state[name][1:])
        del out
        return dt

    compile_s = {name: call(name) for name in contenders}
    for _ in range(warmup):
        for name in contenders:
            call(name)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name in contenders:
            times[name].append(call(name))
    return {name: _summary(compile_s[name], times[name]) for name in contenders}
