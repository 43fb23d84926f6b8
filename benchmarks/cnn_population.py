"""CNN populations evaluated at speed (issue 16, item 2): GFLOP/s and % of the matmul peak.

    PYTHONPATH=. python -m benchmarks.cnn_population [--repeats 3] [--sections main,forms] [--quick]

Logits ``[P, B, 10]`` of a population of ConvNets on one shared batch of 28x28x1 images:

* ``main`` — EvoJAX's MNIST ConvNet (:func:`evojax_ga.models.evojax_cnn`, 11,274 weights) at P = 256
  (B = 256) and P = 1024 (B = 64), and the seed's ``mnist_deep`` (3,274,634 weights) at P = 16 (B = 64):
  evojax_ga's forward (:func:`evojax_ga.conv_population.conv_population_logits`, members in the chunks the
  classification task picks by default) against a plain ``jax.jit(jax.vmap(model.apply, (0, None)))``;
* ``forms`` — the formulations tried for the layers after the first, EvoJAX's ConvNet at P = 64,
  B = 256, chunks of 8 members: one grouped convolution per layer (``feature_group_count=c``), batched
  im2col + ``einsum`` per layer, each member's whole ``model.apply`` in a ``lax.map``, and ours
  (shared first convolution, then per-member plain convolutions).

Protocol: in each case the contenders and a float32 ``jnp.dot`` of two 2048 x 2048 matrices are timed
in turn within every repeat (A, B, matmul, A, B, matmul, ...; :mod:`benchmarks.interleaved`), in one
process: the first call apart (``compile_s``), one warm-up, then ``--repeats`` timed calls, medians.
GFLOP/s counts 2 x the multiply-adds of the convolutions and dense layers
(:func:`evojax_ga.conv_population.conv_flops`). ``%roofline`` divides by the matmul GFLOP/s of the
harness roofline (:func:`benchmarks.harness.roofline`, quick: 2048^3) measured at the start of the
process (measured again at the end); ``%interleaved_matmul`` by the interleaved matmul's median in the
same case (the same load as the contenders). The load average is recorded before and after each case.
Writes ``benchmarks/results/cnn_population.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import harness
from benchmarks.interleaved import Timed, time_interleaved
from evojax_ga import data, models
from evojax_ga.chunking import map_chunks
from evojax_ga.conv_population import conv_flops, conv_layers, conv_population_logits
from evojax_ga.population import init_population
from evojax_ga.tasks.classification import classification

IMAGE = (28, 28, 1)
DIMS = ("NHWC", "HWIO", "NHWC")
MATMUL_N = 2048


def _load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def _pool(model: models.ConvNet, h: jax.Array) -> jax.Array:
    p = model.pool
    return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, p, p, 1), (1, p, p, 1), "SAME") if p > 1 else h


def _dense(model: models.ConvNet, dense: list, h: jax.Array, batched: str) -> jax.Array:
    act = models.ACTIVATIONS[model.activation]
    for i, (w, b) in enumerate(dense):
        h = jnp.einsum(batched, h, w) + b[:, None, :]
        h = h if i == len(dense) - 1 else act(h)
    return h


def grouped_forward(model: models.ConvNet) -> Callable[[Any, jax.Array], jax.Array]:
    """Members on the channel axis ``[B, H, W, c * F]``: the first convolution with the kernels stacked on
    the output features (shared input), every later one a grouped convolution ``feature_group_count=c``."""
    act = models.ACTIVATIONS[model.activation]

    def forward(pop: Any, x: jax.Array) -> jax.Array:
        convs, dense = conv_layers(pop)
        c = convs[0][0].shape[0]
        h = x
        for i, (w, b) in enumerate(convs):
            _, k, _, cin, f = w.shape
            wk = jnp.moveaxis(w, 0, 3).reshape(k, k, cin, c * f)
            z = jax.lax.conv_general_dilated(h, wk, (1, 1), "SAME", dimension_numbers=DIMS,
                                             feature_group_count=1 if i == 0 else c)
            h = _pool(model, act(z + b.reshape(-1)))
        B, H, W, _ = h.shape
        f = convs[-1][0].shape[-1]
        h = jnp.moveaxis(h.reshape(B, H, W, c, f), 3, 0).reshape(c, B, H * W * f)
        return _dense(model, dense, h, "pbi,pio->pbo")

    return forward


def im2col_forward(model: models.ConvNet) -> Callable[[Any, jax.Array], jax.Array]:
    """Every convolution as patches ``[.., B, H, W, k*k*C]`` times kernels ``[c, k*k*C, F]``: the first
    layer's patches shared, later layers' batched over members."""
    act = models.ACTIVATIONS[model.activation]

    def forward(pop: Any, x: jax.Array) -> jax.Array:
        convs, dense = conv_layers(pop)
        c = convs[0][0].shape[0]
        h = None
        for i, (w, b) in enumerate(convs):
            _, k, _, cin, f = w.shape
            wk = jnp.transpose(w, (0, 3, 1, 2, 4)).reshape(c, cin * k * k, f)   # patches put channels slowest
            if i == 0:
                pt = jax.lax.conv_general_dilated_patches(x, (k, k), (1, 1), "SAME", dimension_numbers=DIMS)
                z = jnp.einsum("bhwk,pkf->pbhwf", pt, wk)
            else:
                B, H, W, C = h.shape[1:]
                pt = jax.lax.conv_general_dilated_patches(h.reshape(c * B, H, W, C), (k, k), (1, 1), "SAME",
                                                          dimension_numbers=DIMS).reshape(c, B, H, W, -1)
                z = jnp.einsum("pbhwk,pkf->pbhwf", pt, wk)
            z = act(z + b[:, None, None, None, :])
            B, H, W, F = z.shape[1:]
            pooled = _pool(model, z.reshape(c * B, H, W, F))
            h = pooled.reshape((c, B) + pooled.shape[1:])
        return _dense(model, dense, h.reshape(h.shape[0], h.shape[1], -1), "pbi,pio->pbo")

    return forward


def per_member_forward(model: models.ConvNet) -> Callable[[Any, jax.Array], jax.Array]:
    """Each member's ``model.apply`` in turn (``lax.map``): a plain convolution with F outputs per layer."""
    return lambda pop, x: jax.lax.map(lambda p: model.apply(p, x), pop)


