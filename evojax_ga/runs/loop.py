"""The one run / resume skeleton over a run folder, shared by the experiment families.

A family's ``make_run(config)`` returns a :class:`Run`: pure functions of the run's key (purejaxrl's
``make_train(config) -> train(key)`` shape, with the evolution exposed block by block). ``run(key)``
runs it in memory; :func:`start` and :func:`resume` run it over a run folder
(:mod:`evojax_ga.run_folder`):

1. ``start``: :func:`claim` the folder (create it and hold its lock, :mod:`evojax_ga.folder_lock`,
   for the whole run), write ``config.json``; ``resume``: lock the folder, remove stale temporary
   files, rebuild the run from ``config.json``, restore the newest verified checkpoint and cut
   ``metrics.jsonl`` back to it;
2. :func:`execute`: a plain loop over ``run.blocks``: every block's metrics appended to
   ``metrics.jsonl``, then a checkpoint whenever the generation count passes a multiple of
   ``every`` (:func:`evojax_ga.checkpoint.saver`, the one cadence), a final checkpoint, and
   ``run.finish`` (final evaluation, parameters, plots, ``summary.json``).

A run killed at any point and resumed ends with the same folder as an uninterrupted run (timings
aside). SIGINT / SIGTERM stop it at the end of a block with a checkpoint
(:mod:`evojax_ga.runs.interrupts`); a failed write (disk full) raises :class:`RunFolderError`.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import closing, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

import numpy as np

from evojax_ga._checks import check_seed
from evojax_ga.types import PRNGKey

__all__ = ["Run", "Ending", "job_config", "config_from_record", "start", "claim", "write_config", "resume", "execute",
           "recorder", "restore", "checkpoint_interval", "remaining_generations", "plain_blocks", "RunFolderError",
           "DEFAULT_CHECKPOINT_BLOCKS", "CHECKPOINTS_KEPT"]

#: default checkpoint interval, in blocks of generations
DEFAULT_CHECKPOINT_BLOCKS = 5
#: checkpoints kept in a run folder (the newest)
CHECKPOINTS_KEPT = 2

#: ``blocks(key, state, info, progress)``: the evolution from ``state``, one ``(state, block_history)``
#: per block; fills ``info`` (the counters a checkpoint saves) as it goes
Blocks = Callable[[PRNGKey, Any, dict, bool], Iterator[tuple[Any, dict]]]


class Ending(NamedTuple):
    """What ``Run.finish`` gets when the evolution of a run folder is over."""
    run_dir: Path
    key: PRNGKey                   # the run key
    state: Any                     # the final strategy state
    info: dict                     # the counters ``blocks`` filled (restored from the checkpoint on resume)
    history: dict[str, np.ndarray]   # the whole run's metrics.jsonl, the part before a resume included
    resumed_from: int | None       # the generation a resume started from; None for an uninterrupted run
    t_start: float                 # time.perf_counter() when execute started
    progress: bool


#: ``finish(ending) -> (summary, message)``: the final outputs (evaluation, parameters, plots); the
#: summary is written to ``summary.json``, the message (if any) printed
Finish = Callable[[Ending], tuple[dict, str]]


class Run(NamedTuple):
    """A configured experiment: what a family's ``make_run(config)`` returns.

    ``run(key)`` evolves in memory from the run key ``key`` and returns ``(state, history, info)``;
    :func:`start` / :func:`resume` drive the same functions over a run folder.
    """
    config: Any                                   # the family's frozen config dataclass
    record: Mapping[str, Any]                     # resolved configuration, config.json's "config"
    model_config: Mapping[str, Any]               # model.json: how to rebuild the model
    block: int                                    # generations per block (checkpoint cadence unit)
    init: Callable[[PRNGKey], Any]                # run key -> initial strategy state
    blocks: Blocks
    checkpoint_info: Callable[[PRNGKey, dict], dict]   # (run key, info) -> extra checkpoint metadata
    finish: Finish

    def __call__(self, key: PRNGKey, progress: bool = False, state: Any = None,
                 info: dict | None = None) -> tuple[Any, dict[str, np.ndarray], dict]:
        """Evolve from ``state`` (default: ``init(key)``); ``(final state, history, info)``."""
        import jax
        start = jax.jit(self.init)(key) if state is None else state
        info = {} if info is None else info
        parts: dict[str, list] = {}
        state = start
        for state, block_history in self.blocks(key, start, info, progress):  # noqa: B007 - the last one is kept
            for k, v in block_history.items():
                parts.setdefault(k, []).append(np.asarray(v))
        return state, {k: np.concatenate(v) for k, v in parts.items()}, info


def job_config(cls: Callable[..., Any], defaults: Mapping[str, Mapping[str, Any]], job: str,
               overrides: Mapping[str, Any], none_markers: Mapping[str, Any]) -> Any:
    """``cls(**values)``: job ``job``'s defaults updated with the ``overrides`` that are not None; a
    field equal to its marker in ``none_markers`` (e.g. ``chunk_size="all"``) becomes None."""
    if job not in defaults:
        raise ValueError(f"job must be one of {sorted(defaults)}, got {job!r}")
    values = {**defaults[job], **{k: v for k, v in overrides.items() if v is not None}}
    for name, marker in none_markers.items():
        if values.get(name) == marker:
            values[name] = None
    return cls(**values)


def config_from_record(cls: Callable[..., Any], record: Mapping[str, Any], legacy: Mapping[str, str]) -> Any:
    """``cls`` rebuilt from a run folder's stored config (keys renamed since by ``legacy``: old -> new;
    ``hidden`` back to a tuple)."""
    values = {legacy.get(k, k): v for k, v in record.items()}
    values["hidden"] = tuple(values["hidden"])
    return cls(**values)


def remaining_generations(state: Any, generations: int) -> int:
    """Generations left from ``state`` (its ``generation``) to ``generations``; ValueError when the state
    to continue from is already past them."""
    start = int(state.generation)
    if start > generations:
        raise ValueError(f"the state to continue from is at generation {start}, past generations={generations}")
    return generations - start


def plain_blocks(key: PRNGKey, strategy: Any, task: Any, state: Any, generations: int, block: int, info: dict,
                 progress: bool, target: float | None = None) -> Iterator[tuple[Any, dict]]:
    """``Run.blocks`` of a family with no work between blocks: :func:`evojax_ga.evolve.evolve_blocks`
    from ``state`` (keyed by ``key``) up to ``generations``; then ``info`` gets ``wall_s``,
    ``generations`` and ``stop_reason``."""
    import evojax_ga as ega
    left = remaining_generations(state, generations)
    t0 = time.perf_counter()
    evolution = ega.evolve_blocks(key, strategy, task, state, left, block=block, target=target, progress=progress)
    with closing(evolution):
        for state, block_history in evolution:
            yield state, block_history
    info.update(wall_s=time.perf_counter() - t0, generations=int(state.generation), stop_reason=evolution.stop_reason)


def checkpoint_interval(value: Any, block: int) -> int:
    """The checkpoint interval in generations: ``value`` (``--checkpoint-every``, or a run's recorded
    argument; 0 = none), or :data:`DEFAULT_CHECKPOINT_BLOCKS` blocks when None."""
    return _check_every(DEFAULT_CHECKPOINT_BLOCKS * block if value is None else value)


def _check_every(every: Any) -> int:
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"checkpoint_every must be an int >= 0 (0 = no checkpoints), got {every!r}")
    return every


def recorder(run_dir: str | os.PathLike, every: int, metadata: Any = None, keep: int | None = CHECKPOINTS_KEPT,
             wall_offset: float = 0.0) -> Callable[[Any, Mapping[str, Any]], None]:
    """``record(state, block_history)``: append the block to ``metrics.jsonl``, then checkpoint the
    state into ``RUN_DIR/checkpoints`` whenever the generation count passes a multiple of ``every``
    (0 = never). ``metadata`` (a dict, or a callable returning one) is saved with each checkpoint.
    Metrics are written first, so they always reach the newest checkpoint. ``wall_offset`` is added
    to ``wall_s`` (a resumed run continues the clock of the part before)."""
    from evojax_ga import checkpoint, distributed
    from evojax_ga import run_folder as rf
    save = checkpoint.saver(Path(run_dir) / rf.CHECKPOINT_DIR, _check_every(every), metadata, keep=keep,
                            format=checkpoint_format())
    writer = distributed.is_writer()

    def record(state: Any, block_history: Mapping[str, Any]) -> None:
        if wall_offset and "wall_s" in block_history:
            block_history = {**block_history, "wall_s": np.asarray(block_history["wall_s"]) + wall_offset}
        if writer:
            rf.append_metrics(run_dir, block_history)
        save(state, dict(block_history))   # several processes: each writes its own shards

    return record


def restore(run_dir: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """``(state, metadata)`` of the newest verified checkpoint in ``run_dir``, with ``metrics.jsonl``
    cut back to that checkpoint's generation (the lines after it are recomputed on resume)."""
    from evojax_ga import distributed
    from evojax_ga import run_folder as rf
    state, meta = rf.latest_checkpoint(run_dir, template)
    if distributed.is_writer():
        rf.truncate_metrics(run_dir, int(state.generation))
    return state, meta


