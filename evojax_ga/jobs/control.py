"""Control jobs: evolve an MLP policy on a gymnax environment until it solves it.

``evojax-ga run cartpole | acrobot | mountaincar | pendulum``. A run evolves a population of MLP
policies (fitness = mean return over ``--episodes`` episodes per member); as soon as a
generation's best member reaches ``--target`` on its training episodes (the compiled block of
generations ends there), it is checked on ``--check-episodes`` fresh episodes, and the run stops
once that mean reaches the target ("solved"). The member that passed (or, failing that, the best-so-far member) is
saved and evaluated once more on ``--final-episodes`` other fresh episodes: that is the figure printed
at the end.

The library side is :func:`build` (task, model, strategy, compiled functions for a
:class:`ControlConfig`) and :func:`train` (one run); the benchmark uses them directly.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

from evojax_ga.jobs import checkpointing

__all__ = ["ControlConfig", "JOB_DEFAULTS", "Trainer", "build", "train", "add_arguments", "main",
           "evaluate_run", "resume_run", "describe", "config_for"]


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """Everything that defines a control run (JSON-able; the run folder stores it)."""
    env: str
    pop_size: int = 64
    generations: int = 100
    preset: str = "simple"              # simple | deep_ga
    sigma: float = 0.1                  # Gaussian mutation step
    rate: float = 0.1                   # per-gene mutation probability (simple)
    crossover: float = 0.5              # uniform crossover mask probability (simple)
    tournament: int = 2                 # tournament size (simple)
    truncation: int = 8                 # parents drawn from the top T (deep_ga)
    elite: int = 1
    episodes: int = 1
    max_steps: int | None = None
    chunk_size: int | str | None = "auto"   # members evaluated at once ("auto": 256 on a CPU, 2^20 on a GPU; None: all)
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


#: per-job defaults (tuned on the 2-core CPU; see benchmarks/bench_control.py)
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    # CartPole: 1 episode per member is enough; most of a run is compilation (see benchmarks/bench_control.py)
    "cartpole": dict(env="CartPole-v1", pop_size=128, generations=100, preset="simple", sigma=0.1, rate=0.1,
                     episodes=1, hidden=(16, 16), init_scale=2.0, target=475.0, block=5),
    # Acrobot at -100 is reached by a random population within a few generations, on raw observations
    # (normalising divides the joint velocities by 4 pi and 9 pi: 1-2 seeds of 4 then fail in 100 generations).
    # The deep GA from the top half solved 9/9 seeds in a median 4 generations (0.069 s warm) against
    # 11 generations (0.11 s) for the simple preset.
    "acrobot": dict(env="Acrobot-v1", pop_size=64, generations=100, preset="deep_ga", truncation=32, sigma=0.1,
                    episodes=1, hidden=(16, 16), init_scale=1.0, normalize_obs=False, target=-100.0, block=5),
    # MountainCar: normalised observations (velocity is +-0.07), 4 episodes per member so that lucky
    # single episodes do not win, wide initial weights to find the swinging behaviour
    "mountaincar": dict(env="MountainCar-v0", pop_size=256, generations=300, preset="simple", sigma=0.3, rate=0.1,
                        episodes=4, hidden=(16, 16), init_scale=3.0, target=-110.0, block=10),
    # Pendulum: single-episode returns are very noisy; the deep GA (every weight mutated, parents
    # from the top 32) improves steadily where sparse mutation stalls. Truncation 32 / sigma 0.2 / block 5
    # solved 5/5 seeds in a median 45 generations (1.1-1.3 s warm) against 80 for 16 / 0.1 / 10.
    "pendulum": dict(env="Pendulum-v1", pop_size=256, generations=300, preset="deep_ga", truncation=32, sigma=0.2,
                     episodes=4, hidden=(16, 16), init_scale=1.0, target=-200.0, block=5),
}

_PRESETS = ("simple", "deep_ga")


def describe(job: str) -> str:
    env = JOB_DEFAULTS.get(job, {}).get("env", job)
    target = JOB_DEFAULTS.get(job, {}).get("target")
    return f"evolve an MLP policy on gymnax {env} until its mean return over 100 fresh episodes >= {target:g}"


def config_for(job: str, **overrides: Any) -> ControlConfig:
    """The job's default :class:`ControlConfig` with ``overrides`` (``None`` values are ignored)."""
    if job not in JOB_DEFAULTS:
        raise ValueError(f"job must be one of {sorted(JOB_DEFAULTS)}, got {job!r}")
    values = dict(JOB_DEFAULTS[job])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("chunk_size") == "all":
        values["chunk_size"] = None
    cfg = ControlConfig(**values)
    _validate(cfg)
    return cfg


