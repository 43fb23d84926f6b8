"""Hyper-parameter and architecture search by genetic algorithm (Harvey 2017, "Let's evolve a neural
network with a genetic algorithm"), with every candidate of a generation trained at once.

* :mod:`~evojax_ga.hparam.space` — declarative search spaces; genomes as integer / float vectors
  that the core crossover and mutation operators act on.
* :mod:`~evojax_ga.hparam.train` — vectorised training: a masked maximum-size MLP, ``lax.switch``
  over activations and optax optimizers, one jitted ``vmap`` over the candidates.
* :mod:`~evojax_ga.hparam.search` — GA, brute-force grid and random search drivers sharing a
  score cache (a genome already scored is never trained again).
"""

from evojax_ga.hparam import search, space, train
from evojax_ga.hparam.search import (Evaluator, SearchResult, brute_force, compile_strategy, ga_search,
                                     harvey_strategy, random_search)
from evojax_ga.hparam.space import (Gene, Space, choice, default_space, digits_space, harvey_space, log_uniform,
                                    uniform)
from evojax_ga.hparam.train import (ACTIVATIONS, OPTIMIZERS, Data, TrainConfig, Trainer, load_dataset,
                                    make_trainer, masked_forward, small_params, switched_optimizer,
                                    train_in_chunks)

__all__ = [
    "search", "space", "train",
    "Gene", "Space", "choice", "uniform", "log_uniform", "harvey_space", "digits_space", "default_space",
    "ACTIVATIONS", "OPTIMIZERS", "Data", "TrainConfig", "Trainer", "load_dataset", "make_trainer",
    "masked_forward", "small_params", "switched_optimizer", "train_in_chunks",
    "Evaluator", "SearchResult", "ga_search", "compile_strategy", "brute_force", "random_search", "harvey_strategy",
]
