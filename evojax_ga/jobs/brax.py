"""Brax job: evolve an MLP policy on a Brax locomotion environment (needs the brax extra).

``evojax-ga run brax --env ant``: the options map onto :class:`evojax_ga.runs.brax_run.BraxConfig`;
the run is :func:`evojax_ga.runs.brax_run.make_run` driven over a run folder by
:mod:`evojax_ga.runs.loop` (progress bar, metrics, checkpoints with the observation statistics,
``evojax-ga resume``). brax is imported only when the job runs: ``--help`` and ``evojax-ga list``
work without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evojax_ga.jobs import checkpointing
from evojax_ga.jobs.options import chunk_size, count_or_fraction, hidden_widths

__all__ = ["add_arguments", "main", "resume_run", "evaluate_run", "describe"]

#: option dest -> BraxConfig field
_FIELDS = ("env", "pop_size", "generations", "sigma", "truncation", "tournament", "elite", "episodes", "max_steps",
           "backend", "normalize_obs", "obs_clip", "chunk_size", "hidden", "activation", "block", "target",
           "final_episodes")


def describe(job: str) -> str:
    return "evolve an MLP policy on a Brax locomotion env (--env ant, ...), observations normalised online"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the Brax job (brax itself is not imported)."""
    from evojax_ga.runs.brax_run import BraxConfig
    from evojax_ga.tasks.brax_task import BACKENDS

    d = BraxConfig()
    g = parser.add_argument_group("evolution")
    g.add_argument("--env", default=None, help=f"Brax environment: ant, halfcheetah, hopper, inverted_pendulum, "
                                               f"reacher, walker2d, ... (default {d.env})")
    g.add_argument("--pop-size", type=int, default=None, metavar="P", help=f"population size (default {d.pop_size})")
    g.add_argument("--generations", type=int, default=None, metavar="G",
                   help=f"number of generations (default {d.generations})")
    g.add_argument("--sigma", type=float, default=None,
                   help=f"Gaussian mutation step, every weight (default {d.sigma:g})")
    g.add_argument("--truncation", type=count_or_fraction, default=None, metavar="T",
                   help=f"parents come from the top T members, or the top fraction T (default {d.truncation})")
    g.add_argument("--tournament", type=int, default=None, metavar="K",
                   help=f"parents are the best of K drawn from the top T (default {d.tournament})")
    g.add_argument("--elite", type=int, default=None, help=f"members copied unchanged (default {d.elite})")
    g.add_argument("--target", type=float, default=None,
                   help="stop once a generation's best training fitness reaches this (default: none)")
    g.add_argument("--block", type=int, default=None,
                   help=f"generations per compiled block; progress between blocks (default {d.block})")
    t = parser.add_argument_group("evaluation")
    t.add_argument("--episodes", type=int, default=None,
                   help=f"episodes per member per generation (default {d.episodes})")
    t.add_argument("--max-steps", type=int, default=None, help=f"steps per episode (default {d.max_steps})")
    t.add_argument("--backend", choices=BACKENDS, default=None,
                   help=f"Brax physics pipeline (default {d.backend}: the fastest on a CPU)")
    n = t.add_mutually_exclusive_group()
    n.add_argument("--normalize-obs", dest="normalize_obs", action="store_true", default=None,
                   help="normalise observations with running mean / variance, clipped to +-obs-clip (default)")
    n.add_argument("--raw-obs", dest="normalize_obs", action="store_false", default=None,
                   help="feed raw observations to the policy")
    t.add_argument("--obs-clip", type=float, default=None,
                   help=f"clip of normalised observations (default {d.obs_clip:g})")
    t.add_argument("--chunk-size", type=chunk_size, default=None, metavar="{N,auto,all}",
                   help="evaluate N members at a time (bounds memory; results do not change); 'auto' = 256 "
                        "on a CPU, 2^20 on a GPU, 'all' = the whole population at once (default: auto)")
    t.add_argument("--final-episodes", type=int, default=None,
                   help=f"fresh episodes of the final evaluation of the best member (default {d.final_episodes})")
    m = parser.add_argument_group("policy")
    m.add_argument("--hidden", type=hidden_widths, default=None, metavar="H1,H2",
                   help=f"hidden layer widths of the MLP (default {','.join(map(str, d.hidden))})")
    m.add_argument("--activation", default=None, help=f"hidden activation (default {d.activation})")
    checkpointing.add_arguments(parser)


def _config(args: argparse.Namespace) -> Any:
    from evojax_ga.runs.brax_run import BraxConfig
    values: dict[str, Any] = {n: getattr(args, n) for n in _FIELDS if getattr(args, n, None) is not None}
    if values.get("chunk_size") == "all":
        values["chunk_size"] = None
    return BraxConfig(**values)


def main(args: argparse.Namespace) -> int:
    """Run the Brax job from parsed arguments; write the run folder; print the final evaluation."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import brax_run
    from evojax_ga.tasks.brax_task import import_brax

    return run_job.start(args, _FIELDS, _config, brax_run.make_run, check=lambda cfg: import_brax(),
                         errors=(TypeError, ValueError, ImportError))


def resume_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga resume RUN_DIR``: rebuild the run from ``config.json`` and continue it from its newest
    checkpoint (observation statistics included)."""
    from evojax_ga.jobs import run_job
    from evojax_ga.runs import brax_run
    from evojax_ga.tasks.brax_task import import_brax

    import_brax()
    return run_job.resume(run_dir, args, "brax", brax_run.config_from_record, brax_run.make_run)


def evaluate_run(run_dir: Path, args: argparse.Namespace) -> int:
    """``evojax-ga eval RUN_DIR``: reload the saved policy and observation statistics, re-evaluate."""
    import jax

    from evojax_ga import run_folder as rf
    from evojax_ga.models import model_from_config
    from evojax_ga.runs import brax_run
    from evojax_ga.tasks.brax_task import brax_task

    cfg = brax_run.config_from_record(rf.read_json(Path(run_dir) / rf.CONFIG_FILE)["config"]["brax"])
    model = model_from_config(rf.read_json(Path(run_dir) / rf.MODEL_FILE))
    stats = brax_run.load_obs_stats(run_dir)
    task = brax_task(cfg.env, model, max_steps=cfg.max_steps, backend=cfg.backend, normalize_obs=cfg.normalize_obs,
                     obs_clip=cfg.obs_clip, obs_stats=stats)
    params, _ = rf.load_params(run_dir, jax.eval_shape(model.init, jax.random.key(0), task.sample_input))
    n = args.episodes if args.episodes is not None else cfg.final_episodes
    ret = task.evaluate_individual(jax.random.key(args.seed), params, n)
    print(f"brax {cfg.env}: {run_dir}: mean return over {n} fresh episodes (seed {args.seed}): {float(ret.mean()):.2f} "
          f"(std {float(ret.std()):.2f})", flush=True)
    return 0
