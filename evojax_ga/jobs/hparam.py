"""Hyper-parameter search: evolve MLP configurations (depth, width, activation, optimizer) by GA.

``evojax-ga run hparam --dataset digits`` runs Harvey's experiment (2017, "Let's evolve a neural
network with a genetic algorithm"); ``--method grid`` trains every configuration of the space instead,
``--method random`` a random sample of ``--budget`` configurations. The options map onto
:class:`evojax_ga.runs.hparam.HparamConfig`; the search and its run folder (``metrics.jsonl``,
``scores.json``, ``best_params.msgpack`` + ``model.json``, ``fitness.png``, ``summary.json``) are
:mod:`evojax_ga.runs.hparam`'s. ``evojax-ga eval RUN_DIR`` reloads the network and re-scores it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main", "evaluate_run", "describe"]

#: option dest -> HparamConfig field
_FIELDS = ("dataset", "data", "val_fraction", "train_subset", "method", "space", "pop_size", "generations", "keep",
           "random_survivors", "mutation_rate", "crossover_prob", "fresh_children", "budget", "epochs", "batch_size",
           "chunk_size")


def describe(job: str) -> str:
    return "evolve MLP hyper-parameters (depth, width, activation, optimizer) by GA, or grid / random search"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``hparam`` job."""
    from evojax_ga.runs.hparam import DATASETS, METHODS, SPACES

    d = parser.add_argument_group("data")
    d.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="digits is bundled with scikit-learn; the others are read from local files (--data)")
    d.add_argument("--data", default=None, metavar="PATH",
                   help="file or directory holding the data set (default: $EVOJAX_GA_DATA)")
    d.add_argument("--val-fraction", type=float, default=0.2,
                   help="fraction of the training split held out (stratified, fixed) for validation scores")
    d.add_argument("--train-subset", type=int, default=None, metavar="N",
                   help="train on the first N training samples only (bounds the cost on CIFAR-10)")
    s = parser.add_argument_group("search")
    s.add_argument("--method", choices=METHODS, default="ga", help="GA, brute-force grid or random search")
    s.add_argument("--space", choices=SPACES, default="auto",
                   help="harvey: depth 1-4, width 64..1024, 5 activations, 6 optimizers (720 configurations); "
                        "digits: the same with widths / 8; default: harvey + log-uniform learning rate; "
                        "auto: digits for --dataset digits, else harvey")
    s.add_argument("--pop-size", type=int, default=20, help="GA population size")
    s.add_argument("--population", dest="pop_size", type=int, default=argparse.SUPPRESS,  # the old name
                   help=argparse.SUPPRESS)
    s.add_argument("--generations", type=int, default=10, help="GA generations")
    s.add_argument("--keep", type=float, default=0.25, help="GA: fraction of the population kept as elite")
    s.add_argument("--random-survivors", type=int, default=3, help="GA: other members kept at random")
    s.add_argument("--mutation-rate", type=float, default=0.1, help="GA: probability that a child's gene is resampled")
    s.add_argument("--crossover-prob", type=float, default=0.5, help="GA: probability that a gene comes from parent b")
    s.add_argument("--crossover", dest="crossover_prob", type=float, default=argparse.SUPPRESS,  # the old name
                   help=argparse.SUPPRESS)
    s.add_argument("--no-fresh-children", dest="fresh_children", action="store_false",
                   help="GA: keep children that were already scored (looked up, not retrained) instead of mutating "
                        "them again until new (Harvey's GA exactly)")
    s.add_argument("--budget", type=int, default=None,
                   help="random search: configurations to train (default: the GA's maximum, "
                        "pop-size + (generations - 1) * children)")
    t = parser.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=10, help="epochs per configuration (the per-candidate budget)")
    t.add_argument("--batch-size", type=int, default=64, help="minibatch size (when the space has no batch gene)")
    t.add_argument("--chunk-size", type=int, default=None,
                   help="configurations trained per compiled call (default: the GA's children per generation; "
                        "48 for grid and random search)")


def main(args: argparse.Namespace) -> int:
    """Run the search, write the run folder, print the best configuration and its test accuracy."""
    from evojax_ga.jobs import option_error
    from evojax_ga.runs import hparam, loop

    try:
        cfg = hparam.HparamConfig(**{n: getattr(args, n) for n in _FIELDS})
    except (TypeError, ValueError) as exc:
        print(f"evojax-ga run hparam: error: {option_error(exc, _FIELDS)}", file=sys.stderr)
        return 2
    recorded = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "argv"}
    with loop.claim(args.out, "hparam") as run_dir:   # --out checked and locked before the data are read
        try:
            run = hparam.make_run(cfg)
        except (TypeError, ValueError, FileNotFoundError) as exc:
            print(f"evojax-ga run hparam: error: {option_error(exc, _FIELDS)}", file=sys.stderr)
            return 2
        loop.write_config(run_dir, "hparam", recorded, run.record, argv=getattr(args, "argv", None))
        hparam.execute(run, run_dir, args.seed, progress=args.progress)
    return 0


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: reload the best network and score it on the data set's test split."""
    from evojax_ga.runs import hparam

    model_config, acc, n = hparam.evaluate_saved(run_dir)
    print(f"{model_config}: validation accuracy {acc['val']:.4f}, test accuracy {acc['test']:.4f} "
          f"({n} test samples)", flush=True)
    return 0
