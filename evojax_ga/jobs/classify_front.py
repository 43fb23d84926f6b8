"""Accuracy-size front job: NSGA-II on digits, objectives (training accuracy, -non-zero parameters)
(``evojax-ga run digits-front``).

The options map onto :class:`evojax_ga.runs.classify_front.FrontConfig`; the run is
:func:`evojax_ga.runs.classify_front.make_run` driven over a run folder by :mod:`evojax_ga.runs.loop`
(``metrics.jsonl`` with the hypervolume per generation, checkpoints, ``evojax-ga resume``,
``summary.json``, ``front.json`` with each front member's training and test accuracy and non-zero
parameters, ``front.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evojax_ga.jobs import checkpointing
from evojax_ga.jobs.options import hidden_widths

__all__ = ["add_arguments", "main", "resume_run", "describe"]

#: option dest -> FrontConfig field
_FIELDS = ("hidden", "pop_size", "generations", "batch_size", "fitness", "crossover", "mutation_rate", "sigma",
           "prune_rate", "revive", "init", "init_scale", "chunk_size", "block")


def describe(job: str) -> str:
    return "NSGA-II on digits: the front of training accuracy against non-zero weights, scored on the test split"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the accuracy-size job."""
    from evojax_ga.runs.classify_front import FITNESSES, INITS, FrontConfig

    d = FrontConfig()
    m = parser.add_argument_group("model and data")
    m.add_argument("--hidden", default=None, metavar="W1,W2,...",
                   help=f"MLP hidden widths (default {','.join(map(str, d.hidden))})")
    m.add_argument("--batch-size", type=int, default=None,
                   help="training samples per generation, one shared minibatch (default: all)")
    m.add_argument("--fitness", default=None, help=f"objective 0: one of {', '.join(FITNESSES)} (default "
                   f"{d.fitness}; front.json reports accuracies either way)")
    e = parser.add_argument_group("evolution")
    e.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    e.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"number of generations (default {d.generations})")
    e.add_argument("--crossover", default=None, help=f"a registered crossover (default {d.crossover})")
    e.add_argument("--mutation-rate", type=float, default=None,
                   help=f"fraction of genes given a Gaussian step (default {d.mutation_rate:g})")
    e.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    e.add_argument("--prune-rate", type=float, default=None,
                   help=f"fraction of genes set to exactly 0 per child (default {d.prune_rate:g})")
    e.add_argument("--revive", action="store_true", default=None,
                   help="let the Gaussian step move pruned (exactly 0) genes too (default: they stay 0)")
    e.add_argument("--init", default=None, help=f"one of {', '.join(INITS)} (default {d.init})")
    e.add_argument("--init-scale", type=float, default=None, help=f"scale of normal/uniform init (default "
                   f"{d.init_scale:g})")
    e.add_argument("--chunk-size", type=int, default=None, help="members evaluated at once (default: automatic)")
    e.add_argument("--block", type=int, default=None,
                   help=f"generations per compiled block; progress between blocks (default {d.block})")
    checkpointing.add_arguments(parser)


def _config(args: argparse.Namespace) -> Any:
    from evojax_ga.jobs.run_job import config_values
    from evojax_ga.runs.classify_front import FrontConfig
    values = config_values(args, _FIELDS)
    if isinstance(values.get("hidden"), str):   # parsed here, not by argparse: a bad value stays a one-line error
        try:
            values["hidden"] = hidden_widths(values["hidden"])
        except argparse.ArgumentTypeError as exc:
            raise ValueError(str(exc)) from None
    return FrontConfig(**values)


def main(args: argparse.Namespace) -> int:
    """Run the job from parsed arguments; write the run folder; print the front's best test accuracy."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import classify_front as cf

    return run_job.start(args, _FIELDS, _config, cf.make_run)


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` and continue from its newest checkpoint."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import classify_front as cf

    return run_job.resume(run_dir, args, "classify_front", cf.config_from_record, cf.make_run)