def _validate(cfg: ControlConfig) -> None:
    if cfg.preset not in _PRESETS:
        raise ValueError(f"preset must be one of {list(_PRESETS)}, got {cfg.preset!r}")
    for name in ("pop_size", "generations", "episodes", "block", "check_episodes", "final_episodes", "tournament",
                 "truncation"):
        v = getattr(cfg, name)
        lo = 2 if name == "pop_size" else (0 if name == "generations" else 1)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if cfg.elite < 0 or cfg.elite >= cfg.pop_size:
        raise ValueError(f"elite must be in [0, pop_size - 1] = [0, {cfg.pop_size - 1}], got {cfg.elite}")
    if cfg.preset == "deep_ga" and cfg.truncation > cfg.pop_size:
        raise ValueError(f"truncation must be <= pop_size ({cfg.pop_size}), got {cfg.truncation}")
    if not (0.0 <= cfg.rate <= 1.0):
        raise ValueError(f"rate must be in [0, 1], got {cfg.rate}")
    if not (0.0 <= cfg.crossover <= 1.0):
        raise ValueError(f"crossover must be in [0, 1], got {cfg.crossover}")
    if not (math.isfinite(cfg.sigma) and cfg.sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {cfg.sigma}")
    if not (math.isfinite(cfg.init_scale) and cfg.init_scale > 0):
        raise ValueError(f"init_scale must be a finite number > 0, got {cfg.init_scale}")
    if not math.isfinite(cfg.target):
        raise ValueError(f"target must be a finite number, got {cfg.target}")
    if not (cfg.chunk_size is None or cfg.chunk_size == "auto"
            or (isinstance(cfg.chunk_size, int) and not isinstance(cfg.chunk_size, bool) and cfg.chunk_size >= 1)):
        raise ValueError(f"chunk_size must be an int >= 1, 'auto' or None, got {cfg.chunk_size!r}")
    if not cfg.hidden or any((not isinstance(h, int)) or h < 1 for h in cfg.hidden):
        raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {cfg.hidden!r}")


class Trainer(NamedTuple):
    """Compiled pieces of a control run (build once, train many seeds)."""
    cfg: ControlConfig
    task: Any                   # GymnaxTask
    model: Any                  # flax MLP
    model_config: dict
    strategy: Any               # ega.Strategy
    runner: Callable            # jitted block runner (ega.make_block_runner)
    init_population: Callable   # (key) -> population [P, ...]
    check: Callable             # (key, params) -> returns [check_episodes]
    compiled: dict              # ahead-of-time compiled runner, filled by the first train()


def build(cfg: ControlConfig) -> Trainer:
    """Task, model, strategy and jitted functions for ``cfg`` (compiled on first use)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import evojax_ga as ega
    from evojax_ga.models import MLP
    from evojax_ga.tasks.gymnax_task import gymnax_task

    _validate(cfg)
    probe = gymnax_task(cfg.env, lambda p, o: o, episodes=1, max_steps=cfg.max_steps)  # for shapes only
    model = MLP(features=tuple(cfg.hidden), out=probe.num_outputs, activation=cfg.activation)
    task = gymnax_task(cfg.env, model, episodes=cfg.episodes, max_steps=cfg.max_steps,
                       chunk_size=cfg.chunk_size, early_exit=cfg.early_exit, normalize_obs=cfg.normalize_obs,
                       common_episodes=cfg.common_episodes)
    model_config = {"kind": "MLP", "features": list(cfg.hidden), "out": task.num_outputs,
                    "activation": cfg.activation, "input_shape": list(task.sample_input.shape)}

    if cfg.preset == "simple":
        strategy = ega.presets.simple_ga(rate=cfg.rate, sigma=cfg.sigma, tournament=cfg.tournament,
                                         crossover_prob=cfg.crossover, elite=cfg.elite)
    else:
        strategy = ega.presets.deep_ga(truncation=cfg.truncation, sigma=cfg.sigma, elite=cfg.elite)
    runner = ega.make_block_runner(strategy, task, cfg.block)

    # Initial weights: one normal draw per individual (fold_in(key, i): independent of pop_size),
    # kernels scaled by init_scale / sqrt(fan_in) (LeCun), biases by init_scale.
    # (numpy and traced ops only: eager jnp calls here would each compile a tiny program at start-up)
    shapes = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
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

    def check(key, params):
        return task.evaluate_individual(key, params, cfg.check_episodes)

    return Trainer(cfg, task, model, model_config, strategy, runner, init_population, check, {})


def train(trainer: Trainer, key: Any, progress: bool = False,
          on_block: Callable[[Any, dict], Any] | None = None,
          precompile_check: bool = True, state0: Any = None,
          info: dict | None = None) -> tuple[Any, dict, dict]:
    """One run from ``key``: evolve until solved (checked on fresh episodes) or out of generations.

    on_block: ``on_block(state, block_history)`` after every block, after that block's solved check
    (e.g. append to metrics.jsonl and checkpoint).
    precompile_check: on the first call, compile the GA block ahead of time from shapes in this
    thread while a second thread builds the initial population and compiles the solved check
    (XLA compiles without holding the GIL, so on a multi-core machine the two overlap).
    state0: continue from this state (a checkpoint of a run with the same ``key``) instead of the
    initial population; the run then goes on to ``cfg.generations`` in all, bit-identical to a run
    that was never interrupted.
    info: a dict filled in place with the counters below (pass a checkpoint's counters to resume
    them; read it from ``on_block`` to checkpoint them).

    Returns ``(state, history, info)``; ``info`` holds ``solved``, ``solved_generation``,
    ``solve_wall_s`` (from the start of this call, compile included when it happens here),
    ``check_mean`` (last check), ``checks`` (number of checks run) and ``params`` (the member to
    keep: the one that passed, else the best so far).
    """
    import jax
    import numpy as np

    import evojax_ga as ega

    cfg = trainer.cfg
    k_init, k_evolve, k_check = jax.random.split(key, 3)
    t0 = time.perf_counter()
    runner = trainer.compiled.get("runner", trainer.runner)
    if state0 is not None:
        start_gen = int(state0.generation)
        if start_gen > cfg.generations:
            raise ValueError(f"the state to continue from is at generation {start_gen}, past generations="
                             f"{cfg.generations}")
    elif precompile_check and "runner" not in trainer.compiled:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            prep = pool.submit(_prepare, trainer, k_init, k_check)
            runner = _compile_runner(trainer, k_init, k_evolve)
            state0 = prep.result()
    else:
        state0 = trainer.strategy.init(k_init, trainer.init_population(k_init))
    info = {} if info is None else info
    for k, v in {"solved": False, "solved_generation": None, "solve_wall_s": None, "check_mean": None,
                 "checks": 0}.items():
        info.setdefault(k, v)
    info["params"] = None

    def callback(state, block_hist):
        stop = None
        i, best = _best_member(state)
        if best >= cfg.target:
            params = jax.tree_util.tree_map(lambda x: x[i], state.population)
            gen = int(state.generation)
            ret = np.asarray(trainer.check(jax.random.fold_in(k_check, gen), params))
            info["checks"] += 1
            info["check_mean"] = float(ret.mean())
            if ret.mean() >= cfg.target:
                from evojax_ga.run_folder import process_age_s
                info.update(solved=True, solved_generation=gen, solve_wall_s=time.perf_counter() - t0,
                            params=params, solve_process_age_s=process_age_s())
                stop = False
        if on_block is not None:
            on_block(state, block_hist)
        return stop

    # A block ends at the first generation whose best member reaches the target on its training
    # episodes, so that the candidate is checked at once instead of at the end of the block
    # (measured warm, 9 seeds: MountainCar 0.94 -> 0.47 s, Pendulum 1.03 -> 0.99 s, CartPole equal).
    state, history = ega.evolve(k_evolve, trainer.strategy, trainer.task, state0,
                                cfg.generations - int(state0.generation),
                                block=cfg.block, progress=progress, callback=callback, runner=runner,
                                pause=cfg.target)

    if info["params"] is None:
        info["params"] = state.best_params
    info["wall_s"] = time.perf_counter() - t0
    info["generations"] = int(state.generation)
    return state, history, info


def _best_member(state: Any) -> tuple[int, float]:
    """``(index, fitness)`` of the generation's best member (non-finite fitness ranks last): the one
    a solved check tests, and the one kept when a run that had solved is rebuilt from its final
    checkpoint."""
    import numpy as np
    fit = np.asarray(state.fitness)
    i = int(np.argmax(np.where(np.isfinite(fit), fit, -np.inf)))
    return i, float(fit[i])


def _prepare(trainer: Trainer, k_init: Any, k_check: Any) -> Any:
    """Initial GA state; then compile (and run once on a member, result discarded) the solved check."""
    import jax
    pop = trainer.init_population(k_init)
    state0 = jax.block_until_ready(trainer.strategy.init(k_init, pop))
    _warm_check(trainer, k_check, pop)
    return state0


def _compile_runner(trainer: Trainer, k_init: Any, k_evolve: Any) -> Callable:
    """The GA block compiled ahead of time from the state's shapes (kept in ``trainer.compiled``);
    falls back to the jitted runner if the real state's types differ from the traced ones."""
    import jax
    import jax.numpy as jnp
    state_shape = jax.eval_shape(lambda k: trainer.strategy.init(k, trainer.init_population(k)), k_init)
    k_run = jax.random.split(k_evolve)[1]
    compiled = trainer.runner.lower(k_run, state_shape, jnp.int32(0), jnp.float32(0.0), jnp.float32(0.0)).compile()

    def runner(*args):
        try:
            return compiled(*args)
        except (TypeError, ValueError):
            return trainer.runner(*args)

    trainer.compiled["runner"] = runner
    return runner


def _warm_check(trainer: Trainer, key: Any, pop: Any) -> None:
    """Compile (and run once, on a dummy member) the solved check; the result is discarded."""
    import jax
    params = jax.tree_util.tree_map(lambda x: x[0], pop)
    jax.block_until_ready(trainer.check(jax.random.fold_in(key, 2**31 - 1), params))  # never a generation index


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def _hidden(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated positive ints like 16,16; got {text!r}")
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated positive ints like 16,16; got {text!r}")
    return vals


def _chunk(text: str) -> int | str:
    if text in ("auto", "all"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--chunk-size must be a positive int, 'auto' or 'all'; got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"--chunk-size must be a positive int, 'auto' or 'all'; got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the control jobs (defaults depend on the job: ``parser.get_default('job')``)."""
    job = parser.get_default("job") or "cartpole"
    d = ControlConfig(**JOB_DEFAULTS.get(job, JOB_DEFAULTS["cartpole"]))
    g = parser.add_argument_group("evolution")
    g.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    g.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"maximum number of generations (default {d.generations})")
    g.add_argument("--preset", choices=_PRESETS, default=None,
                   help=f"GA preset: 'simple' = binary tournament, uniform crossover, Gaussian mutation of a "
                        f"fraction --rate of genes, 1 elite; 'deep_ga' = Such et al.: parents uniform from the "
                        f"top --truncation, every gene mutated, no crossover (default {d.preset})")
    g.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    g.add_argument("--rate", type=float, default=None,
                   help=f"probability that a gene mutates (simple preset; default {d.rate:g})")
    g.add_argument("--truncation", type=int, default=None, metavar="T",
                   help=f"deep_ga parents come from the top T (default {d.truncation})")
    g.add_argument("--elite", type=int, default=None, help=f"members copied unchanged (default {d.elite})")
    g.add_argument("--target", type=float, default=None,
                   help=f"solved when the mean return over --check-episodes fresh episodes reaches this "
                        f"(default {d.target:g})")
    g.add_argument("--block", type=int, default=None,
                   help=f"generations per compiled block; progress and the solved check run between blocks "
                        f"(default {d.block})")
    t = parser.add_argument_group("evaluation")
    t.add_argument("--episodes", type=int, default=None,
                   help=f"episodes per member per generation; fitness is their mean return (default {d.episodes})")
    t.add_argument("--max-steps", type=int, default=None,
                   help="steps per episode (default: the environment's limit)")
    t.add_argument("--chunk-size", type=_chunk, default=None, metavar="{N,auto,all}",
                   help="evaluate N members at a time (bounds memory; results do not change); 'auto' = 256 "
                        "on a CPU (fastest measured on the 2-core CPU), 2^20 on a GPU, 'all' = the whole population in one vmap "
                        "(default: auto)")
    t.add_argument("--no-early-exit", dest="early_exit", action="store_false", default=None,
                   help="always simulate --max-steps steps instead of stopping when every episode of a chunk ended")
    t.add_argument("--raw-obs", dest="normalize_obs", action="store_false", default=None,
                   help="feed raw observations to the policy instead of mapping finite observation bounds onto [-1, 1]")
    t.add_argument("--common-episodes", dest="common_episodes", action="store_true", default=None,
                   help="every member of a generation plays the same start states (less noisy ranking)")
    t.add_argument("--check-episodes", type=int, default=None,
                   help=f"fresh episodes of the solved check (default {d.check_episodes})")
    t.add_argument("--final-episodes", type=int, default=None,
                   help=f"fresh episodes of the final evaluation (default {d.final_episodes})")
    m = parser.add_argument_group("policy")
    m.add_argument("--hidden", type=_hidden, default=None, metavar="H1,H2",
                   help=f"hidden layer widths of the MLP (default {','.join(map(str, d.hidden))})")
    m.add_argument("--activation", default=None, help=f"hidden activation (default {d.activation})")
    checkpointing.add_arguments(parser)
    c = parser.add_argument_group("compilation")
    c.add_argument("--fast-compile", choices=("auto", "on", "off"), default="auto",
                   help=f"compile with XLA's CPU optimisation level 0: about half the compile time, 2-3x slower "
                        f"code; 'auto' = on when pop_size * episodes <= {FAST_COMPILE_MAX_EPISODES}")
    m.add_argument("--init-scale", type=float, default=None,
                   help=f"initial kernels ~ N(0, s^2/fan_in), biases ~ N(0, s^2) (default {d.init_scale:g})")


#: ``--fast-compile auto`` turns it on up to this many episodes per generation (pop_size * episodes)
FAST_COMPILE_MAX_EPISODES = 2048


def set_fast_compile(on: bool) -> bool:
    """Lower XLA's CPU backend optimisation level to 0 (``XLA_FLAGS``) for this process.

    On the 2-core CPU this halves compile times (the rollout: ~1.5 s -> ~0.7 s) and makes the
    compiled code ~2-3x slower: worth it when compilation dominates (small populations), not for
    large ones. Takes effect only before JAX's backend starts (the first computation); a level the
    user set in ``XLA_FLAGS`` wins. Returns whether the flag is in effect as far as we can tell.
    """
    import os
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" in flags:
        return "xla_backend_optimization_level=0" in flags
    if not on:
        return False
    try:
        from jax._src import xla_bridge
        started = bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # private API moved: assume not started
        started = False
    if started:
        return False
    os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()
    return True


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("pop_size", "generations", "preset", "sigma", "rate", "truncation", "elite", "target", "block",
             "episodes", "max_steps", "chunk_size", "early_exit", "normalize_obs", "common_episodes", "check_episodes", "final_episodes", "hidden",
             "activation", "init_scale")
    return {n: getattr(args, n, None) for n in names}


def _print(msg: str) -> None:
    print(msg, flush=True)


def main(args: argparse.Namespace) -> int:
    """Run a control job from parsed arguments; write the run folder; print the final evaluation."""

    from evojax_ga import run_folder as rf
    from evojax_ga._startup import import_gymnax

    t_start = time.perf_counter()
    job = args.job
    try:
        cfg = config_for(job, **_overrides(args))
        every = checkpointing.interval(getattr(args, "checkpoint_every", None), cfg.block)
    except (TypeError, ValueError) as exc:
        print(f"evojax-ga run {job}: error: {exc}", file=sys.stderr)
        return 2
    fast = {"on": True, "off": False}.get(getattr(args, "fast_compile", None) or "auto")
    if fast is None:
        fast = cfg.pop_size * cfg.episodes <= FAST_COMPILE_MAX_EPISODES
    fast = set_fast_compile(fast)
    import_gymnax(defer_plotting=True)
    run_dir = rf.create_run_dir(args.out, job)
    trainer = build(cfg)
    config = {"control": dataclasses.asdict(cfg), "task": trainer.task.config, "model": trainer.model_config,
              "strategy": trainer.strategy.config, "fast_compile": fast,
              "compile_cache": getattr(args, "compile_cache", None)}
    rf.write_config(run_dir, job, {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "argv"},
                    config, argv=getattr(args, "argv", None))
    return _execute(run_dir, job, trainer, args.seed, args.progress, every, t_start)


def _execute(run_dir: Path, job: str, trainer: Trainer, seed: int, progress: bool, every: int, t_start: float,
             resume: tuple[Any, dict] | None = None) -> int:
    """Train (from the start or from ``resume = (state, metadata)``), checkpointing into the run
    folder; then the final evaluation, parameters, plot and summary."""
    import jax
    import numpy as np

    from evojax_ga import checkpoint
    from evojax_ga import run_folder as rf

    cfg = trainer.cfg
    key = jax.random.key(seed)
    k_train, k_final = jax.random.split(key)
    counters = ("solved", "solved_generation", "solve_wall_s", "check_mean", "checks")
    info: dict[str, Any] = {}
    resumed_from = None
    if resume is not None:
        state, meta = resume
        resumed_from = int(state.generation)
        info.update({k: meta[k] for k in counters if k in meta})

    def metadata() -> dict:
        return {"job": job, "seed": seed, "run_key": np.asarray(jax.random.key_data(k_train)).tolist(),
                **{k: info.get(k) for k in counters}}

    on_block = rf.block_logger(run_dir, every, metadata, wall_offset=rf.last_wall_s(run_dir) if resume else 0.0)
    if resume is not None and resume[1].get("final"):
        # killed after training finished: the final state is all there is to rebuild
        i, _ = _best_member(state)
        info["params"] = (jax.tree_util.tree_map(lambda x: x[i], state.population) if info.get("solved")
                          else state.best_params)
        info["wall_s"], info["generations"] = 0.0, int(state.generation)
    else:
        state, _, info = train(trainer, k_train, progress=progress, on_block=on_block,
                               state0=None if resume is None else state, info=info)
        if every:
            checkpoint.save(Path(run_dir) / rf.CHECKPOINT_DIR, state, {**metadata(), "final": True}, keep=2)
    history = rf.read_metrics(run_dir)   # the whole run, the part before a resume included
    final = np.asarray(trainer.task.evaluate_individual(k_final, info["params"], cfg.final_episodes))
    rf.save_params(run_dir, info["params"], trainer.model_config)
    rf.plot_fitness(run_dir, history, title=f"{cfg.env}: pop {cfg.pop_size}, {cfg.preset}", target=cfg.target)
    total = time.perf_counter() - t_start
    summary = {
        "job": job, "env": cfg.env, "solved": info["solved"], "solved_generation": info["solved_generation"],
        "generations": info["generations"], "train_wall_s": info["wall_s"], "solve_wall_s": info["solve_wall_s"],
        # seconds from the start of the process (interpreter, imports, compilation) to the solved check
        "solve_process_age_s": info.get("solve_process_age_s") if resume is None else None,
        "check_mean": info["check_mean"], "checks": info["checks"],
        "final_episodes": cfg.final_episodes, "final_mean": float(final.mean()), "final_std": float(final.std()),
        "final_min": float(final.min()), "final_max": float(final.max()),
        "final_reaches_target": bool(final.mean() >= cfg.target), "target": cfg.target,
        "best_so_far": float(state.best_fitness), "total_wall_s": total,
        "env_steps": float(np.sum(history.get("env_steps", 0.0))), "resumed_from_generation": resumed_from,
    }
    rf.write_json(Path(run_dir) / rf.SUMMARY_FILE, summary)
    status = (f"solved at generation {info['solved_generation']} ({info['solve_wall_s']:.2f} s)" if info["solved"]
              else f"not solved in {info['generations']} generations")
    _print(f"{cfg.env}: {status}; final evaluation over {cfg.final_episodes} fresh episodes: "
           f"mean {final.mean():.2f} (std {final.std():.2f}, min {final.min():.1f}, max {final.max():.1f}); "
           f"target {cfg.target:g}; total {total:.2f} s")
    _print(f"run folder: {run_dir}")
    return 0


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` and continue it from its newest
    complete checkpoint (metrics written after that checkpoint are dropped and recomputed)."""
    import jax

    from evojax_ga import run_folder as rf
    from evojax_ga._startup import import_gymnax

    t_start = time.perf_counter()
    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    ctl = dict(config["config"]["control"])
    ctl["hidden"] = tuple(ctl["hidden"])
    cfg = ControlConfig(**ctl)
    _validate(cfg)
    run_args = config.get("args", {})
    set_fast_compile(bool(config["config"].get("fast_compile", False)))
    import_gymnax(defer_plotting=True)
    trainer = build(cfg)
    seed = int(run_args.get("seed", 0))
    # any state of the same strategy and shapes serves as the template
    template = jax.jit(lambda k: trainer.strategy.init(k, trainer.init_population(k)))(jax.random.key(0))
    state, meta = checkpointing.restore(run_dir, template)
    every = checkpointing.recorded_interval(config, cfg.block)
    _print(f"resuming {run_dir} from generation {int(state.generation)} of {cfg.generations}")
    progress = getattr(args, "progress", True)
    return _execute(Path(run_dir), config["job"], trainer, seed, progress, every, t_start, resume=(state, meta))


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: rebuild the policy, reload the saved parameters, re-evaluate."""
    import numpy as np

    from evojax_ga import run_folder as rf
    from evojax_ga._startup import import_gymnax
    from evojax_ga.tasks.gymnax_task import gymnax_task

    import_gymnax(defer_plotting=True)
    import jax

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    ctl = config["config"]["control"]
    model_config = rf.read_json(Path(run_dir) / rf.MODEL_FILE)
    model = rf.model_from_config(model_config)
    task = gymnax_task(ctl["env"], model, episodes=1, max_steps=ctl.get("max_steps"),
                       normalize_obs=bool(ctl.get("normalize_obs", False)))
    template = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
    params, _ = rf.load_params(run_dir, template)
    episodes = args.episodes if args.episodes is not None else ctl.get("final_episodes", 100)
    ret = np.asarray(task.evaluate_individual(jax.random.key(args.seed), params, episodes))
    target = float(ctl["target"])
    _print(f"{ctl['env']}: {run_dir}: mean return over {episodes} fresh episodes (seed {args.seed}): "
           f"{ret.mean():.2f} (std {ret.std():.2f}, min {ret.min():.1f}, max {ret.max():.1f}); "
           f"target {target:g}: {'reached' if ret.mean() >= target else 'not reached'}")
    return 0
