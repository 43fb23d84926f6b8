"""benchmarks/equal_terms.py: the table's rows, and that the evosax contenders play the shared rollout."""

import dataclasses
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
    assert row["all_seeds_median_s"] == 3.0 and row["all_seeds_median_generations"] == 5   # unsolved = +inf
    assert et.row_of("CartPole-v1", 475.0, "simple", runs[:2], 2.0, 20.0)["worst_s"] == 3.0
    assert et.row_of("CartPole-v1", 475.0, "simple", runs[1:], 2.0, 20.0)["all_seeds_median_s"] == "unsolved"


def _needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} absent (the peers extra): its contenders cannot be built")


@pytest.mark.parametrize("peer", [pytest.param("evosax SimpleGA", marks=_needs("evosax")),
                                  pytest.param("EvoJAX SimpleGA", marks=_needs("evojax"))])
@pytest.mark.parametrize("normalize_obs", [False, True])
def test_peer_plays_the_shared_task_on_the_shared_initial_population(peer, normalize_obs):
    """The peer sees what ours sees: the same network, start states and observation handling (raw, or
    the shared normalising wrapper), so generation 0 gives identical fitness."""
    cfg = et.shared_config("pendulum", pop=4, episodes=1, hidden=(2,), activation="relu",
                           normalize_obs=normalize_obs, check_episodes=2)
    _, (ours, other) = et.contenders_for(cfg, ("simple", peer), truncation=2, lr=0.01)
    key = jax.random.key(3)
    _, fit_ours, pop_ours, _ = ours.gen(key, ours.init(key))
    _, fit_peer, pop_peer, _ = other.gen(key, other.init(key))
    # generation 0 of both: the same rollout of the same initial population on the same start states
    # (Pendulum: every start state gives another return)
    for a, b in zip(jax.tree_util.tree_leaves(pop_ours), jax.tree_util.tree_leaves(pop_peer)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(fit_ours), np.asarray(fit_peer))


def test_normalised_observations_reach_every_contender_alike():
    """--normalize-obs changes the shared task itself (not one contender's view of it)."""
    key = jax.random.key(0)
    fits = []
    for norm in (False, True):
        cfg = et.shared_config("pendulum", pop=4, episodes=1, hidden=(2,), activation="relu", normalize_obs=norm,
                               check_episodes=2)
        task, (c,) = et.contenders_for(cfg, ("half",), truncation=2, lr=0.01)
        fits.append(np.asarray(c.gen(key, c.init(key))[1]))
    assert not np.array_equal(*fits)


@pytest.mark.parametrize("argv, words", [(["--seeds", "0"], "--seeds"), (["--cap-s", "0"], "--cap-s"),
                                          (["--envs", "acrobot:abc"], "--envs 'acrobot:abc'"),
                                          (["--envs", "cartpole", "--truncation", "999"], "truncation"),
                                          (["--contenders", "simple,nope"], "--contenders: unknown contender 'nope'"),
                                          (["--first-seed", "-1"], "--first-seed")])
def test_bad_arguments_exit_2_naming_the_argument(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        et.main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [(["--envs", "nope"], "--envs: unknown job 'nope'"),
                                          (["--contenders", "evojax_ga job,nope"], "--contenders: unknown contender"),
                                          (["--seeds", "0"], "--seeds"), (["--first-seed", "-3"], "--first-seed")])
def test_recommended_refuses_bad_arguments_before_any_compute(argv, words, capsys):
    from benchmarks import recommended
    with pytest.raises(SystemExit) as exc:
        recommended.main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("peer", [pytest.param("evosax SimpleGA", marks=_needs("evosax")),
                                  pytest.param("EvoJAX PGPE", marks=_needs("evojax"))])
def test_recommended_gives_the_job_its_own_settings_and_the_peer_raw_observations(peer):
    """CartPole's job normalises observations; the peers' rollouts do not: same start states, other inputs."""
    from benchmarks import recommended
    cfg, (ours, other) = recommended.contenders_for("cartpole", (recommended.OURS, peer))
    assert cfg.normalize_obs and ours.task is not other.task
    pop = ours.gen(jax.random.key(0), ours.init(jax.random.key(0)))[2]        # the job's 128 initial members
    k = jax.random.key(1)
    fit_norm = np.asarray(ours.task.evaluate(k, pop)[0])
    fit_raw = np.asarray(other.task.evaluate(k, pop)[0])
    assert not np.array_equal(fit_norm, fit_raw)      # the same members act on other observations


