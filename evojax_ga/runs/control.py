"""Control runs: evolve a policy on a gymnax environment until it solves it (or for ``generations``).

A run evolves a population of policies (an MLP, or a CNN on image observations: ``policy``; see
:func:`evojax_ga.tasks.policies.policy_for`; fitness = mean return over ``episodes`` episodes per
member); as soon as a generation's best member reaches ``target`` on its training episodes (the
block of generations pauses there), it is checked on ``check_episodes`` fresh episodes, and the run
stops once that mean reaches the target and, when ``confirm_episodes > 0``, its mean on a second,
independent fresh set of ``confirm_episodes`` episodes reaches it too ("solved"; with ``check_z > 0``
each mean must clear the target by ``check_z`` standard errors). The member that passed (or, failing
that, the best-so-far member) is kept and evaluated once more on ``final_episodes`` other fresh episodes.
With ``target=None`` (an environment without a known threshold) there is no check: the run plays
``generations`` generations and the kept member is the best so far.

``make_run(config_for("cartpole"))(jax.random.key(0))`` (or ``config_for("control",
env="Breakout-MinAtar")``) runs one in memory; the CLI runs it over a run folder with
:func:`evojax_ga.runs.loop.start`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Iterator, Mapping

from evojax_ga._checks import INT32_MAX, check_config_ints, check_seed
from evojax_ga._startup import warm_up
from evojax_ga.runs import loop
from evojax_ga.runs.control_jobs import JOB_DEFAULTS, job_defaults
from evojax_ga.runs.control_parts import Parts, build, episode_bytes
from evojax_ga.runs.loop import Ending, Run
from evojax_ga.runs.solved_check import CONFIRM_SALT, COUNTER_STARTS, COUNTERS, best_member, passes, solved_check

__all__ = ["ControlConfig", "JOB_DEFAULTS", "PRESETS", "Parts", "config_for", "check_env", "config_from_record",
           "build", "make_run", "run_keys", "best_member", "passes", "episode_bytes", "evaluate_saved", "CONFIRM_SALT"]

PRESETS = ("simple", "deep_ga", "truncation", "universal")


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """Everything that defines a control run (JSON-able; the run folder stores it). Checked on creation."""
    env: str
    pop_size: int = 64
    generations: int = 100
    preset: str = "simple"              # simple | deep_ga | truncation | universal
    sigma: float = 0.1                  # Gaussian mutation step
    mutation_rate: float = 0.1          # per-gene mutation probability (simple)
    crossover_prob: float = 0.5         # uniform crossover mask probability (simple)
    tournament: int = 2                 # tournament size (simple, truncation)
    truncation: int | float = 8         # parents from the top T, or a fraction in (0, 1] of P (deep_ga, truncation,
    #                                     universal)
    pressure: float = 1.5               # linear-rank share of the best parent, 2 - it of the last (universal)
    elite: int = 1
    episodes: int = 1
    max_steps: int | None = None
    chunk_size: int | str | None = "auto"   # members at once ("auto": 256 on a CPU, 2^20 on a GPU; None: all)
    early_exit: bool = True
    normalize_obs: bool = True          # finite observation bounds mapped onto [-1, 1]
    common_episodes: bool = False       # all members of a generation play the same start states
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    policy: str = "auto"                # auto (a CNN on image observations, else an MLP) | mlp | cnn
    init_scale: float = 1.0             # initial weights ~ N(0, init_scale^2 / fan_in), biases N(0, init_scale^2)
    block: int = 5
    target: float | None = 475.0        # None: no solved check, the run plays all generations
    check_episodes: int = 100
    final_episodes: int = 100
    confirm_episodes: int | None = None  # 2nd fresh set a passed check must pass too (None: check_episodes; 0: off)
    check_z: float = 1.645              # a check passes when mean - check_z * std / sqrt(n) >= target

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {list(PRESETS)}, got {self.preset!r}")
        t = self.truncation
        if isinstance(t, float) and not (0.0 < t <= 1.0):
            raise ValueError(f"truncation as a fraction of pop_size must be in (0, 1], got {t!r}")
        # generations >= 1: a run of no generation would save an individual never evaluated as "best"
        check_config_ints(self, {"pop_size": 2, **dict.fromkeys(
            ("generations", "episodes", "block", "check_episodes", "final_episodes", "tournament",
             *(() if isinstance(t, float) else ("truncation",))), 1)})
        if not isinstance(self.elite, int) or isinstance(self.elite, bool) or not 0 <= self.elite < self.pop_size:
            raise ValueError(f"elite must be in [0, pop_size - 1] = [0, {self.pop_size - 1}], got {self.elite!r}")
        if self.preset in ("deep_ga", "truncation", "universal") and isinstance(t, int) and t > self.pop_size:
            raise ValueError(f"truncation must be <= pop_size ({self.pop_size}), got {self.truncation}")
        p = self.pressure
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 1.0 <= p <= 2.0:
            raise ValueError(f"pressure must be a number in [1, 2] (1: every parent an equal share), got {p!r}")
        for name in ("mutation_rate", "crossover_prob"):
            if not (0.0 <= getattr(self, name) <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.confirm_episodes is None:
            object.__setattr__(self, "confirm_episodes", self.check_episodes)   # recorded as the number
        n = self.confirm_episodes
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= INT32_MAX:
            raise ValueError(f"confirm_episodes must be an int in [0, 2**31 - 1] (0 = no confirmation), got {n!r}")
        z = self.check_z
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not (math.isfinite(z) and z >= 0):
            raise ValueError(f"check_z must be a finite number >= 0, got {z!r}")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma}")
        if not (math.isfinite(self.init_scale) and self.init_scale > 0):
            raise ValueError(f"init_scale must be a finite number > 0, got {self.init_scale}")
        goal = self.target
        if goal is not None and (isinstance(goal, bool) or not isinstance(goal, (int, float))
                                 or not math.isfinite(goal)):
            raise ValueError(f"target must be a finite number or None (no target), got {goal!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool)
                                           or not 1 <= self.max_steps <= INT32_MAX):
            raise ValueError(f"max_steps must be an int in [1, 2**31 - 1] or None, got {self.max_steps!r}")
        c = self.chunk_size
        if not (c is None or c == "auto" or (isinstance(c, int) and not isinstance(c, bool) and c >= 1)):
            raise ValueError(f"chunk_size must be an int >= 1, 'auto' or None, got {c!r}")
        if not self.hidden or any((not isinstance(h, int)) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {self.hidden!r}")
        from evojax_ga.models import ACTIVATIONS
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        from evojax_ga.tasks.policies import POLICIES
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {list(POLICIES)}, got {self.policy!r}")


#: config.json keys of runs written before the one-name-per-concept renames
_LEGACY = {"rate": "mutation_rate", "crossover": "crossover_prob"}
#: fields added since, with the values that reproduce runs recorded before them (no confirmation;
#: "auto" is the MLP those runs used: they played the four classic environments, whose observations are 1-D)
_ADDED = {"confirm_episodes": 0, "check_z": 0.0, "policy": "auto"}


def config_for(job: str, **overrides: Any) -> ControlConfig:
    """The job's default :class:`ControlConfig` with ``overrides`` (``None`` values are ignored;
    ``chunk_size="all"`` means None: the whole population at once; ``target="none"``: no target).

    ``job``: a named job (``"cartpole"``, ...; ``env`` may only name its own environment) or
    ``"control"`` with ``env=`` any gymnax environment (defaults:
    :func:`evojax_ga.runs.control_jobs.env_defaults`; the name is checked by :func:`check_env`,
    which :func:`make_run` calls)."""
    env = overrides.pop("env", None)
    return loop.job_config(ControlConfig, {job: job_defaults(job, env)}, job, overrides,
                           {"chunk_size": "all", "target": "none"})


def check_env(cfg: ControlConfig) -> ControlConfig:
    """``cfg`` with ``env`` as its gymnax id (``"catch-bsuite"`` -> ``"Catch-bsuite"``); ValueError
    naming ``env`` and listing the known environments when it names none. Imports gymnax (which
    starts XLA's backend: the command line sets its process-wide options first)."""
    from evojax_ga.tasks.environments import resolve_env
    name = resolve_env(cfg.env, "env")
    return cfg if name == cfg.env else dataclasses.replace(cfg, env=name)


def config_from_record(record: Mapping[str, Any]) -> ControlConfig:
    """The :class:`ControlConfig` a run folder's ``config.json`` stored (``config["control"]``)."""
    return loop.config_from_record(ControlConfig, {**_ADDED, **record}, _LEGACY)


def run_keys(key: Any) -> tuple[Any, Any, Any, Any]:
    """``(k_init, k_evolve, k_check, k_final)`` of a control run's key: it splits into ``(k_train,
    k_final)``, ``k_train`` into ``(k_init, k_evolve, k_check)``."""
    import jax
    k_train, k_final = jax.random.split(key)
    k_init, k_evolve, k_check = jax.random.split(k_train, 3)
    return k_init, k_evolve, k_check, k_final


def make_run(cfg: ControlConfig, parts: Parts | None = None, warm: bool = True) -> Run:
    """The run of ``cfg`` (``parts``: default ``build(cfg)``). Keys: :func:`run_keys`; the check of
    generation ``g`` uses ``fold_in(k_check, g)``, its confirmation ``fold_in(fold_in(k_check, g),
    CONFIRM_SALT)``. ``warm``: start compiling the GA block on a background thread at once (off when
    the caller runs the blocks another way, e.g. vmapped over seeds).

    ``info`` after the run: ``solved``, ``solved_generation``, ``solve_wall_s`` (from the start of the
    evolution, compilation included), ``solve_process_age_s``, ``check_mean`` (last check), ``checks``,
    ``confirmations`` (checks passed, so confirmed), ``confirmations_failed``, ``confirm_mean`` (last
    confirmation), ``wall_s``, ``generations`` and ``params`` (the member that passed, else the best so far).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    import evojax_ga as ega
    from evojax_ga import plots
    from evojax_ga import run_folder as rf

    cfg = check_env(cfg)
    p = build(cfg) if parts is None else parts
    checker = solved_check(p.task, cfg)
    keys = run_keys

    def init(key: Any) -> Any:
        k_init = keys(key)[0]
        return p.strategy.init(k_init, p.init_population(k_init))

    # Start-up: the GA block compiles ahead of time from the state's shapes on a background thread
    # while this thread builds the initial state and compiles the solved check (run once on a zero
    # population, result discarded); the evolution waits for both, so nothing compiles twice.
    runner: Any = ega.make_block_runner(p.strategy, p.task, cfg.block)   # jitted; the one evolve_blocks uses
    state_shape = jax.eval_shape(init, jax.random.key(0))

    def compile_runner() -> None:
        runner.lower(jax.random.key(0), state_shape, jnp.int32(0), jnp.float32(0.0), jnp.float32(0.0)).compile()

    # (several devices: the run splits the state first, so this unsplit program would not be the one run)
    runner_ready = warm_up(compile_runner) if warm and jax.device_count() == 1 else (lambda: None)

    def kept_params(state: Any, info: Mapping[str, Any]) -> Any:
        if info.get("solved"):
            i, _ = best_member(state)
            return checker.member(state.population, i)
        return state.best_params

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        _, k_evolve, k_check, _ = keys(key)
        left = loop.remaining_generations(state, cfg.generations)
        for k, v in zip(COUNTERS, COUNTER_STARTS):
            info.setdefault(k, v)   # (a checkpoint written before a counter existed lacks it)
        t0 = time.perf_counter()
        if cfg.target is not None:   # (no target: no check to compile)
            jax.block_until_ready(checker.compile(state_shape.population))
        runner_ready()
        # a block pauses right after a generation whose best reaches the target on its training
        # episodes, so that the candidate is checked at once instead of at the end of the block
        evolution = ega.evolve_blocks(k_evolve, p.strategy, p.task, state, left,
                                      block=cfg.block, progress=progress, pause=cfg.target)   # None: never
        with closing(evolution):
            for state, block_history in evolution:
                if checker.judge(k_check, state, info):
                    info.update(solved=True, solved_generation=int(state.generation),
                                solve_wall_s=time.perf_counter() - t0, solve_process_age_s=rf.process_age_s())
                yield state, block_history
                if info["solved"]:
                    break
        info.update(wall_s=time.perf_counter() - t0, generations=int(state.generation),
                    params=kept_params(state, info))

    def checkpoint_info(key: Any, info: Mapping[str, Any]) -> dict:
        k_train = jax.random.split(key)[0]
        return {"run_key": np.asarray(jax.random.key_data(k_train)).tolist(), **{k: info.get(k) for k in COUNTERS}}

    def finish(end: Ending) -> tuple[dict, str]:
        run_dir, key, state, info, history = end.run_dir, end.key, end.state, end.info, end.history
        params = kept_params(state, info)
        final = np.asarray(p.task.evaluate_individual(keys(key)[3], params, cfg.final_episodes))
        rf.save_params(run_dir, params, p.model_config)
        plots.plot_fitness(run_dir, history, title=f"{cfg.env}: pop {cfg.pop_size}, {cfg.preset}", target=cfg.target)
        total = time.perf_counter() - end.t_start
        solved = bool(info.get("solved"))
        gens = int(state.generation)
        summary = {
            "env": cfg.env, "solved": solved, "solved_generation": info.get("solved_generation"),
            "generations": gens, "train_wall_s": info.get("wall_s", 0.0), "solve_wall_s": info.get("solve_wall_s"),
            # seconds from the start of the process (interpreter, imports, compilation) to the solved check
            "solve_process_age_s": info.get("solve_process_age_s") if end.resumed_from is None else None,
            "check_mean": info.get("check_mean"), "checks": info.get("checks", 0),
            "confirm_episodes": cfg.confirm_episodes, "check_z": cfg.check_z,
            "confirmations": info.get("confirmations", 0), "confirmations_failed": info.get("confirmations_failed", 0),
            "confirm_mean": info.get("confirm_mean"),
            "final_episodes": cfg.final_episodes, "final_mean": float(final.mean()), "final_std": float(final.std()),
            "final_min": float(final.min()), "final_max": float(final.max()),
            "final_reaches_target": None if cfg.target is None else bool(final.mean() >= cfg.target),
            "target": cfg.target,
            "best_so_far": float(state.best_fitness), "total_wall_s": total,
            "env_steps": float(np.sum(history.get("env_steps", 0.0))), "resumed_from_generation": end.resumed_from,
            "stop_reason": "solved" if solved else "generations",   # the only early stop of the job
        }
        status = (f"solved at generation {info['solved_generation']} ({info['solve_wall_s']:.2f} s)" if solved
                  else f"not solved in {gens} generations" if cfg.target is not None else f"{gens} generations")
        if not solved and info.get("confirmations_failed"):
            status += f" ({info['confirmations_failed']} candidate(s) passed the check but not its confirmation)"
        message = (f"{cfg.env}: {status}; final evaluation over {cfg.final_episodes} fresh episodes: "
                   f"mean {final.mean():.2f} (std {final.std():.2f}, min {final.min():.1f}, max {final.max():.1f}); "
                   f"{_target_text(cfg.target)}; total {total:.2f} s")
        return summary, message

    record = {"control": dataclasses.asdict(cfg), "task": p.task.config, "model": p.model_config,
              "strategy": p.strategy.config}
    return Run(cfg, record, p.model_config, cfg.block, init, blocks, checkpoint_info, finish)


def evaluate_saved(run_dir: str | Path, episodes: int | None = None, seed: int = 12345) -> tuple[Any, dict]:
    """Rebuild a control run folder's policy, reload its saved parameters and play ``episodes`` fresh
    episodes (default: the run's ``final_episodes``). Returns ``(returns [episodes], control record)``."""
    import jax
    import numpy as np

    from evojax_ga import memory
    from evojax_ga import run_folder as rf
    from evojax_ga.models import model_from_config
    from evojax_ga.tasks.gymnax_task import gymnax_task
    from evojax_ga.tasks.policies import policy_widths

    seed = check_seed(seed)
    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    ctl = config["config"]["control"]
    model = model_from_config(rf.read_json(Path(run_dir) / rf.MODEL_FILE))
    task = gymnax_task(ctl["env"], model, episodes=1, max_steps=ctl.get("max_steps"),
                       normalize_obs=bool(ctl.get("normalize_obs", False)))
    n = episodes if episodes is not None else int(ctl.get("final_episodes", 100))
    per_episode = episode_bytes(int(task.sample_input.shape[0]), policy_widths(model), task.num_outputs)
    memory.check_fits(n * per_episode, f"episodes={n}", needs="evaluating the policy on that many episodes at once")
    template = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    params, _ = rf.load_params(run_dir, template)
    return np.asarray(task.evaluate_individual(jax.random.key(seed), params, n)), ctl


def _target_text(target: float | None) -> str:
    """``"target 475"``, or ``"no target"``."""
    return "no target" if target is None else f"target {target:g}"
