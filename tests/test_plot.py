"""`evojax-ga plot`: several run folders (GA or SGD) on one figure."""

import json

from evojax_ga import cli


def _run_dir(path, rows):
    path.mkdir()
    with open(path / "metrics.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path


def test_plot_several_runs(tmp_path, capsys):
    ga = _run_dir(tmp_path / "ga", [{"generation": g, "best_so_far": g * 0.1, "wall_s": 0.5 * g} for g in range(1, 6)])
    rows = [{"generation": g, "test_accuracy": 0.5 + 0.1 * g, "wall_s": g} for g in range(1, 4)]
    sgd = _run_dir(tmp_path / "sgd", rows)
    out = tmp_path / "cmp.png"
    assert cli.main(["plot", str(ga), str(sgd), "--metrics", "best_so_far,test_accuracy", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert str(out) in capsys.readouterr().out


def test_plot_rejects_folders_without_metrics(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["plot", str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 2
    assert "has no metrics.jsonl" in capsys.readouterr().err
    ga = _run_dir(tmp_path / "ga", [{"generation": 1, "best": 1.0}])
    assert cli.main(["plot", str(ga), "--metrics", "nope", "--out", str(tmp_path / "y.png")]) == 2
    assert "none of the requested metrics" in capsys.readouterr().err


def test_plot_out_folder_writes_runs_plot_png_inside_and_says_so(tmp_path, capsys):
    ga = _run_dir(tmp_path / "ga", [{"generation": g, "best_so_far": g * 0.1, "wall_s": 0.5 * g} for g in range(1, 4)])
    folder = tmp_path / "figs"
    folder.mkdir()
    assert cli.main(["plot", str(ga), "--out", str(folder)]) == 0
    written = folder / "runs-plot.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {written}" in capsys.readouterr().out
    assert cli.main(["plot", str(ga), "--out", str(tmp_path / "cmp")]) == 0   # matplotlib adds .png: say so
    assert (tmp_path / "cmp.png").is_file() and f"wrote {tmp_path / 'cmp.png'}" in capsys.readouterr().out
    assert cli.main(["plot", str(ga), "--out", str(tmp_path / "cmp.nope")]) == 2
    assert "--out" in capsys.readouterr().err
