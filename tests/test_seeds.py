"""Many seeds in one program: every seed of a vmapped run equals its single run, bit for bit."""

import jax
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga.runs import control
from evojax_ga.runs.control_seeds import run_seeds
from evojax_ga.seeds import evolve_seeds, seed_keys, seed_slice
from evojax_ga.tasks.functions import sphere


def _leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _timeless(history):
    return {k: v for k, v in history.items() if k != "wall_s"}


def test_evolve_seeds_equals_evolve_per_seed():
    """Seeds stop at different generations (a target one seed reaches early) and each still equals
    its own evolve()."""
    task = sphere(8)
    strategy = ega.presets.simple_ga(mutation_rate=0.5, sigma=0.3)

    def init_population(key):
        return jax.random.normal(key, (16, 8))

    seeds = [0, 1, 2, 3]
    free = evolve(seeds[0], strategy, task, init_population, None)[1]
    target = float(free["best_so_far"][4])   # seed 0 reaches it by generation 5 of 9
    first = int(np.argmax(free["best_so_far"] >= target)) + 1
    states, histories = evolve_seeds(seeds, strategy, task, init_population, 9, block=4, target=target,
                                     progress=False)
    stops = []
    for i, s in enumerate(seeds):
        state, hist = evolve(s, strategy, task, init_population, target)
        _leaves_equal(seed_slice(states, i), state)
        assert histories[i].stop_reason == hist.stop_reason and histories[i].generations_run == hist.generations_run
        for k, v in _timeless(hist).items():
            np.testing.assert_array_equal(histories[i][k], v, err_msg=k)
        stops.append(hist.generations_run)
    assert stops[0] == first < 9 and len(set(stops)) > 1


def evolve(seed, strategy, task, init_population, target):
    key = jax.random.key(seed)
    return ega.evolve(key, strategy, task, init_population(key), 9, block=4, target=target, progress=False)


def test_control_seeds_equal_single_runs():
    """The vmapped control run: each seed's state, metrics and solved-check counters equal the single
    run's, with seeds that solve at different generations, fail checks, or never solve."""
    cfg = control.config_for("cartpole", pop_size=16, generations=6, block=2, max_steps=50, target=40.0,
                             check_episodes=4, final_episodes=4, hidden=(8,), chunk_size="all")
    run = control.make_run(cfg, warm=False)
    seeds = [0, 1, 2, 3]
    _, results = run_seeds(cfg, seeds, run=run)
    outcomes = []
    for r in results:
        state, hist, info = run(jax.random.key(r.seed))
        _leaves_equal(r.state, state)
        assert set(r.history) == set(hist)
        for k, v in _timeless(hist).items():
            np.testing.assert_array_equal(r.history[k], v, err_msg=k)
        for k in ("solved", "solved_generation", "checks", "check_mean", "confirmations", "confirmations_failed",
                  "confirm_mean", "generations"):
            assert r.info[k] == info[k], k
        outcomes.append((info["solved"], info["solved_generation"]))
    assert any(not solved for solved, _ in outcomes) and len({g for s, g in outcomes if s}) > 1


@pytest.mark.parametrize("seeds, match", [([], "at least one"), ([1, 1], "distinct"), ([-1], "seeds")])
def test_seed_keys_refuses_bad_seeds(seeds, match):
    with pytest.raises(ValueError, match=match):
        seed_keys(seeds)
