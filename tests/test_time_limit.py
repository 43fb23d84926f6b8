"""Time budgets: ``evolve(..., time_limit=S)`` stops within about a generation of S seconds of
evolution (compilation apart) and runs the same generations as an unlimited run; the progress bars."""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega

SLEEP = 0.05   # seconds every generation of the slow task sleeps


def slow_sphere(key, pop):
    """``-|x|^2`` [P]; every call (one per generation, none for a skipped one) sleeps ``SLEEP`` seconds
    on the host first, so a generation takes at least that long."""
    fit = -jnp.sum(pop["x"] ** 2, axis=1)

    def sleep(f):
        time.sleep(SLEEP)
        return f

    return jax.pure_callback(sleep, jax.ShapeDtypeStruct(fit.shape, fit.dtype), fit)


@pytest.fixture(scope="module")
def pop():
    return {"x": jax.random.normal(jax.random.key(3), (8, 3))}


def test_time_limit_stops_within_a_generation_and_changes_no_generation(pop, capsys):
    """block=50 and a 0.5 s limit at 0.05 s per generation: the blocks after the first shrink to the
    generations that fit, so the run stops with "time_limit" after about 10 generations (not 50), and
    those generations equal an unlimited run's first ones bit for bit."""
    key, s, limit = jax.random.key(7), ega.presets.simple_ga(), 0.5
    state, hist = ega.evolve(key, s, slow_sphere, pop, generations=1000, block=50, time_limit=limit, progress=True)
    n = hist.generations_run
    assert hist.stop_reason == "time_limit"
    assert limit / SLEEP / 2 <= n <= limit / SLEEP + 2
    assert hist["generation"].tolist() == list(range(1, n + 1))
    assert hist["wall_s"][-1] < limit + 1.0               # generous: the limit holds within about a generation
    assert hist.compile_s >= 0.0 and math.isfinite(hist.compile_s)
    bar = capsys.readouterr().err
    assert "of the time limit" in bar and "left=" in bar and "stopped: time_limit" in bar
    assert ega.make_block_runner(s, slow_sphere, 50)._cache_size() == 1   # shrunk blocks: the same program

    same, plain = ega.evolve(key, s, slow_sphere, pop, generations=n, block=50, progress=False)
    assert plain.stop_reason == "generations"
    for k in plain:
        if k != "wall_s":
            np.testing.assert_array_equal(hist[k], plain[k], err_msg=k)
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(same)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_evolve_blocks_time_limit_first_block_measures_one_generation(pop):
    """The first block runs a single generation (nothing is known of their speed yet); the run ends
    between blocks once not one more generation fits."""
    blocks = ega.evolve_blocks(jax.random.key(8), ega.presets.simple_ga(), slow_sphere, pop, generations=1000,
                               block=50, progress=False, time_limit=3 * SLEEP)
    sizes = [len(h["generation"]) for _, h in blocks]
    assert sizes[0] == 1 and 1 <= sum(sizes) <= 3 + 2
    assert blocks.stop_reason == "time_limit" and blocks.generations_run == sum(sizes)


def test_without_a_limit_the_bar_counts_generations_and_compile_is_apart(pop, capsys):
    """The bar counts generations (with the compile time beside them); a second run of the same strategy
    and task reuses the compiled block program, so its compile_s is far below the first's."""
    task, s = ega.tasks.sphere(3), ega.presets.simple_ga()
    _, hist = ega.evolve(jax.random.key(9), s, task, pop, generations=4, block=2, progress=True)
    assert hist.stop_reason == "generations" and hist.generations_run == 4
    bar = capsys.readouterr().err
    assert "4/4" in bar and "compile_s=" in bar and "time limit" not in bar
    _, again = ega.evolve(jax.random.key(9), s, task, pop, generations=4, block=2, progress=False)
    assert 0.0 <= again.compile_s < hist.compile_s


@pytest.mark.parametrize("bad, error, says", [
    (0, ValueError, "must be a finite number > 0, got 0"), (-1.0, ValueError, "must be a finite number > 0"),
    (float("nan"), ValueError, "must be a finite number > 0, got nan"), (float("inf"), ValueError, "finite"),
    (True, TypeError, "must be a number, got True"), ([1.0, 2.0], TypeError, "must be a scalar number"),
])
def test_time_limit_must_be_a_positive_finite_number(pop, bad, error, says):
    """Refused with one line naming time_limit, when the call is made (before anything compiles)."""
    s = ega.presets.simple_ga()
    for fn in (ega.evolve, ega.evolve_blocks):
        with pytest.raises(error, match=r"^time_limit ") as err:
            fn(jax.random.key(0), s, ega.tasks.sphere(3), pop, generations=2, progress=False, time_limit=bad)
        assert says in str(err.value) and "\n" not in str(err.value)


def test_sgd_progress_bar_is_labelled_with_the_optimizer(capsys):
    from evojax_ga import baselines, data, models
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(48, 4)).astype(np.float32), np.arange(48, dtype=np.int32) % 2
    ds = data.Dataset("tiny", x[:32], y[:32], x[32:], y[32:], 2)
    trainer = baselines.make_train(models.MLP((4,), 2), ds, "adam", learning_rate=1e-2, batch_size=16, epochs=1.0,
                                   evals_per_epoch=1)
    baselines.fit(jax.random.key(0), trainer, progress=True)
    bar = capsys.readouterr().err
    assert bar.lstrip("\r").startswith("adam:") and "sgd:" not in bar
