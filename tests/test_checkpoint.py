import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import checkpoint as ckpt


def _setup(key):
    task = ega.tasks.sphere(10)
    pop = ega.from_template(jax.random.key(0), task.template(), 32)
    s = ega.ga(mutate=ega.mutation.mixed(0.1), adapt=ega.adaptation.stagnation(0.02, 0.3), elite=2)
    return task, pop, s


def test_resume_is_bit_identical(tmp_path, key):
    task, pop, s = _setup(key)
    full, h_full = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    half, h1 = ega.evolve(key, s, task, pop, generations=5, block=4, progress=False)
    ckpt.save(tmp_path, half, {"note": "half"})
    restored, meta = ckpt.load(ckpt.checkpoint_path(tmp_path, 5), s.init(key, pop))
    assert meta["generation"] == 5 and meta["note"] == "half"
    rest, h2 = ega.evolve(key, s, task, restored, generations=7, block=4, progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(rest)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate([h1["best"], h2["best"]]), h_full["best"])
    np.testing.assert_array_equal(np.concatenate([h1["mutation_rate"], h2["mutation_rate"]]), h_full["mutation_rate"])


def test_keys_in_state_roundtrip(tmp_path, key):
    s = ega.seed_encoded_ga(lambda k: {"x": jax.random.normal(k, (4,))}, pop_size=16, parents=4, chunk_size=8)
    st = s.init(key)
    ckpt.save(tmp_path, st)
    back, _ = ckpt.load(ckpt.checkpoint_path(tmp_path, 0), s.init(jax.random.key(99)))
    np.testing.assert_array_equal(jax.random.key_data(back.encoded.key), jax.random.key_data(st.encoded.key))


def test_corrupt_truncated_and_partial_files(tmp_path, key):
    task, pop, s = _setup(key)
    st = s.init(key, pop)
    p = ckpt.save(tmp_path, st)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ckpt.CorruptCheckpointError, match="checksum mismatch"):
        ckpt.load(p, st)
    p.write_bytes(b"garbage")
    with pytest.raises(ckpt.CorruptCheckpointError, match="bad header"):
        ckpt.load(p, st)
    # a leftover temporary file from a killed writer is never listed
    (tmp_path / "ckpt_00000009.msgpack.123.tmp").write_bytes(data)
    assert [q.name for q in ckpt.list_checkpoints(tmp_path)] == ["ckpt_00000000.msgpack"]
    # latest() skips the corrupt newest file and falls back to an older valid one
    good = st.replace(generation=jnp.int32(3))
    ckpt.save(tmp_path, good)
    bad = ckpt.checkpoint_path(tmp_path, 4)
    bad.write_bytes(data[:100])
    with pytest.warns(UserWarning, match="skipping"):
        state, meta = ckpt.latest(tmp_path, st)
    assert meta["generation"] == 3


def test_shape_mismatch_and_keep(tmp_path, key):
    task, pop, s = _setup(key)
    st = s.init(key, pop)
    ckpt.save(tmp_path, st)
    other = s.init(key, ega.from_template(key, jnp.zeros(10), 8))
    with pytest.raises(ValueError, match="does not match"):
        ckpt.load(ckpt.checkpoint_path(tmp_path, 0), other)
    for g in range(1, 6):
        ckpt.save(tmp_path, st.replace(generation=jnp.int32(g)), keep=2)
    assert [q.name for q in ckpt.list_checkpoints(tmp_path)] == ["ckpt_00000004.msgpack", "ckpt_00000005.msgpack"]


def test_saver_checkpoints_every_interval(tmp_path, key):
    task, pop, s = _setup(key)
    cb = ckpt.saver(tmp_path, every=6, metadata={"seed": 1}, keep=None)
    ega.evolve(key, s, task, pop, generations=20, block=3, progress=False, callback=cb)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [
        "ckpt_00000006.msgpack", "ckpt_00000012.msgpack", "ckpt_00000018.msgpack"]
    st, meta = ckpt.load(ckpt.checkpoint_path(tmp_path, 12), s.init(key, pop))
    assert int(st.generation) == 12 and meta["seed"] == 1


def test_a_0_1_checkpoint_with_empty_removed_fields_loads(tmp_path, key):
    """0.1 states carried always-empty ``sigma`` / ``pending_sigma`` fields; their checkpoints still
    load into today's state. A removed field that held data is refused, not dropped."""
    from flax import struct

    @struct.dataclass
    class OldState:
        x: jax.Array
        generation: jax.Array
        sigma: jax.Array
        pending_sigma: jax.Array

    @struct.dataclass
    class NewState:
        x: jax.Array
        generation: jax.Array

    x = jnp.arange(6.0).reshape(2, 3)
    old = OldState(x, jnp.int32(3), jnp.zeros((0,)), jnp.zeros((0,)))
    path = ckpt.save(tmp_path / "a", old)
    new, _ = ckpt.load(path, NewState(jnp.zeros((2, 3)), jnp.int32(0)))
    np.testing.assert_array_equal(new.x, x)
    assert int(new.generation) == 3
    full = OldState(x, jnp.int32(3), jnp.ones((2,)), jnp.zeros((0,)))
    with pytest.raises(ValueError, match="does not match"):
        ckpt.load(ckpt.save(tmp_path / "b", full), NewState(jnp.zeros((2, 3)), jnp.int32(0)))


def test_limited_evaluation_state_resumes_bit_identically(tmp_path, key):
    """The inherited fitness moving average and the per-member sigma and crossover rate travel through a
    checkpoint: resumed equals uninterrupted."""
    task = ega.tasks.sphere(10)
    pop = ega.from_template(jax.random.key(0), task.template(), 40)
    s = ega.presets.limited_evaluation_ga(40, sigma=0.05, sigma_tau=0.2, crossover_tau=0.2)
    full, h_full = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    half, h1 = ega.evolve(key, s, task, pop, generations=5, block=4, progress=False)
    assert half.inherited.shape == (40,) and half.params["crossover"]["prob"].shape == (40,)
    ckpt.save(tmp_path, half)
    restored, _ = ckpt.load(ckpt.checkpoint_path(tmp_path, 5), s.init(key, pop))
    rest, h2 = ega.evolve(key, s, task, restored, generations=7, block=4, progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(rest)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate([h1["best"], h2["best"]]), h_full["best"])
