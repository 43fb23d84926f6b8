"""The contenders of the control tables (``equal_terms.py``, ``recommended.py``): this project's strategies
and the peers' algorithms (evosax's SimpleGA and OpenES, EvoJAX's SimpleGA and PGPE), each driving its
own ``ask`` / ``tell`` around one shared rollout (the task of ``evojax_ga.runs.control.build``).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

EVOSAX = ("evosax SimpleGA", "evosax OpenES")
EVOJAX = ("EvoJAX SimpleGA", "EvoJAX PGPE")
PEERS = EVOSAX + EVOJAX


class Contender(NamedTuple):
    """``init(key) -> state``; ``gen(key, state) -> (state, fitness [P], population, env_steps)``
    (fitness: higher is better; population in the shared task's parameter tree), both jitted (EvoJAX's:
    its own jitted ask / tell around the jitted rollout); ``task``: the contender's own task where it
    differs from the shared one (the recommended-settings table), else None."""
    name: str
    init: Callable[..., Any]
    gen: Callable[..., Any]
    task: Any = None


def ours(name: str, parts: Any, strategy: Any, ranked: bool = False) -> Contender:
    """One of this project's presets through its ask / evaluate / tell on the shared task; ``ranked``:
    ``gen`` reports the fitness the strategy ranks by (``state.fitness`` after ``tell``: with
    ``fitness_ema`` the lineage average) instead of this generation's returns."""
    import jax

    task, init_population = parts.task, parts.init_population

    @jax.jit
    def init(key: Any) -> Any:
        return strategy.init(key, init_population(key))

    @jax.jit
    def gen(key: Any, state: Any) -> Any:
        k_ask, k_eval = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)   # k_eval: as every contender's
        pop, state = strategy.ask(k_ask, state)     # generation 0: the initial population itself
        fit, metrics = task.evaluate(k_eval, pop)
        state = strategy.tell(state, pop, fit)
        return state, state.fitness if ranked else fit, pop, metrics["env_steps"]

    return Contender(name, init, gen)


def evosax_contender(name: str, parts: Any, pop_size: int, sigma: float, lr: float,
                     optimizer: Any = None) -> Contender:
    """evosax's SimpleGA or OpenES (own ask / tell, minimising the negated return) on the shared task:
    the population is the flat vector of the shared network's weights, unravelled for the rollout.
    SimpleGA's first generation is the shared initial population; OpenES starts from a zero mean and
    uses Adam(``lr``) unless ``optimizer`` (an optax transformation) is given."""
    import jax
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import Open_ES, SimpleGA
    from jax.flatten_util import ravel_pytree

    task, init_population = parts.task, parts.init_population
    template = jax.eval_shape(lambda k: jax.tree_util.tree_map(lambda x: x[0], init_population(k)), jax.random.key(0))
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), template))
    flat = jnp.zeros((sum(int(x.size) for x in jax.tree_util.tree_leaves(template)),), jnp.float32)
    schedule = optax.constant_schedule(sigma)
    if name == "evosax SimpleGA":
        es: Any = SimpleGA(population_size=pop_size, solution=flat, std_schedule=schedule)
    else:
        es = Open_ES(population_size=pop_size, solution=flat, std_schedule=schedule,
                     optimizer=optax.adam(lr) if optimizer is None else optimizer)
    params = es.default_params

    @jax.jit
    def init(key: Any) -> Any:
        first = jax.vmap(lambda p: ravel_pytree(p)[0])(init_population(key))
        if name == "evosax SimpleGA":
            state = es.init(key, first, jnp.full((pop_size,), jnp.inf), params)
        else:
            state = es.init(key, flat, params)
        return state, first, jnp.int32(0)

    @jax.jit
    def gen(key: Any, carry: Any) -> Any:
        state, first, g = carry
        k_ask, k_eval, k_tell = (jax.random.fold_in(key, j) for j in range(3))
        asked, state = es.ask(k_ask, state, params)
        if name == "evosax SimpleGA":
            asked = jnp.where(g == 0, first, asked)
        pop = jax.vmap(unravel)(asked)
        fit, metrics = task.evaluate(k_eval, pop)
        state, _ = es.tell(k_tell, asked, -fit, state, params)
        return (state, first, g + 1), fit, pop, metrics["env_steps"]

    return Contender(name, init, gen)


def evojax_contender(name: str, parts: Any, pop_size: int, sigma: float) -> Contender:
    """EvoJAX's SimpleGA (top half, each parent copied twice, every weight mutated, no elite) or PGPE
    (its defaults: ClipUp, centre learning rate 0.15, symmetric sampling, ranks) through their own
    ``ask`` / ``tell`` on the flat weight vector, std ``sigma`` for both. EvoJAX's algorithms are Python
    objects holding their own key (seeded from the run's key); SimpleGA's first generation is the shared
    initial population, PGPE starts from a zero centre."""
    import jax
    import jax.numpy as jnp
    from evojax.algo import PGPE, SimpleGA
    from jax.flatten_util import ravel_pytree

    task, init_population = parts.task, parts.init_population
    template = jax.eval_shape(lambda k: jax.tree_util.tree_map(lambda x: x[0], init_population(k)), jax.random.key(0))
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), template))

    @jax.jit
    def first_flat(key: Any) -> Any:
        return jax.vmap(lambda p: ravel_pytree(p)[0])(init_population(key))

    @jax.jit
    def evaluate(key: Any, flat: Any) -> Any:
        pop = jax.vmap(unravel)(flat)
        fit, metrics = task.evaluate(jax.random.fold_in(key, 1), pop)     # k_eval: as every contender's
        return fit, pop, metrics["env_steps"]

    ga: Any = None     # one SimpleGA for every run: each instance jits its own ask / tell (a compile per run)

    def init(key: Any) -> Any:
        nonlocal ga
        first = first_flat(key)
        seed = int(jax.random.randint(jax.random.fold_in(key, 7), (), 0, 2 ** 31 - 1))
        if name == "EvoJAX SimpleGA":
            if ga is None:
                ga = SimpleGA(param_size=first.shape[1], pop_size=pop_size, sigma=sigma, seed=seed)
            ga.params, ga.rand_key, ga._best_params = first, jax.random.PRNGKey(seed), None   # a fresh start
            return [ga, first, 0]
        algo = PGPE(pop_size=pop_size, param_size=first.shape[1], init_stdev=sigma, seed=seed)  # module-level jits
        return [algo, first, 0]

    def gen(key: Any, state: Any) -> Any:
        algo, first, g = state
        asked = algo.ask()
        if name == "EvoJAX SimpleGA" and g == 0:
            asked = algo.params = first
        fit, pop, env_steps = evaluate(key, asked)
        algo.tell(fit)
        return [algo, first, g + 1], fit, pop, env_steps

    return Contender(name, init, gen)
