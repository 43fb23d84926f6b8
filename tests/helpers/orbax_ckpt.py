"""Helper for tests/test_orbax_checkpoint.py: save or load an orbax checkpoint on N forced CPU devices, or
as one of N processes, with the population sharded over all devices.

    python orbax_ckpt.py devices N save|load DIR OUT
    python orbax_ckpt.py process N save|load DIR OUT PID PORT

``save`` writes :func:`make_state` (sharded) to ``DIR``; ``load`` restores the newest checkpoint in ``DIR``
into a sharded template. Process 0 writes ``OUT`` (.npz): the loaded leaves gathered to the host
(``leaf_<i>``, typed keys as key data), their sharding specs, the metadata and, on save, whether the msgpack
format refused the state.
"""

import json
import os
import sys

if __name__ == "__main__" and sys.argv[1] == "devices":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + f" --xla_force_host_platform_device_count={sys.argv[2]}").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402

GENERATIONS = 3


def make_state(fresh: bool = False):
    """``{"ga": GAState after 3 generations (sphere, P=64, 10 genes), "key": a typed key}``; ``fresh``:
    the state before any generation (a template with other values)."""
    import evojax_ga as ega
    task = ega.tasks.sphere(10)
    pop = ega.from_template(jax.random.key(0), task.template(), 64)
    s = ega.ga(select=ega.selection.tournament(3), crossover=ega.crossover.uniform(0.5),
               mutate=ega.mutation.gaussian(0.2, 0.1), elite=2)
    st = s.init(jax.random.key(1), pop)
    if not fresh:
        st, _ = ega.evolve(jax.random.key(2), s, task, st, generations=GENERATIONS, block=GENERATIONS,
                           progress=False)
    return {"ga": st, "key": jax.random.split(jax.random.key(5 if fresh else 7))[1]}


def place(state):
    """Population rows sharded over every device (of every process), the rest replicated."""
    from evojax_ga import distributed as dist
    if len(jax.devices()) == 1:
        return state
    mesh = dist.pop_mesh()
    return {"ga": dist.shard_state(state["ga"], mesh), "key": dist.replicate(state["key"], mesh)}


def host_leaves(state):
    """Every leaf as a numpy array of the full (global) value; typed keys as their key data."""
    from jax.experimental import multihost_utils

    from evojax_ga.checkpoint import _is_key
    out = []
    for x in jax.tree_util.tree_leaves(state):
        x = jax.random.key_data(x) if _is_key(x) else x
        if not x.is_fully_addressable:
            x = multihost_utils.process_allgather(x, tiled=True)
        out.append(np.asarray(x))
    return out


def main() -> None:
    mode, n, action, directory, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    if mode == "process":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        from evojax_ga import distributed as dist
        dist.initialize(coordinator_address=f"127.0.0.1:{sys.argv[7]}", num_processes=n, process_id=int(sys.argv[6]))
    from evojax_ga import checkpoint
    assert len(jax.devices()) == n, jax.devices()
    report = {}
    if action == "save":
        state = place(make_state())
        meta = {"generation": GENERATIONS, "writer": f"{mode}{n}"}
        try:
            checkpoint.save(os.path.join(directory, "msgpack"), state, meta, format="msgpack")
            report["msgpack_refused"] = ""
        except ValueError as e:
            report["msgpack_refused"] = str(e)
        checkpoint.save(directory, state, meta, format="orbax")
        loaded, meta = state, meta
    else:
        template = place(make_state(fresh=True))
        loaded, meta = checkpoint.latest(directory, template)
        same = [getattr(a, "sharding", None) == getattr(b, "sharding", None)
                for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(template))]
        report["same_shardings"] = all(same)
    leaves = host_leaves(loaded)
    if jax.process_index() == 0:
        spec = str(getattr(loaded["ga"].population.sharding, "spec", "single"))
        np.savez(out, **{f"leaf_{i}": x for i, x in enumerate(leaves)}, spec=spec,
                 meta=json.dumps(meta), report=json.dumps(report))


if __name__ == "__main__":
    main()