def chunked(forward: Callable[[Any, jax.Array], jax.Array], chunk: int) -> Callable[[Any, jax.Array], jax.Array]:
    return lambda pop, x: map_chunks(lambda p, rows: forward(p, x), pop, chunk, last="tail")


def _case(name: str, model: models.ConvNet, P: int, B: int, contenders: dict[str, Callable], repeats: int,
          key: jax.Array, roof_gflops: float) -> list[dict[str, Any]]:
    k_x, k_p, k_m = jax.random.split(key, 3)
    x = jax.random.uniform(k_x, (B,) + IMAGE, jnp.float32)
    pop = init_population(k_p, model.init, x[:1], pop_size=P)
    a = jax.random.normal(k_m, (MATMUL_N, MATMUL_N), jnp.float32)
    load_before = _load()
    ref, timed, compile_s = None, {}, {}
    for label, fn in contenders.items():        # compile apart, then check every output against the first
        t0 = time.perf_counter()
        compiled = jax.jit(fn).lower(pop, x).compile()
        compile_s[label] = time.perf_counter() - t0
        timed[label] = Timed(compiled, (pop, x))
        out = np.asarray(compiled(pop, x))
        ref = out if ref is None else ref
        err = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
        if err > 1e-4:
            raise AssertionError(f"{name}: {label} differs from {next(iter(contenders))} by {err:.2e}")
        del out
    timed["matmul"] = Timed(jax.jit(jnp.dot), (a, a))
    res = time_interleaved(timed, repeats=repeats, warmup=1)
    load_after = _load()
    peak = 2.0 * MATMUL_N**3 / res["matmul"]["median_s"] / 1e9
    flops = conv_flops(model, IMAGE) * P * B
    rows = []
    for label in contenders:
        r = res[label]
        g = flops / r["median_s"] / 1e9
        rows.append({"case": name, "P": P, "B": B, "method": label, "median_s": r["median_s"], "GFLOP/s": g,
                     "%roofline": 100 * g / roof_gflops, "%interleaved_matmul": 100 * g / peak,
                     "interleaved_matmul_GFLOP/s": peak,
                     "x_vs_first": res[next(iter(contenders))]["median_s"] / r["median_s"],
                     "compile_s": compile_s[label], "load_before": load_before, "load_after": load_after})
    for row in rows:
        print(" | ".join(f"{k}={harness.fmt_value(v)}" for k, v in row.items()), flush=True)
    return rows


