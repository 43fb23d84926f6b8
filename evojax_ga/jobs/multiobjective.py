"""Multi-objective job: NSGA-II or NSGA-III (``--algorithm nsga3``) on ZDT1-3 or DTLZ2
(``evojax-ga run zdt --problem zdt1|zdt2|zdt3|dtlz2``).

The options map onto :class:`evojax_ga.runs.multiobjective.MOConfig`; the run is
:func:`evojax_ga.runs.multiobjective.make_run` driven over a run folder by :mod:`evojax_ga.runs.loop`
(progress bar, ``metrics.jsonl`` with the hypervolume per generation, checkpoints, ``evojax-ga resume``,
``summary.json``, ``front.json``, ``front.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evojax_ga.jobs import checkpointing

__all__ = ["add_arguments", "main", "resume_run", "describe"]

#: option dest -> MOConfig field
_FIELDS = ("problem", "pop_size", "generations", "dim", "ref", "crossover", "mutation_rate", "sigma", "chunk_size",
           "block", "algorithm", "divisions")


def describe(job: str) -> str:
    return ("NSGA-II or NSGA-III on a multi-objective test problem (--problem zdt1|zdt2|zdt3|dtlz2), "
            "hypervolume per generation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the multi-objective job."""
    from evojax_ga.runs.multiobjective import ALGORITHMS, CROSSOVERS, PROBLEMS, MOConfig

    d = MOConfig()
    g = parser.add_argument_group("problem")
    g.add_argument("--problem", default=None, help=f"one of {', '.join(PROBLEMS)} (default {d.problem})")
    g.add_argument("--dim", type=int, default=None, help="genes (default: 30 for ZDT, 12 for DTLZ2)")
    g.add_argument("--ref", default=None, metavar="R1,R2[,R3]",
                   help="hypervolume reference point in fitness space (maximised, -f), one value per objective "
                        "(default: -1.1 each)")
    e = parser.add_argument_group("evolution")
    e.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    e.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"number of generations (default {d.generations})")
    e.add_argument("--algorithm", default=None, help=f"one of {', '.join(ALGORITHMS)} (default {d.algorithm})")
    e.add_argument("--divisions", type=int, default=None,
                   help="nsga3: divisions of the reference lattice (default 99 for 2 objectives, 12 for 3)")
    e.add_argument("--crossover", default=None, help=f"one of {', '.join(CROSSOVERS)} (default {d.crossover})")
    e.add_argument("--mutation-rate", type=float, default=None, help="fraction of genes mutated (default 1 / dim)")
    e.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    e.add_argument("--chunk-size", type=int, default=None, metavar="C",
                   help="rows compared a block at a time when ranking fronts (default 256; same ranks)")
    e.add_argument("--block", type=int, default=None,
                   help=f"generations per compiled block; progress between blocks (default {d.block})")
    checkpointing.add_arguments(parser)


def _ref(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"ref must be comma-separated numbers, one per objective, got {text!r}") from None


def _config(args: argparse.Namespace) -> Any:
    from evojax_ga.jobs.run_job import config_values
    from evojax_ga.runs.multiobjective import MOConfig
    values = config_values(args, _FIELDS)
    if "ref" in values:
        values["ref"] = _ref(values["ref"])
    return MOConfig(**values)


def main(args: argparse.Namespace) -> int:
    """Run the job from parsed arguments; write the run folder; print the final hypervolume."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import multiobjective as mo

    return run_job.start(args, _FIELDS, _config, mo.make_run)


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` and continue it from its newest checkpoint."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import multiobjective as mo

    return run_job.resume(run_dir, args, "multiobjective", mo.config_from_record, mo.make_run)
