"""The solved check of control runs and its confirmation on a second fresh set (issue 15, item 3).

The check and the confirmation are told apart by their episode counts (``check_episodes=3``,
``confirm_episodes=2``): a stand-in ``evaluate_individual`` decides what each returns, so the tests
construct a check that passes and a confirmation that fails (or passes) deterministically.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_ga.runs import control

CHECK, CONFIRM = 3, 2
#: every generation's best reaches it on training episodes (CartPole returns >= 8), so each is checked
TARGET = 5.0


def _cfg(**kw):
    base = dict(pop_size=8, generations=12, block=4, max_steps=20, target=TARGET, check_episodes=CHECK,
                confirm_episodes=CONFIRM, check_z=1.645, final_episodes=4, hidden=(4,))
    return control.config_for("cartpole", **{**base, **kw})


_CONFIRM: dict = {}


@functools.lru_cache(maxsize=None)
def _shared_parts():
    """``build(_cfg())`` (one task object: its compiled programs serve every test here) whose check
    returns ``TARGET + 1`` and whose confirmation returns ``_CONFIRM["fn"](key)``."""
    parts = control.build(_cfg())
    real = parts.task.evaluate_individual

    def fake(key, params, episodes=100):
        if episodes == CHECK:
            return jnp.full((CHECK,), TARGET + 1.0)
        if episodes == CONFIRM:
            return _CONFIRM["fn"](key)
        return real(key, params, episodes)

    return parts._replace(task=parts.task._replace(evaluate_individual=fake))


def _parts(cfg, confirm):
    """The shared parts (``cfg`` differs from ``_cfg()`` only in fields ``build`` does not use), the
    confirmation returning ``confirm(key)``."""
    _CONFIRM["fn"] = confirm
    return _shared_parts()


def _fails(key):
    return jnp.full((CONFIRM,), TARGET - 1.0)


def _sometimes(key):
    """Passes on about 1 key in 10 (pure in the key: the same generation decides alike on resume)."""
    return TARGET - 1.0 + 1.1 * jax.random.uniform(key) * jnp.ones((CONFIRM,))


def test_a_check_that_passes_but_whose_confirmation_fails_is_not_solved_and_the_run_goes_on():
    cfg = _cfg()
    _, history, info = control.make_run(cfg, _parts(cfg, _fails))(jax.random.key(0))
    assert not info["solved"] and info["solved_generation"] is None
    assert info["generations"] == cfg.generations == int(history["generation"][-1])   # ran to the end
    assert info["checks"] == info["confirmations"] == info["confirmations_failed"] == cfg.generations
    assert info["check_mean"] == TARGET + 1 and info["confirm_mean"] == TARGET - 1
    # the same run without confirmation stops as solved at its first check
    off = dataclasses.replace(cfg, confirm_episodes=0)
    _, _, info_off = control.make_run(off, _parts(off, _fails))(jax.random.key(0))
    assert info_off["solved"] and info_off["solved_generation"] == 1
    assert info_off["checks"] == 1 and info_off["confirmations"] == 0 and info_off["confirm_mean"] is None


def test_a_check_and_a_confirmation_that_both_pass_solve():
    cfg = _cfg()
    passing = lambda key: jnp.full((CONFIRM,), TARGET + 0.5)   # noqa: E731
    _, _, info = control.make_run(cfg, _parts(cfg, passing))(jax.random.key(0))
    assert info["solved"] and info["solved_generation"] == 1 and info["generations"] == 1
    assert (info["checks"], info["confirmations"], info["confirmations_failed"]) == (1, 1, 0)
    assert info["confirm_mean"] == TARGET + 0.5


def test_the_confirmation_plays_other_episodes_and_a_seed_decides_the_same_way_twice():
    """Real episodes: the confirmation's fresh episodes are not the check's, and a run is a pure
    function of its seed (the confirmation key derives from the check key)."""
    cfg = control.config_for("cartpole", pop_size=8, generations=6, block=3, max_steps=60, target=TARGET,
                             check_episodes=16, confirm_episodes=16, check_z=0.0, final_episodes=2, hidden=(4,))
    parts = control.build(cfg)
    k_check = jax.random.split(jax.random.split(jax.random.key(3))[0], 3)[2]
    params = jax.tree_util.tree_map(lambda x: x[0], parts.init_population(jax.random.key(1)))
    check = parts.task.evaluate_individual(jax.random.fold_in(k_check, 1), params, 16)
    again = parts.task.evaluate_individual(
        jax.random.fold_in(jax.random.fold_in(k_check, 1), control.CONFIRM_SALT), params, 16)
    assert not np.array_equal(np.asarray(check), np.asarray(again))
    run = control.make_run(cfg, parts)
    (_, h1, i1), (_, h2, i2) = run(jax.random.key(3)), run(jax.random.key(3))
    assert i1["confirmations"] >= 1
    for k in ("solved", "solved_generation", "checks", "confirmations", "confirmations_failed", "check_mean",
              "confirm_mean", "generations"):
        assert i1[k] == i2[k], k
    np.testing.assert_array_equal(h1["best"], h2["best"])


def test_resume_with_confirmation_equals_an_uninterrupted_run():
    """Cut at generation 6 (counters through a checkpoint's JSON metadata), continued to the solve."""
    cfg = _cfg()
    run = control.make_run(cfg, _parts(cfg, _sometimes))
    key = jax.random.key(3)   # its confirmations fail at generations 1-10, pass at 11
    full, h_full, info_full = run(key)
    assert info_full["solved"] and info_full["solved_generation"] == 11
    assert info_full["confirmations_failed"] >= 2    # failures before the cut, the solve after
    half_cfg = dataclasses.replace(cfg, generations=6)
    half, h1, info1 = control.make_run(half_cfg, _parts(half_cfg, _sometimes))(key)
    assert not info1["solved"] and info1["confirmations_failed"] == 6
    meta = json.loads(json.dumps(run.checkpoint_info(key, info1)))
    meta.pop("run_key")
    rest, h2, info2 = run(key, state=half, info=meta)
    for k in ("solved", "solved_generation", "checks", "confirmations", "confirmations_failed", "check_mean",
              "confirm_mean", "generations"):
        assert info2[k] == info_full[k], k
    for a, b in zip(jax.tree_util.tree_leaves(full.population), jax.tree_util.tree_leaves(rest.population)):
        np.testing.assert_array_equal(a, b)
    for k in h_full:
        if k != "wall_s":
            np.testing.assert_array_equal(np.concatenate([h1[k], h2[k]]), h_full[k], err_msg=k)


@pytest.mark.parametrize("z,solved", [(0.0, True), (1.645, False)])
def test_the_bound_applies_to_the_confirmation_too(z, solved):
    cfg = _cfg(check_z=z)
    spread = lambda key: jnp.array([TARGET - 1.0, TARGET + 3.0])   # noqa: E731 - mean T + 1, std error 2
    _, _, info = control.make_run(cfg, _parts(cfg, spread))(jax.random.key(0))
    assert info["solved"] is solved and info["confirm_mean"] == TARGET + 1
    assert info["confirmations_failed"] == (0 if solved else cfg.generations)


def test_passes_is_a_one_sided_bound():
    r = np.array([1.0, 2.0, 3.0], np.float32)   # mean 2, sample std 1, std error 1 / sqrt(3)
    assert control.passes(r, 2.0, 0.0) and not control.passes(r, 2.01, 0.0)
    assert control.passes(r, 2.0 - 1.0 / np.sqrt(3) * 1.5, 1.49)
    assert not control.passes(r, 2.0 - 1.0 / np.sqrt(3) * 1.5, 1.51)
    assert control.passes(np.array([4.0]), 4.0, 3.0)   # one episode: no spread to bound


@pytest.mark.parametrize("bad,match", [
    (dict(confirm_episodes=-1), "confirm_episodes"), (dict(confirm_episodes=True), "confirm_episodes"),
    (dict(confirm_episodes=2.0), "confirm_episodes"), (dict(confirm_episodes=2**31), "confirm_episodes"),
    (dict(check_z=-0.5), "check_z"), (dict(check_z=float("nan")), "check_z"), (dict(check_z=float("inf")), "check_z"),
    (dict(check_z="1"), "check_z"),
])
def test_confirmation_options_are_checked(bad, match):
    with pytest.raises(ValueError, match=match):
        control.config_for("cartpole", **bad)


def test_confirmation_defaults_and_old_run_folders():
    cfg = control.config_for("cartpole")
    assert cfg.confirm_episodes == cfg.check_episodes and cfg.check_z == 1.645
    assert control.config_for("cartpole", check_episodes=30).confirm_episodes == 30
    assert control.config_for("cartpole", confirm_episodes=0).confirm_episodes == 0
    rec = dataclasses.asdict(cfg)
    assert control.config_from_record(rec) == cfg        # recorded as a number: reloads the same
    for k in ("confirm_episodes", "check_z"):
        rec.pop(k)
    old = control.config_from_record(rec)                 # written before the confirmation existed
    assert old.confirm_episodes == 0 and old.check_z == 0.0
