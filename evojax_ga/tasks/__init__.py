"""Tasks: anything with ``evaluate(key, population) -> (fitness [P], metrics dict)`` (higher is better).

A bare function ``f(key, population) -> fitness [P]`` is accepted wherever a task is: :func:`as_task`
lifts it (its metrics are ``{}``).

Brax locomotion (:func:`brax`, optional extra ``pip install -e ".[brax]"``) imports brax only when a
task is built; its running observation statistics live in :mod:`~evojax_ga.tasks.obs_norm`.
"""

from evojax_ga.tasks import obs_norm
from evojax_ga.tasks.brax_task import BraxTask
from evojax_ga.tasks.brax_task import brax_task as brax  # ega.tasks.brax("ant", policy=model) (needs the brax extra)
from evojax_ga.tasks.classification import (
    FITNESS,
    ClassificationTask,
    classification,
    fitness_from_scores,
    learning_curve,
)
from evojax_ga.tasks.dtlz import dtlz2  # multi-objective: fitness [P, M]
from evojax_ga.tasks.environments import ENV_ALIASES, SOLVED_THRESHOLDS, known_envs, make_env
from evojax_ga.tasks.functions import FUNCTIONS, FunctionTask, ackley, rastrigin, sphere
from evojax_ga.tasks.gymnax_qd import GymnaxQDTask, gymnax_qd  # control with behaviour descriptors (MAP-Elites)
from evojax_ga.tasks.gymnax_task import GymnaxTask
from evojax_ga.tasks.gymnax_task import gymnax_task as gymnax  # ega.tasks.gymnax("CartPole-v1", policy=model)
from evojax_ga.tasks.policies import POLICIES, policy_for  # policy_for("Breakout-MinAtar"): a CNN, 3 outputs
from evojax_ga.tasks.qd_functions import QDFunctionTask, rastrigin_qd, sphere_qd
from evojax_ga.tasks.sparse_classification import SparseClassificationTask, sparse_classification  # [P, 2]
from evojax_ga.tasks.zdt import ZDT, zdt1, zdt2, zdt3  # multi-objective: fitness [P, 2]
from evojax_ga.types import Task, as_task, evaluate_task

__all__ = ["Task", "as_task", "evaluate_task",
           "FunctionTask", "sphere", "rastrigin", "ackley", "FUNCTIONS",
           "ClassificationTask", "classification", "FITNESS", "fitness_from_scores", "learning_curve",
           "GymnaxTask", "gymnax", "make_env", "known_envs", "ENV_ALIASES", "SOLVED_THRESHOLDS",
           "policy_for", "POLICIES", "BraxTask", "brax", "obs_norm",
           "QDFunctionTask", "rastrigin_qd", "sphere_qd", "GymnaxQDTask", "gymnax_qd",
           "zdt1", "zdt2", "zdt3", "ZDT", "dtlz2",
           "SparseClassificationTask", "sparse_classification"]
