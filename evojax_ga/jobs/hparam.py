"""Hyper-parameter search: evolve MLP configurations (depth, width, activation, optimizer) by GA.

``evojax-ga run hparam --dataset digits`` runs Harvey's experiment (2017, "Let's evolve a neural
network with a genetic algorithm"): a population of 20 configurations for 10 generations, the top
25 % plus 3 random others kept, children bred by per-gene crossover and mutated by resampling genes.
Every configuration is trained with optax for ``--epochs`` and scored by validation accuracy; a whole
generation trains at once (masked maximum-size MLP, see :mod:`evojax_ga.hparam.train`); configurations
already scored are looked up, not retrained. ``--method grid`` trains every configuration of the space
instead, ``--method random`` a random sample of ``--budget`` configurations.

The run folder holds ``config.json``, ``metrics.jsonl`` (one line per generation / grid chunk / random
round), ``scores.json`` (every configuration scored, with its validation and test metrics),
``best_params.msgpack`` + ``model.json`` (the best configuration's trained network, a
:class:`evojax_ga.models.MLP` on flattened inputs), ``fitness.png`` and ``summary.json`` (best
configuration, its validation and test accuracy, trainings, timings). ``evojax-ga eval RUN_DIR``
reloads the network and re-scores it on the test split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "main", "evaluate_run", "describe", "make_space", "SPACES", "DATASETS"]

SPACES = ("auto", "harvey", "digits", "default")
DATASETS = ("digits", "cifar10", "mnist", "fashion_mnist")
METHODS = ("ga", "grid", "random")


def describe(job: str) -> str:
    return "evolve MLP hyper-parameters (depth, width, activation, optimizer) by GA, or grid / random search"


def make_space(name: str, dataset: str):
    """The search space called ``name`` (``auto``: ``digits`` for the digits data set, else ``harvey``)."""
    from evojax_ga import hparam as hp
    if name not in SPACES:
        raise ValueError(f"space must be one of {list(SPACES)}, got {name!r}")
    if name == "auto":
        name = "digits" if dataset == "digits" else "harvey"
    return {"harvey": hp.harvey_space, "digits": hp.digits_space, "default": hp.default_space}[name]()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``hparam`` job."""
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
    s.add_argument("--population", type=int, default=20, help="GA population size")
    s.add_argument("--generations", type=int, default=10, help="GA generations")
    s.add_argument("--keep", type=float, default=0.25, help="GA: fraction of the population kept as elite")
    s.add_argument("--random-survivors", type=int, default=3, help="GA: other members kept at random")
    s.add_argument("--mutation-rate", type=float, default=0.1, help="GA: probability that a child's gene is resampled")
    s.add_argument("--crossover", type=float, default=0.5, help="GA: probability that a gene comes from parent b")
    s.add_argument("--no-fresh-children", dest="fresh_children", action="store_false",
                   help="GA: keep children that were already scored (looked up, not retrained) instead of mutating "
                        "them again until new (Harvey's GA exactly)")
    s.add_argument("--budget", type=int, default=None,
                   help="random search: configurations to train (default: the GA's maximum, "
                        "population + (generations - 1) * children)")
    t = parser.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=10, help="epochs per configuration (the per-candidate budget)")
    t.add_argument("--batch-size", type=int, default=64, help="minibatch size (when the space has no batch gene)")
    t.add_argument("--chunk", type=int, default=None,
                   help="configurations trained per compiled call (default: the GA's children per generation; "
                        "48 for grid and random search)")


def _children(args: argparse.Namespace) -> int:
    kept = max(1, int(round(args.keep * args.population)))
    return max(1, args.population - kept - args.random_survivors)


