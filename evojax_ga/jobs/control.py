"""Control jobs: evolve a policy on a gymnax environment until it solves it.

``evojax-ga run control --env NAME`` plays any gymnax environment (``evojax-ga list`` / gymnax's
registry); ``evojax-ga run cartpole | acrobot | mountaincar | pendulum`` are its presets, with
defaults tuned for their environment (``control --env CartPole-v1`` starts from the same ones).
A named job's environment is fixed: its ``--env`` may only name it; another is refused with a
one-line error that points to ``run control --env``. The policy is an MLP, or a small CNN on image
observations (``--policy auto | mlp | cnn``), its head sized from the action space
(:func:`evojax_ga.tasks.policies.policy_for`). The options map onto
:class:`evojax_ga.runs.control.ControlConfig` (defaults per job and environment:
:mod:`evojax_ga.runs.control_jobs`); the run itself is
:func:`evojax_ga.runs.control.make_run` driven over a run folder by :mod:`evojax_ga.runs.loop`.
As soon as a generation's best member reaches ``--target`` on its training episodes it is checked
on ``--check-episodes`` fresh episodes; the run stops once that mean, and its mean on
``--confirm-episodes`` other fresh episodes, reach the target ("solved").
The member that passed (or the best-so-far one) is saved and evaluated on ``--final-episodes``
other fresh episodes: the figure printed at the end. An environment without a known solved
threshold has no target unless ``--target`` gives one: the run plays all ``--generations``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evojax_ga.jobs import checkpointing
from evojax_ga.jobs.options import chunk_size, count_or_fraction, hidden_widths

__all__ = ["add_arguments", "main", "evaluate_run", "resume_run", "describe"]

#: option dest -> ControlConfig field
_FIELDS = ("env", "policy",
           "pop_size", "generations", "preset", "sigma", "mutation_rate", "truncation", "tournament", "pressure",
           "elite", "target",
           "block", "episodes", "max_steps", "chunk_size", "early_exit", "normalize_obs", "common_episodes",
           "check_episodes", "confirm_episodes", "check_z", "final_episodes", "hidden", "activation", "init_scale")


def describe(job: str) -> str:
    from evojax_ga.runs.control import JOB_DEFAULTS
    from evojax_ga.runs.control_jobs import GENERIC_JOB
    if job == GENERIC_JOB:
        return ("evolve a policy (an MLP, or a CNN on image observations) on any gymnax environment --env NAME, "
                "until its known solved threshold or for --generations generations")
    env = JOB_DEFAULTS.get(job, {}).get("env", job)
    target = JOB_DEFAULTS.get(job, {}).get("target")
    return f"evolve an MLP policy on gymnax {env} until its mean return over 100 fresh episodes >= {target:g}"


def _target(text: str) -> float | str:
    """``--target``: a number, or ``none`` (no target: the run plays all its generations)."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'none', got {text!r}") from None



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the control jobs (defaults depend on the job: ``parser.get_default('job')``)."""
    from evojax_ga._startup import FAST_COMPILE_MAX_EPISODES
    from evojax_ga.runs.control import JOB_DEFAULTS, PRESETS, ControlConfig
    from evojax_ga.runs.control_jobs import GENERIC_DEFAULTS, GENERIC_JOB
    from evojax_ga.tasks.policies import POLICIES

    job = parser.get_default("job") or "cartpole"
    generic = job == GENERIC_JOB
    d = ControlConfig(**({**GENERIC_DEFAULTS, "env": "", "target": None} if generic
                         else JOB_DEFAULTS.get(job, JOB_DEFAULTS["cartpole"])))
    e = parser.add_argument_group("environment")
    if generic:
        e.add_argument("--env", required=True, metavar="NAME",
                       help="the gymnax environment (required), e.g. Catch-bsuite, Breakout-MinAtar, "
                            "MountainCarContinuous-v0; CartPole-v1, Acrobot-v1, MountainCar-v0 and Pendulum-v1 "
                            "start from the defaults of the cartpole, acrobot, mountaincar and pendulum jobs; "
                            "any other from the defaults shown here, its episode length from gymnax")
    else:
        e.add_argument("--env", default=None, metavar="NAME",
                       help=f"fixed to {d.env} for this job (another is refused: use 'evojax-ga run {GENERIC_JOB} "
                            f"--env NAME')")
    g = parser.add_argument_group("evolution")
    g.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    g.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"maximum number of generations (default {d.generations})")
    g.add_argument("--preset", choices=PRESETS, default=None,
                   help=f"GA preset: 'simple' = binary tournament, uniform crossover, Gaussian mutation of a "
                        f"fraction --mutation-rate of genes, 1 elite; 'deep_ga' = Such et al.: parents uniform from "
                        f"the top --truncation, every gene mutated, no crossover; 'truncation' = parents by a "
                        f"--tournament among the top --truncation, every gene mutated, no crossover, --elite kept; "
                        f"'universal' = the same with parents by --pressure linear-rank shares drawn without "
                        f"sampling drift (default {d.preset})")
    g.add_argument("--sigma", type=float, default=None, help=f"Gaussian mutation step (default {d.sigma:g})")
    g.add_argument("--mutation-rate", type=float, default=None,
                   help=f"probability that a gene mutates (simple preset; default {d.mutation_rate:g})")
    g.add_argument("--rate", dest="mutation_rate", type=float, default=None, help=argparse.SUPPRESS)  # old name
    g.add_argument("--truncation", type=count_or_fraction, default=None, metavar="T",
                   help=f"deep_ga parents come from the top T members, or from the top fraction T of the "
                        f"population when T is a number in (0, 1) such as 0.5 (default {d.truncation})")
    g.add_argument("--tournament", type=int, default=None, metavar="K",
                   help=f"parents are the best of K members drawn at random (simple and truncation presets; "
                        f"default {d.tournament})")
    g.add_argument("--pressure", type=float, default=None, metavar="S",
                   help=f"universal preset: the best of the top --truncation gets share S, the last 2 - S, "
                        f"S in [1, 2] (default {d.pressure:g})")
    g.add_argument("--elite", type=int, default=None, help=f"members copied unchanged (default {d.elite})")
    target_default = ("the environment's solved threshold if one is known (CartPole-v1 475, Acrobot-v1 -100, "
                      "MountainCar-v0 -110, Pendulum-v1 -200), else none" if generic else f"{d.target:g}")
    g.add_argument("--target", type=_target, default=None,
                   help=f"solved when the mean return over --check-episodes fresh episodes, then over "
                        f"--confirm-episodes others, reaches this (less --check-z standard errors); 'none' = no "
                        f"target: no solved check, the run plays all --generations (default {target_default})")
    g.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run N seeds (--seed, --seed + 1, ...) vmapped in one compiled program: one run folder per "
                        "seed inside --out (each equal to its single run) and a summary across the seeds")
    g.add_argument("--seeds-mode", choices=("auto", "vmap", "loop"), default="auto",
                   help="how --seeds N runs: 'vmap' = every seed at once in one vmapped program, 'loop' = one seed "
                        "after another through the same compiled program; same results either way ('auto': loop "
                        "on a CPU, where it was faster, vmap on a GPU/TPU)")
    g.add_argument("--block", type=int, default=None,
                   help=f"generations per compiled block; progress and the solved check run between blocks "
                        f"(default {d.block})")
    t = parser.add_argument_group("evaluation")
    t.add_argument("--episodes", type=int, default=None,
                   help=f"episodes per member per generation; fitness is their mean return (default {d.episodes})")
    t.add_argument("--max-steps", type=int, default=None,
                   help="steps per episode (default: the environment's limit)")
    t.add_argument("--chunk-size", type=chunk_size, default=None, metavar="{N,auto,all}",
                   help="evaluate N members at a time (bounds memory; results do not change); 'auto' = 256 "
                        "on a CPU, 2^20 on a GPU, 'all' = the whole population in one vmap (default: auto)")
    ee = t.add_mutually_exclusive_group()
    ee.add_argument("--early-exit", dest="early_exit", action="store_true", default=None,
                    help="stop a chunk's step loop once every episode in it has ended (same results; default: "
                         "on for cartpole and control, off for the jobs whose episodes run to the step limit)")
    ee.add_argument("--no-early-exit", dest="early_exit", action="store_false", default=None,
                    help="always simulate --max-steps steps instead of stopping when every episode of a chunk ended")
    t.add_argument("--raw-obs", dest="normalize_obs", action="store_false", default=None,
                   help="feed raw observations to the policy instead of mapping finite observation bounds onto [-1, 1]")
    t.add_argument("--common-episodes", dest="common_episodes", action="store_true", default=None,
                   help="every member of a generation plays the same start states (less noisy ranking)")
    t.add_argument("--check-episodes", type=int, default=None,
                   help=f"fresh episodes of the solved check (default {d.check_episodes})")
    t.add_argument("--confirm-episodes", type=int, default=None, metavar="N",
                   help=f"a candidate that passes the solved check must also reach the target on N other fresh "
                        f"episodes before the run counts as solved; 0 = no confirmation (default "
                        f"{'--check-episodes' if d.confirm_episodes == d.check_episodes else d.confirm_episodes})")
    t.add_argument("--check-z", type=float, default=None, metavar="Z",
                   help=f"a check (and its confirmation) passes when mean - Z * std / sqrt(episodes) >= --target "
                        f"(a one-sided bound; 0 = the mean alone; default {d.check_z:g})")
    t.add_argument("--final-episodes", type=int, default=None,
                   help=f"fresh episodes of the final evaluation (default {d.final_episodes})")
    m = parser.add_argument_group("policy")
    m.add_argument("--policy", choices=POLICIES, default=None,
                   help=f"'auto' = a small CNN (3x3 convolution, 8 channels, then the --hidden dense layers) on "
                        f"image observations (3-D, e.g. MinAtar's 10x10xC), else an MLP on the flattened "
                        f"observation; 'mlp' or 'cnn' forces one (a CNN needs 2-D or 3-D observations); the "
                        f"output layer is sized from the action space (default {d.policy})")
    m.add_argument("--hidden", type=hidden_widths, default=None, metavar="H1,H2",
                   help=f"hidden (dense) layer widths of the policy (default {','.join(map(str, d.hidden))})")
    m.add_argument("--activation", default=None, help=f"hidden activation (default {d.activation})")
    m.add_argument("--init-scale", type=float, default=None,
                   help=f"initial kernels ~ N(0, s^2/fan_in), biases ~ N(0, s^2) (default {d.init_scale:g})")
    checkpointing.add_arguments(parser)
    c = parser.add_argument_group("compilation")
    c.add_argument("--fast-compile", choices=("auto", "on", "off"), default="auto",
                   help=f"compile with XLA's CPU optimisation level 0: faster compilation, slower code. It "
                        f"CHANGES THE NUMERICS (float rounding differs, so metrics and best parameters differ "
                        f"between on and off; each is reproducible); 'auto' decides from the size: on when "
                        f"pop_size * episodes <= {FAST_COMPILE_MAX_EPISODES}. config.json records the choice "
                        f"(config.fast_compile)")


def _fail(job: str, exc: Exception) -> int:
    from evojax_ga.jobs import option_error
    text = option_error(exc, (*_FIELDS, 'checkpoint_every', 'fast_compile', 'seeds'))
    if text.startswith("env_name="):   # an environment that cannot be made (a download)
        text = f"argument --env: {text}"
    print(f"evojax-ga run {job}: error: {text}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    """Run a control job from parsed arguments; write the run folder; print the final evaluation."""
    from evojax_ga import _startup
    from evojax_ga.runs import control, loop

    job = args.job
    try:
        n_seeds = getattr(args, "seeds", 1)
        if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or not 1 <= n_seeds <= 2**32 - args.seed:
            raise ValueError(f"seeds must be an int in [1, 2**32 - seed] = [1, {2**32 - args.seed}], got {n_seeds!r}")
        cfg = control.config_for(job, **{n: getattr(args, n, None) for n in _FIELDS})
        if getattr(args, "pressure", None) is not None and cfg.preset != "universal":
            raise ValueError(f"pressure applies to the universal preset only (this run's preset is {cfg.preset!r}): "
                             f"add --preset universal")
        every = loop.checkpoint_interval(getattr(args, "checkpoint_every", None), cfg.block)
        fast = _startup.fast_compile_wanted(getattr(args, "fast_compile", None), cfg.pop_size * cfg.episodes)
    except (TypeError, ValueError) as exc:
        return _fail(job, exc)
    # a process-wide setting: only when the command line is the process's entry point (no JAX
    # computation has run yet)
    fast = _startup.set_fast_compile(fast) if getattr(args, "_process_entry", False) else False
    recorded = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "argv"}
    _import_gymnax()   # (starts XLA's backend: after set_fast_compile)
    try:
        cfg = control.check_env(cfg)   # --env: a gymnax environment, before the run folder is claimed
    except (TypeError, ValueError) as exc:
        return _fail(job, exc)
    n_seeds = getattr(args, "seeds", 1)
    if n_seeds > 1:
        from evojax_ga.runs.control_seeds import start_seeds
        start_seeds(cfg, job, range(args.seed, args.seed + n_seeds), args.out, recorded, every,
                    {"fast_compile": fast, "fast_compile_numerics": _startup.FAST_COMPILE_NUMERICS,
                     "compile_cache": getattr(args, "compile_cache", None)},
                    progress=args.progress, argv=getattr(args, "argv", None),
                    mode=getattr(args, "seeds_mode", "auto"))
        return 0
    with loop.claim(args.out, job) as run_dir:   # --out checked and locked before anything compiles
        try:
            run = control.make_run(cfg)   # refuses a population that cannot fit, before allocating it
        except (TypeError, ValueError) as exc:
            return _fail(job, exc)
        loop.write_config(run_dir, job, recorded,
                          {**run.record, "fast_compile": fast, "fast_compile_numerics": _startup.FAST_COMPILE_NUMERICS,
                           "compile_cache": getattr(args, "compile_cache", None)},
                          argv=getattr(args, "argv", None))
        loop.execute(run, run_dir, job, args.seed, every, progress=args.progress)
    return 0


def _refuse_seeds_folder(run_dir: Path, config: dict, command: str, advice: str) -> None:
    """ValueError when ``run_dir`` is the parent folder of a ``--seeds`` run (its seeds have folders)."""
    seeds = (config.get("config") or {}).get("seeds")
    if isinstance(seeds, list):
        raise ValueError(f"RUN_DIR={str(run_dir)!r} holds a --seeds run ({len(seeds)} seeds, one folder each such as "
                         f"{Path(run_dir) / f'seed-{seeds[0]}'}); 'evojax-ga {command}' takes one run: {advice}")


def _import_gymnax() -> None:
    from evojax_ga._startup import import_gymnax
    import_gymnax(defer_plotting=True)


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` and continue it from its newest
    complete checkpoint (metrics written after that checkpoint are dropped and recomputed)."""
    from evojax_ga import _startup
    from evojax_ga import run_folder as rf
    from evojax_ga.runs import control, loop

    config = rf.read_json(Path(run_dir) / rf.CONFIG_FILE)
    _refuse_seeds_folder(run_dir, config, "resume", "a --seeds run writes its folders when its last seed stops, "
                                                    "so there is nothing to resume: run it again")
    if getattr(args, "_process_entry", False):
        _startup.set_fast_compile(bool(config["config"].get("fast_compile", False)))
    _import_gymnax()
    loop.resume(run_dir, lambda c: control.make_run(control.config_from_record(c["config"]["control"])),
                progress=getattr(args, "progress", True), say=lambda msg: print(msg, flush=True))
    return 0


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: rebuild the policy, reload the saved parameters, re-evaluate."""
    from evojax_ga import run_folder as rf
    from evojax_ga.runs import control

    _refuse_seeds_folder(run_dir, rf.read_json(Path(run_dir) / rf.CONFIG_FILE), "eval",
                         "evaluate one of its seed folders")
    _import_gymnax()
    ret, ctl = control.evaluate_saved(run_dir, args.episodes, args.seed)
    target = ctl.get("target")
    verdict = ("no target" if target is None
               else f"target {float(target):g}: {'reached' if ret.mean() >= float(target) else 'not reached'}")
    print(f"{ctl['env']}: {run_dir}: mean return over {len(ret)} fresh episodes (seed {args.seed}): "
          f"{ret.mean():.2f} (std {ret.std():.2f}, min {ret.min():.1f}, max {ret.max():.1f}); {verdict}", flush=True)
    return 0
