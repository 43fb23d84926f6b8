"""Short MNIST runs of GA settings, by GA alone: test accuracy against generations and seconds.

The study behind the ``limited_evaluation_cpu`` preset (``benchmarks/README.md``, "MNIST by GA alone"):
one setting per call, ``key=value`` pairs over the defaults below, the best member by the GA's own
(moving-average) fitness scored on the whole 10,000-image test set after every block; the run stops at
the first block end past ``secs`` seconds of evolution (compilation apart). Compare settings at equal
generations: the seconds depend on the machine's load.

    python -m benchmarks.mnist_ga_settings secs=150 hidden=32 batch=1024 pop=200
    python -m benchmarks.mnist_ga_settings secs=180 kind=truncation rate=0.1 sigma=0.02 pool=0.1 elite=0.02

kind: ``split`` (elite, crossover-only and mutation-only children: ``xo`` of P crossed over with
``xkind`` uniform(``xprob``) or arithmetic, the rest mutated) or ``truncation`` (every child crossed
over, uniform 0.5, and mutated); ``ema`` < 1: the inherited fitness moving average; ``tau`` > 0:
self-adaptive sigma; ``half`` > 0: sigma halves every ``half`` generations down to ``floor``;
``down``: k x k mean pooling of the images.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

DEFAULTS: dict[str, Any] = dict(hidden=32, pop=200, batch=1024, sigma=0.01, elite=0.05, xo=0.75, pool=0.5, ema=0.5,
                                down=2, secs=150.0, half=0.0, floor=0.0, xkind="uniform", xprob=0.5, rate=1.0,
                                block=100, kind="split", tau=0.0, seed=0)


def parse(argv: list[str]) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    for a in argv:
        k, sep, v = a.partition("=")
        if not sep or k not in cfg:
            raise SystemExit(f"arguments are key=value with key one of {sorted(cfg)}, got {a!r}")
        cfg[k] = type(cfg[k])(v)
    if cfg["kind"] not in ("split", "truncation") or cfg["xkind"] not in ("uniform", "arithmetic"):
        raise SystemExit("kind must be split or truncation, xkind uniform or arithmetic")
    return cfg


def main() -> None:
    import jax

    import evojax_ga as ega
    from evojax_ga import crossover, data, mutation, selection
    from evojax_ga.models import MLP

    cfg = parse(sys.argv[1:])
    ds = data.downsample(data.load("mnist"), cfg["down"])
    task = ega.tasks.classification(MLP(features=(cfg["hidden"],), out=10, flatten=True), ds,
                                    batch_size=cfg["batch"], test_samples=0)
    P = cfg["pop"]
    mut = mutation.gaussian(cfg["rate"], cfg["sigma"])
    if cfg["tau"] > 0:
        mut = mutation.self_adaptive(mut, cfg["tau"])
    adapt = ega.adaptation.decay(cfg["half"], cfg["floor"]) if cfg["half"] > 0 else None
    ema = cfg["ema"] if cfg["ema"] < 1 else None
    if cfg["kind"] == "split":
        xo = crossover.uniform(cfg["xprob"]) if cfg["xkind"] == "uniform" else crossover.arithmetic(0.5)
        strategy = ega.ga(select=selection.uniform(), crossover=xo, mutate=mut, elite=max(1, round(cfg["elite"] * P)),
                          parent_pool=cfg["pool"], crossover_children=cfg["xo"], fitness_ema=ema, adapt=adapt,
                          diversity_metric=False)
    else:
        strategy = ega.ga(select=selection.uniform(), crossover=crossover.uniform(0.5), mutate=mut,
                          elite=max(1, round(cfg["elite"] * P)), parent_pool=cfg["pool"], fitness_ema=ema,
                          adapt=adapt, diversity_metric=False)
    pop = task.init_population(jax.random.key(cfg["seed"]), P)
    log = []
    t0 = time.perf_counter()
    evolution = ega.evolve_blocks(jax.random.key(cfg["seed"] + 1), strategy, task, pop, 10**7, block=cfg["block"],
                                  progress=False)
    compile_s = None
    for state, _ in evolution:
        if compile_s is None:
            compile_s = evolution.compile_s
        el = time.perf_counter() - t0 - (compile_s or 0.0)
        best = jax.tree_util.tree_map(lambda x: x[int(jax.numpy.argmax(state.fitness))], state.population)
        log.append((int(state.generation), round(el, 1), round(float(task.test_accuracy(best)), 4)))
        print(log[-1], flush=True)
        if el > cfg["secs"]:
            break
    evolution.close()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({"cfg": cfg, "compile_s": compile_s, "load": load,
                      "curve": log[::max(1, len(log) // 8)], "final": log[-1]}))


if __name__ == "__main__":
    main()
