"""Helper for tests/test_scale.py: run a short GA on N forced CPU devices (or as one of several
processes) and save the final population and history to an .npz file."""

import os
import sys

mode, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "devices":
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n}"

import jax  # noqa: E402

if mode == "process":
    pid, port = int(sys.argv[4]), sys.argv[5]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    from evojax_ga import distributed as dist
    dist.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=n, process_id=pid)

import numpy as np  # noqa: E402

import evojax_ga as ega  # noqa: E402
from evojax_ga import distributed as dist  # noqa: E402

assert len(jax.devices()) == n, jax.devices()
task = ega.tasks.sphere(16)
pop = ega.from_template(jax.random.key(0), task.template(), 64)
s = ega.ga(select=ega.selection.tournament(3), crossover=ega.crossover.uniform(0.5),
           mutate=ega.mutation.gaussian(0.2, 0.1), elite=2)
state = s.init(jax.random.key(1), pop)
if n > 1:
    state = dist.shard_state(state, dist.pop_mesh())
state, h = ega.evolve(jax.random.key(2), s, task, state, generations=10, block=5, progress=False)
spec = str(getattr(state.population.sharding, "spec", "single"))
pop_np = np.asarray(jax.experimental.multihost_utils.process_allgather(state.population, tiled=True)) \
    if mode == "process" else np.asarray(state.population)
if mode != "process" or int(sys.argv[4]) == 0:
    np.savez(out, population=pop_np, best=h["best"], spec=spec)
