"""Run many generations: ``lax.scan`` blocks on the device, metrics to the host between blocks.

The whole block (ask, evaluate, tell, metrics) is one jitted program compiled once: the block length
is fixed and generations past the requested count (or after the target is reached) are skipped by a
``lax.cond`` inside the scan, so the last, partial block does not recompile. Generation ``g`` uses
the key ``fold_in(key, g)``, so results do not depend on the block length.

:func:`evolve_blocks` yields ``(state, block_history)`` after every block, so a caller's stopping
rule (a solved check, a time limit, checkpoints) is a plain ``for`` loop; :func:`evolve` runs it to
the end and returns the whole history. Both say why a run ended (``stop_reason``: the generations
ran out, the target was reached, +inf fitness was reached, or the caller stopped) and after how many
generations (``generations_run``).
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from typing import Any, Callable, Generator, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.strategy import GAState, Strategy
from evojax_ga.types import Population, Task, as_task

__all__ = ["evolve", "evolve_blocks", "make_block_runner", "Evolution", "History", "STOP_REASONS"]

#: ``(state, block_history)`` per block
Blocks = Generator[tuple[GAState, dict[str, np.ndarray]], None, None]

#: why a run ended: every requested generation ran; ``best_so_far >= target``; the best fitness is +inf
#: (``allow_posinf=True``: nothing can beat it, so it counts as reaching any target); the caller stopped
#: iterating (``break`` out of :func:`evolve_blocks`, or :func:`evolve`'s callback returned False)
STOP_REASONS = ("generations", "target", "posinf", "stopped", "callback")
#: a pause level: a number, a callable returning one (read before every block), or None (never pause)
Pause = float | Callable[[], float | None] | None


#: the most recent block runners, by (strategy, task, block) identity: a later run of the same strategy
#: and task (another seed, a resumed run) reuses the compiled program, as ``jax.jit`` reuses its own
_RUNNERS: OrderedDict[tuple[int, int, int], tuple[Any, Any, Callable]] = OrderedDict()
_RUNNERS_KEPT = 8
#: progress-bar columns (label, metric) shown when the strategy reports the metric (GA; NSGA-II)
_BAR_COLUMNS = (("best", "best_so_far"), ("mean", "mean"), ("hv", "hypervolume"), ("front", "front_size"))


def make_block_runner(strategy: Strategy, evaluate: Any, block: int) -> Callable:
    """``run(key, state, limit, target, pause) -> (state, metrics [block], active [block])``, jitted.

    Generation ``state.generation`` runs iff it is ``< limit``, ``best_so_far < target`` and no
    earlier generation of this block had a best fitness ``>= pause`` (float32 scalars; ``pause = inf``
    never pauses). Pausing ends the block early without ending the run (e.g. to check a candidate at
    once). The same ``strategy`` and ``evaluate`` objects and ``block`` give the same jitted function
    (one of the last few made), so its compiled program is reused.
    """
    ident = (id(strategy), id(evaluate), block)
    hit = _RUNNERS.get(ident)
    if hit is not None and hit[0] is strategy and hit[1] is evaluate:
        _RUNNERS.move_to_end(ident)
        return hit[2]
    run = _block_runner(strategy, as_task(evaluate), block)
    _RUNNERS[ident] = (strategy, evaluate, run)   # the references keep the ids from being reused
    while len(_RUNNERS) > _RUNNERS_KEPT:
        _RUNNERS.popitem(last=False)
    return run


def _block_runner(strategy: Strategy, evaluate: Task, block: int) -> Callable:

    def run(key, state, limit, target, pause):
        _, m_shape = jax.eval_shape(lambda s: strategy.step(key, s, evaluate), state)

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


class Evolution(Iterator[tuple[GAState, dict[str, np.ndarray]]]):
    """What :func:`evolve_blocks` returns: an iterator of ``(state, block_history)``, one per block.

    stop_reason: one of :data:`STOP_REASONS` once the run has ended (None while it goes on;
    ``"stopped"`` after ``close()`` of an unfinished run); generations_run: generations run so far
    by this call (not counting those of a state it continued from).
    """

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.generations_run = 0
        self._gen: Blocks | None = None

    def __iter__(self) -> "Evolution":
        return self

    def __next__(self) -> tuple[GAState, dict[str, np.ndarray]]:
        assert self._gen is not None
        return next(self._gen)

    def close(self) -> None:
        """End the run (as ``break`` does); ``stop_reason`` becomes ``"stopped"`` if it had not ended."""
        if self._gen is not None:
            self._gen.close()
        if self.stop_reason is None:
            self.stop_reason = "stopped"


class History(dict[str, np.ndarray]):
    """What :func:`evolve` returns beside the state: a dict of ``[G]`` numpy arrays, one entry per
    generation, plus ``stop_reason`` (one of :data:`STOP_REASONS`) and ``generations_run``."""

    def __init__(self, columns: dict[str, np.ndarray], stop_reason: str, generations_run: int):
        super().__init__(columns)
        self.stop_reason = stop_reason
        self.generations_run = generations_run


def _early_stop(state: Any, target: float | None, allow_posinf: bool) -> str | None:
    """``"target"`` or ``"posinf"`` when no later generation can run, else None."""
    if target is None and not allow_posinf:   # nothing to read back: +inf fitness has raised already
        return None
    best = float(state.best_fitness)
    if target is not None and best >= float(target):
        return "target"
    if best == np.inf:
        return "posinf"
    return None


def _pause_level(pause: Pause) -> jax.Array:
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


def evolve_blocks(key: jax.Array, strategy: Strategy, evaluate: Any, population: Population | GAState,
                  generations: int, block: int = 10, target: float | None = None, progress: bool = True,
                  allow_posinf: bool = False, pause: Pause = None) -> Evolution:
    """Evolve for ``generations`` (or until ``best_so_far >= target``), yielding after every block.

    population: an initial population (leaves ``[P, ...]``), a strategy state (``GAState`` or any
    state with ``generation``) to continue from, or None for strategies that build their own
    (:func:`~evojax_ga.seed_encoded.seed_encoded_ga`).
    block: generations per jitted ``lax.scan`` call (metrics reach the host once per block).
    progress: show a tqdm bar with best / mean fitness and evaluations per second.
    allow_posinf: +inf fitness is an error unless allowed (it would win every comparison). When
    allowed, a best fitness of +inf counts as reaching the target (nothing can beat it): the run
    stops after that generation with ``stop_reason == "posinf"``, with a warning if generations
    were left.
    pause: end a block early after a generation whose best fitness reaches this, so that the caller
    sees that generation at once (e.g. to check a candidate on fresh episodes); unlike ``target`` the
    run then goes on, and every generation is the same as without pauses. A float, or a callable read
    before every block; None never pauses.

    Yields ``(state, block_history)``: the state after the block and a dict of ``[n]`` numpy arrays
    for its ``n >= 1`` generations (``generation``, ``best``, ``mean``, ``best_so_far``, ...,
    ``wall_s`` since the start). Stop iterating (``break``) to end the run early. The returned
    :class:`Evolution` records why the run ended (``stop_reason``) and ``generations_run``. Arguments
    are checked when the iterator is created, before any compute.
    """
    generations = check_int(generations, "generations", minimum=0)
    block = check_int(block, "block", minimum=1)
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"target must be a finite number or None, got {target!r}")
    if not callable(pause):
        _pause_level(pause)
    out = Evolution()
    out._gen = _blocks(key, strategy, evaluate, population, generations, block, target, progress, allow_posinf,
                       pause, out)
    return out


def _initial_state(key: jax.Array, strategy: Strategy, population: Any) -> Any:
    """``population`` itself when it is a strategy state (it has ``generation`` and ``best_fitness``),
    else ``strategy.init`` of it with the first half of ``split(key)`` (the second keys the blocks)."""
    if hasattr(population, "generation") and hasattr(population, "best_fitness"):
        return population
    return strategy.init(jax.random.split(key)[0], population)


def _blocks(key: jax.Array, strategy: Strategy, evaluate: Any, population: Any, generations: int, block: int,
            target: float | None, progress: bool, allow_posinf: bool,
            pause: Pause, out: Evolution) -> Blocks:
    k_run = jax.random.split(key)[1]
    state = _initial_state(key, strategy, population)
    run = make_block_runner(strategy, evaluate, block)
    start_gen = int(state.generation)
    limit = jnp.int32(start_gen + generations)
    tgt = jnp.float32(np.inf if target is None else target)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=generations, desc="evolve", unit="gen", dynamic_ncols=True)
    pop_size = int(state.fitness.shape[0])
    t0 = time.perf_counter()
    done = 0
    reason = None if generations > 0 else "generations"
    try:
        while done < generations:
            state, metrics, active = run(k_run, state, limit, tgt, _pause_level(pause))
            active = np.asarray(active)
            n = int(active.sum())
            if n == 0:   # the state continued from had already reached the target or +inf
                reason = _early_stop(state, target, True) or "generations"
                break
            metrics = {k: np.asarray(v)[active] for k, v in metrics.items()}
            gens = np.arange(start_gen + done + 1, start_gen + done + n + 1)
            elapsed = time.perf_counter() - t0
            done += n
            out.generations_run = done
            if not allow_posinf and int(np.sum(metrics.get("posinf", 0))) > 0:
                raise ValueError("the task returned +inf fitness; pass allow_posinf=True if that is intended "
                                 "(+inf wins every comparison)")
            if bar is not None:
                bar.update(n)
                shown = {name: f"{float(metrics[k][-1]):.4g}" for name, k in _BAR_COLUMNS if k in metrics}
                bar.set_postfix(**shown, evals_per_s=f"{pop_size * done / max(elapsed, 1e-9):.3g}")
            yield state, {"generation": gens, **metrics, "wall_s": np.full(n, elapsed)}
            reason = _early_stop(state, target, allow_posinf)   # a pause only ends the block
            if reason is not None:
                break
        reason = reason or "generations"
        out.stop_reason = reason
        if reason == "posinf" and done < generations:
            warnings.warn(f"evolve stopped after {done} of {generations} generations: the best fitness is +inf "
                          f"(allow_posinf=True), which counts as reaching the target", stacklevel=3)
    finally:
        if out.stop_reason is None:
            out.stop_reason = "stopped"
        if bar is not None:
            if out.stop_reason in ("target", "posinf"):
                bar.set_description(f"evolve (stopped: {out.stop_reason})")
            bar.close()


def evolve(key: jax.Array, strategy: Strategy, evaluate: Any, population: Population | GAState,
           generations: int, block: int = 10, target: float | None = None, progress: bool = True,
           callback: Callable[[GAState, dict], Any] | None = None, allow_posinf: bool = False,
           pause: Pause = None) -> tuple[GAState, History]:
    """Evolve for ``generations`` (or until ``best_so_far >= target``): :func:`evolve_blocks` run to
    the end.

    callback: ``callback(state, block_history)`` after every block (logging, checkpoints); returning
    ``False`` stops the run. The other arguments are :func:`evolve_blocks`'.
    Returns the final state and the :class:`History`: a dict of ``[G]`` numpy arrays (``generation``,
    ``best``, ``mean``, ``std``, ``worst``, ``best_so_far``, ``diversity``, ``nonfinite``, ``wall_s``...)
    whose ``stop_reason`` says why the run ended (:data:`STOP_REASONS`) and ``generations_run`` after
    how many generations.
    """
    blocks = evolve_blocks(key, strategy, evaluate, population, generations, block=block, target=target,
                           progress=progress, allow_posinf=allow_posinf, pause=pause)
    state = None
    history: dict[str, list] = {}
    try:
        for state, block_hist in blocks:
            for k, v in block_hist.items():
                history.setdefault(k, []).append(v)
            if callback is not None and callback(state, block_hist) is False:
                blocks.stop_reason = "callback"
                break
    finally:
        blocks.close()
    if state is None:   # no generation ran
        state = _initial_state(key, strategy, population)
    return state, History({k: np.concatenate(v) for k, v in history.items()}, str(blocks.stop_reason),
                          blocks.generations_run)