def _check(args: argparse.Namespace) -> None:
    for name in ("population", "generations", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.chunk is not None and args.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {args.chunk}")
    if args.budget is not None and args.budget < 1:
        raise ValueError(f"--budget must be >= 1, got {args.budget}")


def main(args: argparse.Namespace) -> int:
    """Run the search, write the run folder, print the best configuration and its test accuracy."""
    import jax
    import numpy as np

    from evojax_ga import hparam as hp
    from evojax_ga import run_folder as rf

    t_start = time.perf_counter()
    try:
        _check(args)
        space = make_space(args.space, args.dataset)
        data = hp.load_dataset(args.dataset, path=args.data, val_fraction=args.val_fraction, seed=0,
                               train_subset=args.train_subset)
        config = hp.TrainConfig(epochs=args.epochs, batch_size=args.batch_size)
        trainer = hp.make_trainer(space, config, in_dim=int(np.shape(data.x_train)[1]), num_classes=data.num_classes)
        if args.method == "ga":
            hp.harvey_strategy(space, args.population, args.keep, args.random_survivors, args.mutation_rate,
                               args.crossover)  # validates the GA settings before anything runs
    except (TypeError, ValueError, FileNotFoundError) as exc:
        print(f"evojax-ga run hparam: error: {exc}", file=sys.stderr)
        return 2
    chunk = args.chunk or (_children(args) if args.method == "ga" else 48)
    run_dir = rf.create_run_dir(args.out, "hparam")
    rf.write_config(run_dir, "hparam", {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "argv"},
                    {"space": repr(space), "grid_size": space.grid_size, "train": config._asdict(),
                     "data": data.summary(), "chunk": chunk}, argv=getattr(args, "argv", None))
    say = (lambda msg: print(msg, flush=True)) if args.progress else (lambda msg: None)
    say(f"{data.summary()}\nspace: {space!r} ({space.grid_size} configurations); method {args.method}; "
        f"{args.epochs} epochs per configuration; {chunk} configurations per compiled call")
    key = jax.random.key(args.seed)
    k_train, k_search = jax.random.split(key)
    ev = hp.Evaluator(trainer, data, k_train, chunk_size=chunk)
    say(f"compiling the training program ... {ev.compile():.1f} s")

    def report(step: int, info: dict) -> None:
        total = {"ga": args.generations}.get(args.method, "")
        cfg = info.get("best_config", "")
        say(f"{args.method} step {step}{'/' + str(total) if total else ''}: best val acc {info['best_val']:.4f}; "
            f"{info['trained']} trained; {info['wall_s']:.1f} s {cfg}")

    if args.method == "ga":
        res = hp.ga_search(k_search, ev, pop_size=args.population, generations=args.generations,
                           keep=args.keep, random_survivors=args.random_survivors,
                           mutation_rate=args.mutation_rate, crossover_prob=args.crossover,
                           fresh_children=args.fresh_children, callback=report)
    elif args.method == "grid":
        res = hp.brute_force(ev, callback=report)
    else:
        budget = args.budget or (args.population + (args.generations - 1) * _children(args))
        res = hp.random_search(k_search, ev, budget, callback=report)
    h = res.history
    history = {"generation": np.asarray(h["step"]), "best": np.asarray(h["best_step_val"]),
               "mean": np.asarray(h["mean_val"]), "best_so_far": np.asarray(h["best_val"]),
               "best_test": np.asarray(h["best_test"]), "trained": np.asarray(h["trained"]),
               "wall_s": np.asarray(h["wall_s"])}
    rf.append_metrics(run_dir, history)
    rf.plot_fitness(run_dir, history, title=f"hparam {args.method} on {args.dataset}: validation accuracy")
    scores = [dict(cfg, **m) for cfg, m in zip(space.to_configs(space.from_keys(list(ev.cache))), ev.cache.values())]
    rf.write_json(Path(run_dir) / "scores.json", {"scores": scores})
    # the best configuration's trained network, kept on the device while the search ran
    best_key, masked = ev.best_network()
    if best_key != res.best_key:  # not expected with one evaluator per search; retrain (same key, same weights)
        masked = jax.tree_util.tree_map(lambda a: a[0], trainer.train(k_train, space.from_keys([res.best_key]), ev.data,
                                                                     return_params=True)["params"])
    cfg = res.best_config
    depth = int(cfg.get("depth", config.depth))
    width = int(cfg.get("width", config.width))
    params = hp.small_params(jax.tree_util.tree_map(np.asarray, masked), depth, width)
    model_config = {"kind": "MLP", "features": [width] * depth, "out": data.num_classes,
                    "activation": cfg.get("activation", config.activation), "flatten": False}
    rf.save_params(run_dir, params, model_config)
    model = rf.model_from_config(model_config)
    recheck = {s: float(np.mean(np.argmax(np.asarray(model.apply(params, getattr(data, f"x_{s}"))), -1)
                                == getattr(data, f"y_{s}"))) for s in ("val", "test")}
    total = time.perf_counter() - t_start
    summary = {"method": args.method, "dataset": args.dataset, "best_config": cfg,
               "best_val_acc": res.best["val_acc"], "best_test_acc": res.best["test_acc"],
               "saved_network_val_acc": recheck["val"], "saved_network_test_acc": recheck["test"],
               "trained": res.trained, "grid_size": space.grid_size, "search_wall_s": res.wall_s,
               "compile_s": ev.compile_s, "train_s": ev.train_s, "total_wall_s": total}
    rf.write_json(Path(run_dir) / rf.SUMMARY_FILE, summary)
    print(f"best configuration {cfg}: validation accuracy {res.best['val_acc']:.4f}, test accuracy "
          f"{res.best['test_acc']:.4f}; {res.trained} of {space.grid_size} configurations trained in "
          f"{res.wall_s:.1f} s (+{ev.compile_s:.1f} s compile); total {total:.1f} s", flush=True)
    print(f"run folder: {run_dir}", flush=True)
    return 0


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: reload the best network and score it on the data set's test split."""
    import numpy as np

    from evojax_ga import hparam as hp
    from evojax_ga import run_folder as rf

    cfg = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)["args"]
    params, model_config = rf.load_params(run_dir)
    model = rf.model_from_config(model_config)
    data = hp.load_dataset(cfg.get("dataset", "digits"), path=cfg.get("data"),
                           val_fraction=cfg.get("val_fraction", 0.2), seed=0, train_subset=cfg.get("train_subset"))
    acc = {}
    for split in ("val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        acc[split] = float(np.mean(np.argmax(np.asarray(model.apply(params, x)), -1) == y))
    print(f"{model_config}: validation accuracy {acc['val']:.4f}, test accuracy {acc['test']:.4f} "
          f"({len(data.y_test)} test samples)", flush=True)
    return 0
