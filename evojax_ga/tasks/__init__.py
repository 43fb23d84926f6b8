"""Tasks: anything with ``evaluate(key, population) -> fitness [P]`` (higher is better)."""

from evojax_ga.tasks.functions import FUNCTIONS, FunctionTask, ackley, rastrigin, sphere

__all__ = ["FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS"]
from evojax_ga.tasks.classification import (FITNESS, ClassificationTask, classification, fitness_from_scores,
                                            learning_curve)
__all__ += ["ClassificationTask", "classification", "FITNESS", "fitness_from_scores", "learning_curve"]
from evojax_ga.tasks.gymnax_task import ENV_ALIASES, SOLVED_THRESHOLDS, GymnaxTask, known_envs, make_env
from evojax_ga.tasks.gymnax_task import gymnax_task as gymnax  # ega.tasks.gymnax("CartPole-v1", policy=model.apply)
__all__ += ["GymnaxTask", "gymnax", "make_env", "known_envs", "ENV_ALIASES", "SOLVED_THRESHOLDS"]
