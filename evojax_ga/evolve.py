"""Run many generations: ``lax.scan`` blocks on the device, metrics to the host between blocks.

The whole block (ask, evaluate, tell, metrics) is one jitted program compiled once: the block length
is fixed and generations past the requested count (or after the target is reached) are skipped by a
``lax.cond`` inside the scan, so the last, partial block does not recompile. Generation ``g`` uses
the key ``fold_in(key, g)``, so results do not depend on the block length.

:func:`evolve_blocks` yields ``(state, block_history)`` after every block, so a caller's stopping
rule (a solved check, checkpoints) is a plain ``for`` loop; :func:`evolve` runs it to the end and
returns the whole history. Both say why a run ended (``stop_reason``: the generations ran out, the
target was reached, +inf fitness was reached, the time limit was reached, or the caller stopped) and
after how many generations (``generations_run``).

Compilation happens before the first generation, in a call of the block program with every
generation skipped, and is timed apart (``compile_s``). A ``time_limit`` counts seconds of evolution
after it: the first block runs one generation to measure the seconds per generation, and every
later block runs only the generations that fit in the time left (the ``limit`` argument of the
block program is traced, so this does not recompile); the run stops when not one more fits.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from typing import Any, Callable, Generator, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int, check_positive
from evojax_ga.distributed import agree_max, replicate_rest
from evojax_ga.strategy import GAState, Strategy
from evojax_ga.types import Population, Task, as_task

__all__ = ["evolve", "evolve_blocks", "make_block_runner", "Evolution", "History", "STOP_REASONS"]

#: ``(state, block_history)`` per block
Blocks = Generator[tuple[GAState, dict[str, np.ndarray]], None, None]

#: why a run ended: every requested generation ran; ``best_so_far >= target``; the best fitness is +inf
#: (``allow_posinf=True``: nothing can beat it, so it counts as reaching any target); the caller stopped
#: iterating (``break`` out of :func:`evolve_blocks`, or :func:`evolve`'s callback returned False); the
#: time limit left no time for one more generation
STOP_REASONS = ("generations", "target", "posinf", "stopped", "callback", "time_limit")
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
    by this call (not counting those of a state it continued from); compile_s: seconds spent
    compiling the block program before the first generation (about 0 when it was compiled before).
    """

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.generations_run = 0
        self.compile_s = 0.0
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
    generation, plus ``stop_reason`` (one of :data:`STOP_REASONS`), ``generations_run`` and
    ``compile_s`` (seconds compiling, apart from ``wall_s``)."""

    def __init__(self, columns: dict[str, np.ndarray], stop_reason: str, generations_run: int,
                 compile_s: float = 0.0):
        super().__init__(columns)
        self.stop_reason = stop_reason
        self.generations_run = generations_run
        self.compile_s = compile_s


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
                  allow_posinf: bool = False, pause: Pause = None, time_limit: float | None = None) -> Evolution:
    """Evolve for ``generations`` (or until ``best_so_far >= target``), yielding after every block.

    population: an initial population (leaves ``[P, ...]``), a strategy state (``GAState`` or any
    state with ``generation``) to continue from, or None for strategies that build their own
    (:func:`~evojax_ga.seed_encoded.seed_encoded_ga`).
    block: generations per jitted ``lax.scan`` call (metrics reach the host once per block).
    progress: show a tqdm bar with best / mean fitness and evaluations per second (compilation apart);
    with a ``time_limit``, the time left instead of an estimate over ``generations``.
    allow_posinf: +inf fitness is an error unless allowed (it would win every comparison). When
    allowed, a best fitness of +inf counts as reaching the target (nothing can beat it): the run
    stops after that generation with ``stop_reason == "posinf"``, with a warning if generations
    were left.
    pause: end a block early after a generation whose best fitness reaches this, so that the caller
    sees that generation at once (e.g. to check a candidate on fresh episodes); unlike ``target`` the
    run then goes on, and every generation is the same as without pauses. A float, or a callable read
    before every block; None never pauses.
    time_limit: seconds of evolution (compilation apart, the caller's work between blocks included),
    or None. At least one generation runs; the first block runs one generation to measure the
    seconds per generation, later blocks only the generations that fit in the time left (measured
    anew after each block), and the run ends with ``stop_reason == "time_limit"`` when not one more
    fits. Every generation is the same as without a limit.

    Yields ``(state, block_history)``: the state after the block and a dict of ``[n]`` numpy arrays
    for its ``n >= 1`` generations (``generation``, ``best``, ``mean``, ``best_so_far``, ...,
    ``wall_s`` since the start, compilation apart). Stop iterating (``break``) to end the run early.
    The returned :class:`Evolution` records why the run ended (``stop_reason``), ``generations_run``
    and ``compile_s``. Arguments are checked when the iterator is created, before any compute.
    """
    generations = check_int(generations, "generations", minimum=0)
    block = check_int(block, "block", minimum=1)
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"target must be a finite number or None, got {target!r}")
    if not callable(pause):
        _pause_level(pause)
    if time_limit is not None:
        time_limit = check_positive(time_limit, "time_limit")
    out = Evolution()
    out._gen = _blocks(key, strategy, evaluate, population, generations, block, target, progress, allow_posinf,
                       pause, time_limit, out)
    return out


def _initial_state(key: jax.Array, strategy: Strategy, population: Any) -> Any:
    """``population`` itself when it is a strategy state (it has ``generation`` and ``best_fitness``),
    else ``strategy.init`` of it with the first half of ``split(key)`` (the second keys the blocks)."""
    if hasattr(population, "generation") and hasattr(population, "best_fitness"):
        return population
    return strategy.init(jax.random.split(key)[0], population)


def _compile(run: Callable, k_run: jax.Array, state: Any, generation: int, tgt: jax.Array) -> float:
    """Seconds to compile ``run`` (traced, compiled and called once with every generation skipped:
    ``limit`` is the state's own ``generation``, so the output equals the input and is dropped)."""
    t = time.perf_counter()
    jax.block_until_ready(run(k_run, state, jnp.int32(generation), tgt, jnp.float32(np.inf)))
    return time.perf_counter() - t


def _fits(time_left: float, per_generation: float | None) -> int:
    """Generations that fit in ``time_left`` seconds: 1 before any was measured (at least one runs)."""
    if per_generation is None:
        return 1
    return int(max(0.0, time_left) // max(per_generation, 1e-9))


def _open_bar(generations: int, time_limit: float | None) -> Any:
    from tqdm.auto import tqdm
    if time_limit is None:
        return tqdm(total=generations, desc="evolve (compiling)", unit="gen", dynamic_ncols=True)
    return tqdm(total=time_limit, desc="evolve (compiling)", dynamic_ncols=True,
                bar_format="{desc}{percentage:3.0f}% of the time limit|{bar}| {elapsed} elapsed{postfix}")


def _clock(seconds: float) -> str:
    from tqdm import tqdm
    return f"{seconds:.1f}s" if seconds < 60 else str(tqdm.format_interval(seconds))


def _show(bar: Any, n: int, done: int, elapsed: float, time_limit: float | None, columns: dict[str, str]) -> None:
    """Advance the bar by ``n`` generations (by the seconds elapsed with a time limit, the time left shown)."""
    if time_limit is None:
        bar.set_postfix(columns, refresh=False)
        bar.update(n)
        return
    bar.set_postfix({"gen": str(done), "left": _clock(max(0.0, time_limit - elapsed)), **columns}, refresh=False)
    bar.update(min(elapsed, time_limit) - bar.n)


def _blocks(key: jax.Array, strategy: Strategy, evaluate: Any, population: Any, generations: int, block: int,
            target: float | None, progress: bool, allow_posinf: bool,
            pause: Pause, time_limit: float | None, out: Evolution) -> Blocks:
    k_run = jax.random.split(key)[1]
    state = _initial_state(key, strategy, population)
    run = make_block_runner(strategy, evaluate, block)
    start_gen = int(state.generation)
    tgt = jnp.float32(np.inf if target is None else target)
    bar = _open_bar(generations, time_limit) if progress else None
    pop_size = int(state.fitness.shape[0])
    done = 0
    per_gen: float | None = None   # seconds per generation of the last block (time limit only)
    reason = None if generations > 0 else "generations"
    try:
        if generations > 0:
            out.compile_s = _compile(run, k_run, state, start_gen, tgt)
        if bar is not None:
            bar.reset()   # its clock starts after compilation
            bar.set_description("evolve")
        t0 = time.perf_counter()
        while done < generations:
            todo = generations - done
            if time_limit is not None:   # (several processes: the one with the least time left decides)
                todo = -agree_max(-min(todo, _fits(time_limit - (time.perf_counter() - t0), per_gen)))
                if todo == 0:
                    reason = "time_limit"
                    break
            t_block = time.perf_counter()
            state, metrics, active = run(k_run, state, jnp.int32(start_gen + done + todo), tgt, _pause_level(pause))
            state = replicate_rest(state)   # several processes: each can read the fitness and the best
            active = np.asarray(active)   # waits for the block
            n = int(active.sum())
            if n == 0:   # the state continued from had already reached the target or +inf
                reason = _early_stop(state, target, True) or "generations"
                break
            metrics = {k: np.asarray(v)[active] for k, v in metrics.items()}
            gens = np.arange(start_gen + done + 1, start_gen + done + n + 1)
            now = time.perf_counter()
            per_gen, elapsed = (now - t_block) / n, now - t0
            done += n
            out.generations_run = done
            if not allow_posinf and int(np.sum(metrics.get("posinf", 0))) > 0:
                raise ValueError("the task returned +inf fitness; pass allow_posinf=True if that is intended "
                                 "(+inf wins every comparison)")
            if bar is not None:
                shown = {name: f"{float(metrics[k][-1]):.4g}" for name, k in _BAR_COLUMNS if k in metrics}
                _show(bar, n, done, elapsed, time_limit,
                      {**shown, "evals_per_s": f"{pop_size * done / max(elapsed, 1e-9):.3g}",
                       "compile_s": f"{out.compile_s:.2g}"})
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
            if out.stop_reason in ("target", "posinf", "time_limit"):
                bar.set_description(f"evolve (stopped: {out.stop_reason})")
            bar.close()


def evolve(key: jax.Array, strategy: Strategy, evaluate: Any, population: Population | GAState,
           generations: int, block: int = 10, target: float | None = None, progress: bool = True,
           callback: Callable[[GAState, dict], Any] | None = None, allow_posinf: bool = False,
           pause: Pause = None, time_limit: float | None = None) -> tuple[GAState, History]:
    """Evolve for ``generations`` (or until ``best_so_far >= target``): :func:`evolve_blocks` run to
    the end.

    callback: ``callback(state, block_history)`` after every block (logging, checkpoints); returning
    ``False`` stops the run. The other arguments are :func:`evolve_blocks`'.
    Returns the final state and the :class:`History`: a dict of ``[G]`` numpy arrays (``generation``,
    ``best``, ``mean``, ``std``, ``worst``, ``best_so_far``, ``diversity``, ``nonfinite``, ``wall_s``...)
    whose ``stop_reason`` says why the run ended (:data:`STOP_REASONS`), ``generations_run`` after
    how many generations and ``compile_s`` how long compiling took.
    """
    blocks = evolve_blocks(key, strategy, evaluate, population, generations, block=block, target=target,
                           progress=progress, allow_posinf=allow_posinf, pause=pause, time_limit=time_limit)
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
                          blocks.generations_run, blocks.compile_s)
