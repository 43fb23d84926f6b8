"""MAP-Elites (Mouret & Clune 2015, "Illuminating search spaces by mapping elites") as a strategy.

A grid over ``D`` behaviour descriptors (per dimension ``lower``, ``upper``, ``bins``; cells numbered
row-major) holds at most one elite per cell. One generation:

1. ``ask``: ``B`` children, each from two parents drawn uniformly (with replacement) from the filled
   cells, varied by this project's operators (default :func:`evojax_ga.crossover.iso_line`, then an
   optional mutation). Before the first ``tell`` the initial population is handed out unchanged; while
   no cell is filled (every fitness so far NaN or -inf) the parents come from the last batch instead.
2. ``tell(state, population, fitness [B], descriptors [B, D])``: the batch enters the archive in one
   scatter: per cell the best of the batch (a tie keeps the first in the batch) replaces the incumbent
   if strictly better (a tie keeps the incumbent).

Conventions. An empty cell has fitness ``-inf`` (and ``filled`` False, descriptors NaN, zero
parameters); a candidate with NaN or ``-inf`` fitness, or a NaN descriptor, never enters, so
``filled == (archive_fitness > -inf)`` always. Descriptors outside ``[lower, upper]`` go to the edge
cell of that dimension: clipping is the defined meaning of the grid's edge cells (they hold everything
beyond), not a loss. A task gives descriptors as ``metrics["descriptors"]`` ``[B, D]`` beside its
fitness; ``step`` takes them out of the metrics it reports. QD-score is ``sum over filled cells of
max(fitness - qd_offset, 0)``: with ``qd_offset`` at or below the task's lowest fitness it is the
usual offset score, and the clip at 0 makes it monotone (non-decreasing) whatever the offset, since a
cell's fitness only rises and a new cell adds a term >= 0.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga._checks import INT32_MAX, check_int
from evojax_ga.metrics import generation_metrics
from evojax_ga.population import check_like, gather, validate_population
from evojax_ga.strategy import Strategy
from evojax_ga.types import Population, PRNGKey, as_task, evaluate_task

__all__ = ["MapElitesState", "map_elites", "check_grid", "grid_cells", "insert", "qd_metrics"]

Grid = tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]]


@struct.dataclass
class MapElitesState:
    """Everything a run needs to continue; arrays only (checkpointable).

    archive: leaves ``[cells, ...]``, the elite of every cell (zeros where empty).
    archive_fitness: ``[cells]`` float32, ``-inf`` where empty; descriptors: ``[cells, D]`` float32 of
    the elites (NaN where empty); filled: ``[cells]`` bool.
    population / fitness: the last batch ``[B, ...]`` and its ``[B]`` fitness (the initial population
    and ``-inf`` before the first ``tell``): what ``evolve`` reads per generation.
    best_params / best_fitness: best individual seen so far; generation: ``tell`` calls so far (int32);
    params: ``{"crossover", "mutation"}`` (traced).
    """
    archive: Population
    archive_fitness: jax.Array
    descriptors: jax.Array
    filled: jax.Array
    population: Population
    fitness: jax.Array
    best_params: Any
    best_fitness: jax.Array
    generation: jax.Array
    params: Any


def check_grid(lower: Sequence[float], upper: Sequence[float], bins: int | Sequence[int]) -> Grid:
    """``(lower, upper, bins)`` as tuples of equal length ``D``; ValueError/TypeError naming the argument."""
    try:
        lo = tuple(float(v) for v in lower)
        hi = tuple(float(v) for v in upper)
    except TypeError:
        raise TypeError(f"lower and upper must be sequences of numbers (one per descriptor), got {lower!r} "
                        f"and {upper!r}") from None
    if not lo or len(lo) != len(hi):
        raise ValueError(f"lower and upper must have the same length >= 1 (one entry per descriptor), got "
                         f"{len(lo)} and {len(hi)}")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise ValueError(f"lower[{i}] must be finite and < upper[{i}], got lower[{i}]={a}, upper[{i}]={b}")
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        bins = (int(bins),) * len(lo)
    if isinstance(bins, (str, bytes)) or not isinstance(bins, Sequence):
        raise TypeError(f"bins must be an int or a sequence of {len(lo)} ints, got {bins!r}")
    if len(bins) != len(lo):
        raise ValueError(f"bins must have {len(lo)} entries (one per descriptor, as lower), got {len(bins)}")
    nb = tuple(check_int(b, f"bins[{i}]", minimum=1) for i, b in enumerate(bins))
    if math.prod(nb) > INT32_MAX:
        raise ValueError(f"bins give {math.prod(nb)} cells, more than the int32 cell index allows ({INT32_MAX})")
    return lo, hi, nb


def _check_descriptors(descriptors: Any, D: int, rows: int | None, name: str = "descriptors") -> jax.Array:
    d = jnp.asarray(descriptors)
    want = f"[{'B' if rows is None else rows}, {D}]"
    if d.ndim != 2 or d.shape[1] != D or (rows is not None and d.shape[0] != rows):
        raise ValueError(f"{name} must have shape {want} (one column per grid dimension), got {tuple(d.shape)}")
    if not jnp.issubdtype(d.dtype, jnp.floating) and not jnp.issubdtype(d.dtype, jnp.integer):
        raise TypeError(f"{name} must be real numbers, got dtype {d.dtype}")
    return d.astype(jnp.float32)


def grid_cells(descriptors: Any, lower: Sequence[float], upper: Sequence[float],
               bins: int | Sequence[int]) -> jax.Array:
    """Cell index ``[B]`` int32 of descriptors ``[B, D]`` (row-major over the ``D`` bin indices).

    Bin ``floor((d - lower) / (upper - lower) * bins)`` in float32, clipped to ``[0, bins - 1]``: a value
    outside ``[lower, upper]`` lands in the edge cell (the grid's defined edge behaviour). A NaN
    descriptor gives bin 0; :func:`insert` keeps such rows out of the archive.
    """
    lo, hi, nb = check_grid(lower, upper, bins)
    d = _check_descriptors(descriptors, len(lo), None)
    t = jnp.clip((d - jnp.asarray(lo, jnp.float32)) / jnp.asarray(np.subtract(hi, lo), jnp.float32), 0.0, 1.0)
    t = jnp.where(jnp.isnan(t), 0.0, t)
    nbins = jnp.asarray(nb, jnp.int32)
    idx = jnp.minimum((t * nbins.astype(jnp.float32)).astype(jnp.int32), nbins - 1)
    strides = np.cumprod((nb[1:] + (1,))[::-1])[::-1].astype(np.int32)
    return jnp.sum(idx * jnp.asarray(strides), axis=1, dtype=jnp.int32)


def insert(state: MapElitesState, batch: Population, fitness: jax.Array, descriptors: jax.Array,
           cells: jax.Array) -> tuple[MapElitesState, jax.Array]:
    """Archive fields after inserting ``batch`` (fitness ``[B]``, descriptors ``[B, D]``, cells ``[B]``
    int32) in one scatter, and the ``[B]`` bool of the rows that entered (at most one per cell).

    A row enters when its fitness is the best of the batch in its cell (a tie: the first such row) and
    strictly above the incumbent's; NaN or -inf fitness, or a NaN descriptor, never enters.
    """
    C = state.archive_fitness.shape[0]
    B = fitness.shape[0]
    f = jnp.asarray(fitness, jnp.float32)
    ok = (f > -jnp.inf) & ~jnp.any(jnp.isnan(descriptors), axis=1)   # False for NaN fitness too
    fk = jnp.where(ok, f, -jnp.inf)
    cell_best = jax.ops.segment_max(fk, cells, num_segments=C)
    rows = jnp.arange(B, dtype=jnp.int32)
    first = jax.ops.segment_min(jnp.where(ok & (fk == cell_best[cells]), rows, B), cells, num_segments=C)
    enters = ok & (first[cells] == rows) & (fk > state.archive_fitness[cells])
    dest = jnp.where(enters, cells, C)   # out of range: dropped by the scatter
    archive = jax.tree_util.tree_map(lambda A, x: A.at[dest].set(x, mode="drop"), state.archive, batch)
    return dataclasses.replace(
        state, archive=archive,
        archive_fitness=state.archive_fitness.at[dest].set(fk, mode="drop"),
        descriptors=state.descriptors.at[dest].set(descriptors.astype(jnp.float32), mode="drop"),
        filled=state.filled.at[dest].set(True, mode="drop")), enters


def qd_metrics(archive_fitness: jax.Array, filled: jax.Array, qd_offset: float = 0.0) -> dict:
    """``coverage`` (filled fraction), ``qd_score`` (sum over filled cells of ``max(f - qd_offset, 0)``),
    ``filled`` (int32 count) and ``archive_best`` (-inf when empty); float32 scalars."""
    f = jnp.asarray(archive_fitness, jnp.float32)
    terms = jnp.where(filled, jnp.maximum(f - jnp.float32(qd_offset), 0.0), 0.0)
    n = jnp.sum(filled, dtype=jnp.int32)
    return {"coverage": n.astype(jnp.float32) / f.shape[0], "qd_score": jnp.sum(terms),
            "filled": n, "archive_best": jnp.max(jnp.where(filled, f, -jnp.inf))}


def _check_state(state: Any, fn: str) -> int:
    if not isinstance(state, MapElitesState):
        raise TypeError(f"{fn}: state must be the MapElitesState returned by init, ask or tell, got "
                        f"{type(state).__name__}")
    return validate_population(state.population, "state.population")


def map_elites(lower: Sequence[float], upper: Sequence[float], bins: int | Sequence[int],
               crossover: xo.Crossover | None = None, mutate: mu.Mutation | None = None,
               qd_offset: float = 0.0) -> Strategy:
    """MAP-Elites on a grid of ``prod(bins)`` cells over descriptors in ``[lower, upper]`` (``D`` entries each).

    bins: an int (every dimension) or ``D`` ints >= 1; crossover: the two-parent variation (default
    ``iso_line(0.01, 0.2)``; ``crossover.none()`` for mutation only); mutate: applied after it (None:
    none; per-individual params, e.g. ``self_adaptive``, are refused); qd_offset: see the module.
    The batch size ``B`` is the number of rows of the population given to ``init``.
    """
    lo, hi, nb = check_grid(lower, upper, bins)
    D, C = len(lo), math.prod(nb)
    crossover = xo.iso_line(0.01, 0.2) if crossover is None else crossover
    if not isinstance(crossover, xo.Crossover):
        raise TypeError(f"crossover must be a Crossover (from evojax_ga.crossover), got {type(crossover).__name__}")
    if mutate is not None and not isinstance(mutate, mu.Mutation):
        raise TypeError(f"mutate must be a Mutation (from evojax_ga.mutation) or None, got {type(mutate).__name__}")
    if mutate is not None and mutate.inherit is not None:
        raise ValueError(f"mutate: {mutate.name} has per-individual parameters, which map_elites does not keep "
                         f"per cell; use a mutation without them")
    offset = float(qd_offset)
    if not math.isfinite(offset):
        raise ValueError(f"qd_offset must be a finite number, got {qd_offset!r}")
    config = dict(algorithm="map_elites", lower=list(lo), upper=list(hi), bins=list(nb), cells=C,
                  crossover=crossover.name, mutate=None if mutate is None else mutate.name, qd_offset=offset)

    def init(key: PRNGKey, population: Population) -> MapElitesState:
        B = validate_population(population)
        fresh = lambda tree: jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)
        params = fresh({"crossover": crossover.params, "mutation": {} if mutate is None else mutate.params})
        return MapElitesState(
            archive=jax.tree_util.tree_map(lambda x: jnp.zeros((C,) + x.shape[1:], x.dtype), population),
            archive_fitness=jnp.full((C,), -jnp.inf, jnp.float32),
            descriptors=jnp.full((C, D), jnp.nan, jnp.float32), filled=jnp.zeros((C,), bool),
            population=population, fitness=jnp.full((B,), -jnp.inf, jnp.float32),
            best_params=jax.tree_util.tree_map(lambda x: jnp.array(x[0], copy=True), population),
            best_fitness=jnp.float32(-jnp.inf), generation=jnp.int32(0), params=params)

    def parents(key: PRNGKey, state: MapElitesState, B: int) -> jax.Array:
        """``[B]`` int32 filled cells drawn uniformly with replacement (cell 0 while none is filled)."""
        n = jnp.sum(state.filled, dtype=jnp.int32)
        order = jnp.nonzero(state.filled, size=C, fill_value=0)[0].astype(jnp.int32)
        return order[jax.random.randint(key, (B,), 0, jnp.maximum(n, 1), dtype=jnp.int32)]

    def ask(key: PRNGKey, state: MapElitesState) -> tuple[Population, MapElitesState]:
        """``B`` children of uniformly drawn elites (the initial population before the first tell)."""
        B = _check_state(state, "ask")
        k_a, k_b, k_x, k_m = jax.random.split(key, 4)

        def from_archive(_):
            return gather(state.archive, parents(k_a, state, B)), gather(state.archive, parents(k_b, state, B))

        def from_batch(_):
            pick = lambda k: gather(state.population, jax.random.randint(k, (B,), 0, B, dtype=jnp.int32))
            return pick(k_a), pick(k_b)

        def vary(_):
            a, b = jax.lax.cond(jnp.any(state.filled), from_archive, from_batch, None)
            child = crossover.apply(k_x, state.params["crossover"], a, b, 0)
            return child if mutate is None else mutate.apply(k_m, state.params["mutation"], child, 0)

        return jax.lax.cond(state.generation == 0, lambda _: state.population, vary, None), state

    def tell_count(state: MapElitesState, population: Population, fitness: Any,
                   descriptors: Any) -> tuple[MapElitesState, jax.Array]:
        B = _check_state(state, "tell")
        check_like(population, state.population, "population", "the state's population")
        f = sel.as_fitness(fitness, B)
        d = _check_descriptors(descriptors, D, B)
        new, enters = insert(state, population, f, d, grid_cells(d, lo, hi, nb))
        rk = sel.rank_key(f)
        i = jnp.argmax(rk)
        better = rk[i] > state.best_fitness
        best = jax.tree_util.tree_map(lambda x, o: jnp.where(better, x[i], o), population, state.best_params)
        return dataclasses.replace(new, population=population, fitness=f, best_params=best,
                                   best_fitness=jnp.maximum(state.best_fitness, rk[i]),
                                   generation=state.generation + 1), jnp.sum(enters, dtype=jnp.int32)

    def tell(state: MapElitesState, population: Population, fitness: Any, descriptors: Any) -> MapElitesState:
        """Insert the evaluated batch: ``fitness`` ``[B]``, ``descriptors`` ``[B, D]`` of ``population``."""
        return tell_count(state, population, fitness, descriptors)[0]

    def step(key: PRNGKey, state: MapElitesState, task: Any) -> tuple[MapElitesState, dict]:
        """ask -> evaluate -> tell; metrics: the batch's (best, mean, ...), best_so_far, coverage,
        qd_score, filled, archive_best, inserted (cells improved this generation)."""
        k_ask, k_eval = jax.random.split(key)
        pop, state = ask(k_ask, state)
        fitness, extra = evaluate_task(as_task(task), k_eval, pop)
        if "descriptors" not in extra:
            raise ValueError(f"task: map_elites needs metrics['descriptors'] [B, {D}] from the task's evaluate; "
                             f"{type(task).__name__} returned metrics {sorted(extra)}")
        descriptors = extra.pop("descriptors")
        state, inserted = tell_count(state, pop, fitness, descriptors)
        metrics = generation_metrics(pop, state.fitness, diversity=False)
        metrics["best_so_far"] = state.best_fitness
        metrics.update(qd_metrics(state.archive_fitness, state.filled, offset))
        metrics["inserted"] = inserted
        metrics.update(extra)
        return state, metrics

    return Strategy(init, ask, tell, step, config)
