"""The control runs' solved check: a candidate that reached the target on its training episodes is
played on fresh episodes, then (``confirm_episodes > 0``) on a second, independent fresh set.

One definition, used by a single run (:func:`evojax_ga.runs.control.make_run`) and by vmapped seeds
(:mod:`evojax_ga.runs.control_seeds`), so both decide alike. Keys: the check of generation ``g``
uses ``fold_in(k_check, g)``, its confirmation ``fold_in(fold_in(k_check, g), CONFIRM_SALT)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, MutableMapping

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CONFIRM_SALT", "COUNTERS", "COUNTER_STARTS", "passes", "best_member", "SolvedCheck", "solved_check"]

#: folded into a generation's check key to draw the confirmation's episodes
CONFIRM_SALT = 0x636F6E66   # "conf"
#: the counters a control run keeps in ``info`` (and its checkpoints), with their starting values
COUNTERS = ("solved", "solved_generation", "solve_wall_s", "check_mean", "checks", "confirmations",
            "confirmations_failed", "confirm_mean")
COUNTER_STARTS = (False, None, None, None, 0, 0, 0, None)


def passes(returns: Any, target: float, z: float) -> bool:
    """Whether fresh-episode ``returns`` pass a solved check: ``mean - z * std / sqrt(n) >= target``
    (sample std; ``z = 0``: the mean alone)."""
    r = np.asarray(returns)
    mean = r.mean()   # in the returns' dtype, as before the bound existed (z = 0 decides as it did)
    return bool(mean - z * r.std(ddof=1) / math.sqrt(r.size) >= target if z and r.size > 1 else mean >= target)


def best_member(state: Any) -> tuple[int, float]:
    """``(index, fitness)`` of the generation's best member (non-finite fitness ranks last): the one a
    solved check tests, and the one kept when a run that had solved ends."""
    fit = np.asarray(state.fitness)
    i = int(np.argmax(np.where(np.isfinite(fit), fit, -np.inf)))
    return i, float(fit[i])


class SolvedCheck:
    """``judge(k_check, state, info) -> bool``: whether ``state``'s best member passes the check of
    generation ``state.generation`` (and its confirmation); updates the counters in ``info``.

    ``member(population, i)`` is the jitted slice of one individual; ``compile(population_shape)``
    compiles the check (and confirmation) ahead of the run."""

    def __init__(self, task: Any, target: float | None, check_episodes: int, confirm_episodes: int, z: float) -> None:
        self.task, self.target, self.n_check, self.n_confirm, self.z = task, target, check_episodes, confirm_episodes, z
        self.member: Callable[[Any, Any], Any] = jax.jit(lambda population, i: jax.tree_util.tree_map(
            lambda x: x[i], population))

    def returns(self, k_check: Any, gen: Any, population: Any, i: Any, confirm: bool = False) -> Any:
        """Member ``i`` on the ``check_episodes`` fresh episodes of generation ``gen`` (``confirm``: on
        the confirmation's ``confirm_episodes`` others)."""
        k = jax.random.fold_in(k_check, gen)
        if confirm:
            return self.task.evaluate_individual(jax.random.fold_in(k, CONFIRM_SALT), self.member(population, i),
                                                 self.n_confirm)
        return self.task.evaluate_individual(k, self.member(population, i), self.n_check)

    def compile(self, population_shape: Any) -> Any:
        """Run the check once on a zero population of ``population_shape`` (result discarded), so that
        nothing compiles during the run."""
        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), population_shape)
        confirm = self.returns(jax.random.key(0), 0, zeros, 0, confirm=True) if self.n_confirm else None
        return self.returns(jax.random.key(0), 0, zeros, 0), confirm, self.member(zeros, 0)

    def judge(self, k_check: Any, state: Any, info: MutableMapping[str, Any]) -> bool:
        """Check ``state``'s best member if its training fitness reached the target; True when it passes."""
        i, best = best_member(state)
        if self.target is None or best < self.target:   # no target: never solved
            return False
        gen = int(state.generation)
        ret = np.asarray(self.returns(k_check, gen, state.population, i))
        info["checks"] += 1
        info["check_mean"] = float(ret.mean())
        ok = passes(ret, self.target, self.z)
        if ok and self.n_confirm:
            again = np.asarray(self.returns(k_check, gen, state.population, i, confirm=True))
            ok = passes(again, self.target, self.z)
            info["confirmations"] += 1
            info["confirmations_failed"] += int(not ok)
            info["confirm_mean"] = float(again.mean())
        return ok


def solved_check(task: Any, cfg: Any) -> SolvedCheck:
    """The solved check of a :class:`~evojax_ga.runs.control.ControlConfig`."""
    return SolvedCheck(task, cfg.target, cfg.check_episodes, int(cfg.confirm_episodes or 0), cfg.check_z)
