"""``evojax-ga run --config FILE``: a TOML / JSON file parses to the namespace of the equivalent command
line, the command line overrides it, every option of every job round-trips, and bad files are refused
with one line before anything runs. (Replaying a finished run's config.json: tests/test_cli.py.)"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from evojax_ga import cli, config_file, jobs


def _parse(argv: list[str]) -> dict:
    return {k: v for k, v in vars(cli.parse_command_line(argv)).items() if k != config_file.DEST}


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CONTROL_TOML = """
job = "cartpole"
pop_size = 64
generations = 7
preset = "deep_ga"
sigma = 0.2
truncation = 0.25
hidden = [32, 32]
chunk-size = "all"
no_early_exit = true
raw_obs = true
common_episodes = true
max_steps = 50
checkpoint_every = 0
fast_compile = "off"
seed = 11
progress = false
"""
CONTROL_ARGV = ["--pop-size", "64", "--generations", "7", "--preset", "deep_ga", "--sigma", "0.2",
                "--truncation", "0.25", "--hidden", "32,32", "--chunk-size", "all", "--no-early-exit", "--raw-obs",
                "--common-episodes",
                "--max-steps", "50", "--checkpoint-every", "0", "--fast-compile", "off", "--seed", "11",
                "--no-progress"]

DIGITS_TOML = """
job = "digits"
model = "mlp"
hidden = [16]
pop_size = 40
fitness = "accuracy"
batch_size = 128
sigma = 0.05
elite = 0.1
baseline = "none"
time_limit = 30.5
"""
DIGITS_ARGV = ["--model", "mlp", "--hidden", "16", "--pop-size", "40", "--fitness", "accuracy", "--batch-size", "128",
               "--sigma", "0.05", "--elite", "0.1", "--baseline", "none", "--time-limit", "30.5"]


@pytest.mark.parametrize("text,job,argv",
                         [(CONTROL_TOML, "cartpole", CONTROL_ARGV), (DIGITS_TOML, "digits", DIGITS_ARGV)],
                         ids=["cartpole", "digits"])
def test_file_parses_like_the_command_line(tmp_path, text, job, argv):
    path = _write(tmp_path, text)
    want = _parse(["run", job, *argv])
    assert _parse(["run", "--config", path]) == want                     # job from the file
    assert _parse(["run", job, "--config", path]) == want                # job on the command line too
    assert _parse(["run", f"--config={path}", job]) == want
    args = cli.parse_command_line(["run", "--config", path])
    assert getattr(args, config_file.DEST) == path                       # recorded in the new run's args
    # the same options as JSON
    toml_values = config_file.read(path)[1]
    jpath = _write(tmp_path, json.dumps({"job": job, **toml_values}), "c.json")
    assert _parse(["run", "--config", jpath]) == want


def test_command_line_overrides_the_file(tmp_path):
    path = _write(tmp_path, CONTROL_TOML)
    args = cli.parse_command_line(["run", "--config", path, "--pop-size", "16", "--early-exit", "--seed", "2",
                                   "--hidden", "8"])
    assert (args.pop_size, args.early_exit, args.seed, args.hidden) == (16, True, 2, (8,))
    assert args.sigma == 0.2 and args.preset == "deep_ga" and args.normalize_obs is False   # the rest from the file


@pytest.mark.parametrize("job", sorted(jobs.JOBS))
def test_every_option_of_every_job_round_trips(tmp_path, job):
    """A run folder's recorded args (here: each job's defaults, plus every flag given) replay to the
    same namespace: every option of every job can be set from a file."""
    sub = config_file._subparsers(config_file._subparsers(cli.build_parser())["run"])[job]
    exclusive = [a for g in sub._mutually_exclusive_groups for a in g._group_actions[1:]]   # one per group
    flags = [a.option_strings[0] for a in sub._actions
             if a.nargs == 0 and a.option_strings and a.dest != "help" and a.help != argparse.SUPPRESS
             and a not in exclusive]
    required = ["--env", "Catch-bsuite"] if job == "control" else []   # the generic job needs its environment
    want = vars(cli.parse_command_line(["run", job, *required, *flags]))
    recorded = {"job": job, "args": {k: v for k, v in want.items() if not k.startswith("_")}}
    path = _write(tmp_path, json.dumps(recorded, default=list), "config.json")
    got = vars(cli.parse_command_line(["run", "--config", path]))
    for key in config_file.NOT_REPLAYED - {"job", "command"}:
        got.pop(key, None), want.pop(key, None)
    assert got == want


def test_replay_takes_no_out_from_the_run_folder(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"job": "acrobot", "argv": ["x"], "config": {"a": 1},
                                                 "args": {"command": "run", "job": "acrobot", "out": str(run),
                                                          "progress": False, "compile_cache": "/c", "seed": 5,
                                                          "config_file": "older.toml", "pop_size": 32}}))
    for source in (run, run / "config.json"):                          # the folder stands for its config.json
        args = cli.parse_command_line(["run", "--config", str(source)])
        assert args.job == "acrobot" and args.seed == 5 and args.pop_size == 32
        assert args.out is None and args.progress is True and args.compile_cache is None


BAD = [
    ("unknown-key", "job = 'cartpole'\npop_sise = 8\n", [], ("unknown key 'pop_sise'", "did you mean 'pop_size'",
                                                          "allowed keys", "c.toml")),
    ("wrong-type-int", "job = 'cartpole'\npop_size = 'many'\n", [], ("pop_size", "invalid int value")),
    ("wrong-type-bool-for-number", "job = 'cartpole'\nsigma = true\n", [], ("sigma", "a number")),
    ("wrong-type-flag", "job = 'cartpole'\nearly_exit = 'yes'\n", [], ("early_exit", "true or false")),
    ("list-for-scalar", "job = 'cartpole'\npop_size = [8, 8]\n", [], ("pop_size", "invalid int value: '8,8'")),
    ("one-item-list-for-scalar", "job = 'cartpole'\npop_size = [8]\n", [], ("pop_size", "not a list")),
    ("bad-choice", "job = 'digits'\nfitness = 'joy'\n", [], ("fitness", "invalid choice")),
    ("bad-hidden", "job = 'cartpole'\nhidden = [16, 0]\n", [], ("hidden", "positive ints")),
    ("job-mismatch", "job = 'digits'\n", ["cartpole"], ("'digits'", "'run cartpole'")),
    ("no-job", "pop_size = 8\n", [], ("names no job",)),
    ("unknown-job", "job = 'chess'\n", [], ("job must be one of", "'chess'")),
    ("malformed-toml", "job = 'cartpole'\npop_size = = 8\n", [], ("not valid TOML", "line 2")),
    ("missing-file", None, [], ("not found", "missing.toml")),
]


@pytest.mark.parametrize("text,before,words", [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_bad_config_file(tmp_path, monkeypatch, capsys, text, before, words):
    """Exit 2 with one line naming the problem; no job started, no run folder."""
    from evojax_ga.jobs import classify, control
    for module in (control, classify):
        monkeypatch.setattr(module, "main", lambda args: pytest.fail("the job ran"))
    monkeypatch.chdir(tmp_path)
    path = "missing.toml" if text is None else _write(tmp_path, text)
    code = cli.main(["run", *before, "--config", path, "--out", "new", "--no-progress", "--no-compile-cache"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if text is None else ["c.toml"])


def test_malformed_json_and_abbreviated_option(tmp_path, capsys):
    path = _write(tmp_path, '{"job": "cartpole", ', "c.json")
    assert cli.main(["run", "--config", path]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    path = _write(tmp_path, '{"job": "hparam", "epochs": null}', "n.json")   # --epochs defaults to 10, not None
    assert cli.main(["run", "--config", path]) == 2
    assert "epochs cannot be null" in capsys.readouterr().err
    good = _write(tmp_path, "job = 'digits'\n")
    assert cli.main(["run", "digits", "--conf", good]) == 2               # argparse would take it silently
    assert "write --config in full" in capsys.readouterr().err


def test_help_documents_config():
    text = " ".join(cli.build_parser().format_help().split())
    assert "--config FILE" in text and "evojax-ga run --config RUN_DIR/config.json --out NEW" in text


def test_toml_without_tomllib_says_what_to_install(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: without the tomli package a TOML file is a clear error (JSON still works)."""
    import sys
    monkeypatch.setattr(sys, "version_info", (3, 10, 0))
    monkeypatch.setitem(sys.modules, "tomli", None)                      # import tomli -> ImportError
    with pytest.raises(ValueError, match="Python 3.11\\+ .*tomli"):
        config_file.read(_write(tmp_path, "job = 'digits'\n"))
    assert config_file.read(_write(tmp_path, '{"job": "digits"}', "c.json"))[0] == "digits"
