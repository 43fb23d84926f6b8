"""Paired comparison over shared seeds (issue 15): is a gap in the equal-terms tables more than seed luck?

Every contender of a ``benchmarks.equal_terms`` run plays the same seeds (the GAs from the same initial
population, everyone on the same start states and check episodes), so their runs pair by seed:

* **solve rate**: Fisher's exact test, two-sided, on the solved / unsolved counts over the shared seeds;
* **speed**: a sign test on the per-seed ``--field`` (generations by default; an unsolved seed counts as
  never reaching the threshold, so a seed one contender solves and the other does not is a win for the
  first; seeds both leave unsolved, or reach in the same value, are ties and dropped): how many seeds
  ``ours`` was faster, slower, tied, and the two-sided binomial p that faster and slower are equally likely.

Generations and env steps are comparable across result files, seconds only within one file (load).
Run::

    python -m benchmarks.paired benchmarks/equal_terms/A.json benchmarks/equal_terms/B.json --ours truncation
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from benchmarks import harness
from benchmarks.equal_terms import runs_by_seed

FIELDS = ("generations", "env_steps", "s")


def outcome(run: dict[str, Any], field: str) -> float:
    """``run[field]`` when solved, else +inf (never reached the threshold)."""
    return float(run[field]) if run["solved"] else math.inf


def compare(ours: dict[int, dict[str, Any]], other: dict[int, dict[str, Any]], field: str = "generations") -> dict:
    """Paired statistics of two contenders' ``{seed: run}`` over the seeds both have (see the module doc)."""
    from scipy import stats

    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    seeds = sorted(set(ours) & set(other))
    n = len(seeds)
    if n == 0:
        raise ValueError("the two contenders share no seed")
    sa = sum(bool(ours[s]["solved"]) for s in seeds)
    sb = sum(bool(other[s]["solved"]) for s in seeds)
    pairs = [(outcome(ours[s], field), outcome(other[s], field)) for s in seeds]
    faster = sum(a < b for a, b in pairs)
    slower = sum(a > b for a, b in pairs)
    p_speed = float(stats.binomtest(faster, faster + slower).pvalue) if faster + slower else 1.0
    p_solved = float(stats.fisher_exact([[sa, n - sa], [sb, n - sb]]).pvalue)
    return {"seeds": n, "solved": f"{sa}/{n}", "other_solved": f"{sb}/{n}", "p_solved": p_solved,
            "faster": faster, "slower": slower, "ties": n - faster - slower, "p_speed": p_speed}


def table(files: list[str], ours: str, against: list[str] | None = None, field: str = "generations") -> list[dict]:
    """One row per environment / threshold and contender other than ``ours`` (or those in ``against``)."""
    runs = runs_by_seed(files)
    rows = []
    for (env, target, name), by_seed in runs.items():
        if name == ours or (against is not None and name not in against) or (env, target, ours) not in runs:
            continue
        rows.append({"env": env, "threshold": target, "ours": ours, "against": name, "field": field,
                     **compare(runs[(env, target, ours)], by_seed, field)})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", metavar="JSON", help="result files of benchmarks.equal_terms")
    ap.add_argument("--ours", default="truncation", help="the contender compared with every other")
    ap.add_argument("--against", default=None, help="comma-separated contenders (default: all others)")
    ap.add_argument("--field", choices=FIELDS, default="generations",
                    help="what 'faster' compares per seed (seconds only within one file)")
    a = ap.parse_args(argv)
    rows = table(a.files, a.ours, None if a.against is None else a.against.split(","), a.field)
    if not rows:
        ap.error(f"--ours {a.ours!r} shares no environment with another contender in these files")
    print(harness.markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
