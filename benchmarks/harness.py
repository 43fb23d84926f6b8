"""Benchmark harness: timing, machine ceilings (roofline), results and README (the machine and
package description is :mod:`benchmarks.machine`, re-exported here).

Methodology (also written into ``benchmarks/README.md``):

* every timed function is called once first; that call is reported apart as ``compile_s``
  (tracing + XLA compilation + one execution);
* then ``warmup`` untimed calls, then ``repeats`` timed calls; we report the median (and min);
* every call ends with ``jax.block_until_ready`` on the whole output pytree, so asynchronous
  dispatch cannot hide work;
* the roofline (matmul GFLOP/s, copy GB/s) is measured in the same process as the benchmark it
  accompanies, so ratios against it compare like with like.

No function here asserts on wall-clock times.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.machine import (  # noqa: F401 - re-exported: every benchmark reaches them through the harness
    REPO_ROOT,
    TRACKED_PACKAGES,
    device_peak_gib,
    env_info,
    hardware_line,
    peer_available,
    pkg_version,
    skip_note,
)

BENCH_DIR: Path = Path(__file__).resolve().parent
RESULTS_DIR: Path = BENCH_DIR / "results"
README_PATH: Path = BENCH_DIR / "README.md"
BEGIN_MARKER = "<!-- results:begin -->"
END_MARKER = "<!-- results:end -->"

_ROOFLINE_CACHE: dict[bool, dict[str, Any]] = {}


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def _block(out: Any) -> Any:
    """Wait for every array leaf of ``out`` (any pytree; non-array leaves are ignored)."""
    import jax

    return jax.block_until_ready(out)


def _summary(compile_s: float, times: Sequence[float]) -> dict[str, Any]:
    return {
        "compile_s": compile_s,
        "median_s": statistics.median(times) if times else math.nan,
        "min_s": min(times) if times else math.nan,
        "times_s": list(times),
    }


def time_fn(fn: Callable[..., Any], *args: Any, repeats: int = 5, warmup: int = 1) -> dict[str, Any]:
    """Time ``fn(*args)``.

    The first call is timed on its own as ``compile_s`` (includes tracing/compilation), then
    ``warmup`` untimed calls, then ``repeats`` timed calls. Each call is followed by
    ``jax.block_until_ready`` on its output (any pytree). The output of each call is dropped
    before the next one, so only one result is alive at a time.

    Returns ``{"compile_s", "median_s", "min_s", "times_s"}`` (seconds).
    """
    t0 = time.perf_counter()
    out = _block(fn(*args))
    compile_s = time.perf_counter() - t0
    del out
    for _ in range(warmup):
        out = _block(fn(*args))
        del out
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = _block(fn(*args))
        times.append(time.perf_counter() - t0)
        del out
    return _summary(compile_s, times)


def time_chained(
    fn: Callable[..., Any], state: Any, *args: Any, repeats: int = 5, warmup: int = 1
) -> dict[str, Any]:
    """Time ``state = fn(state, *args)`` fed back into itself (for donated / in-place steps).

    Use this instead of :func:`time_fn` when ``fn`` donates its first argument
    (``jax.jit(..., donate_argnums=0)``): the donated buffer cannot be passed twice, so each
    call consumes the previous call's output. ``fn`` must return a pytree with the same
    structure, shapes and dtypes as ``state``. Same protocol and return value as ``time_fn``.
    """
    t0 = time.perf_counter()
    state = _block(fn(state, *args))
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        state = _block(fn(state, *args))
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state = _block(fn(state, *args))
        times.append(time.perf_counter() - t0)
    del state
    return _summary(compile_s, times)


# --------------------------------------------------------------------------------------------
# roofline
# --------------------------------------------------------------------------------------------
def roofline(quick: bool = False, repeats: int = 5, refresh: bool = False) -> dict[str, Any]:
    """Measure this machine's ceilings in this process (cached per ``quick`` for the process).

    * ``matmul_gflops``: jitted ``jnp.dot`` of two n x n float32 matrices (n = 4096, 2048 in
      quick mode), 2 n^3 flops, median of ``repeats``.
    * ``copy_fresh_gbps``: jitted ``x + 1`` on a 1 GiB float32 array (256 MiB in quick mode)
      writing a fresh output buffer; bytes = read + write.
    * ``copy_donated_gbps``: the same op with ``donate_argnums=0`` (in place, output fed back).
    * ``numpy_copy_gbps``: ``np.copyto`` into an existing, already touched array.
    """
    if not refresh and quick in _ROOFLINE_CACHE:
        return dict(_ROOFLINE_CACHE[quick])

    import jax
    import jax.numpy as jnp

    n = 2048 if quick else 4096
    copy_bytes = (256 if quick else 1024) * 2**20
    elems = copy_bytes // 4

    # matmul
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    mm = jax.jit(jnp.dot)
    t_mm = time_fn(mm, a, b, repeats=repeats)
    del a, b
    matmul_gflops = 2.0 * n**3 / t_mm["median_s"] / 1e9

    # fresh-output copy
    add_one = jax.jit(lambda x: x + 1.0)
    x = jnp.zeros((elems,), jnp.float32)
    t_fresh = time_fn(add_one, x, repeats=repeats)
    del x
    moved = 2.0 * copy_bytes  # read + write

    # donated (in place) copy
    add_one_donated = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    x = jnp.zeros((elems,), jnp.float32)
    t_don = time_chained(add_one_donated, x, repeats=repeats)
    del x

    # numpy copyto into an existing array
    src = np.ones((elems,), np.float32)
    dst = np.zeros((elems,), np.float32)  # np.zeros may be lazily mapped: touch it first
    np.copyto(dst, src)
    np_times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        np_times.append(time.perf_counter() - t0)
    del src, dst

    result: dict[str, Any] = {
        "quick": quick,
        "matmul_n": n,
        "matmul_gflops": matmul_gflops,
        "matmul_median_s": t_mm["median_s"],
        "copy_bytes": copy_bytes,
        "copy_fresh_gbps": moved / t_fresh["median_s"] / 1e9,
        "copy_donated_gbps": moved / t_don["median_s"] / 1e9,
        "numpy_copy_gbps": moved / statistics.median(np_times) / 1e9,
        "repeats": repeats,
    }
    _ROOFLINE_CACHE[quick] = result
    return dict(result)


def roofline_line(roof: dict[str, Any]) -> str:
    """One-line human summary of a :func:`roofline` result."""
    size = f"{roof.get('copy_bytes', 0) / 2**20:.0f} MiB"
    return (
        f"matmul {roof['matmul_gflops']:.0f} GFLOP/s (f32 {roof.get('matmul_n', '?')}^3 jnp.dot); "
        f"copy {size} read+write: fresh output {roof['copy_fresh_gbps']:.1f} GB/s, "
        f"donated/in place {roof['copy_donated_gbps']:.1f} GB/s, "
        f"numpy copyto {roof['numpy_copy_gbps']:.1f} GB/s"
    )


# --------------------------------------------------------------------------------------------
# results and README
# --------------------------------------------------------------------------------------------
def result_name(name: str) -> str:
    """``name`` on the CPU backend, ``name_<backend>`` on a GPU/TPU: accelerator results sit beside the
    CPU ones, not over them."""
    import jax
    backend = jax.default_backend()
    return name if backend == "cpu" or name.endswith("_" + backend) else f"{name}_{backend}"


def previous_result(name: str) -> dict[str, Any] | None:
    """The last result of benchmark ``name`` on this backend (``results/<result_name>.json``), or None."""
    path = RESULTS_DIR / f"{result_name(name)}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically (replaces the previous one).

    On a GPU/TPU backend the file is ``<name>_<backend>.json`` (e.g. ``control_gpu.json``).

    ``env`` (from :func:`env_info`) is added when missing; ``roofline`` is added from the
    per-process cache when missing (measured in quick mode if the payload says ``quick``).
    """
    name = result_name(name)
    data = dict(payload)
    data["name"] = name
    if "env" not in data:
        data["env"] = env_info()
    if "roofline" not in data:
        data["roofline"] = roofline(quick=bool(data.get("quick", False)))
    from evojax_ga.run_folder import write_json
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    return write_json(RESULTS_DIR / f"{name}.json", data)


