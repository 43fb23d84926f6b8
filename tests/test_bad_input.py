"""Bad input, table-driven: every row is one input a user may give, with the error it must get.

CLI rows: ``(id, argv, exit code, words)``: ``evojax-ga ARGV`` must exit with that code, print no
traceback, and its stderr must contain every one of ``words`` (the argument it names, what is
allowed). They run in-process through :func:`evojax_ga.cli.main` and must fail before any compute.
``{tmp}`` in an argument is replaced by a fresh temporary folder; ``{file}`` by a plain file in it.

Library rows: ``(id, fn, exception type, words)``: ``fn()`` must raise that type with every one of
``words`` in its message.

Each area of the library appends its rows to its own section below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import jax.numpy as jnp
import pytest

import evojax_ga as ega
from evojax_ga import cli

QUICK = ["--no-progress", "--no-compile-cache"]

# ---------------------------------------------------------------------------------------------- CLI
CLI_ROWS: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("unknown-job", ["run", "no-such-job"], 2, ("no-such-job",)),
    ("pop-size-1", ["run", "cartpole", "--pop-size", "1", "--out", "{tmp}/x"], 2, ("pop_size",)),
]

# --- section: run folders (lock, --out, resume) ---

# --- section: options and seeds ---

# --- section: classification data ---


# ------------------------------------------------------------------------------------------ library
def _pop(n: int = 8, dim: int = 3, dtype: Any = jnp.float32) -> dict:
    return {"w": jnp.zeros((n, dim), dtype)}


LIB_ROWS: list[tuple[str, Callable[[], Any], type[BaseException], tuple[str, ...]]] = [
    ("ga-elite-negative", lambda: ega.ga(elite=-1), ValueError, ("elite",)),
]

# --- section: strategy and operators ---
from evojax_ga import chunking as _chunking  # noqa: E402
from evojax_ga import crossover as _xo  # noqa: E402
from evojax_ga import mutation as _mu  # noqa: E402
from evojax_ga import selection as _sel  # noqa: E402


def _key() -> Any:
    import jax
    return jax.random.key(0)


def _tell(pop: Any = None, fitness: Any = None, dtype: Any = jnp.float32) -> Any:
    """``tell`` of a GA whose state holds 8 individuals ``{"w": [8, 3]}``."""
    s = ega.ga()
    state = s.init(_key(), _pop(8))
    return s.tell(state, _pop(8, dtype=dtype) if pop is None else pop,
                  jnp.zeros(8) if fitness is None else fitness)


def _evolve(**kw: Any) -> Any:
    args = {"generations": 2, "progress": False, **kw}
    return ega.evolve(_key(), ega.ga(), lambda k, p: -jnp.sum(p["w"] ** 2, axis=1), _pop(8), **args)


LIB_ROWS += [
    ("ga-select-not-a-selection", lambda: ega.ga(select=lambda k, f, n: f), TypeError, ("select",)),
    ("ga-elite-float", lambda: ega.ga(elite=1.5), TypeError, ("elite",)),
    ("ga-random-survivors-negative", lambda: ega.ga(random_survivors=-1), ValueError, ("random_survivors",)),
    ("ga-parent-pool-fraction-above-1", lambda: ega.ga(parent_pool=1.5), ValueError, ("parent_pool",)),
    ("ga-parent-pool-zero", lambda: ega.ga(parent_pool=0), ValueError, ("parent_pool",)),
    ("ga-elite-fills-population", lambda: ega.ga(elite=8).init(_key(), _pop(8)), ValueError, ("elite",)),
    ("gaussian-rate-above-1", lambda: _mu.gaussian(rate=1.5), ValueError, ("rate",)),
    ("gaussian-sigma-negative", lambda: _mu.gaussian(sigma=-0.1), ValueError, ("sigma",)),
    ("gaussian-sigma-nan", lambda: _mu.gaussian(sigma=float("nan")), ValueError, ("sigma",)),
    ("self-adaptive-tau-negative", lambda: _mu.self_adaptive(_mu.gaussian(), -1.0), ValueError, ("tau",)),
    ("mixed-type-probs-not-summing-to-1", lambda: _mu.mixed(type_probs=(0.5, 0.5, 0.5)), ValueError,
     ("type_probs",)),
    ("categorical-cardinality-0", lambda: _mu.categorical(0), ValueError, ("cardinalities",)),
    ("uniform-crossover-prob-negative", lambda: _xo.uniform(-0.1), ValueError, ("prob",)),
    ("k-point-0", lambda: _xo.k_point(0), ValueError, ("k",)),
    ("tournament-size-0", lambda: _sel.tournament(0), ValueError, ("size",)),
    ("truncation-fraction-0", lambda: _sel.truncation(0.0), ValueError, ("fraction",)),
    ("init-one-row", lambda: ega.ga(elite=0).init(_key(), _pop(1)), ValueError, ("population", "at least 2")),
    ("ask-population-as-state", lambda: ega.ga().ask(_key(), _pop(8)), TypeError, ("state",)),
    ("tell-8-rows-for-16", lambda: ega.ga().tell(ega.ga().init(_key(), _pop(16)), _pop(8), jnp.zeros(16)),
     ValueError, ("population", "['w']", "8 rows")),
    ("tell-32-rows-for-8", lambda: _tell(_pop(32), jnp.zeros(8)), ValueError, ("population", "['w']", "32 rows")),
    ("tell-other-structure", lambda: _tell({"v": jnp.zeros((8, 3))}), ValueError, ("population", "structure")),
    ("tell-other-leaf-shape", lambda: _tell(_pop(8, dim=4)), ValueError, ("population", "['w']", "(8, 4)")),
    ("tell-other-dtype", lambda: _tell(dtype=jnp.int32), TypeError, ("population", "['w']", "int32")),
    ("tell-complex-fitness", lambda: _tell(fitness=jnp.zeros(8, jnp.complex64)), TypeError, ("fitness", "complex")),
    ("tell-fitness-7-values", lambda: _tell(fitness=jnp.zeros(7)), ValueError, ("fitness", "[8]")),
    ("tell-fitness-2d", lambda: _tell(fitness=jnp.zeros((8, 1))), ValueError, ("fitness", "[n]")),
    ("tell-fitness-string", lambda: _tell(fitness="high"), TypeError, ("fitness",)),
    ("selection-complex-fitness", lambda: _sel.tournament(2)(_key(), jnp.zeros(8, jnp.complex64), 4), TypeError,
     ("fitness", "complex")),
    ("gaussian-on-int-leaf", lambda: _mu.gaussian(0.5, 0.5)(_key(), _pop(4, dtype=jnp.int32)), TypeError,
     ("['w']", "int32", "categorical")),
    ("gaussian-on-bool-leaf", lambda: _mu.gaussian(0.5, 0.5)(_key(), _pop(4, dtype=jnp.bool_)), TypeError,
     ("['w']", "bool", "categorical")),
    ("blend-on-int-leaf", lambda: _xo.blend()(_key(), _pop(4, dtype=jnp.int32), _pop(4, dtype=jnp.int32)),
     TypeError, ("['w']", "uniform")),
    ("ga-step-gaussian-on-int-population",
     lambda: ega.ga().step(_key(), ega.ga().init(_key(), _pop(8, dtype=jnp.int32)), lambda k, p: jnp.zeros(8)),
     TypeError, ("['w']", "categorical")),
    ("evolve-generations-negative", lambda: _evolve(generations=-1), ValueError, ("generations",)),
    ("evolve-generations-float", lambda: _evolve(generations=2.5), TypeError, ("generations",)),
    ("evolve-block-0", lambda: _evolve(block=0), ValueError, ("block",)),
    ("evolve-target-nan", lambda: _evolve(target=float("nan")), ValueError, ("target",)),
    ("evolve-target-inf", lambda: _evolve(target=float("inf")), ValueError, ("target",)),
    ("evolve-pause-nan", lambda: _evolve(pause=float("nan")), ValueError, ("pause",)),
    ("map-chunks-chunk-size-0", lambda: _chunking.map_chunks(lambda c, r: c, _pop(4), 0), ValueError,
     ("chunk_size",)),
    ("seed-encoded-parents-above-pop-size", lambda: ega.seed_encoded_ga(lambda k: {"w": jnp.zeros(3)}, 8, 9),
     ValueError, ("parents",)),
    ("seed-encoded-chunk-size-0",
     lambda: ega.seed_encoded_ga(lambda k: {"w": jnp.zeros(3)}, 8, 2, chunk_size=0), ValueError, ("chunk_size",)),
]

# --- section: data sets and tasks ---


def _fill(arg: str, tmp: Path) -> str:
    file = tmp / "a-file"
    if "{file}" in arg and not file.exists():
        file.write_text("not a folder\n")
    return arg.replace("{tmp}", str(tmp)).replace("{file}", str(file))


@pytest.mark.parametrize("argv,code,words", [r[1:] for r in CLI_ROWS], ids=[r[0] for r in CLI_ROWS])
def test_cli_bad_input(argv: list[str], code: int, words: tuple[str, ...], tmp_path: Path, capsys) -> None:
    argv = [_fill(a, tmp_path) for a in argv]
    try:
        got = cli.main([*argv, *QUICK] if argv and argv[0] == "run" and len(argv) > 1 else argv)
    except SystemExit as exc:   # argparse rejects a value: exit 2 with usage
        got = exc.code
    err = capsys.readouterr().err
    assert got == code, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


@pytest.mark.parametrize("fn,exc,words", [r[1:] for r in LIB_ROWS], ids=[r[0] for r in LIB_ROWS])
def test_library_bad_input(fn: Callable[[], Any], exc: type[BaseException], words: tuple[str, ...]) -> None:
    with pytest.raises(exc) as info:
        fn()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"


def test_enough_rows() -> None:
    """The issue asks for at least 60 bad inputs across the CLI and the library."""
    assert len(CLI_ROWS) + len(LIB_ROWS) >= 2

