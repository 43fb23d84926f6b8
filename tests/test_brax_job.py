"""The brax job without brax: its help and ``evojax-ga list`` work, a run says in one line how to
install the extra (before creating the run folder), bad options name the option."""

import sys

import pytest

from evojax_ga import cli


def test_help_and_list_without_brax(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "brax", None)          # import brax -> ImportError
    assert cli.main(["list"]) == 0
    assert "brax" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["run", "brax", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--env", "--backend", "--raw-obs", "--normalize-obs", "--episodes", "--max-steps", "--chunk-size",
                   "--target", "--checkpoint-every"):
        assert option in text, option


def test_run_without_brax_is_one_clear_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "brax", None)
    assert cli.main(["run", "brax", "--out", str(tmp_path / "r"), "--no-progress", "--no-compile-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'evojax-ga run brax: error: brax is not installed: pip install -e ".[brax]"'
    assert not (tmp_path / "r").exists()


def test_bad_option_names_it(capsys, tmp_path):
    assert cli.main(["run", "brax", "--pop-size", "1", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "argument --pop-size: pop_size must be" in capsys.readouterr().err
    assert cli.main(["run", "brax", "--backend", "spring", "--obs-clip", "0", "--out", str(tmp_path / "r")]) == 2
    assert "argument --obs-clip" in capsys.readouterr().err


def test_library_task_without_brax_says_how_to_install(monkeypatch):
    import evojax_ga as ega
    from evojax_ga.tasks import brax_task
    monkeypatch.setitem(sys.modules, "brax", None)
    brax_task._make_env.cache_clear()
    with pytest.raises(ImportError, match=r'brax is not installed: pip install -e "\.\[brax\]"'):
        ega.tasks.brax("ant", lambda p, o: o)
