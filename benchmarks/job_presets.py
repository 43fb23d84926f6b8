"""The control jobs' presets on the jobs' own settings: the preset each job used before issue 15 against the
``truncation`` preset (issue 15, item 2: "make the defaults of the control jobs ... the ones that win").

Everything but the preset is the job's (population, network, episodes per member, observations, sigma,
initial weights, the default solved check); both run through the strategy's ``ask`` / ``tell`` on the job's
task, interleaved per seed, as in ``benchmarks/equal_terms.py``. Run:
``python -m benchmarks.job_presets --seeds 6``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from benchmarks import equal_terms as et
from benchmarks import harness
from benchmarks.contenders import ours

#: the preset each job shipped with before the truncation preset (its other settings unchanged)
BEFORE = {"cartpole": dict(preset="simple"), "acrobot": dict(preset="deep_ga", truncation=32),
          "mountaincar": dict(preset="simple"), "pendulum": dict(preset="deep_ga", truncation=32)}
AFTER = dict(preset="truncation", truncation=0.5, tournament=2)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default=",".join(BEFORE), help="control jobs, comma-separated")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--cap-s", type=float, default=40.0)
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/equal_terms/job_presets.json)")
    a = ap.parse_args(argv)
    for job in a.envs.split(","):
        if job not in BEFORE:
            ap.error(f"--envs: unknown job {job!r}; known: {', '.join(BEFORE)}")
    et.check_run_args(ap, a)
    from evojax_ga.runs import control

    rows, raw = [], []
    for job in a.envs.split(","):
        cfgs = {f"{name} ({cfg['preset']})": control.config_for(job, **cfg)
                for name, cfg in (("before", BEFORE[job]), ("after", AFTER))}
        cs, checks = [], {}
        for name, cfg in cfgs.items():
            parts = control.build(cfg)
            cs.append(ours(name, parts, parts.strategy))
            checks[name] = et.make_check(parts.task, cfg.check_episodes)
        cfg = next(iter(cfgs.values()))       # the job's: both share all but the preset
        env_rows, runs = et.race(cfg.env, cfg.target, cs, checks, et.seeds_of(a), a.cap_s, cfg.generations,
                                 z=cfg.check_z, confirm=bool(cfg.confirm_episodes))
        rows += env_rows
        raw.append({"env": cfg.env, "configs": {n: dataclasses.asdict(c) for n, c in cfgs.items()}, "runs": runs})
        payload = et.save(Path(a.out) if a.out else et.OUT_DIR / "job_presets.json", "python -m benchmarks.job_presets",
                          argv, a, rows, [], raw)
    print(harness.markdown_table(rows))
    return payload


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
