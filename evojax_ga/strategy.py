"""The genetic algorithm as a strategy: ``init`` / ``ask`` / ``tell`` / fused ``step``.

One generation (``ask``) builds the next population in a single array program
(:mod:`evojax_ga.reproduction`):

1. rank the evaluated population (NaN and -inf last);
2. keep the top ``elite`` unchanged and ``random_survivors`` drawn uniformly from the rest
   (Harvey's "keep a few losers");
3. draw two parents per remaining slot with ``select`` from the parent pool (the top
   ``parent_pool`` individuals plus the random survivors, or everyone);
4. cross them over and mutate the child (or, with ``crossover_children``, cross some children over
   and mutate the others: Prellberg & Kramer's offspring fractions).

With ``fitness_ema=alpha`` the GA ranks by a moving average of the evaluated fitness that children
inherit from their parents (``alpha * new + (1 - alpha) * inherited``): with a minibatch fitness an
individual's standing then pools the batches it and its ancestors were scored on.

Kept rows are selected back from their parents by a row mask, so they are bit-identical copies
whatever the operators. ``Strategy`` is a NamedTuple of pure functions; ``GAState`` is an immutable
``flax.struct`` dataclass; the operators' tunable numbers live in ``state.params`` (traced: vmap or
adapt them). Per-generation metrics come from :mod:`evojax_ga.metrics`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga._checks import check_int
from evojax_ga.adaptation import TARGETS, Adaptation, constant
from evojax_ga.metrics import generation_metrics, mutation_metrics, population_diversity
from evojax_ga.population import check_like, validate_population
from evojax_ga.reproduction import inherited_fitness, make_layout, reproduce
from evojax_ga.types import Fitness, Population, PRNGKey, as_task, evaluate_task

__all__ = ["GAState", "Strategy", "ga", "generation_metrics", "population_diversity"]


@struct.dataclass
class GAState:
    """Everything a run needs to continue; arrays only (checkpointable, vmappable).

    population: leaves ``[P, ...]``, the last evaluated (or initial) population.
    fitness: ``[P]`` float32 of ``population`` (-inf before the first ``tell``).
    best_params / best_fitness: best individual seen so far (one individual, scalar).
    generation: number of ``tell`` calls so far (int32).
    params: operator parameters ``{"selection", "crossover", "mutation"}`` (traced); per-individual
    mutation and crossover params (self-adaptive sigmas, crossover probs) are those of the population
    last handed out by ``ask``.
    adapt_state: state of the rate adaptation.
    inherited: with ``fitness_ema``, ``[P]`` float32 fitness each row of the population ``ask`` last
    handed out inherits (NaN: none yet); else None (no leaves).
    """
    population: Population
    fitness: jax.Array
    best_params: Any
    best_fitness: jax.Array
    generation: jax.Array
    params: Any
    adapt_state: Any
    inherited: Any = None


class Strategy(NamedTuple):
    """A GA as pure functions.

    init(key, population) -> GAState
    ask(key, state) -> (population to evaluate, state)
    tell(state, population, fitness [P]) -> state
    step(key, state, task) -> (state, metrics dict): ask, evaluate, tell in one function (jit it).
    """
    init: Callable[..., Any]
    ask: Callable[..., tuple[Any, Any]]
    tell: Callable[..., Any]
    step: Callable[..., tuple[Any, dict]]
    config: dict


def _check_operators(select: Any, crossover: Any, mutate: Any, adapt: Any) -> None:
    for name, obj, typ in (("select", select, sel.Selection), ("crossover", crossover, xo.Crossover),
                           ("mutate", mutate, mu.Mutation), ("adapt", adapt, Adaptation)):
        if not isinstance(obj, typ):
            raise TypeError(f"{name} must be a {typ.__name__} (from evojax_ga.{typ.__module__.split('.')[-1]}), "
                            f"got {type(obj).__name__}")


def _check_parent_pool(parent_pool: Any) -> None:
    if parent_pool is None:
        return
    if isinstance(parent_pool, bool) or not isinstance(parent_pool, (int, float)):
        raise TypeError(f"parent_pool must be an int, a fraction in (0, 1], or None; got {parent_pool!r}")
    if isinstance(parent_pool, float) and not (0.0 < parent_pool <= 1.0):
        raise ValueError(f"parent_pool as a fraction must be in (0, 1], got {parent_pool}")
    if isinstance(parent_pool, int) and parent_pool < 1:
        raise ValueError(f"parent_pool must be >= 1, got {parent_pool}")


def _check_crossover_children(n: Any) -> None:
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        raise TypeError(f"crossover_children must be None, an int or a fraction in [0, 1]; got {n!r}")
    if isinstance(n, float) and not 0.0 <= n <= 1.0:
        raise ValueError(f"crossover_children as a fraction must be in [0, 1], got {n}")
    if isinstance(n, int) and n < 0:
        raise ValueError(f"crossover_children must be >= 0, got {n}")


def _check_state(state: Any, fn: str) -> int:
    """P of a GA state; TypeError/ValueError naming ``state`` (static checks: free inside jit)."""
    if not isinstance(state, GAState):
        raise TypeError(f"{fn}: state must be the GAState returned by init, ask or tell, got {type(state).__name__}")
    P = validate_population(state.population, "state.population")
    if tuple(state.fitness.shape) != (P,):
        raise ValueError(f"{fn}: state.fitness has shape {tuple(state.fitness.shape)}, state.population has {P} "
                         f"individuals")
    return P


def ga(select: sel.Selection | None = None,
       crossover: xo.Crossover | None = None,
       mutate: mu.Mutation | None = None,
       elite: int = 1,
       random_survivors: int = 0,
       parent_pool: int | float | None = None,
       adapt: Adaptation | None = None,
       diversity_metric: bool = True,
       crossover_children: int | float | None = None,
       fitness_ema: float | None = None) -> Strategy:
    """A composable genetic algorithm.

    select: parent selection (default binary tournament); crossover: (default uniform 0.5);
    mutate: (default gaussian rate 0.1, sigma 0.02; ``mutation.self_adaptive(...)`` for
    per-individual sigmas);
    elite: top-k copied unchanged each generation (0 allowed);
    random_survivors: individuals kept unchanged, drawn uniformly from those outside the elite (and
    outside the parent pool when it is restricted);
    parent_pool: parents are drawn from the top ``parent_pool`` individuals (an int, or a fraction
    in (0, 1] of P, i.e. 1 - die-off rate) plus the random survivors; ``None`` = everyone;
    adapt: an :class:`~evojax_ga.adaptation.Adaptation` of the mutation params (e.g. stagnation) or,
    when its ``target`` is ``"selection"``, of the selection params (e.g. ``adaptation.relief``);
    diversity_metric: compute the mean per-gene std each generation (one extra pass over genes);
    crossover_children: None (every child is crossed over, then mutated) or how many children (an
    int, or a fraction of P) are made by crossover alone; the other children are mutated copies of
    one parent, and each pair's parents are ordered fitter first (``crossover.uniform(p)`` then takes
    a gene from the less fit parent with probability ``p``);
    fitness_ema: None, or ``alpha`` in (0, 1]: rank by ``alpha * fitness + (1 - alpha) * inherited``
    (kept rows and mutated copies inherit their parent's, crossover children the mix of both
    parents' by uniform crossover's ``prob``, else half each); the first evaluation is taken as is.
    """
    select = sel.tournament(2) if select is None else select
    crossover = xo.uniform(0.5) if crossover is None else crossover
    mutate = mu.gaussian(0.1, 0.02) if mutate is None else mutate
    adapt = constant() if adapt is None else adapt
    _check_operators(select, crossover, mutate, adapt)
    if adapt.target not in TARGETS:
        raise ValueError(f"adapt.target must be one of {TARGETS}, got {adapt.target!r}")
    elite = check_int(elite, "elite", minimum=0)
    random_survivors = check_int(random_survivors, "random_survivors", minimum=0)
    _check_parent_pool(parent_pool)
    _check_crossover_children(crossover_children)
    if fitness_ema is not None:
        if isinstance(fitness_ema, bool) or not isinstance(fitness_ema, (int, float)) or not 0 < fitness_ema <= 1:
            raise ValueError(f"fitness_ema must be None or a number in (0, 1], got {fitness_ema!r}")
        fitness_ema = float(fitness_ema)
    config = dict(select=select.name, crossover=crossover.name, mutate=mutate.name, elite=elite,
                  random_survivors=random_survivors, parent_pool=parent_pool, adapt=adapt.name)
    if crossover_children is not None:
        config["crossover_children"] = crossover_children
    if fitness_ema is not None:
        config["fitness_ema"] = fitness_ema

    def layout(P: int):
        return make_layout(P, elite, random_survivors, parent_pool, crossover_children)

    def weight_b(params: Any) -> Any:
        """Share of parent ``b`` in a crossover child (for the inherited fitness): uniform's ``prob``
        (per member when self-adaptive), none's 0, else half."""
        if crossover.name == "none":
            return 0.0
        if crossover.name.startswith(("uniform(", "self_adaptive(uniform(")):
            return params["crossover"]["prob"]
        return 0.5

    def init(key: PRNGKey, population: Population) -> GAState:
        P = validate_population(population)
        if P < 2:
            raise ValueError(f"population must have at least 2 individuals (rows), got {P}")
        layout(P)
        mparams, cparams = mutate.params, crossover.params
        # every row kept as itself: sizes per-individual params to [P] (the key draws nothing used)
        rows, kept = jnp.arange(P, dtype=jnp.int32), jnp.zeros((P,), bool)
        if mutate.inherit is not None:
            mparams = mutate.inherit(key, mparams, rows, kept)
        if crossover.inherit is not None:
            cparams = crossover.inherit(key, cparams, rows, kept)
        params = {"selection": select.params, "crossover": cparams, "mutation": mparams}
        adapt_state = adapt.init(select.params if adapt.target == "selection" else mutate.params)
        best = jax.tree_util.tree_map(lambda x: x[0], population)
        # every small field gets its own buffer, so the whole state can be donated to a jitted step
        fresh = lambda tree: jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)
        inherited = None if fitness_ema is None else jnp.full((P,), jnp.nan, jnp.float32)
        return GAState(population=population, fitness=jnp.full((P,), -jnp.inf, jnp.float32),
                       best_params=best, best_fitness=jnp.float32(-jnp.inf),
                       generation=jnp.int32(0), params=fresh(params), adapt_state=fresh(adapt_state),
                       inherited=inherited)

    def ask(key: PRNGKey, state: GAState) -> tuple[Population, GAState]:
        """The population to evaluate next: the initial one before the first tell, else children."""
        P = _check_state(state, "ask")
        lay, first = layout(P), state.generation == 0
        pop, params, parents = reproduce(key, lay, select, crossover, mutate,
                                         state.population, state.fitness, state.params, first)
        if mutate.inherit is not None or crossover.inherit is not None:
            state = dataclasses.replace(state, params=params)
        if fitness_ema is not None:
            state = dataclasses.replace(state, inherited=inherited_fitness(
                lay, state.fitness, parents, weight_b(state.params), first))
        return pop, state

    def tell(state: GAState, population: Population, fitness: Fitness) -> GAState:
        """Record the evaluated population; update best-so-far and adaptation.

        ``population`` must be the one ``ask`` returned (the state's structure, leaf shapes and
        dtypes) and ``fitness`` a real ``[P]`` vector; both are checked statically (free inside jit).
        NaN ranks last: it never becomes the best.
        """
        P = _check_state(state, "tell")
        check_like(population, state.population, "population", "the state's population")
        fitness = sel.as_fitness(fitness, P)
        if fitness_ema is not None:
            prior = state.inherited
            fitness = jnp.where(jnp.isnan(prior), fitness, fitness_ema * fitness + (1.0 - fitness_ema) * prior)
        rk = sel.rank_key(fitness)
        i = jnp.argmax(rk)
        gen_best = rk[i]
        better = gen_best > state.best_fitness
        cand = jax.tree_util.tree_map(lambda x: x[i], population)
        best_params = jax.tree_util.tree_map(lambda n, o: jnp.where(better, n, o), cand, state.best_params)
        signal = gen_best if adapt.signal is None else adapt.signal(rk)
        adapt_state, adapted = adapt.update(state.adapt_state, state.params[adapt.target], signal)
        params = {**state.params, adapt.target: adapted}
        return dataclasses.replace(state, population=population, fitness=fitness,
                             best_params=best_params, best_fitness=jnp.maximum(state.best_fitness, gen_best),
                             generation=state.generation + 1, params=params, adapt_state=adapt_state)

    def step(key: PRNGKey, state: GAState, task: Any) -> tuple[GAState, dict]:
        """ask -> evaluate -> tell; returns metrics of the evaluated generation (the task's included)."""
        k_ask, k_eval = jax.random.split(key)
        pop, state = ask(k_ask, state)
        fitness, extra = evaluate_task(as_task(task), k_eval, pop)
        if isinstance(fitness, (tuple, list)):
            raise TypeError(f"fitness must be a [P] array, got a {type(fitness).__name__}: a bare function must "
                            f"return fitness alone; return metrics from a task's evaluate(key, population)")
        state = tell(state, pop, fitness)
        metrics = generation_metrics(pop, state.fitness, diversity_metric)
        metrics["best_so_far"] = state.best_fitness
        metrics.update(mutation_metrics(state.params["mutation"]))
        metrics.update(extra)
        return state, metrics

    return Strategy(init, ask, tell, step, config)
