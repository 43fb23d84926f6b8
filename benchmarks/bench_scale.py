"""Scaling: seconds per generation, evaluations per second and peak memory from 10^3 to 10^6
individuals, dense and seed-encoded, and the same GA on 1 and 2 (forced) CPU devices.

Every configuration runs in its own subprocess so its peak resident memory (``VmHWM``) is its own.
A "generation" is one fused ``strategy.step`` (reproduce + evaluate + tell), timed after a warm-up
generation that includes compilation.

* CartPole-v1: MLP 4-16-16-2 policies, one episode each (<= 500 steps), deep-GA preset; dense
  population, evaluation chunked at 10^5 policies. Starting from a random population, most episodes
  end early (the rollout stops when a chunk's episodes have all ended).
* digits MLP 64-512-128-10 (99,978 weights), fitness = negative cross-entropy on a shared minibatch
  of 32 training images: dense up to 10^4 individuals, seed-encoded (the 256 best stored densely,
  children rebuilt from counters in chunks of 1,000) at 10^5 and 10^6 — 10^6 x 10^5 weights would
  be 400 GB dense.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

CHILD = r"""
import json, sys, time
cfg = json.loads(sys.argv[1])

def hwm_gib():
    # VmHWM is this process's own peak RSS (ru_maxrss would carry the parent's over fork+exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")

import jax, jax.numpy as jnp
import evojax_ga as ega
from evojax_ga.models import MLP

P = cfg["P"]
if cfg["task"] == "cartpole":
    from evojax_ga.tasks.gymnax_task import gymnax_task
    model = MLP(features=(16, 16), out=2)
    task = gymnax_task("CartPole-v1", model, episodes=1, chunk_size=cfg.get("eval_chunk", min(P, 100_000)),
                       early_exit=cfg.get("early_exit", True))
    sample = task.sample_input
else:
    from evojax_ga import data
    from evojax_ga.tasks.classification import classification
    model = MLP(features=(512, 128), out=10)
    ds = data.load("digits", flat=True)
    task = classification(model, ds, fitness="neg_cross_entropy", batch_size=32, chunk_size=1000, test_samples=0)
    sample = jnp.asarray(ds.x_train[:1])
key = jax.random.key(0)
if cfg["encoding"] == "seed":
    init_fn = lambda k: model.init(k, sample)
    strategy = ega.seed_encoded_ga(init_fn, pop_size=P, parents=cfg["parents"], mutate=ega.mutation.gaussian(1.0, 0.01),
                                   elite=1, chunk_size=cfg["chunk"])
    state = strategy.init(key)
