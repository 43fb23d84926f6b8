"""Tasks: anything with ``evaluate(key, population) -> fitness [P]`` (higher is better)."""

from evojax_ga.tasks.functions import FUNCTIONS, FunctionTask, ackley, rastrigin, sphere

__all__ = ["FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS"]
from evojax_ga.tasks.classification import (FITNESS, ClassificationTask, classification, fitness_from_scores,
                                            learning_curve)
__all__ += ["ClassificationTask", "classification", "FITNESS", "fitness_from_scores", "learning_curve"]