def _task_chunk(model: models.ConvNet, P: int, B: int) -> int:
    """Members per chunk the classification task picks by default for this model and batch."""
    rng = np.random.default_rng(0)
    xs = rng.random((B,) + IMAGE, dtype=np.float32)
    ys = rng.integers(0, 10, B).astype(np.int32)
    task = classification(model, data.Dataset("random", xs, ys, xs[:2], ys[:2], 10), test_samples=0)
    return task.chunks(P, B)[0]


def run(sections: tuple[str, ...], repeats: int, quick: bool, roof_gflops: float) -> dict[str, Any]:
    key = jax.random.key(0)
    rows: list[dict[str, Any]] = []
    if "main" in sections:
        cases = [("evojax_cnn", models.evojax_cnn(), 256, 256), ("evojax_cnn", models.evojax_cnn(), 1024, 64),
                 ("mnist_deep", models.mnist_deep(), 16, 64)]
        if quick:
            cases = [("evojax_cnn", models.evojax_cnn(), 64, 64), ("mnist_deep", models.mnist_deep(), 4, 16)]
        for i, (name, model, P, B) in enumerate(cases):
            c = _task_chunk(model, P, B)
            contenders = {f"evojax_ga conv_population (chunks of {c})":
                          (lambda m, c: lambda pop, x: conv_population_logits(m, pop, x, c))(model, c),
                          "plain jax.vmap(model.apply)": jax.vmap(model.apply, (0, None))}
            rows += _case(name, model, P, B, contenders, repeats, jax.random.fold_in(key, i), roof_gflops)
    if "forms" in sections:
        model = models.evojax_cnn()
        P, B, c = (64, 256, 8) if not quick else (16, 32, 8)
        contenders = {f"ours: shared first conv, per-member rest (chunks of {c})":
                      lambda pop, x: conv_population_logits(model, pop, x, c),
                      f"grouped conv, feature_group_count (chunks of {c})": chunked(grouped_forward(model), c),
                      f"batched im2col + einsum (chunks of {c})": chunked(im2col_forward(model), c),
                      "per-member model.apply in lax.map": per_member_forward(model),
                      "ours, chunks of 1 member": lambda pop, x: conv_population_logits(model, pop, x, 1),
                      "plain jax.vmap(model.apply)": jax.vmap(model.apply, (0, None))}
        rows += _case("evojax_cnn forms", model, P, B, contenders, repeats, jax.random.fold_in(key, 99), roof_gflops)
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cnn_population", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per contender after one warm-up")
    ap.add_argument("--sections", default="main,forms", help="comma-separated: main, forms")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--out", default=str(harness.RESULTS_DIR / "cnn_population.json"), help="result JSON ('' = none)")
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")
    sections = tuple(s for s in a.sections.split(",") if s)
    unknown = sorted(set(sections) - {"main", "forms"})
    if unknown:
        ap.error(f"--sections: unknown {unknown}; choose from main, forms")
    load_start = _load()
    roof = harness.roofline(quick=True)
    print(f"roofline: {harness.roofline_line(roof)}; load {load_start}", flush=True)
    result = run(sections, a.repeats, a.quick, roof["matmul_gflops"])
    roof_end = harness.roofline(quick=True, refresh=True)
    print(f"roofline at the end: {harness.roofline_line(roof_end)}; load {_load()}", flush=True)
    payload = {"name": "cnn_population", "command": "PYTHONPATH=. python -m benchmarks.cnn_population "
               + " ".join(sys.argv[1:] if argv is None else argv), "repeats": a.repeats, "quick": a.quick,
               "load_start": load_start, "load_end": _load(), "roofline": roof, "roofline_end": roof_end,
               "env": harness.env_info(), **result}
    print(harness.markdown_table(result["rows"]))
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, default=str)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
