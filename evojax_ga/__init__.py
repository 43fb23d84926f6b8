"""evojax_ga: vectorised genetic algorithms for neural networks in JAX.

A population is a parameter pytree with a leading axis of size P; selection, crossover and mutation
are jitted array programs over the whole population; a strategy exposes init / ask / tell / step and
``evolve`` runs generations in ``lax.scan`` blocks.
"""

from evojax_ga import (
    adaptation,
    checkpoint,
    chunking,
    crossover,
    distributed,
    map_elites,
    metrics,
    mutation,
    nsga2,
    nsga3,
    pareto,
    presets,
    prng,
    registry,
    reproduction,
    seed_encoded,
    seeds,
    selection,
    tasks,
    types,
)
from evojax_ga.adaptation import Adaptation
from evojax_ga.crossover import Crossover
from evojax_ga.evolve import evolve, evolve_blocks, make_block_runner
from evojax_ga.map_elites import MapElitesState
from evojax_ga.mutation import Mutation, chain
from evojax_ga.population import (
    concatenate,
    from_template,
    gather,
    init_population,
    num_genes,
    population_size,
    ravel_population,
    unravel_population,
)
from evojax_ga.seed_encoded import seed_encoded_ga
from evojax_ga.seeds import evolve_seeds
from evojax_ga.selection import Selection
from evojax_ga.strategy import GAState, Strategy, ga, generation_metrics
from evojax_ga.types import Fitness, Population, Task, as_task, evaluate_task

__version__ = "0.2.0"

__all__ = [
    "adaptation", "checkpoint", "chunking", "crossover", "distributed", "metrics", "mutation", "nsga2", "nsga3",
    "pareto", "presets", "prng", "registry", "reproduction", "seed_encoded", "seeds", "selection", "tasks", "types",
    "seed_encoded_ga", "map_elites", "MapElitesState",
    "Fitness", "Population", "Task", "as_task", "evaluate_task",
    "Adaptation", "Crossover", "Mutation", "Selection", "GAState", "Strategy",
    "chain", "evolve", "evolve_blocks", "evolve_seeds", "make_block_runner", "ga", "generation_metrics",
    "concatenate", "from_template", "gather", "init_population", "num_genes", "population_size",
    "ravel_population", "unravel_population",
]
