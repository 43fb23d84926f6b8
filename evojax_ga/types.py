"""The library's shared types: populations, fitness, operators and tasks (defined once, here).

A **population** is any pytree whose leaves all have the same leading axis ``P``. **Fitness** is a
``[P]`` float vector, higher is better; NaN and -inf rank last.

Every operator is a small NamedTuple of traced ``params`` and a pure ``apply`` whose arguments come
in one order: the key, then the params, then the data::

    Selection.apply(key, params, fitness [n], num)          -> indices int32 [num]
    Crossover.apply(key, params, a, b, row_offset)          -> child population
    Mutation.apply(key, params, population, row_offset)     -> mutated population

``row_offset`` is the global index of the first row (chunked or sharded calls draw the same bits as
a whole-population call). The Protocols below are what the strategy relies on; user operators need
only match them (``evojax_ga.registry.register`` makes them known by name).

A **task** has ``evaluate(key, population) -> (fitness [P], metrics)``, ``metrics`` a dict of
scalars (possibly empty). A bare function ``f(key, population) -> fitness [P]`` is accepted where a
task is and is lifted by :func:`evojax_ga.tasks.as_task`.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import jax

__all__ = ["Population", "Fitness", "PRNGKey", "Params", "Metrics", "SelectFn", "CrossoverFn", "MutateFn",
           "Task", "EvaluateFn", "as_task", "evaluate_task"]

#: a pytree whose leaves are ``[P, ...]`` arrays
Population = Any
#: ``[P]`` float32, higher is better; NaN and -inf rank last
Fitness = jax.Array
#: a typed ``jax.random.key`` (or a raw uint32 key array)
PRNGKey = jax.Array
#: an operator's traced parameters: a dict of scalars or ``[P]`` per-individual arrays
Params = Any
#: per-generation scalars reported by a task or a strategy
Metrics = Mapping[str, Any]


class SelectFn(Protocol):
    """``(key, params, fitness [n], num) -> int32 [num]`` indices into ``fitness``."""

    def __call__(self, key: PRNGKey, params: Params, fitness: Fitness, num: int) -> jax.Array: ...


class CrossoverFn(Protocol):
    """``(key, params, a, b, row_offset) -> child``; ``a`` and ``b`` are populations of one shape."""

    def __call__(self, key: PRNGKey, params: Params, a: Population, b: Population,
                 row_offset: Any = 0) -> Population: ...


class MutateFn(Protocol):
    """``(key, params, population, row_offset) -> population`` of the same structure."""

    def __call__(self, key: PRNGKey, params: Params, population: Population, row_offset: Any = 0) -> Population: ...


class EvaluateFn(Protocol):
    """``(key, population) -> (fitness [P], metrics)``."""

    def __call__(self, key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]: ...


@runtime_checkable
class Task(Protocol):
    """Anything with ``evaluate(key, population) -> (fitness [P], metrics dict)``."""

    def evaluate(self, key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]: ...


class _FunctionTask:
    """A bare ``f(key, population) -> fitness [P]`` seen as a :class:`Task` with no metrics."""

    def __init__(self, fn: Any):
        self.fn = fn

    def evaluate(self, key: PRNGKey, population: Population) -> tuple[Fitness, Metrics]:
        return self.fn(key, population), {}


def as_task(obj: Any) -> Task:
    """``obj`` itself if it has ``evaluate``; a bare function ``f(key, population) -> fitness [P]``
    wrapped as a task whose metrics are empty. TypeError for anything else."""
    if callable(getattr(obj, "evaluate", None)):
        return obj
    if callable(obj):
        return _FunctionTask(obj)
    raise TypeError(f"task must have evaluate(key, population) -> (fitness [P], metrics), or be a function "
                    f"f(key, population) -> fitness [P]; got {type(obj).__name__}")


def evaluate_task(task: Task, key: PRNGKey, population: Population) -> tuple[Fitness, dict]:
    """``task.evaluate(key, population)``, checked to be a ``(fitness, metrics dict)`` pair."""
    out = task.evaluate(key, population)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping)):
        raise TypeError(f"{type(task).__name__}.evaluate must return (fitness [P], metrics dict), got "
                        f"{type(out).__name__}; a function returning fitness alone can be passed as the task itself")
    return out[0], dict(out[1])
