"""Scale: chunked evaluation, seed-encoded populations, sharding over devices and processes, bf16."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import chunking, distributed
from evojax_ga.seed_encoded import materialize, seed_encoded_ga

HELPER = str(Path(__file__).parent / "helpers" / "run_sharded.py")


def noisy_f(key, params):
    """Per-individual fitness that uses its key: -sum(x^2) + noise."""
    return -jnp.sum(params["x"] ** 2) + jax.random.normal(key)


def test_lift_is_chunk_size_invariant(key):
    pop = {"x": jax.random.normal(key, (37, 5))}
    full, _ = chunking.lift(noisy_f).evaluate(key, pop)
    for c in (1, 8, 36, 100):
        np.testing.assert_allclose(chunking.lift(noisy_f, c).evaluate(key, pop)[0], full, rtol=1e-6)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        chunking.lift(noisy_f, 0)


def test_map_chunks_passes_global_rows(key):
    pop = {"x": jnp.arange(10.0)[:, None] * jnp.ones((10, 3))}
    out = chunking.map_chunks(lambda p, rows: p["x"][:, 0] * 100 + rows, pop, 4)
    np.testing.assert_array_equal(out, np.arange(10) * 101)


def _init(k):
    return {"x": jax.random.normal(k, (12,))}


def first_gene(key, pop):
    """Row-independent fitness (no reduction), so chunking cannot change rounding."""
    return pop["x"][:, 0]


def test_seed_encoded_materialize_is_exact_for_any_rows(key):
    s = seed_encoded_ga(_init, pop_size=40, parents=8, crossover=ega.crossover.uniform(0.5),
                        mutate=ega.mutation.gaussian(0.5, 0.1), elite=2, chunk_size=16)
    state = s.init(key)
    enc, state = s.ask(key, state)
    state = s.tell(state, enc, first_gene(None, ega.init_population(key, _init, pop_size=40)))
    enc, state = s.ask(jax.random.fold_in(key, 1), state)
    mat = lambda rows: materialize(enc, rows, _init, ega.crossover.uniform(0.5), ega.mutation.gaussian(0.5, 0.1),
                                   enc.key)
    full = mat(jnp.arange(40))
    sub = mat(jnp.array([39, 3, 17]))
    np.testing.assert_array_equal(sub["x"], full["x"][np.array([39, 3, 17])])
    # elite rows are the best parents, unchanged
    np.testing.assert_array_equal(full["x"][:2], enc.parents["x"][:2])
    # generation 0 equals a dense init_population with the same key
    s0 = s.init(key)
    enc0, _ = s.ask(key, s0)
    dense = ega.init_population(key, _init, pop_size=40)
    gen0 = materialize(enc0, jnp.arange(40), _init, ega.crossover.none(), ega.mutation.gaussian(), enc0.key)
    np.testing.assert_array_equal(gen0["x"], dense["x"])


def test_seed_encoded_chunk_invariance_and_improvement(key):
    hist = []
    for chunk in (7, 64):
        s = seed_encoded_ga(_init, pop_size=64, parents=8, mutate=ega.mutation.gaussian(1.0, 0.1), elite=1,
                            chunk_size=chunk)
        st, h = ega.evolve(key, s, first_gene, None, generations=15, block=5, progress=False)
        hist.append(h)
    np.testing.assert_array_equal(hist[0]["best"], hist[1]["best"])
    assert hist[0]["best_so_far"][-1] > hist[0]["best"][0] + 0.5
    assert np.all(np.diff(hist[0]["best_so_far"]) >= 0)


def test_seed_encoded_memory_is_parents_not_population(key):
    s = seed_encoded_ga(_init, pop_size=100_000, parents=10, chunk_size=1000)
    st = s.init(key)
    leaves = jax.tree_util.tree_leaves(st)
    total = sum(x.size * x.dtype.itemsize for x in leaves if hasattr(x, "dtype") and x.dtype != jax.dtypes.prng_key
                and not jnp.issubdtype(x.dtype, jax.dtypes.prng_key))
    assert total < 10 * 12 * 4 + 100_000 * (4 * 3 + 1) + 10_000   # O(K N + P), far below P N = 4.8 MB
    with pytest.raises(TypeError, match="population=None"):
        s.init(key, {"x": jnp.zeros((4, 12))})
    with pytest.raises(ValueError, match="parents must be <= 10"):
        seed_encoded_ga(_init, pop_size=10, parents=11)


@pytest.fixture(scope="module")
def sharded_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("shard")
    # the four runs at once: most of each is a fresh interpreter importing JAX and compiling
    procs = {n: subprocess.Popen([sys.executable, HELPER, "devices", str(n), str(d / f"dev{n}.npz")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2, 4, 8)}
    out = {}
    for n, proc in procs.items():
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        out[n] = np.load(d / f"dev{n}.npz")
    return out


@pytest.mark.parametrize("n", [2, 4, 8])
def test_same_key_same_result_on_n_devices(sharded_results, n):
    one, many = sharded_results[1], sharded_results[n]
    np.testing.assert_array_equal(one["population"], many["population"])
    np.testing.assert_array_equal(one["best"], many["best"])
    assert "pop" in str(many["spec"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_single_process(sharded_results, tmp_path):
    port = str(_free_port())
    f = tmp_path / "proc.npz"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [subprocess.Popen([sys.executable, HELPER, "process", "2", str(f), str(i), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    res = np.load(f)
    np.testing.assert_array_equal(res["population"], sharded_results[1]["population"])
    np.testing.assert_array_equal(res["best"], sharded_results[1]["best"])


def test_indivisible_population_is_an_error():
    mesh = distributed.pop_mesh(jax.devices()[:1])
    distributed.shard_population({"x": jnp.zeros((3, 2))}, mesh)  # 1 device divides anything
    fake = type("M", (), {"devices": np.zeros(4)})()
    with pytest.raises(ValueError, match="not divisible by the 4 devices"):
        distributed._check_divisible(10, fake)


def test_bfloat16_storage_float32_ranking(key):
    task = ega.tasks.sphere(8)
    pop = ega.from_template(key, jnp.zeros((8,), jnp.bfloat16), 32, "normal", 1.0)
    assert pop.dtype == jnp.bfloat16
    st, h = ega.evolve(key, ega.presets.simple_ga(sigma=0.1), task, pop, generations=20, block=10, progress=False)
    assert st.population.dtype == jnp.bfloat16 and st.best_params.dtype == jnp.bfloat16
    assert st.fitness.dtype == jnp.float32
    assert h["best_so_far"][-1] > h["best"][0]
