"""Command line: ``python -m benchmarks NAME [--quick] [--repeats N] | --list | readme``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from benchmarks import available


def _command(name: str, quick: bool, repeats: int) -> str:
    return f"python -m benchmarks {name}" + (" --quick" if quick else "") + f" --repeats {repeats}"


def run_benchmark(name: str, quick: bool, repeats: int) -> dict[str, Any]:
    """Run ``benchmarks/bench_<name>.py``, print its table, write its JSON, regenerate README."""
    from benchmarks import harness

    module = importlib.import_module(f"benchmarks.bench_{name}")
    # the roofline is measured first, in this process; benchmarks that need it get the cached one
    roof = harness.roofline(quick=quick, repeats=repeats)
    result = module.run(quick=quick, repeats=repeats)
    rows = list(result.get("rows", []))
    notes = [str(n) for n in result.get("notes", [])]
    roof = result.get("roofline", roof)
    payload: dict[str, Any] = {
        "name": name,
        "command": _command(name, quick, repeats),
        "quick": quick,
        "repeats": repeats,
        "rows": rows,
        "notes": notes,
        "roofline": roof,
        "env": harness.env_info(),
    }
    for key, value in result.items():  # extra keys a benchmark wants to keep in its JSON
        payload.setdefault(key, value)

    print(f"## {name}" + (" (quick)" if quick else ""))
    print(harness.markdown_table(rows))
    for note in notes:
        print(f"- {note}")
    print(f"roofline: {harness.roofline_line(roof)}")
    path = harness.write_result(name, payload)
    readme = harness.regenerate_readme()
    print(f"wrote {path.relative_to(harness.REPO_ROOT)}; regenerated {readme.relative_to(harness.REPO_ROOT)}")
    return payload


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and dispatch."""
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run a benchmark (benchmarks/bench_<NAME>.py), or 'readme' to regenerate tables.",
    )
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(names) or '(none)'}, or 'readme'")
    parser.add_argument("--list", action="store_true", help="list available benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls after warm-up (default 5)")
    args = parser.parse_args(argv)

    if args.list:
        for n in names:
            print(n)
        return 0
    if args.name is None:
        parser.print_usage()
        return 2
    if args.name == "readme":
        from benchmarks import harness

        print(f"regenerated {harness.regenerate_readme()}")
        return 0
    if args.name not in names:
        print(f"unknown benchmark {args.name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    run_benchmark(args.name, quick=args.quick, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
