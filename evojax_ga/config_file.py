"""Config files for ``evojax-ga run``: options read from a TOML or JSON file, or replayed from a run folder.

    evojax-ga run --config FILE [options]          # the job is the file's ``job`` key
    evojax-ga run JOB --config FILE [options]      # the file's ``job``, if any, must be JOB

A file holds ``job = "cartpole"`` and option keys named like the options' destinations
(``pop_size = 256``, ``hidden = [32, 32]``, ``early_exit = true``; dashes may stand for underscores,
and a flag may also be named by its option, ``raw_obs = true``). A run folder's ``config.json`` (or
the folder itself) is accepted as is: its ``job`` and recorded ``args`` replay that run, less the
bookkeeping that belongs to the new run (:data:`NOT_REPLAYED`: ``--out``, the progress bar, the
compilation cache and the process options such as ``--num-processes`` come from the command line).
Options on the command line override the file's.

Every key is checked against the job's sub-parser *before* anything runs, and its value goes through
the option's own converter (``type=``) and ``choices``, so a file accepts exactly what the command
line accepts and a new option or job needs no change here. Errors are :class:`ValueError` with one
line naming the file and the key. The values become the sub-parser's defaults
(``parser.set_defaults``), which is why the command line wins.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["OPTION", "DEST", "NOT_REPLAYED", "read", "options_from", "prepare", "check_handled"]

#: the command-line option and its ``args`` attribute (recorded in the new run's config.json)
OPTION = "--config"
DEST = "config_file"
#: recorded ``args`` of a run folder that are not replayed: the new run's own folder, display and
#: cache (from its command line or their defaults), and what the command line itself records
NOT_REPLAYED = frozenset({"out", "progress", "compile_cache", DEST, "command", "job", "argv", "func",
                          "coordinator", "num_processes", "process_id", "init_timeout", "heartbeat_timeout"})
_RUN_FILE = "config.json"


def read(path: str | Path) -> tuple[str | None, dict[str, Any], bool]:
    """``(job, options, replay)`` of a config file: a ``.json`` file is JSON, any other TOML; a folder
    stands for its ``config.json``. ``replay``: the file is a run folder's ``config.json`` (its
    ``args`` are the options, less :data:`NOT_REPLAYED`). ValueError (one line) when the file is
    missing or does not parse."""
    p = Path(path)
    if p.is_dir():
        if not (p / _RUN_FILE).is_file():
            raise ValueError(f"{OPTION} {str(p)!r} is a folder without {_RUN_FILE}; pass a TOML or JSON file "
                             f"or a run folder")
        p = p / _RUN_FILE
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{OPTION}: config file {str(p)!r} not found") from None
    except OSError as exc:
        raise ValueError(f"{OPTION}: config file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"config file {str(p)!r} is not valid JSON: {_one_line(exc)}") from None
    else:
        toml = _toml_module(p)
        try:
            data = toml.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, toml.TOMLDecodeError) as exc:
            raise ValueError(f"config file {str(p)!r} is not valid TOML: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(p)!r} must hold a table of options, got {type(data).__name__}")
    replay = isinstance(data.get("args"), dict)
    if replay:   # a run folder's config.json: job + recorded args; the rest is its own bookkeeping
        options = {k: v for k, v in data["args"].items() if k not in NOT_REPLAYED and not k.startswith("_")}
    else:
        options = {k: v for k, v in data.items() if k != "job"}
    job = data.get("job")
    if job is not None and not isinstance(job, str):
        raise ValueError(f"config file {str(p)!r}: job must be a string such as \"cartpole\", got {job!r}")
    return job, options, replay


def _toml_module(path: Path) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    try:   # Python 3.10: the tomli package has the same API
        import tomli
        return tomli
    except ImportError:
        raise ValueError(f"config file {str(path)!r}: reading TOML needs Python 3.11+ (tomllib) or the tomli "
                         f"package ('pip install tomli'); a .json config file works on any Python") from None


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def options_from(parser: argparse.ArgumentParser, options: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``{dest: value}`` for ``parser.set_defaults``: each key of ``options`` (a dest, or an option's name
    without dashes; ``-`` may stand for ``_``) matched to the parser's actions and its value converted
    as the command line would convert it. ValueError naming ``source`` and the key when a key is
    unknown or a value has the wrong type or is out of the option's range."""
    actions = [a for a in parser._actions if a.option_strings and a.dest not in (argparse.SUPPRESS, "help", DEST)
               and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]
    by_dest: dict[str, list[argparse.Action]] = {}
    for a in actions:
        by_dest.setdefault(a.dest, []).append(a)
    by_flag = {s.lstrip("-").replace("-", "_"): a for a in actions if a.nargs == 0 for s in a.option_strings}
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = str(key).replace("-", "_")
        if name in by_dest:
            dest, val = name, _convert(parser, by_dest[name], value, f"{source}: {key}")
        elif name in by_flag:   # a flag named by its option (raw_obs = true): true = given, false = absent
            flag = by_flag[name]
            if not isinstance(value, bool):
                raise ValueError(f"{source}: {key} must be true or false (the flag {flag.option_strings[0]}), "
                                 f"got {value!r}")
            if not value:
                continue
            dest, val = flag.dest, flag.const
        else:
            allowed = sorted(by_dest)
            near = difflib.get_close_matches(name, [*allowed, *by_flag], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"{source}: unknown key {str(key)!r}{hint}; allowed keys: job, {', '.join(allowed)}")
        if dest in out and out[dest] != val:
            raise ValueError(f"{source}: {key} sets {dest} again, to another value ({out[dest]!r}, then {val!r})")
        out[dest] = val
    return out


