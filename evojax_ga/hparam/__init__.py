"""Hyper-parameter and architecture search by genetic algorithm (Harvey 2017, "Let's evolve a neural
network with a genetic algorithm"), with every candidate of a generation trained at once.

* :mod:`~evojax_ga.hparam.space` — declarative search spaces; genomes as integer / float vectors
  that the core crossover and mutation operators act on.
* :mod:`~evojax_ga.hparam.masked_mlp` — every candidate network as one masked maximum-size MLP, with
  a ``lax.switch`` over activations of :data:`evojax_ga.models.ACTIVATIONS`.
* :mod:`~evojax_ga.hparam.optimizer_switch` — optax optimizers of
  :data:`evojax_ga.optimizers.OPTIMIZERS` behind one padded state, chosen by ``lax.switch``.
* :mod:`~evojax_ga.hparam.train` — vectorised training: one jitted ``vmap`` over the candidates
  (:class:`CandidateTrainer`), on a :class:`evojax_ga.data.Dataset` with a validation split.
* :mod:`~evojax_ga.hparam.chunks` — a population trained a fixed number of candidates at a time.
* :mod:`~evojax_ga.hparam.search` — GA, brute-force grid and random search drivers sharing a
  score cache (a genome already scored is never trained again).
"""

from evojax_ga.hparam import chunks, masked_mlp, optimizer_switch, search, space, train
from evojax_ga.hparam.chunks import train_in_chunks
from evojax_ga.hparam.masked_mlp import masked_forward, small_params
from evojax_ga.hparam.optimizer_switch import SwitchedOptimizer, switched_optimizer
from evojax_ga.hparam.search import (
                                     Evaluator,
                                     SearchResult,
                                     brute_force,
                                     compile_strategy,
                                     ga_search,
                                     harvey_strategy,
                                     random_search,
)
from evojax_ga.hparam.space import Gene, Space, choice, default_space, digits_space, harvey_space, log_uniform, uniform
from evojax_ga.hparam.train import (
                                     CandidateTrainer,
                                     TrainConfig,
                                     check_trainer_data,
                                     load_dataset,
                                     make_trainer,
                                     on_device,
)

__all__ = [
    "chunks", "masked_mlp", "optimizer_switch", "search", "space", "train",
    "Gene", "Space", "choice", "uniform", "log_uniform", "harvey_space", "digits_space", "default_space",
    "CandidateTrainer", "TrainConfig", "check_trainer_data", "load_dataset", "make_trainer", "on_device",
    "train_in_chunks",
    "masked_forward", "small_params", "SwitchedOptimizer", "switched_optimizer",
    "Evaluator", "SearchResult", "ga_search", "compile_strategy", "brute_force", "random_search", "harvey_strategy",
]
