"""The run layer: experiments as library code, in purejaxrl's ``make_run(config) -> run(key)`` shape.

One module per experiment family, each with a frozen, validated config dataclass (every check runs
when it is created, before any compute), a builder and ``make_run(config)``:

* :mod:`~evojax_ga.runs.control` — a policy (MLP, or CNN on images) on any gymnax environment until
  solved or for its generations (``ControlConfig``, ``config_for("cartpole")``,
  ``config_for("control", env="Breakout-MinAtar")``; parts: :mod:`~evojax_ga.runs.control_parts`,
  defaults: :mod:`~evojax_ga.runs.control_jobs`);
* :mod:`~evojax_ga.runs.classify` — a network's weights on digits / MNIST, with a gradient baseline
  (``ClassifyConfig``);
* :mod:`~evojax_ga.runs.hparam` — MLP hyper-parameters by GA, grid or random search (``HparamConfig``);
* :mod:`~evojax_ga.runs.multiobjective` — NSGA-II on ZDT1-3 / DTLZ2, hypervolume per generation,
  the first front written at the end (``MOConfig``);
* :mod:`~evojax_ga.runs.classify_front` — NSGA-II on digits, accuracy against non-zero parameters,
  the front scored on the test split (``FrontConfig``; the run loop of ``multiobjective``);

and :mod:`~evojax_ga.runs.loop`, the one run / resume skeleton over a run folder (metrics per block,
checkpoint cadence, final outputs, resume from the newest verified checkpoint). The command line
(:mod:`evojax_ga.jobs`) only maps its options onto these configs.

Import the family modules explicitly (``from evojax_ga.runs import control``): they load JAX and the
environments or data sets they need.
"""

from evojax_ga.runs.loop import Ending, Run, checkpoint_interval, claim, execute, recorder, restore, resume, start

__all__ = ["Run", "Ending", "start", "claim", "resume", "execute", "recorder", "restore", "checkpoint_interval"]
