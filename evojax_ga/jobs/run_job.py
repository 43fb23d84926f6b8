"""The ``main`` and ``resume_run`` of a job that is one config dataclass and a ``make_run(config)`` over
the shared run loop (:mod:`evojax_ga.runs.loop`): the ``brax``, ``map-elites``, ``zdt`` and
``digits-front`` jobs.

``start``: the options become the config (a bad one is one line naming its option, exit 2, before the
run folder exists); the folder is claimed, ``config.json`` written, the run executed. ``resume``: the
run rebuilt from the folder's ``config.json`` section and continued from its newest checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["fail", "config_values", "start", "resume"]


def fail(job: str, exc: BaseException, fields: Iterable[str]) -> int:
    """Print ``exc`` as the job's one-line error (with the option that sets the field it names); 2."""
    from evojax_ga.jobs import option_error
    print(f"evojax-ga run {job}: error: {option_error(exc, (*fields, 'checkpoint_every'))}", file=sys.stderr)
    return 2


def config_values(args: argparse.Namespace, fields: Iterable[str]) -> dict[str, Any]:
    """The options of ``fields`` that were given (not None), by name."""
    return {n: getattr(args, n) for n in fields if getattr(args, n, None) is not None}


def start(args: argparse.Namespace, fields: Iterable[str], make_config: Callable[[argparse.Namespace], Any],
          make_run: Callable[[Any], Any], check: Callable[[Any], Any] | None = None,
          errors: tuple[type[BaseException], ...] = (TypeError, ValueError)) -> int:
    """Run ``make_run(make_config(args))`` over a new run folder (``args.out``); ``check(config)`` runs
    first (e.g. building the task, so that an unknown environment fails before the folder exists).
    Returns the exit status."""
    from evojax_ga.runs import loop

    fields = tuple(fields)
    job = args.job
    try:
        cfg = make_config(args)
        if check is not None:
            check(cfg)
        every = loop.checkpoint_interval(getattr(args, "checkpoint_every", None), cfg.block)
    except errors as exc:
        return fail(job, exc, fields)
    recorded = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "argv"}
    with loop.claim(args.out, job) as run_dir:
        try:
            run = make_run(cfg)
        except (TypeError, ValueError) as exc:
            return fail(job, exc, fields)
        loop.write_config(run_dir, job, recorded, {**run.record, "compile_cache": getattr(args, "compile_cache", None)},
                          argv=getattr(args, "argv", None))
        loop.execute(run, run_dir, job, args.seed, every, progress=args.progress)
    return 0


def resume(run_dir: Path, args: argparse.Namespace, section: str, config_from_record: Callable[[Any], Any],
           make_run: Callable[[Any], Any]) -> int:
    """``evojax-ga resume RUN_DIR``: ``make_run(config_from_record(config.json["config"][section]))``
    continued from the folder's newest checkpoint."""
    from evojax_ga.runs import loop

    loop.resume(run_dir, lambda c: make_run(config_from_record(c["config"][section])),
                progress=getattr(args, "progress", True), say=lambda msg: print(msg, flush=True))
    return 0
