"""The one chunker: same results for every chunk size and mode; every task returns (fitness, metrics)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import chunking

SIZES = (1, 3, 4, 7, 10, 16, None)      # 3 and 7 do not divide P = 10; 16 > P


def rowwise(chunk, rows):
    """Per-row outputs that depend on the row's data and its global index (counter-based randomness)."""
    x = chunk["x"]
    return {"y": x[:, 0] * 100.0 + rows, "z": x * 2.0, "noise": jax.vmap(
        lambda r: jax.random.uniform(jax.random.fold_in(jax.random.key(0), r)))(rows)}


@pytest.fixture
def pop():
    return {"x": jnp.arange(30.0).reshape(10, 3)}


@pytest.mark.parametrize("last", chunking.LAST_MODES)
@pytest.mark.parametrize("loop", ["map", "python"])
def test_map_chunks_same_result_for_every_chunk_size(pop, last, loop):
    want = rowwise(pop, jnp.arange(10, dtype=jnp.int32))
    for c in SIZES:
        got = chunking.map_chunks(rowwise, pop, c, last=last, loop=loop)
        for k in want:
            assert got[k].shape == want[k].shape, (k, c)
            np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]), err_msg=f"{k} chunk {c}")


def test_map_chunks_rows_and_padding(pop):
    seen = []

    def record(chunk, rows):
        seen.append((np.asarray(rows).tolist(), np.asarray(chunk["x"][:, 0]).tolist()))
        return chunk["x"][:, 0]

    chunking.map_chunks(record, pop, 4, last="pad", loop="python")
    # every call sees exactly 4 rows; the last is padded with copies of row 9 (rows and data alike)
    assert seen == [([0, 1, 2, 3], [0, 3, 6, 9]), ([4, 5, 6, 7], [12, 15, 18, 21]), ([8, 9, 9, 9], [24, 27, 27, 27])]
    seen.clear()
    chunking.map_chunks(record, pop, 4, last="overlap", loop="python")
    assert [r for r, _ in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]   # last chunk shifted back
    seen.clear()
    chunking.map_chunks(record, pop, 4, last="tail", loop="python")
    assert [r for r, _ in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    seen.clear()
    chunking.map_chunks(record, pop, 16, last="pad", loop="python")
    assert [len(r) for r, _ in seen] == [16]                                       # pad: always chunk_size rows


def test_map_chunks_per_chunk_outputs_and_plan(pop):
    rows_out, sums = chunking.map_chunks(lambda ch, r: (r, jnp.sum(ch["x"][:, 0])), pop, 4, last="overlap",
                                         per_chunk=True)
    np.testing.assert_array_equal(np.asarray(rows_out), np.arange(10))
    np.testing.assert_array_equal(np.asarray(sums), [0 + 3 + 6 + 9, 12 + 15 + 18 + 21, 18 + 21 + 24 + 27])
    p = chunking.plan(10, 4, "overlap")
    assert p.starts == (0, 4, 6) and p.new_rows == (4, 4, 2) and sum(p.new_rows) == 10
    assert chunking.plan(10, 4, "tail").tail == 2 and chunking.plan(10, 4, "tail").num_calls == 3
    assert chunking.plan(10, None, "pad").single and chunking.plan(10, 12, "tail").single
    assert not chunking.plan(10, 12, "pad").single


def test_map_chunks_without_tree_needs_num_rows():
    out = chunking.map_chunks(lambda _, rows: rows * 2, None, 3, num_rows=7)
    np.testing.assert_array_equal(np.asarray(out), np.arange(7) * 2)
    with pytest.raises(ValueError, match="num_rows"):
        chunking.map_chunks(lambda _, rows: rows, None, 3)


def test_bad_chunker_arguments(pop):
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        chunking.map_chunks(rowwise, pop, 0)
    with pytest.raises(ValueError, match="last must be one of"):
        chunking.map_chunks(rowwise, pop, 3, last="wrap")
    with pytest.raises(ValueError, match="loop must be"):
        chunking.map_chunks(rowwise, pop, 3, loop="vmap")


def noisy_f(key, params):
    return -jnp.sum(params["x"] ** 2) + jax.random.normal(key)


def test_lift_returns_a_task_with_a_pair_and_averaged_metrics(key):
    pop = {"x": jax.random.normal(key, (10, 3))}
    full, metrics = chunking.lift(noisy_f).evaluate(key, pop)
    assert metrics == {}
    for c in (1, 3, 4, 10, 12):
        f, _ = chunking.lift(noisy_f, c).evaluate(key, pop)
        np.testing.assert_allclose(np.asarray(f), np.asarray(full), rtol=1e-6, atol=1e-6)
    with_metrics = chunking.lift(lambda k, p: (jnp.sum(p["x"]), {"first": p["x"][0]}), 3)
    f, m = with_metrics.evaluate(key, pop)
    np.testing.assert_allclose(float(m["first"]), float(jnp.mean(pop["x"][:, 0])), rtol=1e-6)
    assert isinstance(with_metrics, ega.types.Task)


def test_every_task_returns_fitness_and_a_metrics_dict(key):
    from evojax_ga.models import MLP
    pop = {"x": jax.random.normal(key, (6, 5))}
    tasks = [ega.tasks.sphere(5), ega.tasks.rastrigin(5), ega.tasks.ackley(5), chunking.lift(noisy_f, 4),
             ega.tasks.as_task(lambda k, p: -jnp.sum(p["x"], axis=1))]
    for task in tasks:
        fitness, metrics = ega.tasks.evaluate_task(task, key, pop)
        assert fitness.shape == (6,) and isinstance(metrics, dict)
    model = MLP(features=(4,), out=2)
    gym = ega.tasks.gymnax("CartPole-v1", model, max_steps=5)
    gpop = ega.init_population(key, model.init, gym.sample_input, pop_size=3)
    fitness, metrics = ega.tasks.evaluate_task(ega.tasks.as_task(gym), key, gpop)
    assert fitness.shape == (3,) and set(metrics) == {"episode_length", "env_steps", "sim_steps"}