def fmt_value(v: Any) -> str:
    """Format a table cell: floats to 4 significant digits, large/small in scientific form."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows (dicts) as a Markdown table; columns in first-seen order."""
    if not rows:
        return "_(no rows)_"
    cols: list[str] = []
    for r in rows:
        for c in r:
            if c not in cols:
                cols.append(c)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt_value(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def render_result(data: dict[str, Any]) -> str:
    """Markdown section for one result JSON."""
    name = data.get("name", "?")
    parts = [f"### {name}" + (" (quick)" if data.get("quick") else ""), ""]
    if data.get("command"):
        parts += [f"Reproduce: `{data['command']}`", ""]
    if data.get("env"):
        parts += [f"Hardware: {hardware_line(data['env'])}", ""]
    if data.get("roofline"):
        parts += [f"Roofline (same run): {roofline_line(data['roofline'])}", ""]
    parts += [markdown_table(data.get("rows", [])), ""]
    for note in data.get("notes", []) or []:
        parts.append(f"- {note}")
    if data.get("notes"):
        parts.append("")
    return "\n".join(parts)


README_INTRO = f"""# Benchmarks

Run a benchmark (from the repository root, with the project's virtualenv):

```bash
python -m benchmarks --list                 # available benchmarks (benchmarks/bench_*.py)
python -m benchmarks NAME [--quick] [--repeats N]
python -m benchmarks roofline --quick       # this machine's ceilings only
python -m benchmarks readme                 # regenerate the tables below from results/*.json
```

Each run prints its table and the roofline, writes `benchmarks/results/NAME.json` (the latest
run per name, including hardware, package versions, git commit and roofline) and regenerates
the tables below. `--quick` uses smaller sizes (for example 10,000 x 1,000 genes instead of
100,000 x 1,000) and is meant for smoke tests; a quick run replaces the previous result of the
same name.

## What is measured

- **Roofline**: this machine's float32 matmul GFLOP/s (`jnp.dot`, 4096^3) and memory copy
  bandwidth (read + write bytes), measured three ways: a jitted op writing a fresh output, the
  same op in place on a donated buffer, and NumPy `copyto` into an existing array.
- **Reference GA step**: one generation on a dense 100,000 x 1,000 float32 population: binary
  tournament selection of two parents per child, uniform crossover (p = 0.5), Gaussian
  mutation (rate 0.1, sigma 0.02), one elite kept; compared against peer libraries
  (evosax, EvoJAX) and a plain `jax.random` version. `x_copy_roofline` is the step time
  divided by the time to move 3 x P x N x 4 bytes at the donated-copy bandwidth.

## Methodology

- Medians after warm-up: the first call is timed apart (`compile_s`, includes compilation),
  then one untimed warm-up call, then `--repeats` timed calls (default 5); tables show medians.
- Every timed call ends with `jax.block_until_ready` on its whole output.
- The roofline is measured in the same process as the benchmark it accompanies.
- No wall-clock assertion anywhere: these are measurements, not tests.

## Results

{BEGIN_MARKER}
{END_MARKER}
"""


def regenerate_readme() -> Path:
    """Rewrite the results section of ``benchmarks/README.md`` from ``results/*.json``.

    Text outside the markers is kept; the README (with intro and markers) is created when
    missing, and markers are appended when an existing README lacks them.
    """
    if README_PATH.exists():
        text = README_PATH.read_text(encoding="utf-8")
    else:
        text = README_INTRO
    if BEGIN_MARKER not in text or END_MARKER not in text:
        text = text.rstrip("\n") + f"\n\n## Results\n\n{BEGIN_MARKER}\n{END_MARKER}\n"

    sections: list[str] = []
    for path in sorted(RESULTS_DIR.glob("*.json")) if RESULTS_DIR.exists() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            sections.append(f"### {path.stem}\n\n_(unreadable result file: {exc})_\n")
            continue
        data.setdefault("name", path.stem)
        sections.append(render_result(data))
    body = "\n".join(sections) if sections else "_(no results yet)_\n"

    head, rest = text.split(BEGIN_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    new_text = f"{head}{BEGIN_MARKER}\n\n{body.rstrip()}\n\n{END_MARKER}{tail}"
    tmp = README_PATH.with_name(f".{README_PATH.name}.{os.getpid()}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, README_PATH)
    return README_PATH
