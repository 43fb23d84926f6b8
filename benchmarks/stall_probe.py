"""Where a control run stalls: best and median training return and the population's spread, every few
generations, for contenders of the equal-terms harness on one seed.

    python -m benchmarks.stall_probe --env pendulum --seed 5 --normalize-obs --contenders truncation,half

Same terms as ``benchmarks/equal_terms.py`` (its shared config, std ``--sigma``, one episode per member,
the same keys per seed and generation); no solved check: it plays ``--generations`` and prints one JSON
line per contender with ``[generation, best, median, spread]`` rows (spread: the mean over weights of
the population's standard deviation).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="pendulum", help="a control job (cartpole, acrobot, mountaincar, pendulum)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--contenders", default="truncation,half", help="names of benchmarks.variants.variants()")
    ap.add_argument("--generations", type=int, default=300)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--sigma", type=float, default=0.1)
    ap.add_argument("--hidden", default="16,16")
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--normalize-obs", action="store_true")
    a = ap.parse_args(argv)
    import jax
    import numpy as np

    from benchmarks import equal_terms as et
    from evojax_ga.metrics import population_diversity

    hidden = tuple(int(h) for h in a.hidden.split(","))
    cfg = dataclasses.replace(et.shared_config(a.env, 256, 1, hidden, a.activation, a.normalize_obs, 100),
                              sigma=a.sigma)
    _, contenders = et.contenders_for(cfg, tuple(a.contenders.split(",")), 32, 0.01)
    out = []
    for c in contenders:
        k_init, k_evolve, _ = jax.random.split(jax.random.key(a.seed), 3)   # as benchmarks.equal_terms.solve
        state, rows = c.init(k_init), []
        for g in range(a.generations):
            state, fit, pop, _ = c.gen(jax.random.fold_in(k_evolve, g), state)
            if g % a.every == 0:
                f = np.asarray(fit)
                rows.append([g, float(f.max()), float(np.median(f)), float(population_diversity(pop))])
        out.append({"env": cfg.env, "seed": a.seed, "contender": c.name, "rows": rows})
        print(json.dumps(out[-1]), flush=True)
    return out


if __name__ == "__main__":
    main()
