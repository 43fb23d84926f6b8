"""Control runs: evolve an MLP policy on a gymnax environment until it solves it.

A run evolves a population of MLP policies (fitness = mean return over ``episodes`` episodes per
member); as soon as a generation's best member reaches ``target`` on its training episodes (the
block of generations pauses there), it is checked on ``check_episodes`` fresh episodes, and the run
stops once that mean reaches the target and, when ``confirm_episodes > 0``, its mean on a second,
independent fresh set of ``confirm_episodes`` episodes reaches it too ("solved"; with ``check_z > 0``
each mean must clear the target by ``check_z`` standard errors). The member that passed (or, failing
that, the best-so-far member) is kept and evaluated once more on ``final_episodes`` other fresh episodes.

``make_run(config_for("cartpole"))(jax.random.key(0))`` runs one in memory; the CLI runs it over a
run folder with :func:`evojax_ga.runs.loop.start`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from evojax_ga._checks import INT32_MAX, check_seed
from evojax_ga._startup import warm_up
from evojax_ga.runs import loop
from evojax_ga.runs.control_jobs import JOB_DEFAULTS
from evojax_ga.runs.loop import Ending, Run
from evojax_ga.runs.solved_check import CONFIRM_SALT, COUNTER_STARTS, COUNTERS, best_member, passes, solved_check

__all__ = ["ControlConfig", "JOB_DEFAULTS", "PRESETS", "Parts", "config_for", "config_from_record", "build",
           "make_run", "run_keys", "best_member", "passes", "episode_bytes", "evaluate_saved", "CONFIRM_SALT"]

PRESETS = ("simple", "deep_ga", "truncation")


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """Everything that defines a control run (JSON-able; the run folder stores it). Checked on creation."""
    env: str
    pop_size: int = 64
    generations: int = 100
    preset: str = "simple"              # simple | deep_ga | truncation
    sigma: float = 0.1                  # Gaussian mutation step
    mutation_rate: float = 0.1          # per-gene mutation probability (simple)
    crossover_prob: float = 0.5         # uniform crossover mask probability (simple)
    tournament: int = 2                 # tournament size (simple, truncation)
    truncation: int | float = 8         # parents from the top T, or a fraction in (0, 1] of P (deep_ga, truncation)
    elite: int = 1
    episodes: int = 1
    max_steps: int | None = None
    chunk_size: int | str | None = "auto"   # members at once ("auto": 256 on a CPU, 2^20 on a GPU; None: all)
    early_exit: bool = True
    normalize_obs: bool = True          # finite observation bounds mapped onto [-1, 1]
    common_episodes: bool = False       # all members of a generation play the same start states
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    init_scale: float = 1.0             # initial weights ~ N(0, init_scale^2 / fan_in), biases N(0, init_scale^2)
    block: int = 5
    target: float = 475.0
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
        for name in ("pop_size", "generations", "episodes", "block", "check_episodes", "final_episodes",
                     "tournament", *(() if isinstance(t, float) else ("truncation",))):
            v = getattr(self, name)
            # generations >= 1: a run of no generation would save an individual never evaluated as "best"
            lo = 2 if name == "pop_size" else 1
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= INT32_MAX:
                raise ValueError(f"{name} must be an int in [{lo}, 2**31 - 1], got {v!r}")
        if not isinstance(self.elite, int) or isinstance(self.elite, bool) or not 0 <= self.elite < self.pop_size:
            raise ValueError(f"elite must be in [0, pop_size - 1] = [0, {self.pop_size - 1}], got {self.elite!r}")
        if self.preset in ("deep_ga", "truncation") and isinstance(t, int) and t > self.pop_size:
            raise ValueError(f"truncation must be <= pop_size ({self.pop_size}), got {self.truncation}")
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
        if not math.isfinite(self.target):
            raise ValueError(f"target must be a finite number, got {self.target}")
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


#: config.json keys of runs written before the one-name-per-concept renames
_LEGACY = {"rate": "mutation_rate", "crossover": "crossover_prob"}
#: fields added since, with the values that reproduce runs recorded before them (no confirmation)
_ADDED = {"confirm_episodes": 0, "check_z": 0.0}


def config_for(job: str, **overrides: Any) -> ControlConfig:
    """The job's default :class:`ControlConfig` with ``overrides`` (``None`` values are ignored;
    ``chunk_size="all"`` means None: the whole population at once)."""
    return loop.job_config(ControlConfig, JOB_DEFAULTS, job, overrides, {"chunk_size": "all"})


def config_from_record(record: Mapping[str, Any]) -> ControlConfig:
    """The :class:`ControlConfig` a run folder's ``config.json`` stored (``config["control"]``)."""
    return loop.config_from_record(ControlConfig, {**_ADDED, **record}, _LEGACY)