def _convert(parser: argparse.ArgumentParser, actions: list[argparse.Action], value: Any, where: str) -> Any:
    """``value`` through the option's converter and choices (what ``--option TEXT`` would give)."""
    flags = [a for a in actions if a.nargs == 0]
    takes = [a for a in actions if a.nargs != 0]
    if value is None:   # JSON null: "not given", allowed where the option's own default is None
        if any(a.default is None for a in actions):
            return None
        raise ValueError(f"{where} cannot be null (the option's default is {actions[0].default!r})")
    if isinstance(value, bool) and any(isinstance(a.const, bool) for a in flags):
        return value    # a flag's value itself (store_true / store_false dests, either value)
    if not takes:
        names = " / ".join(s for a in flags for s in a.option_strings[:1])
        raise ValueError(f"{where} must be true or false (the flag {names}), got {value!r}")
    action = next((a for a in takes if a.help != argparse.SUPPRESS), takes[0])
    option = action.option_strings[0]
    if isinstance(value, bool) or isinstance(value, dict) or (action.type is None and not isinstance(value, str)):
        raise ValueError(f"{where} must be {_wanted(action)} (like {option} on the command line), got {value!r}")
    is_list = isinstance(value, (list, tuple))
    if is_list and not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where} must be {_wanted(action)} (like {option} on the command line), got {value!r}")
    text = ",".join(str(v) for v in value) if is_list else str(value)
    try:
        converted = parser._get_value(action, text)
        parser._check_value(action, converted)
    except argparse.ArgumentError as exc:
        raise ValueError(f"{where} = {value!r}: {_one_line(exc.message)}") from None
    if is_list and not isinstance(converted, (list, tuple)):
        raise ValueError(f"{where} must be a single value, not a list (like {option} on the command line), "
                         f"got {value!r}")
    return converted


def _wanted(action: argparse.Action) -> str:
    if action.choices is not None:
        return "one of " + ", ".join(repr(c) for c in action.choices)
    kind = getattr(action.type, "__name__", None)
    return {"int": "an integer", "float": "a number", None: "a string"}.get(kind, "a value")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def _find_option(tokens: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, stop, path)`` of each ``--config PATH`` / ``--config=PATH`` in ``tokens``."""
    found = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "--":
            break
        if t == OPTION:
            if i + 1 >= len(tokens):
                raise ValueError(f"{OPTION} needs a file: {OPTION} FILE (TOML or JSON, or a run folder's "
                                 f"config.json)")
            found.append((i, i + 2, tokens[i + 1]))
            i += 2
            continue
        if t.startswith(OPTION + "="):
            found.append((i, i + 1, t[len(OPTION) + 1:]))
        i += 1
    return found


def prepare(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> tuple[list[str], str | None]:
    """Apply ``--config FILE`` of a ``run`` command line: the file's options become the job
    sub-parser's defaults (so the command line overrides them) and the job is put on the command line
    when only the file names it. Returns ``(tokens to parse, the FILE handled or None)``; ValueError
    (one line) for a missing or malformed file, an unknown key, a wrong value or a job mismatch."""
    tokens = list(tokens)
    if not tokens or tokens[0] != "run":
        return tokens, None
    found = _find_option(tokens)
    if not found:
        return tokens, None
    if len(found) > 1:
        raise ValueError(f"give {OPTION} once, got {len(found)} files: {', '.join(repr(f[2]) for f in found)}")
    start, stop, path = found[0]
    jobs = _subparsers(_subparsers(parser)["run"])
    if start == 1 and stop < len(tokens) and not tokens[stop].startswith("-"):   # run --config FILE JOB ...
        tokens = [tokens[0], tokens[stop], *tokens[start:stop], *tokens[stop + 1:]]
    given = tokens[1] if len(tokens) > 1 and not tokens[1].startswith("-") else None
    if given is not None and given not in jobs:
        raise ValueError(f"job must be one of {sorted(jobs)}, got {given!r}")
    file_job, options, replay = read(path)
    kind = "run folder config" if replay else "config file"
    if given is not None and file_job is not None and file_job != given:
        raise ValueError(f"{kind} {path!r} is for job {file_job!r}, but the command line says 'run {given}'; "
                         f"drop one of them")
    job = given or file_job
    if job is None:
        raise ValueError(f"config file {path!r} names no job: add job = \"cartpole\" (one of {sorted(jobs)}) or "
                         f"give it: evojax-ga run JOB {OPTION} {path}")
    if job not in jobs:
        raise ValueError(f"{kind} {path!r}: job must be one of {sorted(jobs)}, got {job!r}")
    sub = jobs[job]
    broken = sub.get_default("_job_error")
    if broken:
        raise ValueError(f"job {job!r} cannot be loaded: {broken}")
    values = options_from(sub, options, f"{kind} {path!r}")
    sub.set_defaults(**values)
    for action in sub._actions:   # a required option the file gives is no longer required on the command line
        if action.required and action.option_strings and values.get(action.dest) is not None:
            action.required = False
    if given is None:
        tokens.insert(1, job)
    return tokens, path


def check_handled(args: argparse.Namespace, handled: str | None) -> None:
    """ValueError when argparse took an abbreviation (``--conf F``) for ``--config`` that
    :func:`prepare` did not read: write the option in full."""
    got = getattr(args, DEST, None)
    if got is not None and got != handled:
        raise ValueError(f"write {OPTION} in full (an abbreviation of it is not read): {OPTION} {got}")
