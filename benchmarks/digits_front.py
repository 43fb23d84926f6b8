"""The digits accuracy-size front (issue 19) against the best single-objective GA network.

Reads finished run folders of ``evojax-ga run digits-front`` (one or more, labelled by their
``--fitness``) and one of ``evojax-ga run digits``; prints a Markdown table (front points: test
accuracy and non-zero parameters; the single-objective network's test accuracy and its non-zero
parameters) and writes a figure. Run the jobs first, e.g.::

    evojax-ga run digits-front --fitness neg_cross_entropy --pop-size 1000 --generations 300 --out F
    evojax-ga run digits --pop-size 1000 --generations 300 --hidden 32 --baseline none --out S
    python -m benchmarks.digits_front --front F --single S --out benchmarks/digits_front/front_vs_ga.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _single(run_dir: Path) -> tuple[float, int, int]:
    """``(test accuracy, non-zero parameters, parameters)`` of a digits run's saved network."""
    import jax

    from evojax_ga import run_folder as rf
    params, _ = rf.load_params(run_dir)
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    summary = rf.read_json(run_dir / rf.SUMMARY_FILE)
    return (float(summary["ga_test_accuracy"]), int(sum(int(np.count_nonzero(x)) for x in leaves)),
            int(sum(x.size for x in leaves)))


def main(argv: list[str] | None = None) -> int:
    from matplotlib.figure import Figure

    from evojax_ga import run_folder as rf
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", nargs="+", required=True, help="digits-front run folders")
    ap.add_argument("--single", required=True, help="a digits run folder (the single-objective GA)")
    ap.add_argument("--single-label", default="single-objective GA", help="its label in the figure")
    ap.add_argument("--out", default="benchmarks/digits_front/front_vs_ga.png")
    ap.add_argument("--rows", type=int, default=8, help="front points per table (evenly spaced)")
    a = ap.parse_args(argv)
    acc, nz, n = _single(Path(a.single))
    fig = Figure(figsize=(6, 4.2), dpi=100)
    ax = fig.subplots()
    print(f"single-objective GA (evojax-ga run digits): test accuracy {acc:.4f}, {nz} of {n} parameters non-zero\n")
    for d in map(Path, a.front):
        front = rf.read_json(d / "front.json")
        fit = rf.read_json(d / rf.CONFIG_FILE)["config"]["classify_front"].get("fitness", "accuracy")
        summary = rf.read_json(d / rf.SUMMARY_FILE)
        pts = list({(p["nonzero"], p["train_accuracy"], p["test_accuracy"]): p for p in front["points"]}.values())
        print(f"front ({fit}, {d.name}): {len(pts)} distinct points\n\n| non-zero parameters | train accuracy "
              f"| test accuracy | test accuracy vs GA | parameters saved vs GA |\n|---:|---:|---:|---:|---:|")
        for i in sorted(set(np.linspace(0, len(pts) - 1, min(a.rows, len(pts))).round().astype(int))):
            p = pts[i]
            print(f"| {p['nonzero']} | {p['train_accuracy']:.4f} | {p['test_accuracy']:.4f} | "
                  f"{p['test_accuracy'] - acc:+.4f} | {nz - p['nonzero']} ({(nz - p['nonzero']) / nz:.0%}) |")
        print()
        ax.plot([p["nonzero"] for p in pts], [p["test_accuracy"] for p in pts], "o-", ms=3,
                label=f"NSGA-II front ({fit}), {summary['generations']} gens x {summary['pop_size']} (test)")
    ax.plot([nz], [acc], "r*", ms=12, label=f"{a.single_label} (test)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel(f"non-zero parameters (of {n}; log scale above 10)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("digits: accuracy-size front, MLP 64-32-10", fontsize="medium")
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out)
    print(f"figure: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
