"""Parent selection and survival: which individuals reproduce and which are kept unchanged.

A selection operator is a :class:`Selection` — traced ``params`` and a pure
``apply(key, params, fitness [n], num) -> indices [num] int32`` (:class:`evojax_ga.types.SelectFn`).
``num`` is static. Fitness is
higher-is-better; NaN and -inf rank last everywhere (they are never picked while a finite
individual exists, except by operators that ignore fitness such as :func:`uniform`).

Sources: tournament and linear-rank selection (Goldberg & Deb 1991, "A comparative analysis of
selection schemes"); truncation selection with elitism (Such et al. 2017, "Deep
Neuroevolution"); fitness preference ``P_i ∝ F_i^m`` (Gursky, "The Zero Gradient Challenge",
NumPy neuroevolution notebook); random survivors among the non-elite (Harvey 2017, "Let's evolve
a neural network with a genetic algorithm").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from evojax_ga._checks import check_int, check_nonneg, check_range
from evojax_ga.types import Fitness, Params, PRNGKey, SelectFn

__all__ = [
    "Selection", "rank_key", "argsort_desc", "top_k", "uniform", "tournament", "truncation",
    "fitness_proportional", "linear_rank", "universal", "random_survivors", "count_nonfinite", "check_fitness",
    "as_fitness",
]


class Selection(NamedTuple):
    """A selection operator: ``apply(key, params, fitness [n], num) -> int32[num]``."""
    params: Params
    apply: SelectFn
    name: str = "selection"

    def __call__(self, key: PRNGKey, fitness: Fitness, num: int, params: Params = None) -> jax.Array:
        """``apply`` with this operator's params by default; checks ``fitness`` is ``[n]`` and ``num`` an int."""
        check_fitness(fitness)
        num = check_int(num, "num", minimum=0)
        return self.apply(key, self.params if params is None else params, fitness, num)


def check_fitness(fitness: Any, name: str = "fitness", size: int | None = None) -> None:
    """ValueError unless ``fitness`` is a non-empty ``[n]`` vector (``n == size`` when given); TypeError
    unless its dtype is real (float, int or bool: complex or non-numeric fitness has no order).
    Static checks: they cost nothing inside ``jit``."""
    shape = getattr(fitness, "shape", None)
    if shape is None or len(shape) != 1 or shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty [n] vector (one value per individual), got shape {shape}")
    if size is not None and shape[0] != size:
        raise ValueError(f"{name} must have shape [{size}] (one value per individual), got {tuple(shape)}")
    dtype = getattr(fitness, "dtype", None)
    if dtype is None or not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
                             or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"{name} must be real numbers (float or int; higher is better), got dtype {dtype}")


def as_fitness(fitness: Any, size: int, name: str = "fitness") -> jax.Array:
    """``fitness`` as a ``[size]`` float32 array, checked by :func:`check_fitness` first (nothing is cast
    silently: complex values are refused, not stripped of their imaginary part)."""
    try:
        f = jnp.asarray(fitness)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a [{size}] array of real numbers, got {type(fitness).__name__}") from None
    check_fitness(f, name, size)
    return f.astype(jnp.float32)


def rank_key(fitness: jax.Array) -> jax.Array:
    """Fitness as float32 with NaN mapped to -inf, so comparisons rank NaN last."""
    f = jnp.asarray(fitness, jnp.float32)
    return jnp.where(jnp.isnan(f), -jnp.inf, f)


def count_nonfinite(fitness: jax.Array) -> jax.Array:
    """Number of NaN or infinite entries (int32 scalar)."""
    return jnp.sum(~jnp.isfinite(fitness)).astype(jnp.int32)


def argsort_desc(fitness: jax.Array) -> jax.Array:
    """Indices from best to worst; NaN and -inf last; ties keep index order (stable)."""
    return jnp.argsort(-rank_key(fitness), stable=True).astype(jnp.int32)


def top_k(fitness: jax.Array, k: int) -> jax.Array:
    """Indices of the ``k`` best individuals, best first (NaN last)."""
    return argsort_desc(fitness)[:k]


def _sample_from_weights(key: jax.Array, weights: jax.Array, num: int) -> jax.Array:
    """``num`` draws with replacement, P(i) ∝ weights[i] >= 0, by inverse CDF (O(n + num log n))."""
    cdf = jnp.cumsum(weights)
    total = cdf[-1]
    u = jax.random.uniform(key, (num,), jnp.float32) * total
    idx = jnp.searchsorted(cdf, u, side="right")
    return jnp.minimum(idx, weights.shape[0] - 1).astype(jnp.int32)


def uniform() -> Selection:
    """Every individual equally likely (fitness ignored)."""
    def apply(key, params, fitness, num):
        return jax.random.randint(key, (num,), 0, fitness.shape[0], dtype=jnp.int32)
    return Selection({}, apply, "uniform")


def tournament(size: int = 2) -> Selection:
    """Best of ``size`` individuals drawn uniformly with replacement, per pick."""
    size = check_int(size, "size", minimum=1)

    def apply(key, params, fitness, num):
        f = rank_key(fitness)
        cand = jax.random.randint(key, (num, size), 0, f.shape[0], dtype=jnp.int32)
        best = jnp.argmax(f[cand], axis=1)  # first maximum: NaN/-inf only win if all are
        return jnp.take_along_axis(cand, best[:, None], axis=1)[:, 0]
    return Selection({}, apply, f"tournament({size})")


