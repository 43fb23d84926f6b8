"""The control jobs' defaults: one dict of :class:`~evojax_ga.runs.control.ControlConfig` fields per job
(``evojax-ga run JOB`` starts from these; every option overrides one).

The generic job ``control`` (``evojax-ga run control --env NAME``) plays any gymnax environment; the
named jobs (``cartpole``, ``acrobot``, ``mountaincar``, ``pendulum``) are its presets for their
environments: ``control --env CartPole-v1`` starts from the ``cartpole`` job's tuned defaults, any
other environment from :data:`GENERIC_DEFAULTS` with the gymnax episode length and, as target, its
solved threshold (:data:`evojax_ga.tasks.environments.SOLVED_THRESHOLDS`) if one is known, else
none. A named job's environment is fixed: ``env`` may only name it (else a ValueError pointing to
``control``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["GENERIC_JOB", "GENERIC_DEFAULTS", "JOB_DEFAULTS", "env_defaults", "job_defaults"]

#: the job that plays any gymnax environment (``--env``)
GENERIC_JOB = "control"

#: defaults of the generic job on an environment without a named job (no target: it is looked up).
#: The truncation preset is the one the named jobs use (it won the equal-terms study on CartPole,
#: Acrobot and MountainCar, benchmarks/README.md); early exit is on (same results, and it saves
#: steps wherever every episode of a chunk ends before the step limit).
GENERIC_DEFAULTS: dict[str, Any] = dict(pop_size=64, generations=100, preset="truncation", truncation=0.5,
                                        tournament=2, sigma=0.1, episodes=1, hidden=(16, 16), init_scale=1.0,
                                        block=5)

#: per-job defaults (see benchmarks/bench_control.py and benchmarks/README.md for the measurements).
#: Early exit is on for CartPole only: on the Acrobot, MountainCar and Pendulum jobs' populations some
#: episode of every chunk runs to the step limit (Pendulum's always do), so it never saved a step there
#: and its loop condition cost a little (benchmarks/early_exit.py; results are identical either way).
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    # CartPole, Acrobot and MountainCar: the truncation preset (binary tournament among the top half,
    # every weight mutated, one elite) won the equal-terms study (benchmarks/README.md, "A GA that wins
    # on equal terms"); on these jobs' own settings it solved 6 of 6 seeds each, MountainCar in a median
    # 12 generations against 120 for the simple preset the job used before, CartPole and Acrobot in
    # as many generations or fewer (python -m benchmarks.job_presets).
    # CartPole: 1 episode per member is enough; most of a run is compilation
    "cartpole": dict(env="CartPole-v1", pop_size=128, generations=100, preset="truncation", truncation=0.5,
                     tournament=2, sigma=0.1, episodes=1, hidden=(16, 16), init_scale=2.0, target=475.0, block=5),
    # Acrobot at -100 is reached by a random population within a few generations, on raw observations
    # (normalising divides the joint velocities by 4 pi and 9 pi, and some seeds then fail).
    "acrobot": dict(env="Acrobot-v1", pop_size=64, generations=100, preset="truncation", truncation=0.5, tournament=2,
                    sigma=0.1, episodes=1, hidden=(16, 16), init_scale=1.0, normalize_obs=False, early_exit=False,
                    target=-100.0, block=5),
    # MountainCar: normalised observations (velocity is +-0.07), 4 episodes per member so that lucky
    # single episodes do not win, wide initial weights to find the swinging behaviour
    "mountaincar": dict(env="MountainCar-v0", pop_size=256, generations=300, preset="truncation", truncation=0.5,
                        tournament=2, sigma=0.3, episodes=4, hidden=(16, 16), init_scale=3.0, early_exit=False,
                        target=-110.0, block=10),
    # Pendulum: single-episode returns are very noisy; the deep GA (every weight mutated, parents
    # from the top 32) improves steadily where sparse mutation stalls; truncation 32 / sigma 0.2 / block 5
    # solved every seed tried, in fewer generations than truncation 16 / sigma 0.1 / block 10. With the
    # job's 4 episodes per member it also beat the truncation preset (median 45.5 generations against
    # 78.5 over 6 seeds, python -m benchmarks.job_presets); on 1 episode per member (equal terms) the top
    # 32 is too greedy.
    "pendulum": dict(env="Pendulum-v1", pop_size=256, generations=300, preset="deep_ga", truncation=32, sigma=0.2,
                     episodes=4, hidden=(16, 16), init_scale=1.0, early_exit=False, target=-200.0, block=5),
}


def _named_env(env: str) -> str | None:
    """The gymnax id of a named job's environment that ``env`` names (its id in any case, or an
    alias in :data:`~evojax_ga.tasks.environments.ENV_ALIASES`), else None. Imports no gymnax."""
    from evojax_ga.tasks.environments import ENV_ALIASES
    name = ENV_ALIASES.get(env.lower(), env).lower()
    return next((d["env"] for d in JOB_DEFAULTS.values() if d["env"].lower() == name), None)


def env_defaults(env: str) -> dict[str, Any]:
    """The generic job's defaults on the gymnax environment ``env``: the named job's defaults where
    one plays it, else :data:`GENERIC_DEFAULTS` with the environment's solved threshold as target
    (None when none is known: the run plays all its generations). Imports no gymnax (whose import
    starts XLA's backend) and so does not check the name: see
    :func:`evojax_ga.runs.control.check_env`."""
    from evojax_ga.tasks.environments import SOLVED_THRESHOLDS
    if not isinstance(env, str) or not env:
        raise ValueError(f"env must be a gymnax environment id such as Breakout-MinAtar, got {env!r}")
    named = _named_env(env)
    if named is not None:
        return next(dict(d) for d in JOB_DEFAULTS.values() if d["env"] == named)
    return {**GENERIC_DEFAULTS, "env": env, "target": SOLVED_THRESHOLDS.get(env)}


def job_defaults(job: str, env: str | None = None) -> dict[str, Any]:
    """The defaults of control job ``job``: :func:`env_defaults` of ``env`` for the generic job
    (``env`` required), else ``JOB_DEFAULTS[job]`` (``env``, if given, must name that job's
    environment: ValueError pointing to the generic job otherwise)."""
    if job == GENERIC_JOB:
        if env is None:
            raise ValueError(f"env is required by the {GENERIC_JOB!r} job: a gymnax environment id such as "
                             f"Breakout-MinAtar")
        return env_defaults(env)
    if job not in JOB_DEFAULTS:
        raise ValueError(f"job must be one of {sorted([*JOB_DEFAULTS, GENERIC_JOB])}, got {job!r}")
    defaults = JOB_DEFAULTS[job]
    if env is not None and _named_env(str(env)) != defaults["env"]:
        raise ValueError(f"env of the {job!r} job is {defaults['env']}, got {env!r}; for another environment "
                         f"use 'evojax-ga run {GENERIC_JOB} --env {env}'")
    return dict(defaults)
