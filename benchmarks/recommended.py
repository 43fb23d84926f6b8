"""Control with each library at its recommended settings (issue 15, item 1, second table): what a user gets.

The equal-terms table (``benchmarks/equal_terms.py``) compares algorithms; this one compares what each
library gives a user who keeps its defaults:

* ``evojax_ga job``: the CLI job as shipped (``evojax-ga run JOB``): its population, network, episodes
  per member, observation normalisation, early exit, initial weights, preset and sigma, through the
  job's strategy ``ask`` / ``tell`` (the CLI runs the same strategy in compiled blocks);
* the peers at their algorithms' documented defaults, on the job's network, population and episodes per
  member (their libraries leave these to the user) with raw observations (their rollouts do not
  normalise): evosax ``SimpleGA`` (std 1.0), evosax ``Open_ES`` (SGD learning rate 1e-3, std 1.0, from a
  zero mean), EvoJAX ``SimpleGA`` (sigma 0.01), EvoJAX ``PGPE`` (init_stdev 0.1, centre learning rate
  0.15, ClipUp, from a zero centre); the GAs start from the job's initial population;
* every contender: this project's default solved check (the lower 95% bound of the mean over the job's
  ``check_episodes`` fresh episodes, then over a second fresh set, must reach the threshold), on the same
  start states at a given seed and generation; ``confirmed``: a third fresh set's mean reaches it too.

Contenders run interleaved within each seed, as in the equal-terms table. Run:
``python -m benchmarks.recommended --seeds 10`` (peer rows need the ``peers`` extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from benchmarks import contenders, harness
from benchmarks import equal_terms as et

OUT_DIR = et.OUT_DIR
OURS = "evojax_ga job"
CONTENDERS = (OURS, *contenders.PEERS)
#: the peers' documented defaults (constructor defaults) for the step size
PEER_SIGMA = {"evosax SimpleGA": 1.0, "evosax OpenES": 1.0, "EvoJAX SimpleGA": 0.01, "EvoJAX PGPE": 0.1}


def contenders_for(job: str, names: tuple[str, ...]) -> tuple[Any, list[contenders.Contender]]:
    """``(job config, contenders of names)``, each contender carrying its own task (``Contender.task``)."""
    import optax

    from evojax_ga.runs import control

    cfg = control.config_for(job)
    ours_parts = control.build(cfg)
    raw = control.build(dataclasses.replace(cfg, normalize_obs=False)) if cfg.normalize_obs else ours_parts
    out = []
    for name in names:
        if name == OURS:
            c = contenders.ours(name, ours_parts, ours_parts.strategy)._replace(task=ours_parts.task)
        elif name in contenders.EVOJAX:
            c = contenders.evojax_contender(name, raw, cfg.pop_size, PEER_SIGMA[name])._replace(task=raw.task)
        else:
            c = contenders.evosax_contender(name, raw, cfg.pop_size, PEER_SIGMA[name], lr=1e-3,
                                    optimizer=optax.sgd(1e-3))._replace(task=raw.task)
        out.append(c)
    return cfg, out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default="cartpole,acrobot,mountaincar,pendulum", help="control jobs, comma-separated")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated, of: {', '.join(CONTENDERS)}")
    ap.add_argument("--cap-s", type=float, default=20.0)
    ap.add_argument("--max-generations", type=int, default=500)
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/equal_terms/recommended-<envs>.json)")
    a = ap.parse_args(argv)
    from evojax_ga.runs.control import JOB_DEFAULTS
    for job in a.envs.split(","):
        if job not in JOB_DEFAULTS:
            ap.error(f"--envs: unknown job {job!r}; known: {', '.join(JOB_DEFAULTS)}")
    wanted = tuple(a.contenders.split(","))
    for name in wanted:
        if name not in CONTENDERS:
            ap.error(f"--contenders: unknown contender {name!r}; known: {', '.join(CONTENDERS)}")
    et.check_run_args(ap, a)
    names, notes = et.available(wanted)
    rows, raw_runs = [], []
    for job in a.envs.split(","):
        cfg, cs = contenders_for(job, names)
        checks = {c.name: et.make_check(c.task, cfg.check_episodes) for c in cs}
        env_rows, runs = et.race(cfg.env, cfg.target, cs, checks, et.seeds_of(a), a.cap_s, a.max_generations,
                                 z=cfg.check_z, confirm=bool(cfg.confirm_episodes))
        rows += env_rows
        raw_runs.append({"env": cfg.env, "job_config": dataclasses.asdict(cfg), "peer_sigma": PEER_SIGMA,
                         "runs": runs})
        payload = et.save(Path(a.out) if a.out else OUT_DIR / f"recommended-{a.envs.replace(',', '-')}.json",
                          "python -m benchmarks.recommended", argv, a, rows, notes, raw_runs)
    print(harness.markdown_table(rows))
    return payload


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
