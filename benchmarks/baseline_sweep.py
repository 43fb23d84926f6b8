"""Untuned against tuned gradient baselines (issue 16, item 3): test accuracy at the old shared rate
(1e-3), at the optimizer's default rate and at the rate a validation sweep picks.

For each data set the classify job's own model, batch size and epochs (``classify.config_for``) and
for each optimizer (Adam; SGD with momentum 0.9) one :func:`evojax_ga.baselines.sweep_learning_rates`
over a wide grid: all rates train in one program on the training split less a 10% validation split,
the rate with the best validation accuracy is "tuned"; test accuracies of every rate are printed
beside their validation accuracies. Then the job's own ``auto`` sweep (5 rates around the default).

    python -m benchmarks.baseline_sweep --datasets digits mnist --mnist-epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 5e-2, 0.1, 0.3, 1.0)
OPTIMIZERS = (("adam", 0.0), ("sgd", 0.9))


def _at(sweep, rate: float) -> float:
    """Test accuracy of ``rate`` in ``sweep`` (NaN when it was not swept)."""
    hit = [i for i, r in enumerate(sweep.learning_rates) if np.isclose(r, rate)]
    return float(sweep.test_accuracy[hit[0]]) if hit else float("nan")


def main(argv: list[str] | None = None) -> int:
    import jax

    from evojax_ga import baselines
    from evojax_ga.optimizers import default_learning_rate
    from evojax_ga.runs import classify

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["digits", "mnist"], choices=["digits", "mnist"])
    ap.add_argument("--mnist-epochs", type=float, default=None, help="override the mnist job's baseline epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/baseline_sweep.json")
    a = ap.parse_args(argv)
    record: dict = {"grid": list(GRID), "uptime_before": os.getloadavg(), "rows": []}
    for name in a.datasets:
        cfg = classify.config_for(name, sgd_epochs=a.mnist_epochs if name == "mnist" else None)
        parts = classify.build(cfg)
        print(f"\n{name}: model {parts.model_config}, batch {cfg.sgd_batch_size}, {cfg.sgd_epochs:g} epochs, "
              f"{parts.data.x_train.shape[0]} training samples")
        for opt, mom in OPTIMIZERS:
            label = "Adam" if opt == "adam" else f"SGD momentum {mom:g}"
            kw = dict(momentum=mom, batch_size=cfg.sgd_batch_size, epochs=cfg.sgd_epochs)
            key = jax.random.key(a.seed)
            wide = baselines.sweep_learning_rates(key, parts.model, parts.data, opt, GRID, **kw)
            auto = baselines.sweep_learning_rates(key, parts.model, parts.data, opt, None, **kw)
            default = default_learning_rate(opt, mom)
            print(f"  {label}: wide grid in {wide.wall_s:.1f} s, auto grid in {auto.wall_s:.1f} s")
            print("    rate      val_acc  test_acc")
            for r, v, t in zip(wide.learning_rates, wide.val_accuracy, wide.test_accuracy):
                mark = " <- chosen" if r == wide.learning_rate else ""
                print(f"    {r:<9g} {v:.4f}   {t:.4f}{mark}")
            row = {"dataset": name, "optimizer": label, "epochs": cfg.sgd_epochs, "batch": cfg.sgd_batch_size,
                   "test_at_1e-3": _at(wide, 1e-3), "default_lr": default, "test_at_default": _at(auto, default),
                   "wide_chosen_lr": wide.learning_rate, "wide_chosen_test": float(wide.test_accuracy[wide.best]),
                   "auto_chosen_lr": auto.learning_rate, "auto_chosen_test": float(auto.test_accuracy[auto.best]),
                   "wide_s": wide.wall_s, "auto_s": auto.wall_s,
                   "wide": {k: v for k, v in wide.summary().items()} | {"test_accuracy": wide.test_accuracy.tolist()},
                   "auto": auto.summary() | {"test_accuracy": auto.test_accuracy.tolist()}}
            record["rows"].append(row)
    record["uptime_after"] = os.getloadavg()
    record["utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print("\n| data | optimizer | epochs | test at lr 1e-3 | default lr | test at default | auto sweep: lr, test "
          "| wide grid: lr, test | sweep s (auto / wide) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in record["rows"]:
        print(f"| {r['dataset']} | {r['optimizer']} | {r['epochs']:g} | {r['test_at_1e-3']:.4f} | {r['default_lr']:g} "
              f"| {r['test_at_default']:.4f} | {r['auto_chosen_lr']:.3g}, {r['auto_chosen_test']:.4f} "
              f"| {r['wide_chosen_lr']:g}, {r['wide_chosen_test']:.4f} | {r['auto_s']:.1f} / {r['wide_s']:.1f} |")
    print(f"\nload average before {record['uptime_before']}, after {record['uptime_after']}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
