"""MAP-Elites job: fill a grid archive on a test function with descriptors (Rastrigin by default) or, with
``--task control --env MountainCar-v0``, on a gymnax control task with behaviour descriptors.

``evojax-ga run map-elites``: the options map onto :class:`evojax_ga.runs.map_elites_run.MapElitesConfig`;
the run is driven over a run folder by :mod:`evojax_ga.runs.loop` (progress, metrics with coverage and
QD-score, checkpoints holding the archive, ``archive.png``, ``evojax-ga resume``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evojax_ga.jobs import checkpointing

__all__ = ["add_arguments", "main", "resume_run", "describe"]

_FIELDS = ("function", "dim", "bins", "batch_size", "generations", "sigma_iso", "sigma_line", "block",
           "task", "env", "descriptor", "episodes", "max_steps")


def describe(job: str) -> str:
    return ("MAP-Elites on a test function (a grid over the first two genes) or a control task (a grid over "
            "behaviour descriptors): coverage, QD-score")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the MAP-Elites job."""
    from evojax_ga.runs.map_elites_run import FUNCTIONS, TASKS, MapElitesConfig
    from evojax_ga.tasks.gymnax_qd import DESCRIPTORS

    d = MapElitesConfig()
    g = parser.add_argument_group("map-elites")
    g.add_argument("--task", choices=TASKS, default=None,
                   help=f"a test function or a gymnax control task with behaviour descriptors (default {d.task})")
    g.add_argument("--env", default=None, help=f"control: gymnax environment (default {d.env})")
    g.add_argument("--descriptor", choices=DESCRIPTORS, default=None,
                   help=f"control: final observation components 0, 1, or final component 0 and max |component 1| "
                        f"(default {d.descriptor})")
    g.add_argument("--episodes", type=int, default=None, help=f"control: episodes per member (default {d.episodes})")
    g.add_argument("--max-steps", type=int, default=None, help="control: steps per episode (default: the env's)")
    g.add_argument("--function", choices=FUNCTIONS, default=None, help=f"test function (default {d.function})")
    g.add_argument("--dim", type=int, default=None, help=f"genes per individual (default {d.dim})")
    g.add_argument("--bins", type=int, default=None, help=f"bins per descriptor: a bins x bins grid (default {d.bins})")
    g.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help=f"children evaluated per generation (default {d.batch_size})")
    g.add_argument("--generations", type=int, default=None, metavar="G", help=f"generations (default {d.generations})")
    g.add_argument("--sigma-iso", type=float, default=None,
                   help=f"iso+line-DD isotropic step (default {d.sigma_iso:g})")
    g.add_argument("--sigma-line", type=float, default=None, help=f"iso+line-DD line step (default {d.sigma_line:g})")
    g.add_argument("--block", type=int, default=None, help=f"generations per compiled block (default {d.block})")
    checkpointing.add_arguments(parser)


def _config(args: argparse.Namespace) -> Any:
    from evojax_ga.jobs.run_job import config_values
    from evojax_ga.runs.map_elites_run import MapElitesConfig
    return MapElitesConfig(**config_values(args, _FIELDS))


def main(args: argparse.Namespace) -> int:
    """Run the MAP-Elites job from parsed arguments; write the run folder."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import map_elites_run

    # building the task first: an unknown env or unbounded descriptors fail before the run folder exists
    return run_job.start(args, _FIELDS, _config, map_elites_run.make_run, check=map_elites_run.build)


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json``, continue from its newest checkpoint."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import map_elites_run

    return run_job.resume(run_dir, args, "map_elites", map_elites_run.config_from_record, map_elites_run.make_run)