else:
    pop = ega.init_population(key, model.init, sample, pop_size=P)
    strategy = ega.presets.deep_ga(truncation=max(2, P // 20), sigma=0.01)
    state = strategy.init(key, pop)
    if cfg.get("devices", 1) > 1:
        from evojax_ga import distributed
        state = distributed.shard_state(state, distributed.pop_mesh())
step = jax.jit(lambda k, s: strategy.step(k, s, task))
t0 = time.perf_counter()
state, m = step(jax.random.key(1), state)
jax.block_until_ready(state)
first = time.perf_counter() - t0
times = []
for g in range(cfg["gens"]):
    t0 = time.perf_counter()
    state, m = step(jax.random.key(2 + g), state)
    jax.block_until_ready(state)
    times.append(time.perf_counter() - t0)
times.sort()
med = times[len(times) // 2] if times else first   # gens = 0: only the first generation (with compile)
n_genes = sum(x.size // P for x in jax.tree_util.tree_leaves(state.population)) if cfg["encoding"] == "dense" else \
    sum(x.size // cfg["parents"] for x in jax.tree_util.tree_leaves(state.encoded.parents))
out = {"first_gen_s": first, "median_gen_s": med, "evals_per_s": P / med, "genes": int(n_genes),
       "best": float(m["best"]), "maxrss_gib": hwm_gib(),
       "device_peak_gib": (lambda st: None if st.get("peak_bytes_in_use") is None else st["peak_bytes_in_use"] / 2**30)(
           jax.devices()[0].memory_stats() or {}) if jax.default_backend() != "cpu" else None,
       "devices": len(jax.devices())}
if "env_steps" in m:
    out["env_steps_per_s"] = float(m["env_steps"]) / med
print("RESULT " + json.dumps(out))
"""


def _run_child(cfg: dict, timeout: int = 3000) -> dict[str, Any]:
    env = dict(os.environ)
    if cfg.get("devices", 1) > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={cfg['devices']}"
    r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True,
                       timeout=timeout, env=env)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    why = "killed by SIGKILL (out of memory?)" if r.returncode == -9 else f"exit status {r.returncode}"
    raise RuntimeError(f"scale child failed for {cfg}: {why}: {r.stderr[-2000:]}")


def configs(quick: bool, accelerator: bool = False) -> list[dict]:
    if accelerator:
        # one GPU/TPU: CartPole evaluated in one chunk, every member simulating all 500 steps (the issue's
        # "10^6 policies x 500 steps" generation) and with early exit; digits dense to 10^4, seed-encoded above
        return [
            {"task": "cartpole", "P": 1_000, "encoding": "dense", "gens": 5, "eval_chunk": None,
             "early_exit": False},
            {"task": "cartpole", "P": 10_000, "encoding": "dense", "gens": 5, "eval_chunk": None,
             "early_exit": False},
            {"task": "cartpole", "P": 100_000, "encoding": "dense", "gens": 5, "eval_chunk": None,
             "early_exit": False},
            {"task": "cartpole", "P": 1_000_000, "encoding": "dense", "gens": 5, "eval_chunk": None,
             "early_exit": False},
            {"task": "cartpole", "P": 1_000_000, "encoding": "dense", "gens": 5, "eval_chunk": None,
             "early_exit": True},
            {"task": "digits", "P": 1_000, "encoding": "dense", "gens": 5},
            {"task": "digits", "P": 10_000, "encoding": "dense", "gens": 5},
            {"task": "digits", "P": 100_000, "encoding": "seed", "parents": 256, "chunk": 5_000, "gens": 3},
            {"task": "digits", "P": 1_000_000, "encoding": "seed", "parents": 256, "chunk": 5_000, "gens": 1},
        ]
    if quick:
        return [
            {"task": "cartpole", "P": 1_000, "encoding": "dense", "gens": 3},
            {"task": "cartpole", "P": 10_000, "encoding": "dense", "gens": 3},
            {"task": "digits", "P": 1_000, "encoding": "dense", "gens": 3},
            {"task": "digits", "P": 10_000, "encoding": "seed", "parents": 64, "chunk": 1000, "gens": 2},
            {"task": "cartpole", "P": 10_000, "encoding": "dense", "gens": 3, "devices": 2},
        ]
    return [
        {"task": "cartpole", "P": 1_000, "encoding": "dense", "gens": 5},
        {"task": "cartpole", "P": 10_000, "encoding": "dense", "gens": 5},
        {"task": "cartpole", "P": 100_000, "encoding": "dense", "gens": 3},
        {"task": "cartpole", "P": 1_000_000, "encoding": "dense", "gens": 2},
        {"task": "cartpole", "P": 100_000, "encoding": "dense", "gens": 3, "devices": 2},
        {"task": "digits", "P": 1_000, "encoding": "dense", "gens": 5},
        {"task": "digits", "P": 10_000, "encoding": "dense", "gens": 3},
        {"task": "digits", "P": 1_000, "encoding": "dense", "gens": 5, "devices": 2},
        {"task": "digits", "P": 100_000, "encoding": "seed", "parents": 256, "chunk": 1000, "gens": 1},
        {"task": "digits", "P": 1_000_000, "encoding": "seed", "parents": 256, "chunk": 1000, "gens": 0},
    ]


def run(quick: bool, repeats: int) -> dict[str, Any]:
    rows, notes = [], []
    only = os.environ.get("SCALE_ONLY")  # e.g. "digits:1000000" to rerun one configuration
    from evojax_ga.chunking import on_accelerator
    accelerator = on_accelerator()
    for cfg in configs(quick, accelerator):
        if only and f"{cfg['task']}:{cfg['P']}" not in only.split(","):
            continue
        try:
            res = _run_child(cfg)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:   # record the failure, go on with the rest
            rows.append({"task": cfg["task"], "population": cfg["P"], "encoding": cfg["encoding"],
                         "devices": cfg.get("devices", 1), "s_per_generation": None})
            notes.append(f"{cfg['task']} P={cfg['P']} {cfg['encoding']} on {cfg.get('devices', 1)} device(s) did not "
                         f"finish: {str(exc)[:300]}")
            print(notes[-1], flush=True)
            continue
        dense_gb = cfg["P"] * res["genes"] * 4 / 1e9
        rows.append({"task": cfg["task"], "population": cfg["P"], "encoding": cfg["encoding"],
                     "devices": res["devices"], "genes_per_individual": res["genes"],
                     "dense_size_gb": dense_gb, "s_per_generation": res["median_gen_s"],
                     "first_generation_s": res["first_gen_s"], "evals_per_s": res["evals_per_s"],
                     "env_steps_per_s": res.get("env_steps_per_s"), "peak_rss_gib": res["maxrss_gib"]})
        if accelerator:
            rows[-1]["device_peak_gib"] = res.get("device_peak_gib")
            rows[-1]["early_exit"] = cfg.get("early_exit", True) if cfg["task"] == "cartpole" else None
        print(json.dumps(rows[-1]), flush=True)
    notes.append("s_per_generation: median of the timed generations after one warm-up generation "
                 "(first_generation_s includes compilation); "
                 "peak_rss_gib: the subprocess's own peak resident memory (VmHWM).")
    if accelerator:
        notes.append("On the GPU: CartPole rows evaluate the whole population in one chunk; early_exit False = every "
                     "member simulates all 500 steps (steps after an episode ended are masked), so a generation is "
                     "exactly P x 500 env steps plus reproduction; device_peak_gib = the allocator's peak on the GPU "
                     "(run_gpu.sh turns JAX's up-front preallocation off). Seed-encoded rows rebuild "
                     "children in chunks of 5,000.")
    if not accelerator:
        notes.append("devices = 2: the same configuration on 2 CPU devices forced with "
                     "XLA_FLAGS=--xla_force_host_platform_device_count=2 on the same 2 cores (results are "
                     "identical to 1 device; tests/test_scale.py checks that).")
        notes.append("The 10^6 seed-encoded digits row times a single generation including its compilation "
                     "(gens = 0), to keep the run short; compilation is a few seconds of it.")
        notes.append("seed-encoded rows store 256 parents densely and rebuild children in chunks of 1,000 "
                     "(dense_size_gb is what the population would take densely).")
    return {"rows": rows, "notes": notes}
