"""Tasks: anything with ``evaluate(key, population) -> (fitness [P], metrics dict)`` (higher is better).

A bare function ``f(key, population) -> fitness [P]`` is accepted wherever a task is: :func:`as_task`
lifts it (its metrics are ``{}``).
"""

from evojax_ga.tasks.classification import (
    FITNESS,
    ClassificationTask,
    classification,
    fitness_from_scores,
    learning_curve,
)
from evojax_ga.tasks.environments import ENV_ALIASES, SOLVED_THRESHOLDS, known_envs, make_env
from evojax_ga.tasks.functions import FUNCTIONS, FunctionTask, ackley, rastrigin, sphere
from evojax_ga.tasks.gymnax_task import GymnaxTask
from evojax_ga.tasks.gymnax_task import gymnax_task as gymnax  # ega.tasks.gymnax("CartPole-v1", policy=model)
from evojax_ga.tasks.policies import POLICIES, policy_for  # policy_for("Breakout-MinAtar"): a CNN, 3 outputs
from evojax_ga.types import Task, as_task, evaluate_task

__all__ = ["Task", "as_task", "evaluate_task",
           "FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS",
           "ClassificationTask", "classification", "FITNESS", "fitness_from_scores", "learning_curve",
           "GymnaxTask", "gymnax", "make_env", "known_envs", "ENV_ALIASES", "SOLVED_THRESHOLDS",
           "policy_for", "POLICIES"]
