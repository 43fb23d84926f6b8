"""Rate adaptation: operator parameters that change with the run's progress.

An :class:`Adaptation` is an ``(init, update)`` pair in the optax style: ``init(mutation_params) ->
state`` and ``update(state, mutation_params, generation_best) -> (state, mutation_params)``, called by
the GA's ``tell`` once per generation. Everything is traced, so adaptation lives inside ``jit`` and
``lax.scan``.

Sources: the decay schedule is Prellberg & Kramer 2018's exponentially decaying sigma (here by a
half-life in generations, with a floor); the stagnation schedule is the NumPy neuroevolution
notebook's (Gursky): raise the mutation rate by ``mutation_rate_increase`` while the best fitness
does not improve, capped at ``mutation_rate_cap``, back to the base rate on improvement.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_nonneg, check_positive, check_prob
from evojax_ga.mutation import get_param, set_param

__all__ = ["Adaptation", "constant", "stagnation", "decay"]


class Adaptation(NamedTuple):
    init: Callable[[Any], Any]
    update: Callable[[Any, Any, jax.Array], tuple[Any, Any]]
    name: str = "adaptation"


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

    def init(params):
        base = _base(params, name, "stagnation")
        return {"base": base, "value": base, "best": jnp.float32(-jnp.inf)}

    def update(state, params, gen_best):
        gen_best = jnp.where(jnp.isnan(gen_best), -jnp.inf, gen_best).astype(jnp.float32)
        improved = gen_best > state["best"] + min_delta
        value = jnp.where(improved, state["base"], jnp.minimum(state["value"] + step, cap))
        best = jnp.maximum(state["best"], gen_best)
        return {"base": state["base"], "value": value, "best": best}, set_param(params, name, value)

    return Adaptation(init, update, f"stagnation(step={step}, cap={cap}, name={name})")


def _base(params, name: str, who: str) -> jax.Array:
    """The mutation parameter ``name`` an adaptation starts from (float32); ValueError when the mutation
    has none."""
    base = get_param(params, name)
    if base is None:
        raise ValueError(f"{who} adapts mutation parameter {name!r}, which the mutation does not have")
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