def truncation(fraction: float = 0.5) -> Selection:
    """Uniform among the top ``ceil(fraction * n)`` individuals (at least one).

    ``fraction`` = 1 - die-off rate; Such et al.'s deep GA uses the top T individuals.
    """
    check_range(fraction, "fraction", 0.0, 1.0, low_open=True)

    def apply(key, params, fitness, num):
        n = fitness.shape[0]
        order = argsort_desc(fitness)
        k = jnp.clip(jnp.ceil(params["fraction"] * n), 1, n).astype(jnp.int32)
        r = jax.random.randint(key, (num,), 0, k, dtype=jnp.int32)
        return order[r]
    return Selection({"fraction": jnp.float32(fraction)}, apply, f"truncation({fraction})")


def fitness_proportional(preference: float = 1.0, shift: str = "auto") -> Selection:
    """``P_i ∝ F_i^m`` with ``m = preference`` (m = 0 uniform; larger m is greedier).

    shift: ``"auto"`` uses the raw fitness when every finite value is >= 0 (the seed notebook's exact
    rule) and ``F - min(F)`` otherwise, so negative fitness works; ``"min"`` always subtracts the
    minimum; ``"none"`` requires F >= 0 (negative values get weight 0). Non-finite fitness gets
    weight 0; if every weight is 0 the draw is uniform over the finite individuals (or all).
    """
    check_nonneg(preference, "preference")
    if shift not in ("auto", "min", "none"):
        raise ValueError(f"shift must be 'auto', 'min' or 'none', got {shift!r}")

    def apply(key, params, fitness, num):
        m = jnp.asarray(params["preference"], jnp.float32)
        f = jnp.asarray(fitness, jnp.float32)
        finite = jnp.isfinite(f)
        fmin = jnp.min(jnp.where(finite, f, jnp.inf))
        if shift == "min":
            f = f - fmin
        elif shift == "auto":
            f = jnp.where(fmin < 0, f - fmin, f)
        valid = finite & (f >= 0)
        base = jnp.where(valid, f, 0.0)
        # work in log space, normalised by the max, so large m neither overflows nor underflows to 0
        logf = jnp.where(base > 0, jnp.log(jnp.where(base > 0, base, 1.0)), -jnp.inf)
        logw = jnp.where(m == 0, jnp.where(valid, 0.0, -jnp.inf), m * logf)
        logw = jnp.where(valid, logw, -jnp.inf)
        top = jnp.max(logw)
        w = jnp.where(jnp.isfinite(logw), jnp.exp(logw - jnp.where(jnp.isfinite(top), top, 0.0)), 0.0)
        fallback = jnp.where(jnp.any(finite), finite.astype(jnp.float32), 1.0)
        w = jnp.where(jnp.sum(w) > 0, w, fallback)
        return _sample_from_weights(key, w, num)
    return Selection({"preference": jnp.float32(preference)}, apply, f"fitness_proportional(m={preference})")


def linear_rank(pressure: float = 1.5) -> Selection:
    """Linear ranking: best has weight ``pressure``, worst ``2 - pressure`` (pressure in [1, 2]).

    NaN/-inf individuals are ranked last and get the lowest weights.
    """
    check_range(pressure, "pressure", 1.0, 2.0)

    def apply(key, params, fitness, num):
        order = argsort_desc(fitness)
        r = _sample_from_weights(key, _rank_weights(params["pressure"], fitness.shape[0]), num)
        return order[r]
    return Selection({"pressure": jnp.float32(pressure)}, apply, f"linear_rank({pressure})")


def _rank_weights(pressure: Any, n: int) -> jax.Array:
    """``[n]`` linear-rank weights by rank (0 = best): ``pressure`` down to ``2 - pressure``."""
    s = jnp.asarray(pressure, jnp.float32)
    frac = jnp.arange(n, dtype=jnp.float32) / jnp.maximum(n - 1, 1)
    return s - (2.0 * s - 2.0) * frac


def universal(pressure: float = 1.5) -> Selection:
    """Linear-rank weights (best ``pressure``, worst ``2 - pressure``; 1.0 = equal) drawn by stochastic
    universal sampling (Baker 1987): one random offset and ``num`` evenly spaced pointers, so each
    individual gets the floor or the ceiling of its expected number of picks. No sampling drift: with
    pressure 1 and ``num = 2n`` every individual is picked exactly twice (EvoJAX's SimpleGA). The picks
    are returned in random order. ``pressure`` is traced (``adaptation.relief`` can lower it).
    """
    check_range(pressure, "pressure", 1.0, 2.0)

    def apply(key, params, fitness, num):
        n = fitness.shape[0]
        k_off, k_perm = jax.random.split(key)
        order = argsort_desc(fitness)
        w = _rank_weights(params["pressure"], n)
        cdf = jnp.cumsum(w) / jnp.sum(w)
        pointers = (jax.random.uniform(k_off, (), jnp.float32) + jnp.arange(num, dtype=jnp.float32)) / num
        r = jnp.minimum(jnp.searchsorted(cdf, pointers, side="right"), n - 1).astype(jnp.int32)
        return order[r][jax.random.permutation(k_perm, num)]
    return Selection({"pressure": jnp.float32(pressure)}, apply, f"universal({pressure})")


def random_survivors(key: jax.Array, fitness: jax.Array, n_elite: int, n_random: int) -> jax.Array:
    """``n_random`` distinct indices drawn uniformly from the non-elite (ranks n_elite..n-1).

    Harvey's "randomly keep a few losers". Returns int32[n_random].
    """
    n = fitness.shape[0]
    if n_random == 0:
        return jnp.zeros((0,), jnp.int32)
    if n_elite + n_random > n:
        raise ValueError(f"elite ({n_elite}) + random survivors ({n_random}) exceed population size {n}")
    order = argsort_desc(fitness)
    rest = order[n_elite:]
    perm = jax.random.permutation(key, n - n_elite)[:n_random]
    return rest[perm]
