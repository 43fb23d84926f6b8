"""Command-line jobs: ``evojax-ga run JOB [options]``.

A job is a module with two functions::

    add_arguments(parser: argparse.ArgumentParser) -> None   # the job's own options
    main(args: argparse.Namespace) -> int                     # run it; return the exit status

and, optionally::

    evaluate_run(run_dir: pathlib.Path, args: argparse.Namespace) -> int
        # ``evojax-ga eval RUN_DIR``: reload a run folder this job wrote (``config.json`` names the job)
    describe(job: str) -> str
        # one-line help (default: the first line of the module docstring)

Register a job with one line in :data:`JOBS` (``"name": "package.module"``). The command line:

* sets the parser's default ``job`` to the job's name *before* calling ``add_arguments``, so a module
  serving several jobs can specialise its defaults with ``parser.get_default("job")``; ``args.job``
  holds the name in ``main``;
* adds ``--seed``, ``--out`` and ``--no-progress`` to every job (``args.seed``, ``args.out``,
  ``args.progress``), so run folders and seeding look the same for all jobs.

Job modules are imported to build ``--help``: import heavy libraries (jax, data) inside ``main``.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Iterable

__all__ = ["JOBS", "load_job", "describe", "option_error"]

#: job name -> module implementing it (add a job with one line)
JOBS: dict[str, str] = {
    "cartpole": "evojax_ga.jobs.control",
    "acrobot": "evojax_ga.jobs.control",
    "mountaincar": "evojax_ga.jobs.control",
    "pendulum": "evojax_ga.jobs.control",
    "control": "evojax_ga.jobs.control",     # any gymnax environment: --env NAME (the four above are its presets)
    "brax": "evojax_ga.jobs.brax",          # needs the brax extra (imported when the job runs)
    "hparam": "evojax_ga.jobs.hparam",
    "digits": "evojax_ga.jobs.classify",
    "mnist": "evojax_ga.jobs.classify",
    "map-elites": "evojax_ga.jobs.map_elites",
    "zdt": "evojax_ga.jobs.multiobjective",  # NSGA-II: --problem zdt1|zdt2|zdt3|dtlz2
    "digits-front": "evojax_ga.jobs.classify_front",  # NSGA-II: accuracy against non-zero weights
}


def load_job(name: str) -> ModuleType:
    """Import the module of job ``name`` and check it has ``add_arguments`` and ``main``."""
    if name not in JOBS:
        raise ValueError(f"job must be one of {sorted(JOBS)}, got {name!r}")
    module = importlib.import_module(JOBS[name])
    for fn in ("add_arguments", "main"):
        if not callable(getattr(module, fn, None)):
            raise TypeError(f"job module {JOBS[name]} (job {name!r}) must define {fn}()")
    return module


def describe(name: str, module: ModuleType) -> str:
    """One-line description of job ``name``."""
    fn = getattr(module, "describe", None)
    if callable(fn):
        return str(fn(name))
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else name


def option_error(exc: BaseException, fields: Iterable[str]) -> str:
    """The message of ``exc`` (a config error naming a field, e.g. ``pop_size must be ...``) with the
    command-line option that sets the field in front: ``argument --pop-size: pop_size must be ...``."""
    text = str(exc)
    m = re.match(r"([a-z_]+)\b", text)
    if m and m.group(1) in set(fields):
        return f"argument --{m.group(1).replace('_', '-')}: {text}"
    return text