def checkpoint_format() -> str:
    """``"orbax"`` (each process writes its own shards) in a run of several processes, else
    ``"msgpack"`` (one file). Either format resumes on any number of processes."""
    from evojax_ga import distributed
    return "orbax" if distributed.process_count() > 1 else "msgpack"


def start(run: Run, job: str, seed: int, out: str | os.PathLike | None, every: int, args: Mapping[str, Any],
          progress: bool = False, argv: Iterable[str] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """A new run folder for ``run``: ``config.json`` (``args``: the arguments as given, recorded for
    ``resume``; ``extra`` added to the configuration), then :func:`execute`, all under the folder's
    lock. Returns the folder."""
    check_seed(seed)   # before the folder exists
    with claim(out, job) as run_dir:
        write_config(run_dir, job, args, {**run.record, **(extra or {})}, argv=argv)
        execute(run, run_dir, job, seed, every, progress=progress)
    return run_dir


@contextmanager
def claim(out: str | os.PathLike | None, job: str) -> Iterator[Path]:
    """A new run folder (``out``, or ``runs/<job>-<UTC time>``), created and locked for the body.

    Under the lock: a folder holding a run is refused (ValueError); one whose run ended before its
    first generation is cleared for reuse. When the body ends (an error, an early return) before any
    generation is recorded, what it wrote is removed again (and the folder too, if this call created
    it), so the same ``out`` can be used at once."""
    from evojax_ga import distributed, folder_lock
    from evojax_ga import run_folder as rf
    if not distributed.is_writer():   # another process of the run: process 0 claims the folder
        distributed.barrier("claim")
        yield Path(str(out))
        return
    existed = out is not None and Path(out).exists()
    run_dir = rf.create_run_dir(out, job)
    with folder_lock.lock_folder(run_dir, name="out"):
        try:
            rf.check_unused(run_dir)
            rf.remove_stale_tmp(run_dir)
            distributed.barrier("claim")
            yield run_dir
        finally:
            if not rf.has_progress(run_dir):   # nothing of a run (a finished run always has summary.json)
                rf.clear_unused(run_dir)
                if not existed:
                    (run_dir / folder_lock.LOCK_FILE).unlink(missing_ok=True)   # still held: no one waits on it
                    with suppress(OSError):
                        run_dir.rmdir()


def write_config(run_dir: Path, job: str, args: Mapping[str, Any], record: Mapping[str, Any],
                 argv: Iterable[str] | None = None) -> Path:
    """Write the claimed folder's ``config.json`` (process 0 of a multi-process run)."""
    from evojax_ga import distributed
    from evojax_ga import run_folder as rf
    if not distributed.is_writer():
        return Path(run_dir) / rf.CONFIG_FILE
    return rf.write_config(run_dir, job, args, record, argv=argv)


def resume(run_dir: str | os.PathLike, make: Callable[[Mapping[str, Any]], Run],
           progress: bool = False, say: Callable[[str], Any] = print) -> Path:
    """Continue ``run_dir`` from its newest verified checkpoint: ``make(config_json)`` rebuilds the
    run from the folder's ``config.json``. Holds the folder's lock throughout (a folder another
    process writes is refused) and first removes the temporary files a killed writer left. Returns
    the folder."""
    import jax

    from evojax_ga import distributed, folder_lock
    from evojax_ga import run_folder as rf
    run_dir = Path(run_dir)
    writer = distributed.is_writer()
    with folder_lock.lock_folder(run_dir) if writer else nullcontext():   # process 0 holds the lock
        if (run_dir / rf.SUMMARY_FILE).exists():
            say(f"{run_dir} is complete ({rf.SUMMARY_FILE} exists); nothing to resume")
            return run_dir
        if writer:
            rf.remove_stale_tmp(run_dir)
        distributed.barrier("resume")
        config = rf.read_json(run_dir / rf.CONFIG_FILE)
        run = make(config)
        args = config.get("args", {})
        every = checkpoint_interval(args.get("checkpoint_every"), run.block)
        # any state of the same strategy and shapes, placed as this run's processes and devices hold it
        template = distributed.place_state(jax.jit(run.init)(jax.random.key(0)))
        state, meta = restore(run_dir, template)
        state = distributed.place_state(state)   # a one-file checkpoint loads whole: split it as the template
        if writer:
            say(f"resuming {run_dir} from generation {int(state.generation)} of {run.config.generations}")
        execute(run, run_dir, config["job"], int(args.get("seed", 0)), every, progress=progress,
                resume_from=(state, meta))
    return run_dir


def execute(run: Run, run_dir: Path, job: str, seed: int, every: int, progress: bool = False,
            resume_from: tuple[Any, dict] | None = None) -> dict:
    """Evolve (from the start, or from ``resume_from = (state, checkpoint metadata)``) with metrics and
    checkpoints in ``run_dir``; then the final checkpoint and ``run.finish``. Returns the summary.

    SIGINT / SIGTERM stop the run at the end of the current block with a checkpoint
    (:class:`~evojax_ga.runs.interrupts.RunInterrupted`); a write that fails (disk full) raises
    :class:`RunFolderError` naming the folder, its last checkpoint left valid.
    ``seed``: an int in [0, 2**32 - 1] (:func:`evojax_ga._checks.check_seed`)."""
    from evojax_ga.runs.interrupts import stop_signals
    with stop_signals(run_dir) as stop:
        try:
            return _execute(run, run_dir, job, seed, every, progress, resume_from, stop)
        except OSError as exc:
            raise RunFolderError(_write_failed(run_dir, exc)) from exc


class RunFolderError(ValueError):
    """Writing the run folder failed (disk full, permissions); the message says how to continue."""


def _write_failed(run_dir: Path, exc: OSError) -> str:
    from evojax_ga import checkpoint
    from evojax_ga import run_folder as rf
    what = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    found = checkpoint.list_checkpoints(Path(run_dir) / rf.CHECKPOINT_DIR)
    then = (f"its newest checkpoint ({found[-1].name}) is intact: make room, then 'evojax-ga resume {run_dir}'"
            if found else "it has no checkpoint to continue from: make room and start it again")
    return f"writing run folder {str(run_dir)!r} failed: {what}; {then}"


def _execute(run: Run, run_dir: Path, job: str, seed: int, every: int, progress: bool,
             resume_from: tuple[Any, dict] | None, stop: Any) -> dict:
    import jax

    from evojax_ga import checkpoint, distributed
    from evojax_ga import run_folder as rf
    from evojax_ga.runs.interrupts import RunInterrupted
    seed = check_seed(seed)
    t_start = time.perf_counter()
    key = jax.random.key(seed)
    info: dict[str, Any] = {}
    resumed_from = None
    writer = distributed.is_writer()
    progress = progress and writer
    fmt = checkpoint_format()
    multi = distributed.process_count() > 1
    if resume_from is None:
        # one small program instead of an eager op per field; split over the devices of every process
        state = distributed.place_state(jax.jit(run.init)(key))
    else:
        state, meta = resume_from
        resumed_from = int(state.generation)
        info.update({k: v for k, v in meta.items() if k not in ("job", "seed", "generation", "final")})
    ckpt_dir = Path(run_dir) / rf.CHECKPOINT_DIR
    stop.generation, stop.resumable = resumed_from, bool(checkpoint.list_checkpoints(ckpt_dir))

    def metadata() -> dict:
        return {"job": job, "seed": seed, **run.checkpoint_info(key, info)}

    def interrupt(final: bool) -> RunInterrupted:
        gen = int(state.generation)
        if every and not checkpoint.checkpoint_path(ckpt_dir, gen, format=fmt).exists():
            checkpoint.save(ckpt_dir, state, {**metadata(), **({"final": True} if final else {})},
                            keep=CHECKPOINTS_KEPT, format=fmt)
        stop.generation, stop.resumable = gen, bool(checkpoint.list_checkpoints(ckpt_dir))
        return RunInterrupted(stop.line(), stop.signum, gen)

    if resume_from is None or not resume_from[1].get("final"):   # final: killed after evolving
        record = recorder(run_dir, every, metadata, wall_offset=rf.last_wall_s(run_dir) if resume_from else 0.0)
        blocks = run.blocks(key, state, info, progress)
        try:
            for state, block_history in blocks:
                record(state, block_history)
                stop.generation = int(state.generation)
                stop.resumable = stop.resumable or bool(checkpoint.list_checkpoints(ckpt_dir))
                if multi:   # a signal to any process stops every process at this block (the checkpoint is collective)
                    stop.signum = distributed.agree_max(stop.signum or 0) or None
                if stop.signum is not None:
                    raise interrupt(final=False)
        finally:
            getattr(blocks, "close", lambda: None)()   # a generator stopped early ends its progress bar
        if every:
            checkpoint.save(ckpt_dir, state, {**metadata(), "final": True}, keep=CHECKPOINTS_KEPT, format=fmt)
    if stop.signum is not None:
        raise interrupt(final=True)
    distributed.barrier("metrics")   # process 0 wrote them
    history = rf.read_metrics(run_dir)   # the whole run, the part before a resume included
    if not writer:   # the final evaluation is computed by every process; its files are process 0's
        with tempfile.TemporaryDirectory(prefix="evojax-ga-process-") as scratch:
            summary, _ = run.finish(Ending(Path(scratch), key, state, info, history, resumed_from, t_start, False))
        distributed.barrier("finish")
        return {"job": job, **summary}
    summary, message = run.finish(Ending(Path(run_dir), key, state, info, history, resumed_from, t_start, progress))
    summary = {"job": job, **summary}
    rf.write_json(Path(run_dir) / rf.SUMMARY_FILE, summary)
    distributed.barrier("finish")
    if message:
        print(message, flush=True)
    print(f"run folder: {run_dir}", flush=True)
    return summary
