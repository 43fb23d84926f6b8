"""Run many generations: ``lax.scan`` blocks on the device, metrics to the host between blocks.

The whole block (ask, evaluate, tell, metrics) is one jitted program compiled once: the block length
is fixed and generations past the requested count (or after the target is reached) are skipped by a
``lax.cond`` inside the scan, so the last, partial block does not recompile. Generation ``g`` uses
the key ``fold_in(key, g)``, so results do not depend on the block length.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.strategy import GAState, Strategy, as_evaluate

__all__ = ["evolve", "make_block_runner"]

Population = Any


def make_block_runner(strategy: Strategy, evaluate: Any, block: int) -> Callable:
    """``run(key, state, limit, target, pause=None) -> (state, metrics [block], active [block])``, jitted.

    Generation ``state.generation`` runs iff it is ``< limit``, ``best_so_far < target`` and no
    earlier generation of this block had a best fitness ``>= pause`` (a float32 scalar; None: never
    pause). Pausing ends the block early without ending the run (e.g. to check a candidate at once).
    """
    evaluate = as_evaluate(evaluate)

    def run(key, state, limit, target, pause=None):
        _, m_shape = jax.eval_shape(lambda s: strategy.step(key, s, evaluate), state)
        pause = jnp.float32(jnp.inf) if pause is None else pause

        def body(carry, _):
            state, paused = carry
            active = (state.generation < limit) & ~(state.best_fitness >= target) & ~paused
            gkey = jax.random.fold_in(key, state.generation)

            def do(s):
                return strategy.step(gkey, s, evaluate)

            def skip(s):
                return s, jax.tree_util.tree_map(lambda t: jnp.zeros(t.shape, t.dtype), m_shape)

            state, metrics = jax.lax.cond(active, do, skip, state)
            fit = state.fitness
            paused = paused | (active & (jnp.max(jnp.where(jnp.isnan(fit), -jnp.inf, fit)) >= pause))
            return (state, paused), (metrics, active)

        (state, _), (metrics, active) = jax.lax.scan(body, (state, jnp.bool_(False)), None, length=block)
        return state, metrics, active

    return jax.jit(run)


def evolve(key: jax.Array, strategy: Strategy, evaluate: Any, population: Population | GAState,
           generations: int, block: int = 10, target: float | None = None, progress: bool = True,
           callback: Callable[[GAState, dict], Any] | None = None, allow_posinf: bool = False,
           runner: Callable | None = None,
           pause: float | Callable[[], float] | None = None) -> tuple[GAState, dict[str, np.ndarray]]:
    """Evolve for ``generations`` (or until ``best_so_far >= target``).

    population: an initial population (leaves ``[P, ...]``), a strategy state (``GAState`` or any
    state with ``generation``) to continue from, or None for strategies that build their own
    (:func:`~evojax_ga.seed_encoded.seed_encoded_ga`).
    block: generations per jitted ``lax.scan`` call (metrics reach the host once per block).
    progress: show a tqdm bar with best / mean fitness and evaluations per second.
    callback: ``callback(state, block_history)`` after every block (logging, checkpoints); returning
    ``False`` stops the run.
    allow_posinf: +inf fitness is an error unless allowed (it would win every comparison).
    pause: end a block early after a generation whose best fitness reaches this, so that the
    callback sees that generation at once (e.g. to check a candidate on fresh episodes); unlike
    ``target`` the run then goes on. A float, or a callable read before every block (e.g. to pause
    only until a first check has run); None never pauses.
    Returns the final state and the history: a dict of ``[G]`` numpy arrays (``generation``,
    ``best``, ``mean``, ``std``, ``worst``, ``best_so_far``, ``diversity``, ``nonfinite``, ``wall_s``...).
    """
    generations = check_int(generations, "generations", minimum=0)
    block = check_int(block, "block", minimum=1)
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"target must be a finite number or None, got {target!r}")
    k_init, k_run = jax.random.split(key)
    is_state = hasattr(population, "generation") and hasattr(population, "best_fitness")
    state = population if is_state else strategy.init(k_init, population)
    run = runner if runner is not None else make_block_runner(strategy, evaluate, block)
    start_gen = int(state.generation)
    limit = jnp.int32(start_gen + generations)
    tgt = jnp.float32(np.inf if target is None else target)

    def pause_value() -> jax.Array:
        value = pause() if callable(pause) else pause
        if value is None:
            return jnp.float32(np.inf)
        try:
            level = float(value)
        except (TypeError, ValueError):
            level = float("nan")
        if np.isnan(level):
            raise ValueError(f"pause must be a number (or a callable returning one) or None, got {value!r}")
        return jnp.float32(level)
    history: dict[str, list] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=generations, desc="evolve", unit="gen", dynamic_ncols=True)
    pop_size = int(state.fitness.shape[0])
    t0 = time.perf_counter()
    done = 0
    try:
        while done < generations:
            state, metrics, active = run(k_run, state, limit, tgt, pause_value())
            active = np.asarray(active)
            n = int(active.sum())
            metrics = {k: np.asarray(v)[active] for k, v in metrics.items()}
            gens = np.arange(start_gen + done + 1, start_gen + done + n + 1)
            elapsed = time.perf_counter() - t0
            block_hist = {"generation": gens, **metrics, "wall_s": np.full(n, elapsed)}
            for k, v in block_hist.items():
                history.setdefault(k, []).append(v)
            done += n
            if not allow_posinf and n and int(np.sum(metrics.get("posinf", 0))) > 0:
                raise ValueError("the task returned +inf fitness; pass allow_posinf=True if that is intended "
                                 "(+inf wins every comparison)")
            if bar is not None and n:
                bar.update(n)
                bar.set_postfix(best=f"{float(metrics['best_so_far'][-1]):.4g}",
                                mean=f"{float(metrics['mean'][-1]):.4g}",
                                evals_per_s=f"{pop_size * done / max(elapsed, 1e-9):.3g}")
            if callback is not None and n:
                if callback(state, block_hist) is False:
                    break
            if n == 0 or (target is not None and float(state.best_fitness) >= float(target)):
                break  # the limit or the target was reached (a pause only ends the block)
    finally:
        if bar is not None:
            bar.close()
    out = {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in history.items()}
    return state, out