class Parts(NamedTuple):
    """What a control run is built from (``build(config)``; replace a part to try another)."""
    task: Any                   # GymnaxTask
    model: Any                  # flax MLP
    model_config: dict          # model.json
    strategy: Any               # ega.Strategy
    init_population: Callable   # (key) -> population [P, ...], jitted


def build(cfg: ControlConfig) -> Parts:
    """Task, model, strategy and initial population of ``cfg``."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import evojax_ga as ega
    from evojax_ga import memory
    from evojax_ga.models import MLP
    from evojax_ga.tasks.gymnax_task import gymnax_task

    probe = gymnax_task(cfg.env, lambda p, o: o, episodes=1, max_steps=cfg.max_steps)  # for shapes only
    model = MLP(features=tuple(cfg.hidden), out=probe.num_outputs, activation=cfg.activation)
    task = gymnax_task(cfg.env, model, episodes=cfg.episodes, max_steps=cfg.max_steps,
                       chunk_size=cfg.chunk_size, early_exit=cfg.early_exit, normalize_obs=cfg.normalize_obs,
                       common_episodes=cfg.common_episodes)
    model_config = {"kind": "MLP", "features": list(cfg.hidden), "out": task.num_outputs,
                    "activation": cfg.activation, "input_shape": list(task.sample_input.shape)}
    if cfg.preset == "simple":
        strategy = ega.presets.simple_ga(mutation_rate=cfg.mutation_rate, sigma=cfg.sigma, tournament=cfg.tournament,
                                         crossover_prob=cfg.crossover_prob, elite=cfg.elite)
    elif cfg.preset == "deep_ga":
        strategy = ega.presets.deep_ga(truncation=cfg.truncation, sigma=cfg.sigma, elite=cfg.elite)
    else:
        strategy = ega.presets.truncation_ga(parent_pool=cfg.truncation, tournament=cfg.tournament, sigma=cfg.sigma,
                                             elite=cfg.elite)

    # Initial weights: one normal draw per individual (fold_in(key, i): independent of pop_size),
    # kernels scaled by init_scale / sqrt(fan_in) (LeCun), biases by init_scale.
    # (numpy and traced ops only: eager jnp calls here would each compile a tiny program at start-up)
    shapes = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    # refuse what cannot fit before anything is allocated: the population (copies of the weights,
    # fitness, and the working set of every episode), then the fresh episodes of one member
    per_episode = episode_bytes(int(task.sample_input.shape[0]), cfg.hidden, task.num_outputs)
    memory.check_fits(memory.population_bytes(shapes, cfg.pop_size, extra_per_member=4 + cfg.episodes * per_episode),
                      f"pop_size={cfg.pop_size}")
    fresh = max(("check_episodes", "confirm_episodes", "final_episodes"), key=lambda n: getattr(cfg, n))
    memory.check_fits(getattr(cfg, fresh) * per_episode, f"{fresh}={getattr(cfg, fresh)}",
                      needs="evaluating one member on that many episodes at once")
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    sizes = [math.prod(s.shape) for s in leaves]
    scale_flat = np.concatenate([
        np.full(n, cfg.init_scale / math.sqrt(s.shape[0]) if len(s.shape) == 2 else cfg.init_scale, np.float32)
        for s, n in zip(leaves, sizes)])
    n_genes = int(sum(sizes))
    bounds = np.cumsum(sizes)[:-1].tolist()

    @jax.jit
    def init_population(key):
        z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (n_genes,), jnp.float32))(
            jnp.arange(cfg.pop_size)) * scale_flat
        parts = jnp.split(z, bounds, axis=1)      # leaves in tree order, row-major (as ravel_pytree)
        return jax.tree_util.tree_unflatten(
            treedef, [p.reshape((cfg.pop_size,) + s.shape).astype(s.dtype) for p, s in zip(parts, leaves)])

    return Parts(task, model, model_config, strategy, init_population)


def episode_bytes(obs_dim: int, hidden: tuple[int, ...], outputs: int) -> int:
    """A bound on the working set of one episode in flight (observation, activations, environment
    state, return): what a population's evaluation and the fresh-episode checks hold per episode."""
    return 4 * (2 * obs_dim + sum(hidden) + outputs) + 64


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

    runner_ready = warm_up(compile_runner) if warm else (lambda: None)

    def kept_params(state: Any, info: Mapping[str, Any]) -> Any:
        if info.get("solved"):
            i, _ = best_member(state)
            return checker.member(state.population, i)
        return state.best_params

    def blocks(key: Any, state: Any, info: dict, progress: bool) -> Iterator[tuple[Any, dict]]:
        _, k_evolve, k_check, _ = keys(key)
        start_gen = int(state.generation)
        if start_gen > cfg.generations:
            raise ValueError(f"the state to continue from is at generation {start_gen}, past generations="
                             f"{cfg.generations}")
        for k, v in zip(COUNTERS, COUNTER_STARTS):
            info.setdefault(k, v)   # (a checkpoint written before a counter existed lacks it)
        t0 = time.perf_counter()
        jax.block_until_ready(checker.compile(state_shape.population))
        runner_ready()
        # a block pauses right after a generation whose best reaches the target on its training
        # episodes, so that the candidate is checked at once instead of at the end of the block
        evolution = ega.evolve_blocks(k_evolve, p.strategy, p.task, state, cfg.generations - start_gen,
                                      block=cfg.block, progress=progress, pause=cfg.target)
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
            "final_reaches_target": bool(final.mean() >= cfg.target), "target": cfg.target,
            "best_so_far": float(state.best_fitness), "total_wall_s": total,
            "env_steps": float(np.sum(history.get("env_steps", 0.0))), "resumed_from_generation": end.resumed_from,
            "stop_reason": "solved" if solved else "generations",   # the only early stop of the job
        }
        status = (f"solved at generation {info['solved_generation']} ({info['solve_wall_s']:.2f} s)" if solved
                  else f"not solved in {gens} generations")
        if not solved and info.get("confirmations_failed"):
            status += f" ({info['confirmations_failed']} candidate(s) passed the check but not its confirmation)"
        message = (f"{cfg.env}: {status}; final evaluation over {cfg.final_episodes} fresh episodes: "
                   f"mean {final.mean():.2f} (std {final.std():.2f}, min {final.min():.1f}, max {final.max():.1f}); "
                   f"target {cfg.target:g}; total {total:.2f} s")
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

    seed = check_seed(seed)
    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    ctl = config["config"]["control"]
    model = model_from_config(rf.read_json(Path(run_dir) / rf.MODEL_FILE))
    task = gymnax_task(ctl["env"], model, episodes=1, max_steps=ctl.get("max_steps"),
                       normalize_obs=bool(ctl.get("normalize_obs", False)))
    n = episodes if episodes is not None else int(ctl.get("final_episodes", 100))
    per_episode = episode_bytes(int(task.sample_input.shape[0]), tuple(ctl["hidden"]), task.num_outputs)
    memory.check_fits(n * per_episode, f"episodes={n}", needs="evaluating the policy on that many episodes at once")
    template = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    params, _ = rf.load_params(run_dir, template)
    return np.asarray(task.evaluate_individual(jax.random.key(seed), params, n)), ctl
