"""benchmarks/equal_terms.py: the table's rows, and that the evosax contenders play the shared rollout."""

import importlib.util

import jax
import numpy as np
import pytest

from benchmarks import equal_terms as et


def test_row_counts_unsolved_runs_and_confirmations():
    runs = [{"solved": True, "s": 1.0, "generations": 3, "env_steps": 10.0, "confirmed": True},
            {"solved": True, "s": 3.0, "generations": 5, "env_steps": 30.0, "confirmed": False},
            {"solved": False, "s": 20.5, "generations": 99, "env_steps": 99.0}]
    row = et.row_of("CartPole-v1", 475.0, "simple", runs, comp=2.0, cap_s=20.0)
    assert row["solved"] == "2/3" and row["confirmed"] == "1/2"
    assert row["median_s"] == 2.0 and row["median_generations"] == 4
    assert row["worst_s"] == "unsolved"     # an unsolved seed is never hidden behind a solved worst time
    assert et.row_of("CartPole-v1", 475.0, "simple", runs[:2], 2.0, 20.0)["worst_s"] == 3.0


@pytest.mark.skipif(importlib.util.find_spec("evosax") is None,
                    reason="evosax absent (the peers extra): the evosax contenders cannot be built")
def test_evosax_simple_ga_plays_the_shared_task_on_the_shared_initial_population():
    cfg = et.shared_config("pendulum", pop=4, episodes=1, hidden=(2,), activation="relu", normalize_obs=False,
                           check_episodes=2)
    _, (ours, peer) = et.contenders_for(cfg, ("simple", "evosax SimpleGA"), truncation=2, lr=0.01)
    key = jax.random.key(3)
    _, fit_ours, pop_ours, _ = ours.gen(key, ours.init(key))
    _, fit_peer, pop_peer, _ = peer.gen(key, peer.init(key))
    # generation 0 of both: the same raw-observation rollout of the same initial population on the same
    # start states (Pendulum: every start state gives another return)
    for a, b in zip(jax.tree_util.tree_leaves(pop_ours), jax.tree_util.tree_leaves(pop_peer)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(fit_ours), np.asarray(fit_peer))


@pytest.mark.parametrize("argv, words", [(["--seeds", "0"], "--seeds"), (["--cap-s", "0"], "--cap-s"),
                                          (["--envs", "acrobot:abc"], "--envs 'acrobot:abc'"),
                                          (["--envs", "cartpole", "--truncation", "999"], "truncation")])
def test_bad_arguments_exit_2_naming_the_argument(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        et.main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err
