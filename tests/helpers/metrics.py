"""Run-folder reading shared by the tests."""

import json
from pathlib import Path

from evojax_ga import run_folder as rf


def metric_rows(run_dir) -> list[dict]:
    """The rows of a run folder's ``metrics.jsonl`` without ``wall_s`` (wall-clock time, the only column
    that may differ between two runs of the same configuration)."""
    rows = [json.loads(line) for line in (Path(run_dir) / rf.METRICS_FILE).read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]
