"""The multi-objective job: ``evojax-ga run zdt`` writes a valid run folder, a run cut back to a
checkpoint and resumed equals the uninterrupted run, bad options are one-line errors (exit 2)."""

import shutil

import numpy as np
import pytest
from helpers.metrics import metric_rows

from evojax_ga import cli
from evojax_ga import run_folder as rf
from evojax_ga.runs import multiobjective as mo

ARGS = ["run", "zdt", "--pop-size", "16", "--generations", "6", "--dim", "5", "--block", "2", "--checkpoint-every",
        "2", "--no-progress", "--no-compile-cache", "--seed", "4"]


@pytest.mark.parametrize("algorithm", [[], ["--algorithm", "nsga3", "--divisions", "6"]], ids=["nsga2", "nsga3"])
def test_run_folder_then_resume_equals_uninterrupted(tmp_path, capsys, algorithm):
    full = tmp_path / "full"
    assert cli.main([*ARGS, *algorithm, "--out", str(full)]) == 0
    assert rf.read_json(full / rf.CONFIG_FILE)["config"]["strategy"]["algorithm"] == (algorithm or ["", "nsga2"])[1]
    for name in (rf.CONFIG_FILE, rf.METRICS_FILE, rf.SUMMARY_FILE, mo.FRONT_FILE, mo.FRONT_PLOT_FILE):
        assert (full / name).is_file(), name
    rows = metric_rows(full)
    assert [r["generation"] for r in rows] == list(range(1, 7))
    hv = [r["hypervolume"] for r in rows]
    assert hv[-1] > hv[0] >= 0.0
    summary, front = rf.read_json(full / rf.SUMMARY_FILE), rf.read_json(full / mo.FRONT_FILE)
    assert summary["hypervolume"] == pytest.approx(hv[-1]) and summary["front_size"] == front["size"] == rows[-1][
        "front_size"]
    f, x = np.array(front["objectives"]), np.array(front["x"])
    assert f.shape == (front["size"], 2) and x.shape == (front["size"], 5)
    np.testing.assert_allclose(f[:, 0], x[:, 0], atol=1e-6)          # ZDT: f1 = x1
    assert np.all(np.diff(f[:, 0]) >= 0) and np.all(np.diff(f[:, 1]) <= 0)   # a front, sorted by f1

    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for name in (rf.SUMMARY_FILE, mo.FRONT_FILE, mo.FRONT_PLOT_FILE, "checkpoints/ckpt_00000006.msgpack"):
        (cut / name).unlink()
    capsys.readouterr()
    assert cli.main(["resume", str(cut), "--no-progress", "--no-compile-cache"]) == 0
    assert "from generation 4 of 6" in capsys.readouterr().out
    assert metric_rows(cut) == rows
    assert (cut / mo.FRONT_FILE).read_bytes() == (full / mo.FRONT_FILE).read_bytes()
    a = rf.read_json(cut / rf.SUMMARY_FILE)
    assert a["hypervolume"] == summary["hypervolume"] and a["resumed_from_generation"] == 4


@pytest.mark.parametrize("extra,words", [
    (["--problem", "zdt9"], "argument --problem: problem must be one of ['dtlz2', 'zdt1', 'zdt2', 'zdt3'], got 'zdt9'"),
    (["--ref", "1,2,3"], "argument --ref: ref must be 2 finite numbers"),
    (["--problem", "dtlz2", "--ref", "a,b,c"], "argument --ref: ref must be comma-separated numbers"),
    (["--ref", "0,nan"], "argument --ref: ref must be 2 finite numbers"),
    (["--pop-size", "1"], "argument --pop-size: pop_size must be an int in [2"),
    (["--algorithm", "nsga4"], "argument --algorithm: algorithm must be one of ['nsga2', 'nsga3'], got 'nsga4'"),
    (["--divisions", "4"], "argument --divisions: divisions: only nsga3 has reference directions"),
    (["--algorithm", "nsga3", "--divisions", "0"], "argument --divisions: divisions must be an int in [1, 1000]"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, words):
    out = tmp_path / "r"
    assert cli.main([*ARGS, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not out.exists()


def test_dtlz2_config_defaults():
    cfg = mo.MOConfig(problem="dtlz2")
    assert cfg.genes == 12 and cfg.reference == (-1.1, -1.1, -1.1)
    with pytest.raises(ValueError, match=r"dim must be an int in \[3"):
        mo.MOConfig(problem="dtlz2", dim=2)
