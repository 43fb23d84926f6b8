"""The genetic algorithm as a strategy: ``init`` / ``ask`` / ``tell`` / fused ``step``.

One generation (``ask``) builds the next population in a single array program:

1. rank the evaluated population (NaN and -inf last);
2. keep the top ``elite`` unchanged and ``random_survivors`` drawn uniformly from the rest
   (Harvey's "keep a few losers");
3. draw two parents per remaining slot with ``select`` from the parent pool (the top
   ``parent_pool`` individuals plus the random survivors, or everyone);
4. cross them over and mutate the child.

Kept rows go through the same fused loop as children with both parents equal and a per-row
mutation rate of 0, so the next population is written once, without concatenation, and kept
individuals are bit-identical copies.

``Strategy`` is a NamedTuple of pure functions; ``GAState`` is an immutable ``flax.struct``
dataclass; the operators' tunable numbers live in ``state.params`` (traced: vmap or adapt them).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga._checks import check_int, check_nonneg
from evojax_ga.adaptation import Adaptation, constant
from evojax_ga.population import gather, validate_population

Population = Any
Evaluate = Callable[[jax.Array, Population], Any]

__all__ = ["GAState", "Strategy", "ga", "as_evaluate", "generation_metrics", "population_diversity"]


@struct.dataclass
class GAState:
    """Everything a run needs to continue; arrays only (checkpointable, vmappable).

    population: leaves ``[P, ...]``, the last evaluated (or initial) population.
    fitness: ``[P]`` float32 of ``population`` (-inf before the first ``tell``).
    sigma: ``[P]`` per-individual mutation sigma (self-adaptive GA) or ``[0]`` when unused.
    pending_sigma: sigmas of the population handed out by the last ``ask``.
    best_params / best_fitness: best individual seen so far (one individual, scalar).
    generation: number of ``tell`` calls so far (int32).
    params: operator parameters ``{"selection", "crossover", "mutation"}`` (traced).
    adapt_state: state of the rate adaptation.
    """
    population: Population
    fitness: jax.Array
    sigma: jax.Array
    pending_sigma: jax.Array
    best_params: Any
    best_fitness: jax.Array
    generation: jax.Array
    params: Any
    adapt_state: Any


class Strategy(NamedTuple):
    """A GA as pure functions.

    init(key, population) -> GAState
    ask(key, state) -> (population to evaluate, state)
    tell(state, population, fitness [P]) -> state
    step(key, state, evaluate) -> (state, metrics dict): ask, evaluate, tell in one function (jit it).
    """
    init: Callable[[jax.Array, Population], GAState]
    ask: Callable[[jax.Array, GAState], tuple[Population, GAState]]
    tell: Callable[[GAState, Population, jax.Array], GAState]
    step: Callable[[jax.Array, GAState, Evaluate], tuple[GAState, dict]]
    config: dict


def as_evaluate(task: Any) -> Evaluate:
    """Accept ``evaluate(key, pop) -> fitness`` or an object with an ``evaluate`` method."""
    fn = getattr(task, "evaluate", task)
    if not callable(fn):
        raise TypeError(f"evaluate must be callable (key, population) -> fitness [P], or a Task with .evaluate; "
                        f"got {type(task).__name__}")
    return fn


def _split_eval_output(out: Any) -> tuple[jax.Array, dict]:
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
        return out[0], out[1]
    return out, {}


DIVERSITY_ROWS = 4096


def population_diversity(population: Population, max_rows: int = DIVERSITY_ROWS) -> jax.Array:
    """Mean over float genes of the per-gene standard deviation across individuals (float32 scalar).

    For ``P > max_rows`` it is estimated from ``max_rows`` evenly spaced individuals. Computed as a
    ``lax.scan`` over individuals with sums shifted by the first individual: a reduction over the
    population axis fused with its producer is very slow on XLA:CPU (seconds for 10^8 genes), the
    scan is memory-bound.
    """
    leaves = [x for x in jax.tree_util.tree_leaves(population) if jnp.issubdtype(x.dtype, jnp.floating)]
    if not leaves:
        return jnp.float32(0.0)
    P = leaves[0].shape[0]
    flat = [x.reshape(P, -1).astype(jnp.float32) for x in leaves]
    if P > max_rows:
        idx = jnp.arange(max_rows) * (P // max_rows)
        flat = [jnp.take(x, idx, axis=0) for x in flat]
        P = max_rows
    x = jnp.concatenate(flat, axis=1) if len(flat) > 1 else flat[0]
    x0 = x[0]

    def body(carry, row):
        d = row - x0
        return (carry[0] + d, carry[1] + d * d), None

    zeros = jnp.zeros_like(x0)
    (s1, s2), _ = jax.lax.scan(body, (zeros, zeros), x)
    m1 = s1 / P
    var = jnp.maximum(s2 / P - m1 * m1, 0.0)
    return jnp.mean(jnp.sqrt(var))


def generation_metrics(population: Population, fitness: jax.Array, diversity: bool = True) -> dict:
    """Per-generation statistics over finite fitness values (all scalars, float32 unless noted).

    best / mean / std / worst of the finite fitness; nonfinite (int32): NaN or ±inf count;
    posinf (int32); nonfinite_params (int32): individuals with a NaN/inf weight; diversity: see
    :func:`population_diversity`.
    """
    f = jnp.asarray(fitness, jnp.float32)
    finite = jnp.isfinite(f)
    n = jnp.maximum(jnp.sum(finite), 1)
    fz = jnp.where(finite, f, 0.0)
    mean = jnp.sum(fz) / n
    var = jnp.sum(jnp.where(finite, (f - mean) ** 2, 0.0)) / n
    out = {
        "best": jnp.max(sel.rank_key(f)),
        "mean": jnp.where(jnp.any(finite), mean, jnp.nan),
        "std": jnp.sqrt(var),
        "worst": jnp.min(jnp.where(finite, f, jnp.inf)),
        "nonfinite": sel.count_nonfinite(f),
        "posinf": jnp.sum(f == jnp.inf).astype(jnp.int32),
        "nonfinite_params": mu.count_nonfinite_params(population),
    }
    if diversity:
        out["diversity"] = population_diversity(population)
    return out


def ga(select: sel.Selection | None = None,
       crossover: xo.Crossover | None = None,
       mutate: mu.Mutation | None = None,
       elite: int = 1,
       random_survivors: int = 0,
       parent_pool: int | float | None = None,
       adapt: Adaptation | None = None,
       self_adaptive_tau: float | None = None,
       diversity_metric: bool = True) -> Strategy:
    """A composable genetic algorithm.

    select: parent selection (default binary tournament); crossover: (default uniform 0.5);
    mutate: (default gaussian rate 0.1, sigma 0.02);
    elite: top-k copied unchanged each generation (0 allowed);
    random_survivors: individuals kept unchanged, drawn uniformly from those outside the elite (and
    outside the parent pool when it is restricted);
    parent_pool: parents are drawn from the top ``parent_pool`` individuals (an int, or a fraction
    in (0, 1] of P, i.e. 1 - die-off rate) plus the random survivors; ``None`` = everyone;
    adapt: an :class:`~evojax_ga.adaptation.Adaptation` of the mutation params (e.g. stagnation);
    self_adaptive_tau: if set, every individual carries its own Gaussian ``sigma`` that children
    inherit from parent ``a`` times ``exp(tau * N(0, 1))`` (Schwefel's log-normal rule) and use for
    their mutation; requires a mutation with a ``sigma`` parameter.
    diversity_metric: compute the mean per-gene std each generation (one extra pass over genes).
    """
    select = sel.tournament(2) if select is None else select
    crossover = xo.uniform(0.5) if crossover is None else crossover
    mutate = mu.gaussian(0.1, 0.02) if mutate is None else mutate
    adapt = constant() if adapt is None else adapt
    for name, obj, typ in (("select", select, sel.Selection), ("crossover", crossover, xo.Crossover),
                           ("mutate", mutate, mu.Mutation), ("adapt", adapt, Adaptation)):
        if not isinstance(obj, typ):
            raise TypeError(f"{name} must be a {typ.__name__} (from evojax_ga.{typ.__module__.split('.')[-1]}), "
                            f"got {type(obj).__name__}")
    elite = check_int(elite, "elite", minimum=0)
    random_survivors = check_int(random_survivors, "random_survivors", minimum=0)
    if self_adaptive_tau is not None:
        check_nonneg(self_adaptive_tau, "self_adaptive_tau")
        if mu.get_param(mutate.params, "sigma") is None:
            raise ValueError("self_adaptive_tau needs a mutation with a 'sigma' parameter (e.g. mutation.gaussian)")
    if parent_pool is not None:
        if isinstance(parent_pool, bool) or not isinstance(parent_pool, (int, float)):
            raise TypeError(f"parent_pool must be an int, a fraction in (0, 1], or None; got {parent_pool!r}")
        if isinstance(parent_pool, float) and not (0.0 < parent_pool <= 1.0):
            raise ValueError(f"parent_pool as a fraction must be in (0, 1], got {parent_pool}")
        if isinstance(parent_pool, int) and parent_pool < 1:
            raise ValueError(f"parent_pool must be >= 1, got {parent_pool}")

    config = dict(select=select.name, crossover=crossover.name, mutate=mutate.name, elite=elite,
                  random_survivors=random_survivors, parent_pool=parent_pool, adapt=adapt.name,
                  self_adaptive_tau=self_adaptive_tau)

    def _sizes(P: int) -> tuple[int, int]:
        if elite + random_survivors >= P:
            raise ValueError(f"elite ({elite}) + random_survivors ({random_survivors}) must leave room for "
                             f"at least one child in a population of {P}")
        if parent_pool is None:
            pool = P
        elif isinstance(parent_pool, float):
            pool = max(1, math.ceil(parent_pool * P))
        else:
            pool = parent_pool
        if pool > P:
            raise ValueError(f"parent_pool ({pool}) exceeds the population size {P}")
        surv_start = elite if pool >= P else max(elite, pool)
        if random_survivors > P - surv_start:
            raise ValueError(f"random_survivors ({random_survivors}) exceeds the {P - surv_start} individuals "
                             f"outside the elite and the parent pool (population {P})")
        return P - elite - random_survivors, pool

    def init(key: jax.Array, population: Population) -> GAState:
        P = validate_population(population)
        _sizes(P)
        params = {"selection": select.params, "crossover": crossover.params, "mutation": mutate.params}
        adapt_state = adapt.init(mutate.params)
        if self_adaptive_tau is not None:
            s0 = jnp.asarray(mu.get_param(mutate.params, "sigma"), jnp.float32)
            sigma = jnp.full((P,), s0, jnp.float32)
        else:
            sigma = jnp.zeros((0,), jnp.float32)
        best = jax.tree_util.tree_map(lambda x: x[0], population)
        # every small field gets its own buffer, so the whole state can be donated to a jitted step
        fresh = lambda tree: jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)
        return GAState(population=population, fitness=jnp.full((P,), -jnp.inf, jnp.float32), sigma=sigma,
                       pending_sigma=fresh(sigma), best_params=best, best_fitness=jnp.float32(-jnp.inf),
                       generation=jnp.int32(0), params=fresh(params), adapt_state=fresh(adapt_state))

    def _reproduce(key: jax.Array, state: GAState) -> tuple[Population, jax.Array]:
        pop, fitness = state.population, state.fitness
        P = fitness.shape[0]
        n_children, pool = _sizes(P)
        k_surv, k_pa, k_pb, k_x, k_m, k_s = jax.random.split(key, 6)
        order = sel.argsort_desc(fitness)
        kept = [order[:elite]]
        # survivors are "losers": drawn from below the elite and, when the parent pool is restricted,
        # from outside it (Harvey's "keep a few of the rest"), so they never enter the pool twice
        surv_start = elite if pool >= P else max(elite, pool)
        surv = sel.random_survivors(k_surv, fitness, surv_start, random_survivors)
        kept.append(surv)
        pool_idx = order[:pool] if random_survivors == 0 or pool >= P else jnp.concatenate([order[:pool], surv])
        pool_fit = fitness[pool_idx]
        sp = state.params["selection"]
        pa = pool_idx[select.apply(k_pa, pool_fit, n_children, sp)]
        pb = pool_idx[select.apply(k_pb, pool_fit, n_children, sp)]
        kept_idx = jnp.concatenate(kept)
        # Before the first tell every row is "kept" as itself: the initial population passes through
        # the same fused loop unchanged (no lax.cond, whose branch outputs would cost a full copy).
        first = state.generation == 0
        ident = jnp.arange(P, dtype=jnp.int32)
        ia = jnp.where(first, ident, jnp.concatenate([kept_idx, pa]))
        ib = jnp.where(first, ident, jnp.concatenate([kept_idx, pb]))
        is_child = (ident >= (elite + random_survivors)) & ~first
        a, b = gather(pop, ia), gather(pop, ib)
        children = crossover.apply(k_x, a, b, state.params["crossover"], 0)
        mparams = state.params["mutation"]
        rate = mu.get_param(mparams, "rate")
        if rate is not None:
            mparams = mu.set_param(mparams, "rate", jnp.where(is_child, rate, 0.0))
        sigma = state.sigma
        if self_adaptive_tau is not None:
            z = jax.random.normal(k_s, (P,), jnp.float32)
            sigma = jnp.where(is_child, sigma[ia] * jnp.exp(self_adaptive_tau * z), sigma[ia])
            mparams = mu.set_param(mparams, "sigma", sigma)
        children = mutate.apply(k_m, children, mparams, 0)
        return children, sigma

    def ask(key: jax.Array, state: GAState) -> tuple[Population, GAState]:
        """The population to evaluate next: the initial one before the first tell, else children."""
        pop, sigma = _reproduce(key, state)
        return pop, state.replace(pending_sigma=sigma)

    def tell(state: GAState, population: Population, fitness: jax.Array) -> GAState:
        """Record the evaluated population; update best-so-far and adaptation."""
        fitness = jnp.asarray(fitness, jnp.float32)
        P = state.fitness.shape[0]
        if fitness.shape != (P,):
            raise ValueError(f"fitness must have shape [{P}] (one value per individual), got {fitness.shape}")
        rk = sel.rank_key(fitness)
        i = jnp.argmax(rk)
        gen_best = rk[i]
        better = gen_best > state.best_fitness
        cand = jax.tree_util.tree_map(lambda x: x[i], population)
        best_params = jax.tree_util.tree_map(lambda n, o: jnp.where(better, n, o), cand, state.best_params)
        adapt_state, mparams = adapt.update(state.adapt_state, state.params["mutation"], gen_best)
        params = {**state.params, "mutation": mparams}
        return state.replace(population=population, fitness=fitness, sigma=state.pending_sigma,
                             best_params=best_params, best_fitness=jnp.maximum(state.best_fitness, gen_best),
                             generation=state.generation + 1, params=params, adapt_state=adapt_state)

    def step(key: jax.Array, state: GAState, evaluate: Evaluate) -> tuple[GAState, dict]:
        """ask -> evaluate -> tell; returns metrics of the evaluated generation."""
        k_ask, k_eval = jax.random.split(key)
        pop, state = ask(k_ask, state)
        fitness, extra = _split_eval_output(as_evaluate(evaluate)(k_eval, pop))
        state = tell(state, pop, fitness)
        metrics = generation_metrics(pop, state.fitness, diversity_metric)
        metrics["best_so_far"] = state.best_fitness
        rate = mu.get_param(state.params["mutation"], "rate")
        if rate is not None:
            metrics["mutation_rate"] = jnp.asarray(rate, jnp.float32)
        if self_adaptive_tau is not None:
            metrics["sigma_mean"] = jnp.mean(state.sigma)
        metrics.update(extra)
        return state, metrics

    return Strategy(init, ask, tell, step, config)
