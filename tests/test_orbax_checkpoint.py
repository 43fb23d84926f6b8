"""Sharded orbax checkpoints (evojax_ga.orbax_checkpoint) and checkpoint.py's dispatch to them."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("orbax.checkpoint")

from helpers.orbax_ckpt import host_leaves, make_state  # noqa: E402

import evojax_ga as ega  # noqa: E402
from evojax_ga import checkpoint as ckpt  # noqa: E402
from evojax_ga import orbax_checkpoint as ocl  # noqa: E402
from evojax_ga import run_folder as rf  # noqa: E402

HELPER = str(Path(__file__).parent / "helpers" / "orbax_ckpt.py")
TIMEOUT = 240


def _setup():
    task = ega.tasks.sphere(10)
    pop = ega.from_template(jax.random.key(0), task.template(), 32)
    s = ega.ga(mutate=ega.mutation.mixed(0.1), adapt=ega.adaptation.stagnation(0.02, 0.3), elite=2)
    return task, pop, s


def _assert_same(a, b):
    la, lb = host_leaves(a), host_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_roundtrip_with_typed_keys_and_metadata(tmp_path):
    state = make_state()
    p = ckpt.save(tmp_path, state, {"generation": 3, "note": "x", "path": tmp_path}, format="orbax")
    assert p == ckpt.checkpoint_path(tmp_path, 3, format="orbax") and p.name == "ckpt_00000003.orbax"
    assert (p / ocl.COMMIT_FILE).is_file() and ckpt.list_checkpoints(tmp_path) == [p]
    back, meta = ckpt.load(p, make_state(fresh=True))
    assert meta == {"generation": 3, "note": "x", "path": str(tmp_path)}
    assert jax.dtypes.issubdtype(back["key"].dtype, jax.dtypes.prng_key)
    assert jax.random.key_impl(back["key"]) == jax.random.key_impl(state["key"])
    _assert_same(back, state)


def test_seed_encoded_state_roundtrip(tmp_path, key):
    s = ega.seed_encoded_ga(lambda k: {"x": jax.random.normal(k, (4,))}, pop_size=16, parents=4, chunk_size=8)
    st = s.init(key)
    p = ckpt.save(tmp_path, st, format="orbax")
    back, meta = ckpt.load(p, s.init(jax.random.key(99)))
    assert meta == {"generation": 0}
    np.testing.assert_array_equal(jax.random.key_data(back.encoded.key), jax.random.key_data(st.encoded.key))
    _assert_same(back, st)


def test_empty_leaves_and_python_scalars(tmp_path):
    """orbax refuses to save arrays of size 0; they are left out and remade from the template on load."""
    st = {"x": jnp.arange(6.0).reshape(2, 3), "empty": jnp.zeros((0, 4), jnp.int32), "s": 3.0}
    p = ckpt.save(tmp_path, st, {"generation": 1}, format="orbax")
    back, _ = ckpt.load(p, {"x": jnp.zeros((2, 3)), "empty": jnp.ones((0, 4), jnp.int32), "s": 0.0})
    assert back["empty"].shape == (0, 4) and back["empty"].dtype == jnp.int32 and float(back["s"]) == 3.0
    np.testing.assert_array_equal(back["x"], st["x"])


def test_resume_is_bit_identical(tmp_path, key):
    task, pop, s = _setup()
    full, h_full = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    half, h1 = ega.evolve(key, s, task, pop, generations=5, block=4, progress=False)
    ckpt.save(tmp_path, half, {"note": "half"}, format="orbax")
    restored, meta = ckpt.latest(tmp_path, s.init(key, pop))
    assert meta["generation"] == 5 and meta["note"] == "half"
    rest, h2 = ega.evolve(key, s, task, restored, generations=7, block=4, progress=False)
    _assert_same(full, rest)
    np.testing.assert_array_equal(np.concatenate([h1["best"], h2["best"]]), h_full["best"])


def test_uncommitted_folders_are_never_listed_and_are_cleaned(tmp_path, key):
    from orbax.checkpoint._src.path import atomicity_types
    assert (ocl.TMP_SUFFIX, ocl.COMMIT_FILE) == (atomicity_types.TMP_DIR_SUFFIX, atomicity_types.COMMIT_SUCCESS_FILE)
    task, pop, s = _setup()
    st = s.init(key, pop)
    d = tmp_path / "run" / rf.CHECKPOINT_DIR
    good = ckpt.save(d, st.replace(generation=jnp.int32(3)), format="orbax")
    p4 = ckpt.save(d, st.replace(generation=jnp.int32(4)), format="orbax")
    # a writer killed before the rename leaves orbax's temporary folder
    tmp = d / ("ckpt_00000005.orbax" + ocl.TMP_SUFFIX)
    shutil.copytree(p4, tmp)
    (tmp / ocl.COMMIT_FILE).unlink()
    # a folder of the final name without the commit marker
    (p4 / ocl.COMMIT_FILE).unlink()
    assert ckpt.list_checkpoints(d) == [good]
    with pytest.raises(ckpt.CorruptCheckpointError, match="never committed"):
        ckpt.load(p4, st)
    state, meta = ckpt.latest(d, st)
    assert meta["generation"] == 3 and int(state.generation) == 3
    # a committed folder whose data is gone: skipped with a warning
    p6 = ckpt.save(d, st.replace(generation=jnp.int32(6)), format="orbax", keep=None)
    shutil.rmtree(p6 / "state")
    with pytest.raises(ckpt.CorruptCheckpointError, match="unreadable"):
        ckpt.load(p6, st)
    with pytest.warns(UserWarning, match="skipping"):
        assert ckpt.latest(d, st)[1]["generation"] == 3
    assert rf.remove_stale_tmp(d.parent) == [tmp] and not tmp.exists() and good.exists()
    with pytest.raises(ckpt.CorruptCheckpointError, match="does not exist"):
        ckpt.load(d / "ckpt_00000009.orbax", st)


def test_shape_mismatch_names_the_leaf(tmp_path, key):
    task, pop, s = _setup()
    p = ckpt.save(tmp_path, s.init(key, pop), format="orbax")
    other = s.init(key, ega.from_template(key, jnp.zeros(10), 8))
    with pytest.raises(ValueError, match="leaf 'population' has shape \\(32, 10\\), the template's is \\(8, 10\\)"):
        ckpt.load(p, other)
    with pytest.raises(ValueError, match="leaves the template lacks"):
        ckpt.load(p, {"population": pop})
    with pytest.raises(ValueError, match="format must be one of"):
        ckpt.save(tmp_path, s.init(key, pop), format="npz")


def test_keep_prunes_both_formats_in_generation_order(tmp_path, key):
    task, pop, s = _setup()
    st = s.init(key, pop)
    for g, fmt in [(1, "msgpack"), (2, "orbax"), (3, "msgpack"), (4, "orbax"), (10, "msgpack")]:
        ckpt.save(tmp_path, st.replace(generation=jnp.int32(g)), format=fmt, keep=None)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [
        "ckpt_00000001.msgpack", "ckpt_00000002.orbax", "ckpt_00000003.msgpack", "ckpt_00000004.orbax",
        "ckpt_00000010.msgpack"]
    ckpt.save(tmp_path, st.replace(generation=jnp.int32(11)), format="orbax", keep=3)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == [
        "ckpt_00000004.orbax", "ckpt_00000010.msgpack", "ckpt_00000011.orbax"]
    ckpt.save(tmp_path, st.replace(generation=jnp.int32(12)), keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000012.msgpack"]


# ------------------------------------------------------------------------------ several devices / processes
def _env():
    root = str(Path(__file__).parents[1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))


def _devices(n, action, directory, out):
    r = subprocess.run([sys.executable, HELPER, "devices", str(n), action, str(directory), str(out)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    assert r.returncode == 0, r.stderr[-3000:]
    return np.load(out)


def _processes(n, action, directory, out):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    procs = [subprocess.Popen([sys.executable, HELPER, "process", str(n), action, str(directory), str(out), str(i),
                               port], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    try:
        outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    return np.load(out)


def _assert_report_equals(res, state):
    leaves = host_leaves(state)
    assert len(res.files) == len(leaves) + 3
    for i, x in enumerate(leaves):
        np.testing.assert_array_equal(res[f"leaf_{i}"], x)


def test_one_device_to_four_and_back(tmp_path):
    ref = make_state()
    ckpt.save(tmp_path / "one", ref, {"generation": 3}, format="orbax")
    res = _devices(4, "load", tmp_path / "one", tmp_path / "four.npz")
    _assert_report_equals(res, ref)
    assert "pop" in str(res["spec"]) and json.loads(str(res["report"]))["same_shardings"]
    res = _devices(4, "save", tmp_path / "written4", tmp_path / "w4.npz")
    assert "pop" in str(res["spec"]) and json.loads(str(res["report"]))["msgpack_refused"] == ""
    back, meta = ckpt.latest(tmp_path / "written4", make_state(fresh=True))
    assert meta == {"generation": 3, "writer": "devices4"}
    _assert_same(back, ref)


def test_two_processes_write_their_own_shards(tmp_path):
    ref = make_state()
    d = tmp_path / "two"
    res = _processes(2, "save", d, tmp_path / "save.npz")
    assert "format='orbax'" in json.loads(str(res["report"]))["msgpack_refused"]
    assert not (d / "msgpack").exists() or not ckpt.list_checkpoints(d / "msgpack")
    (p,) = ckpt.list_checkpoints(d)
    for i in range(2):  # OCDBT: each process wrote its own data files and array metadata
        assert any((p / "state" / f"ocdbt.process_{i}" / "d").iterdir())
        assert (p / "state" / "array_metadatas" / f"process_{i}").is_file()
    back, meta = ckpt.load(p, make_state(fresh=True))
    assert meta == {"generation": 3, "writer": "process2"}
    _assert_same(back, ref)
    # and a checkpoint of one process loaded by two, each holding half the rows
    ckpt.save(tmp_path / "one", ref, {"generation": 3}, format="orbax")
    res = _processes(2, "load", tmp_path / "one", tmp_path / "load.npz")
    _assert_report_equals(res, ref)
    assert "pop" in str(res["spec"]) and json.loads(str(res["report"]))["same_shardings"]
