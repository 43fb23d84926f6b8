"""Many independent runs of one configuration in one compiled program: the seeds as a vmapped axis.

``evolve_seeds(seeds, strategy, evaluate, init_population, generations)`` runs one GA per seed,
each exactly :func:`evojax_ga.evolve.evolve` from ``jax.random.key(seed)``, but all seeds advance
together through one ``vmap`` of the block runner (:func:`evojax_ga.evolve.make_block_runner`):
one compilation, and every generation evaluates ``N x P`` members in one program. A seed that
stops (its ``generations`` ran out, or its best reached ``target``) is frozen by its own generation
limit while the others go on, so each seed's final state and history equal its single run (bit for
bit on the same machine; the test suite checks it).

:func:`seed_keys` and :func:`make_seeds_runner` are the parts; the control jobs' ``--seeds N``
(:mod:`evojax_ga.runs.control_seeds`) drive them with a solved check between blocks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int, check_seed
from evojax_ga.evolve import History, make_block_runner
from evojax_ga.strategy import Strategy

__all__ = ["seed_keys", "make_seeds_runner", "evolve_seeds", "seed_slice", "seed_block_histories"]

_RUNNERS: OrderedDict[tuple[int, int, int], tuple[Any, Any, Callable]] = OrderedDict()
_RUNNERS_KEPT = 4


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """``[N]`` typed PRNG keys, row ``i`` equal to ``jax.random.key(seeds[i])``; seeds are ints in
    [0, 2**32 - 1], distinct (two equal seeds would be one run twice)."""
    seeds = [check_seed(s, "seeds") for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


@jax.jit
def _take(tree: Any, i: jax.Array) -> Any:
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def seed_slice(tree: Any, i: int) -> Any:
    """Seed ``i`` of a pytree whose leaves have the seeds as their leading axis (one compiled program
    for every ``i``)."""
    return _take(tree, jnp.int32(i))


def seed_block_histories(metrics: Any, active: np.ndarray, generations: np.ndarray,
                         elapsed: float) -> dict[int, dict[str, np.ndarray]]:
    """The block history of every seed that ran in a block of the seeds runner: ``{seed index:
    {"generation", metrics..., "wall_s"}}`` from ``metrics [N, block]``, ``active [N, block]`` and the
    seeds' generation counters after the block. ValueError when an active generation returned +inf
    fitness (as :func:`evojax_ga.evolve.evolve` refuses it)."""
    metrics = {k: np.asarray(v) for k, v in metrics.items()}
    if int(np.sum(np.where(active, metrics.get("posinf", 0), 0))) > 0:
        raise ValueError("the task returned +inf fitness (+inf wins every comparison); a run of several seeds "
                         "does not allow it")
    out = {}
    for j in np.flatnonzero(active.any(axis=1)):
        i, rows = int(j), active[j]
        m = int(rows.sum())
        out[i] = {"generation": np.arange(generations[i] - m + 1, generations[i] + 1),
                  **{k: v[i][rows] for k, v in metrics.items()}, "wall_s": np.full(m, elapsed)}
    return out


def make_seeds_runner(strategy: Strategy, evaluate: Any, block: int) -> Callable:
    """``run(keys [N], states [N], limits [N], target, pause) -> (states, metrics [N, block], active [N, block])``,
    jitted: :func:`~evojax_ga.evolve.make_block_runner` vmapped over the seeds (each with its own
    run key, state and generation limit; ``target`` and ``pause`` shared float32 scalars). Cached
    like the single runner, so another call with the same strategy, task and block reuses it."""
    ident = (id(strategy), id(evaluate), block)
    hit = _RUNNERS.get(ident)
    if hit is not None and hit[0] is strategy and hit[1] is evaluate:
        _RUNNERS.move_to_end(ident)
        return hit[2]
    single = make_block_runner(strategy, evaluate, block)
    run = jax.jit(jax.vmap(single, in_axes=(0, 0, 0, None, None)))
    _RUNNERS[ident] = (strategy, evaluate, run)
    while len(_RUNNERS) > _RUNNERS_KEPT:
        _RUNNERS.popitem(last=False)
    return run


def evolve_seeds(seeds: Sequence[int], strategy: Strategy, evaluate: Any,
                 init_population: Callable[[jax.Array], Any], generations: int, block: int = 10,
                 target: float | None = None, progress: bool = True) -> tuple[Any, list[History]]:
    """One GA per seed, vmapped: seed ``s`` equals ``evolve(jax.random.key(s), strategy, evaluate,
    init_population(jax.random.key(s)), generations, block, target)``.

    init_population: ``key -> population [P, ...]`` (traceable; vmapped over the seeds' keys).
    Returns ``(states, histories)``: the final strategy states stacked ``[N, ...]`` (seed ``i``:
    :func:`seed_slice`) and one :class:`~evojax_ga.evolve.History` per seed (``stop_reason``
    ``"target"`` or ``"generations"``; ``wall_s`` is the shared clock of all seeds).
    """
    generations = check_int(generations, "generations", minimum=0)
    block = check_int(block, "block", minimum=1)
    keys = seed_keys(seeds)
    n = int(keys.shape[0])

    def init(key: jax.Array) -> Any:
        k_init, _ = jax.random.split(key)   # as evolve: split(key)[0] inits, split(key)[1] runs the blocks
        return strategy.init(k_init, init_population(key))

    states = jax.jit(jax.vmap(init))(keys)
    k_runs = jax.vmap(lambda k: jax.random.split(k)[1])(keys)
    run = make_seeds_runner(strategy, evaluate, block)
    limits = jnp.full((n,), generations, jnp.int32)
    tgt = jnp.float32(np.inf if target is None else target)
    parts: list[dict[str, list]] = [{} for _ in range(n)]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=generations * n, desc=f"evolve {n} seeds", unit="gen", dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        # a seed goes on while it is below its generations and its best below the target (the block
        # runner's own rule), so no block runs once every seed has stopped
        while ((np.asarray(states.generation) < generations) & ~(np.asarray(states.best_fitness) >= float(tgt))).any():
            states, metrics, active = run(k_runs, states, limits, tgt, jnp.float32(np.inf))
            act = np.asarray(active)
            for i, block_hist in seed_block_histories(metrics, act, np.asarray(states.generation),
                                                      time.perf_counter() - t0).items():
                for k, v in block_hist.items():
                    parts[i].setdefault(k, []).append(v)
            if bar is not None:
                bar.update(int(act.sum()))
    finally:
        if bar is not None:
            bar.close()
    best = np.asarray(states.best_fitness)
    final_gens = np.asarray(states.generation)
    histories = []
    for i in range(n):
        reason = "target" if target is not None and best[i] >= target else "generations"
        histories.append(History({k: np.concatenate(v) for k, v in parts[i].items()}, reason, int(final_gens[i])))
    return states, histories
