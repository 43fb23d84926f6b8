"""Brax on the CPU: this library's Brax task against a plain vmapped Brax rollout, and a short run.

Rollout throughput (``--what rollout``): the same MLP population, episodes and steps, timed
interleaved (:mod:`benchmarks.interleaved`: compile apart, warm-up, median of repeats):

* ``task``: ``ega.tasks.brax(...).evaluate_stateful`` (done-masking, chunks of ``--chunk-size``
  members, observation normalisation and its statistics, the MLP's population forward);
* ``plain``: ``jit(vmap(scan(env.step)))`` over the ``P * E`` episodes with ``vmap(model.apply)``,
  no masking, no normalisation, no chunks (what one writes by hand).

Steps/s = ``P * E * max_steps`` / median seconds (every simulated step, masked or not).

Learning (``--what learn``): ``evojax-ga run brax`` on ``--env`` for ``--generations`` (its default
settings otherwise), printing the best training fitness and the final fresh-episode mean.

    python -m benchmarks.brax_cpu --what rollout --env ant --pop-size 64 --max-steps 100
    python -m benchmarks.brax_cpu --what learn --env inverted_pendulum --generations 30
"""

from __future__ import annotations

import argparse
import json
import os
import time


def rollout(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    import evojax_ga as ega
    from benchmarks.interleaved import Timed, time_interleaved
    from evojax_ga.models import MLP

    probe = ega.tasks.brax(args.env, lambda p, o: o, max_steps=1, backend=args.backend)
    model = MLP(features=(32, 32), out=probe.num_outputs, activation="tanh")
    task = ega.tasks.brax(args.env, model, episodes=args.episodes, max_steps=args.max_steps, backend=args.backend,
                          chunk_size=args.chunk_size)
    pop = ega.init_population(jax.random.key(0), model.init, task.sample_input, pop_size=args.pop_size)
    env, P, E, T = task.env, args.pop_size, args.episodes, args.max_steps

    @jax.jit
    def plain(key, pop):
        def member(params, k):
            state = jax.vmap(env.reset)(jax.random.split(k, E))

            def body(s, _):
                s = jax.vmap(env.step)(s, jnp.tanh(jax.vmap(model.apply, in_axes=(None, 0))(params, s.obs)))
                return s, s.reward
            last, r = jax.lax.scan(body, state, None, length=T)
            # the final observations too: a constant reward (inverted_pendulum's) would let XLA drop the physics
            return r.sum(0).mean() + 0.0 * jnp.sum(last.obs)
        return jax.vmap(member)(pop, jax.random.split(key, P))

    ours = jax.jit(task.evaluate_stateful)
    res = time_interleaved({"task": Timed(ours, (jax.random.key(1), pop, task.obs_stats)),
                            "plain": Timed(plain, (jax.random.key(1), pop))}, repeats=args.repeats, warmup=1)
    steps = P * E * T
    out = {"env": args.env, "backend": args.backend, "pop_size": P, "episodes": E, "max_steps": T,
           "chunk_size": args.chunk_size, "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    for name, r in res.items():
        out[name] = {"compile_s": round(r["compile_s"], 2), "median_s": round(r["median_s"], 4),
                     "steps_per_s": round(steps / r["median_s"])}
    return out


def learn(args: argparse.Namespace) -> dict:
    from evojax_ga import cli
    from evojax_ga import run_folder as rf

    out_dir = args.out or f"/tmp/brax_cpu_{args.env}_{int(time.time())}"
    t0 = time.perf_counter()
    cli.main(["run", "brax", "--env", args.env, "--generations", str(args.generations), "--backend", args.backend,
              "--pop-size", str(args.pop_size), "--episodes", str(args.episodes), "--max-steps", str(args.max_steps),
              "--out", out_dir, "--no-progress", "--no-compile-cache", "--seed", str(args.seed)])
    s = rf.read_json(f"{out_dir}/{rf.SUMMARY_FILE}")
    m = rf.read_metrics(out_dir)
    return {"env": args.env, "wall_s": round(time.perf_counter() - t0, 1), "generations": s["generations"],
            "best_gen0": float(m["best"][0]), "mean_gen0": float(m["mean"][0]), "best_last": float(m["best"][-1]),
            "mean_last": float(m["mean"][-1]), "best_so_far": s["best_so_far"], "final_mean": s["final_mean"],
            "final_episodes": s["final_episodes"], "train_wall_s": round(s["train_wall_s"], 1),
            "load_avg": os.getloadavg()[0], "run_dir": out_dir}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", choices=("rollout", "learn"), default="rollout")
    p.add_argument("--env", default="ant")
    p.add_argument("--backend", default="spring")
    p.add_argument("--pop-size", type=int, default=64)
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    print(json.dumps(rollout(args) if args.what == "rollout" else learn(args)), flush=True)


if __name__ == "__main__":
    main()