def test_job_presets_compares_the_old_preset_with_the_new_on_the_job_itself():
    from benchmarks import job_presets
    from evojax_ga.runs import control
    for job, before in job_presets.BEFORE.items():
        old, new = control.config_for(job, **before), control.config_for(job, **job_presets.AFTER)
        assert control.config_for(job) in (old, new)       # one of the two is what the job ships today
        differ = {f.name for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)}
        assert differ <= {"preset", "truncation", "tournament"}, differ     # nothing but the preset changes


@pytest.mark.parametrize("argv, words", [(["--generations", "0"], "--generations"), (["--pop", "1"], "--pop"),
                                          (["--envs", "Catch-bsuite:abc"], "--envs: threshold"),
                                          (["--contenders", "truncation,nope"], "--contenders: unknown contender"),
                                          (["--hidden", "a"], "--hidden"), (["--max-steps", "0"], "--max-steps")])
def test_beyond_four_refuses_bad_arguments_before_any_compute(argv, words, capsys):
    from benchmarks import beyond_four
    with pytest.raises(SystemExit) as exc:
        beyond_four.main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_beyond_four_row_reports_the_final_return_of_every_seed_and_solves_apart():
    from benchmarks import beyond_four
    runs = [{"final_mean": m, "s": 1.0, "env_steps": 10.0, "solved": s}
            for m, s in ((1.0, None), (3.0, {"s": 0.5, "generation": 4}), (2.0, None))]
    row = beyond_four.row_of("MountainCarContinuous-v0", 90.0, "truncation", runs, comp=2.0)
    assert (row["final_return_median"], row["final_return_min"], row["final_return_max"]) == (2.0, 1.0, 3.0)
    assert row["solved"] == "1/3" and row["median_generations_to_threshold"] == 4
    assert "solved" not in beyond_four.row_of("Catch-bsuite", None, "truncation", runs, comp=2.0)


def _run(solved, generations):
    return {"solved": solved, "generations": generations, "s": float(generations), "env_steps": 10.0 * generations}


def test_paired_comparison_pairs_by_seed_and_counts_unsolved_as_never():
    from benchmarks import paired

    ours = {s: _run(True, 5) for s in range(10)}
    other = {s: _run(True, 8) for s in range(10)}
    other[3] = _run(False, 500)                 # a seed the other leaves unsolved: ours is faster there
    ours[7] = _run(True, 8)                     # a tie: dropped from the sign test
    ours[99] = _run(True, 1)                    # not shared: ignored
    r = paired.compare(ours, other)
    assert (r["seeds"], r["solved"], r["other_solved"]) == (10, "10/10", "9/10")
    assert (r["faster"], r["slower"], r["ties"]) == (9, 0, 1)
    assert r["p_speed"] == pytest.approx(2 / 2 ** 9)          # two-sided sign test, 9 of 9
    assert r["p_solved"] == pytest.approx(1.0)
    both_unsolved = paired.compare({0: _run(False, 500)}, {0: _run(False, 500)})
    assert (both_unsolved["ties"], both_unsolved["p_speed"]) == (1, 1.0)


def test_paired_solve_rate_28_of_30_against_30_of_30_is_not_separable():
    from benchmarks import paired

    ours = {s: _run(s not in (5, 17), 100) for s in range(30)}
    other = {s: _run(True, 120) for s in range(30)}
    r = paired.compare(ours, other)
    assert r["p_solved"] == pytest.approx(0.4915, abs=1e-4)   # Fisher's exact test, two-sided
    assert (r["faster"], r["slower"]) == (28, 2)
    with pytest.raises(ValueError, match="share no seed"):
        paired.compare({0: _run(True, 1)}, {1: _run(True, 1)})
    with pytest.raises(ValueError, match="field must be one of"):
        paired.compare(ours, other, field="seconds")
