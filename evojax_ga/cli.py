"""The ``evojax-ga`` command (also ``python -m evojax_ga``).

    evojax-ga run JOB [options]          evolve; writes a run folder (see evojax_ga.run_folder)
    evojax-ga run [JOB] --config FILE [options]
                                         options from a TOML / JSON file or a run folder's config.json
                                         (see evojax_ga.config_file); the command line overrides them
    evojax-ga eval RUN_DIR [--episodes N] [--seed S]
                                         reload a run folder's best parameters and re-evaluate them
    evojax-ga list                       the registered jobs

Jobs are modules registered in :data:`evojax_ga.jobs.JOBS` (one line each); see that package's
docstring for the two functions a job provides.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["build_parser", "parse_command_line", "main", "enable_compile_cache"]

CACHE_ENV = "EVOJAX_GA_CACHE"
DEFAULT_CACHE = "~/.cache/evojax-ga/xla"

_DESCRIPTION = ("Vectorised genetic algorithms for neural networks in JAX. "
                "'evojax-ga run JOB' evolves and leaves a run folder (config.json, metrics.jsonl, "
                "best_params.msgpack + model.json, fitness.png, summary.json, checkpoints/); "
                "'evojax-ga eval RUN_DIR' reloads and re-evaluates it; 'evojax-ga resume RUN_DIR' continues "
                "a killed run from its newest checkpoint.")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already names its default, the
    default is None, or the option is a flag."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text.lower() or action.default is None or action.default is argparse.SUPPRESS
                or isinstance(action.default, bool) or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


def _seed(text: str) -> int:
    """``--seed``: an int in [0, 2**32 - 1] (larger seeds would alias smaller ones)."""
    from evojax_ga._checks import check_seed
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an int in [0, 2**32 - 1], got {text!r}") from None
    try:
        return check_seed(value, "seed")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_CONFIG_HELP = ("read options from a TOML file (or JSON: .json): keys named like the options, e.g. "
                "job = \"cartpole\", pop_size = 256, hidden = [32, 32], early_exit = true; options given on the "
                "command line override the file's. A run folder's config.json (or the folder) replays that run: "
                "'evojax-ga run --config RUN_DIR/config.json --out NEW' (--out, the progress bar and the "
                "compilation cache are not taken from it)")


def _add_common(parser: argparse.ArgumentParser, job: str) -> None:
    g = parser.add_argument_group("run")
    from evojax_ga import config_file
    g.add_argument(config_file.OPTION, dest=config_file.DEST, default=None, metavar="FILE", help=_CONFIG_HELP)
    g.add_argument("--seed", type=_seed, default=0,
                   help="random seed in [0, 2**32 - 1] (every draw derives from it)")
    g.add_argument("--out", default=None, metavar="DIR",
                   help=f"run folder to create (default: runs/{job}-<UTC timestamp>)")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=True,
                   help="do not show the progress bar")
    g.add_argument("--compile-cache", default=None, metavar="DIR",
                   help=f"persistent XLA compilation cache: later runs of the same configuration skip "
                        f"compilation (default: ${CACHE_ENV} or {DEFAULT_CACHE}; {CACHE_ENV}=off disables it)")
    g.add_argument("--no-compile-cache", dest="compile_cache", action="store_const", const="",
                   help="do not read or write the compilation cache")
    from evojax_ga.jobs import processes
    processes.add_arguments(parser)


def enable_compile_cache(path: str | None) -> str | None:
    """Point JAX's persistent compilation cache at ``path`` (``None``: ``$EVOJAX_GA_CACHE`` or
    ``~/.cache/evojax-ga/xla``; ``""``: leave it off; ``EVOJAX_GA_CACHE=off`` turns the default off).
    Caches every compilation, however short. Off in a run of several processes (with a warm cache,
    jax 0.10.2's processes hung at their first collective). Returns the directory used, or None."""
    if path == "":
        return None
    from evojax_ga.jobs import processes
    if processes.joined():   # several processes: with a warm cache, jax 0.10.2 hung at the first collective
        return None
    if path is None:
        env = os.environ.get(CACHE_ENV)
        if env is not None and env.strip().lower() in ("", "off", "none", "0"):
            return None
        path = env or os.path.expanduser(DEFAULT_CACHE)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # unwritable home: run without the cache
    import jax
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def build_parser() -> argparse.ArgumentParser:
    """The full parser: ``run`` with one sub-parser per registered job, ``eval`` and ``list``.

    The top-level ``--help`` ends with the help of every job and of ``eval``, so it documents
    every option.
    """
    from evojax_ga import jobs

    parser = argparse.ArgumentParser(prog="evojax-ga", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from evojax_ga import __version__
    parser.add_argument("--version", action="version", version=f"evojax-ga {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="evolve on a job and write a run folder",
                         description="Evolve on a job; writes a run folder. 'evojax-ga run --config FILE' takes "
                                     "the job and its options from FILE (see 'evojax-ga run JOB --help').",
                         formatter_class=_Formatter)
    run.add_argument("--config", dest="config_file", default=None, metavar="FILE",
                     help=_CONFIG_HELP + "; the job is the file's 'job' unless JOB is given on the command line")
    run_sub = run.add_subparsers(dest="job", metavar="JOB")
    job_parsers: dict[str, argparse.ArgumentParser] = {}
    for name in jobs.JOBS:
        try:
            module = jobs.load_job(name)
            summary = jobs.describe(name, module)
        except Exception as exc:  # a broken job must not break the other jobs
            p = run_sub.add_parser(name, help=f"(unavailable: {exc})")
            p.set_defaults(job=name, _job_error=f"{type(exc).__name__}: {exc}")
            continue
        p = run_sub.add_parser(name, help=summary, description=summary, formatter_class=_Formatter)
        p.set_defaults(job=name)            # visible to add_arguments via parser.get_default("job")
        module.add_arguments(p)
        _add_common(p, name)
        p.set_defaults(_job_module=module)
        job_parsers[name] = p

    ev = sub.add_parser("eval", help="reload a run folder's best parameters and re-evaluate them",
                        description="Reload RUN_DIR's best parameters (the job is read from its config.json) "
                                    "and evaluate them on fresh episodes / held-out data.",
                        formatter_class=_Formatter)
    ev.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by 'evojax-ga run'")
    ev.add_argument("--episodes", type=int, default=None,
                    help="episodes to evaluate (control jobs; default: the run's --final-episodes, 100)")
    ev.add_argument("--seed", type=_seed, default=12345, help="seed of the fresh evaluation, in [0, 2**32 - 1]")

    rs = sub.add_parser("resume", help="continue a killed or interrupted run from its newest checkpoint",
                        description="Continue RUN_DIR (the job and every option are read from its config.json) "
                                    "from the newest complete checkpoint in RUN_DIR/checkpoints. Metrics written after "
                                    "that checkpoint are dropped and recomputed, so the finished run folder equals "
                                    "one of an uninterrupted run (bit-identical on the same machine and JAX).",
                        formatter_class=_Formatter)
    rs.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by 'evojax-ga run'")
    rs.add_argument("--no-progress", dest="progress", action="store_false", default=True,
                    help="do not show the progress bar")
    rs.add_argument("--compile-cache", default=None, metavar="DIR",
                    help=f"persistent XLA compilation cache (default: ${CACHE_ENV} or {DEFAULT_CACHE})")
    rs.add_argument("--no-compile-cache", dest="compile_cache", action="store_const", const="",
                    help="do not read or write the compilation cache")
    from evojax_ga.jobs import processes
    processes.add_arguments(rs)

    sub.add_parser("list", help="list the registered jobs")

    pl = sub.add_parser("plot", help="plot several run folders on one figure (GA and SGD runs alike)",
                        description="Draw metrics of one or more run folders against generation and "
                                    "wall-clock seconds on one PNG.", formatter_class=_Formatter)
    pl.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="run folders with a metrics.jsonl")
    pl.add_argument("--metrics", default="best_so_far,mean,test_accuracy",
                    help="comma-separated metrics.jsonl keys to plot (missing ones are skipped)")
    pl.add_argument("--out", default="runs-plot.png",
                    help="PNG file to write (.png added to a name without extension); an existing folder gets "
                         "runs-plot.png inside it; the file written is printed")

    epilog = ["jobs (evojax-ga run JOB --help):"]
    epilog += [f"  {name:<14s}{p.description}" for name, p in job_parsers.items()]
    for p in job_parsers.values():
        epilog += ["", "=" * 78, p.format_help().rstrip()]
    epilog += ["", "=" * 78, ev.format_help().rstrip()]
    epilog += ["", "=" * 78, rs.format_help().rstrip()]
    parser.epilog = "\n".join(epilog)
    return parser


def _run_folder_job(run_dir: Path, entry: str, command: str) -> tuple[str, Callable]:
    """``(job, fn)``: the job that wrote ``run_dir`` (from its config.json) and its ``entry`` function;
    ValueError when the folder is not a run folder or the job has no such function."""
    from evojax_ga import jobs
    from evojax_ga import run_folder as rf

    cfg_path = run_dir / rf.CONFIG_FILE
    if not cfg_path.exists():
        raise ValueError(f"RUN_DIR={str(run_dir)!r} has no {rf.CONFIG_FILE}; pass a folder written by 'evojax-ga run'")
    job = str(rf.read_json(cfg_path).get("job"))
    fn = getattr(jobs.load_job(job), entry, None)
    if not callable(fn):
        able = ", ".join(n for n in jobs.JOBS if _has_entry(n, entry))
        raise ValueError(f"job {job!r} ({jobs.JOBS[job]}) does not support 'evojax-ga {command}' "
                         f"(jobs that do: {able})")
    return job, fn


def _has_entry(job: str, entry: str) -> bool:
    from evojax_ga import jobs
    try:
        return callable(getattr(jobs.load_job(job), entry, None))
    except Exception:  # noqa: BLE001 - a job that does not load has no entry
        return False


def _eval(args: argparse.Namespace) -> int:
    if args.episodes is not None and args.episodes < 1:   # the options first, then the folder
        raise ValueError(f"--episodes must be an int >= 1, got {args.episodes}")
    run_dir = Path(args.run_dir)
    _, fn = _run_folder_job(run_dir, "evaluate_run", "eval")
    return int(fn(run_dir, args) or 0)


def _resume(args: argparse.Namespace) -> int:
    from evojax_ga import run_folder as rf
    from evojax_ga.jobs import processes

    run_dir = Path(args.run_dir)
    group = processes.resolve(args)   # the options first, then the folder
    job, fn = _run_folder_job(run_dir, "resume_run", "resume")
    if (run_dir / rf.SUMMARY_FILE).exists():
        print(f"{run_dir} is complete ({rf.SUMMARY_FILE} exists); nothing to resume", flush=True)
        return 0
    if group is not None:
        processes.check_job(job, group)
        processes.join(group)
    args.compile_cache = enable_compile_cache(args.compile_cache)
    return int(fn(run_dir, args) or 0)


def parse_command_line(argv: Sequence[str], parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """``argv`` (without the program name) parsed, ``run --config FILE`` applied (the file's options as
    the job's defaults, overridden by the command line). ValueError for a bad config file;
    SystemExit (argparse) for a bad command line."""
    from evojax_ga import config_file
    parser = build_parser() if parser is None else parser
    tokens, handled = config_file.prepare(parser, argv)
    args = parser.parse_args(tokens)
    config_file.check_handled(args, handled)
    return args


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed command; errors propagate to :func:`_main`, which reports them. In a run of
    several processes, an error that says another process has gone becomes
    :class:`~evojax_ga.jobs.processes.PeerLost` (one line naming the run folder)."""
    from evojax_ga.jobs import processes
    try:
        if args.command == "list":
            from evojax_ga import jobs
            for name, module in jobs.JOBS.items():
                print(f"{name:<14s}{module}")
            return 0
        if args.command == "eval":
            return _eval(args)
        if args.command == "resume":
            return _resume(args)
        if args.command == "plot":
            from evojax_ga import plots
            path = plots.plot_runs(args.run_dirs, args.out, [m for m in args.metrics.split(",") if m])
            print(f"wrote {path}")   # the file written (PLOT_NAME inside --out when --out is a folder)
            return 0
        if args.command == "run":
            if args.job is None:
                parser.parse_args(["run", "--help"])
                return 2
            if getattr(args, "_job_error", None):
                raise ValueError(f"job {args.job!r} cannot be loaded: {args._job_error}")
            group = processes.resolve(args)
            if group is not None:
                processes.check_job(args.job, group, args.out, getattr(args, "seeds", 1))
                processes.join(group)
            args.compile_cache = enable_compile_cache(args.compile_cache)
            return int(args._job_module.main(args) or 0)
        parser.print_help()
        return 2
    except Exception as exc:
        if processes.joined() and processes.peer_lost(exc):
            where = getattr(args, "out", None) or getattr(args, "run_dir", None)
            raise processes.PeerLost(processes.failure_message(exc, where)) from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``evojax-ga``; returns the exit status. A process of a multi-process run that
    fails ends at once (:func:`evojax_ga.jobs.processes.leave`), so that the others stop too."""
    from evojax_ga.jobs import processes
    code = _main(argv)
    if code != 0 and processes.joined():
        processes.leave(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    from evojax_ga.jobs import processes
    from evojax_ga.runs.interrupts import RunInterrupted

    parser = build_parser()
    try:   # a config file is read and checked before anything else runs
        args = parse_command_line(sys.argv[1:] if argv is None else list(argv), parser)
    except ValueError as exc:
        print(f"evojax-ga: error: {exc}", file=sys.stderr)
        return 2
    # the command line as typed, for the run folder (sys.argv when called as the console script)
    args.argv = list(sys.argv) if argv is None else ["evojax-ga", *argv]
    # the command line is the process's entry point (no JAX computation has run yet): process-wide
    # start-up settings (evojax_ga._startup) may be applied
    args._process_entry = argv is None
    try:
        return _command(args, parser)
    except processes.PeerLost as exc:   # several processes: a collective or barrier whose peer is gone
        print(exc, file=sys.stderr, flush=True)
        return 1
    except ValueError as exc:
        print(f"evojax-ga: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a write outside the run loop (which names the folder itself) failed
        print(f"evojax-ga: error: {exc}", file=sys.stderr)
        return 2
    except RunInterrupted as exc:   # SIGINT / SIGTERM: the run stopped at the end of a block
        print(exc, file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:   # a job without checkpoints (hparam)
        print("evojax-ga: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception:   # several processes: end this one at once (main), whatever the error
        if not processes.joined():
            raise
        import traceback
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
