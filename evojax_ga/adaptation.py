"""Rate adaptation: operator parameters that change with the run's progress.

An :class:`Adaptation` is an ``(init, update)`` pair in the optax style: ``init(params) -> state`` and
``update(state, params, generation_best) -> (state, params)``, called by the GA's ``tell`` once per
generation on the params of its ``target`` operator (``"mutation"``, the default, or ``"selection"``).
Everything is traced, so adaptation lives inside ``jit`` and ``lax.scan``.

Sources: the decay schedule is Prellberg & Kramer 2018's exponentially decaying sigma (here by a
half-life in generations, with a floor); the stagnation schedule is the NumPy neuroevolution
notebook's (Gursky): raise the mutation rate by ``mutation_rate_increase`` while the best fitness
does not improve, capped at ``mutation_rate_cap``, back to the base rate on improvement.
:func:`relief` is the same rule turned on selection pressure (this project's, from the equal-terms
control study: a tournament's pressure that holds a stalled population on a local optimum).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_nonneg, check_positive, check_prob, check_range
from evojax_ga.operator_params import get_param, set_param

__all__ = ["Adaptation", "TARGETS", "constant", "stagnation", "relief", "top_mean", "decay"]

TARGETS = ("mutation", "selection")


class Adaptation(NamedTuple):
    """``init(params) -> state``, ``update(state, params, generation_best) -> (state, params)`` on the
    params of the GA's ``target`` operator (one of :data:`TARGETS`)."""
    init: Callable[[Any], Any]
    update: Callable[[Any, Any, jax.Array], tuple[Any, Any]]
    name: str = "adaptation"
    target: str = "mutation"
    #: the statistic of the generation's fitness ``[P]`` (NaN as -inf) that ``update`` sees; None: its best
    signal: Callable[[jax.Array], jax.Array] | None = None


def constant() -> Adaptation:
    """No adaptation: parameters stay as given."""
    return Adaptation(lambda params: (), lambda state, params, best: (state, params), "constant")


def stagnation(step: float = 0.025, cap: float = 0.25, name: str = "rate", min_delta: float = 0.0) -> Adaptation:
    """``value += step`` (capped at ``cap``) while the best fitness has not improved by more than
    ``min_delta`` over the best so far; reset to the base value on improvement.

    ``name`` is the mutation parameter adapted (``"rate"`` by default; every member of a chain that
    has it). State: ``{"base", "value", "best"}`` scalars.
    """
    check_nonneg(step, "step")
    check_nonneg(min_delta, "min_delta")
    if name == "rate":
        check_prob(cap, "cap")
    else:
        check_nonneg(cap, "cap")
    return _while_stagnant(step, cap, name, min_delta, "mutation",
                           f"stagnation(step={step}, cap={cap}, name={name})")


def top_mean(fraction: float) -> Callable[[jax.Array], jax.Array]:
    """``fitness [P] -> scalar``: the mean of the best ``ceil(fraction * P)`` values (-inf when one of
    them is -inf, i.e. NaN or -inf fitness). A smoother progress signal than the best on noisy fitness."""
    check_range(fraction, "fraction", 0.0, 1.0, low_open=True)

    def signal(fitness: jax.Array) -> jax.Array:
        k = max(1, math.ceil(fraction * fitness.shape[0]))
        return jnp.mean(jax.lax.top_k(fitness.astype(jnp.float32), k)[0])
    return signal


def relief(step: float = 0.05, floor: float = 1.0, name: str = "pressure", min_delta: float = 0.0,
           watch: float | None = None) -> Adaptation:
    """Selection pressure that gives way while the run is stuck: ``value -= step`` (down to ``floor``)
    for every generation whose progress signal has not beaten its best so far by more than
    ``min_delta``; back to the base value on improvement. The signal is the generation's best fitness
    (``watch=None``) or the mean of its top ``watch`` fraction (:func:`top_mean`: one lucky episode
    does not set a record that stalls the signal for the rest of the run).

    ``name`` is the selection parameter adapted: ``"pressure"`` of :func:`selection.linear_rank`
    (``floor`` 1.0 is uniform choice) or ``"preference"`` of :func:`selection.fitness_proportional`
    (``floor`` 0.0 is uniform). Use as ``ga(select=selection.linear_rank(2.0), adapt=relief())``.
    State: ``{"base", "value", "best"}`` scalars.
    """
    check_positive(step, "step")
    check_nonneg(floor, "floor")
    check_nonneg(min_delta, "min_delta")
    signal = None if watch is None else top_mean(watch)
    watched = "" if watch is None else f", watch={watch}"
    return _while_stagnant(-step, floor, name, min_delta, "selection",
                           f"relief(step={step}, floor={floor}, name={name}{watched})", signal)


def _while_stagnant(step: float, bound: float, name: str, min_delta: float, target: str, label: str,
                    signal: Callable[[jax.Array], jax.Array] | None = None) -> Adaptation:
    """The parameter ``name`` of ``target`` moves by ``step`` towards ``bound`` each stagnant generation
    and returns to its base value when the generation's signal (its best fitness, or ``signal`` of its
    fitness) beats the best signal so far by more than ``min_delta``."""
    toward = jnp.minimum if step >= 0 else jnp.maximum

    def init(params):
        base = _base(params, name, label.split("(")[0], target)
        return {"base": base, "value": base, "best": jnp.float32(-jnp.inf)}

    def update(state, params, gen_best):
        gen_best = jnp.where(jnp.isnan(gen_best), -jnp.inf, gen_best).astype(jnp.float32)
        improved = gen_best > state["best"] + min_delta
        value = jnp.where(improved, state["base"], toward(state["value"] + step, bound))
        best = jnp.maximum(state["best"], gen_best)
        return {"base": state["base"], "value": value, "best": best}, set_param(params, name, value)

    return Adaptation(init, update, label, target, signal)


def _base(params, name: str, who: str, target: str = "mutation") -> jax.Array:
    """The ``target`` operator's parameter ``name`` an adaptation starts from (float32); ValueError when
    the operator has none."""
    base = get_param(params, name)
    if base is None:
        raise ValueError(f"{who} adapts {target} parameter {name!r}, which the {target} does not have")
    return jnp.asarray(base, jnp.float32)


def decay(half_life: float, floor: float = 0.0, name: str = "sigma") -> Adaptation:
    """``value = max(base * 0.5 ** (generation / half_life), floor)``: the mutation parameter ``name``
    (every member of a chain that has it; a per-individual ``[P]`` value is scaled as a whole) halves
    every ``half_life`` generations, never below ``floor``. State: ``{"base", "value", "generation"}``.
    """
    half_life = check_positive(half_life, "half_life")
    check_nonneg(floor, "floor")

    def init(params):
        base = _base(params, name, "decay")
        return {"base": base, "value": base, "generation": jnp.int32(0)}

    def update(state, params, gen_best):
        g = state["generation"] + 1
        value = jnp.maximum(state["base"] * jnp.exp2(-g.astype(jnp.float32) / half_life), floor)
        current = jnp.asarray(get_param(params, name), jnp.float32)
        # a per-individual value keeps each member's own factor (self-adaptive sigmas): scale it as a whole
        scaled = value if current.ndim == 0 else current * (value / jnp.maximum(state["value"], 1e-30))
        return ({"base": state["base"], "value": value, "generation": g},
                set_param(params, name, scaled.astype(jnp.float32)))

    return Adaptation(init, update, f"decay(half_life={half_life}, floor={floor}, name={name})")
