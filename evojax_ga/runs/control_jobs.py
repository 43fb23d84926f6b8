"""The control jobs' defaults: one dict of :class:`~evojax_ga.runs.control.ControlConfig` fields per job
(``evojax-ga run JOB`` starts from these; every option overrides one)."""

from __future__ import annotations

from typing import Any

__all__ = ["JOB_DEFAULTS"]

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
