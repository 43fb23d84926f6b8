"""Harvey (2017), "Let's evolve a neural network with a genetic algorithm", reproduced.

The article's experiment: four genes (layers, neurons per layer, activation, optimizer), a population
of 20 random networks evolved for 10 generations, keeping the top 25 % plus a few random others and
breeding the rest (each child gene from either parent, occasionally resampled). On CIFAR-10 the
article's GA found 56.56 % (2 layers x 512, elu, adamax) in 7 hours where a brute-force grid took 63
hours to find 56.03 % (2 x 768, elu, adamax), training one network after another. Here a whole
generation trains at once in one compiled program and already-scored networks are not retrained.

    python scripts/hparam_seed.py                           # digits (bundled), GA, 3 seeds
    python scripts/hparam_seed.py --grid                    # ... and the brute-force grid to compare
    python scripts/hparam_seed.py --dataset cifar10 --data ~/data/cifar10 --train-subset 10000 --seeds 1

Digits uses the article's widths divided by 8 (8 .. 128) for its 64 inputs; CIFAR-10 the article's
own (64 .. 1024). Scores are validation accuracy on a fixed stratified split of the training set; the
best network is re-checked on the test split. Writes ``<out>/hparam_seed.json`` and a plot of the
best validation accuracy against wall-clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ARTICLE = {"dataset": "cifar10", "grid_best": 0.5603, "grid_hours": 63, "ga_best": 0.5656, "ga_hours": 7,
           "grid_config": "2 x 768, elu, adamax", "ga_config": "2 x 512, elu, adamax"}


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("digits", "cifar10"), default="digits")
    p.add_argument("--data", default=None, help="CIFAR-10 files (directory or .npz); default $EVOJAX_GA_DATA")
    p.add_argument("--train-subset", type=int, default=None, help="train on the first N training samples only")
    p.add_argument("--epochs", type=int, default=10, help="epochs per network")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--population", type=int, default=20)
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--keep", type=float, default=0.25, help="fraction kept as elite (the article: top 25%%)")
    p.add_argument("--random-survivors", type=int, default=3, help="others kept at random (the article: 3)")
    p.add_argument("--mutation-rate", type=float, default=0.1, help="per-gene resampling probability of a child")
    p.add_argument("--seeds", type=int, default=3, help="GA runs with different seeds")
    p.add_argument("--no-fresh-children", dest="fresh_children", action="store_false",
                   help="Harvey's GA exactly (children already scored are looked up and keep their slot) instead "
                        "of mutating them again until new")
    p.add_argument("--grid", action="store_true", help="also train the whole grid (brute force) to compare")
    p.add_argument("--out", default="runs/hparam_seed", help="output directory")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    import jax
    import numpy as np

    from evojax_ga import hparam as hp

    data = hp.load_dataset(args.dataset, path=args.data, train_subset=args.train_subset)
    space = hp.digits_space() if args.dataset == "digits" else hp.harvey_space()
    trainer = hp.make_trainer(space, hp.TrainConfig(epochs=args.epochs, batch_size=args.batch_size),
                              in_dim=int(np.shape(data.x_train)[1]), num_classes=data.num_classes)
    strategy = hp.harvey_strategy(space, args.population, args.keep, args.random_survivors, args.mutation_rate)
    children = args.population - strategy.config["elite"] - strategy.config["random_survivors"]
    print(data.summary())
    print(f"space {space!r}: {space.grid_size} configurations; {args.epochs} epochs each; GA population "
          f"{args.population}, {args.generations} generations, {strategy.config['elite']} kept + "
          f"{strategy.config['random_survivors']} random survivors, {children} children per generation", flush=True)
    k_train = jax.random.key(2017)
    out: dict = {"args": vars(args), "space": repr(space), "data": data.summary(), "article": ARTICLE, "ga": []}
    t0 = time.perf_counter()
    c_ga = hp.compile_strategy(strategy, space, args.population)
    ev0 = hp.Evaluator(trainer, data, k_train, chunk_size=children)
    c_ga += ev0.compile()
    print(f"compiled the GA and the training program for {children} networks in {c_ga:.1f} s", flush=True)
    for seed in range(args.seeds):
        ev = hp.Evaluator(trainer, data, k_train, chunk_size=children)
        ev.compile()  # shared with ev0's: no new compilation

        def show(gen, info):
            print(f"  seed {seed} generation {gen:2d}: best val {info['best_val']:.4f} {info['best_config']} "
                  f"(+{info['new']} trained, {info['trained']} so far, {info['wall_s']:.1f} s)", flush=True)

        res = hp.ga_search(jax.random.key(seed), ev, pop_size=args.population, generations=args.generations,
                           strategy=strategy, fresh_children=args.fresh_children, callback=show)
        print(f"seed {seed}: best {res.best_config}: validation {res.best['val_acc']:.4f}, test "
              f"{res.best['test_acc']:.4f}; {res.trained} networks trained in {res.wall_s:.1f} s", flush=True)
        out["ga"].append({"seed": seed, "best_config": res.best_config, "best": res.best, "trained": res.trained,
                          "wall_s": res.wall_s, "history": res.history})
    out["ga_compile_s"] = c_ga
    if args.grid:
        ev = hp.Evaluator(trainer, data, k_train, chunk_size=48)
        c = ev.compile()
        grid = hp.brute_force(ev, callback=lambda i, info: print(
            f"  grid {info['trained']}/{info['total']}: best val {info['best_val']:.4f} ({info['wall_s']:.1f} s)",
            flush=True) if i % 5 == 0 else None)
        print(f"grid: best {grid.best_config}: validation {grid.best['val_acc']:.4f}, "
              f"test {grid.best['test_acc']:.4f}; "
              f"{grid.trained} networks in {grid.wall_s:.1f} s (+{c:.1f} s compile)", flush=True)
        out["grid"] = {"best_config": grid.best_config, "best": grid.best, "trained": grid.trained,
                       "wall_s": grid.wall_s, "compile_s": c, "history": grid.history}
        for r in out["ga"]:
            r["gap_pp"] = 100 * (grid.best["val_acc"] - r["best"]["val_acc"])
            r["x_grid_wall"] = r["wall_s"] / grid.wall_s
        print("GA vs grid: " + "; ".join(f"seed {r['seed']}: {r['gap_pp']:.2f} pp below the grid's best in "
                                         f"{r['x_grid_wall']:.2f} of its wall-clock" for r in out["ga"]))
    print(f"the article (CIFAR-10, Keras, one network after another): grid {ARTICLE['grid_best']:.2%} in "
          f"{ARTICLE['grid_hours']} h ({ARTICLE['grid_config']}), GA {ARTICLE['ga_best']:.2%} in "
          f"{ARTICLE['ga_hours']} h "
          f"({ARTICLE['ga_config']})")
    out["total_s"] = time.perf_counter() - t0
    path = Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    (path / "hparam_seed.json").write_text(json.dumps(out, indent=1, default=str))
    _plot(path / "hparam_seed.png", out, args.dataset)
    print(f"wrote {path / 'hparam_seed.json'} and {path / 'hparam_seed.png'}")
    return 0


def _plot(path: Path, out: dict, dataset: str) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.subplots()
    for r in out["ga"]:
        ax.step(r["history"]["wall_s"], r["history"]["best_val"], where="post", label=f"GA seed {r['seed']}")
    if "grid" in out:
        g = out["grid"]["history"]
        ax.step(g["wall_s"], g["best_val"], where="post", color="k", ls="--", label="grid (brute force)")
    ax.set_xlabel("wall-clock after compilation (s)")
    ax.set_ylabel("best validation accuracy")
    ax.set_title(f"Harvey's GA vs brute force on {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
