"""Tasks: anything with ``evaluate(key, population) -> fitness [P]`` (higher is better)."""

from evojax_ga.tasks.functions import FUNCTIONS, FunctionTask, ackley, rastrigin, sphere

__all__ = ["FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS"]
