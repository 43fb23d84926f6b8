"""Operator and preset registries: name -> factory, for the CLI, the tests and user operators.

``SELECTIONS``, ``CROSSOVERS``, ``MUTATIONS`` and ``PRESETS`` hold every public factory of
:mod:`~evojax_ga.selection`, :mod:`~evojax_ga.crossover`, :mod:`~evojax_ga.mutation` and
:mod:`~evojax_ga.presets` under a stable name. :func:`register` adds a user factory (refusing a
name already taken, as gymnax's ``register`` does); :func:`get` looks one up by kind and name.
"""

from __future__ import annotations

from typing import Any, Callable

from evojax_ga import crossover, mutation, presets, selection

__all__ = ["SELECTIONS", "CROSSOVERS", "MUTATIONS", "PRESETS", "KINDS", "register", "get"]

Factory = Callable[..., Any]

SELECTIONS: dict[str, Factory] = {
    "uniform": selection.uniform,
    "tournament": selection.tournament,
    "truncation": selection.truncation,
    "fitness_proportional": selection.fitness_proportional,
    "linear_rank": selection.linear_rank,
    "universal": selection.universal,
}

CROSSOVERS: dict[str, Factory] = {
    "uniform": crossover.uniform,
    "neuron": crossover.neuron,
    "layer": crossover.layer,
    "k_point": crossover.k_point,
    "blend": crossover.blend,
    "arithmetic": crossover.arithmetic,
    "iso_line": crossover.iso_line,
    "none": crossover.none,
}

MUTATIONS: dict[str, Factory] = {
    "gaussian": mutation.gaussian,
    "shift": mutation.shift,
    "sign": mutation.sign,
    "reset": mutation.reset,
    "prune": mutation.prune,
    "mixed": mutation.mixed,
    "categorical": mutation.categorical,
}

PRESETS: dict[str, Factory] = {
    "simple_ga": presets.simple_ga,
    "genetic_mlp": presets.genetic_mlp,
    "deep_ga": presets.deep_ga,
    "truncation_ga": presets.truncation_ga,
    "universal_ga": presets.universal_ga,
    "mnist_cnn_ga": presets.mnist_cnn_ga,
    "limited_evaluation_ga": presets.limited_evaluation_ga,
}

#: kind -> its registry
KINDS: dict[str, dict[str, Factory]] = {
    "selection": SELECTIONS, "crossover": CROSSOVERS, "mutation": MUTATIONS, "preset": PRESETS,
}


def _registry(kind: str) -> dict[str, Factory]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def register(kind: str, name: str, factory: Factory) -> None:
    """Make ``factory`` known as ``name`` among ``kind`` ('selection', 'crossover', 'mutation', 'preset').

    ValueError if the name is taken (registries never silently replace an operator).
    """
    table = _registry(kind)
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable (returning the operator), got {type(factory).__name__}")
    if name in table:
        raise ValueError(f"{kind} {name!r} is already registered ({table[name].__module__}."
                         f"{getattr(table[name], '__qualname__', table[name])}); pick another name")
    table[name] = factory


def get(kind: str, name: str) -> Factory:
    """The factory registered as ``name`` among ``kind``; ValueError listing the known names otherwise."""
    table = _registry(kind)
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return table[name]
