"""Search drivers over a :class:`~evojax_ga.hparam.space.Space`: GA, brute-force grid, random search.

All three score genomes through one :class:`Evaluator`: a host-side cache keyed by the genome tuple
(:meth:`Space.keys`) in front of a vectorised :class:`~evojax_ga.hparam.train.CandidateTrainer`. A
genome already scored is looked up, never trained again; the new ones are trained ``chunk_size`` at a time (the
last chunk padded), so one compiled program serves the whole search. Because every candidate is
trained with the evaluator's fixed training key and the same data order (see
:mod:`~evojax_ga.hparam.train`), a genome's score does not depend on when or beside whom it was
trained, so a cached score equals what retraining would give, and a GA and the grid that use the
same training key see the same landscape.

The GA is Harvey's (2017, "Let's evolve a neural network with a genetic algorithm"): keep the top
25 % unchanged, keep a few random others, breed the rest from parents drawn uniformly among the
kept (per-gene crossover), and resample each child gene with a small probability — the core
:func:`evojax_ga.ga` with ``elite``, ``random_survivors`` and ``parent_pool``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import mutation as mu
from evojax_ga import selection as sel
from evojax_ga._checks import check_int, check_prob, check_range
from evojax_ga.data import Dataset
from evojax_ga.hparam.chunks import train_in_chunks
from evojax_ga.hparam.space import Genomes, Space
from evojax_ga.hparam.train import CandidateTrainer, check_trainer_data, on_device
from evojax_ga.strategy import Strategy, ga

__all__ = ["Evaluator", "SearchResult", "harvey_strategy", "compile_strategy", "ga_search", "brute_force",
           "random_search",
           "FITNESS_METRICS"]

#: what a search can rank by: validation accuracy, validation loss (negated), or accuracy with ties
#: broken by the lower loss (``acc - 1e-4 * min(loss, 10)``: never reorders different accuracies on
#: a validation split of up to 5,000 samples)
FITNESS_METRICS = ("val_acc", "val_loss", "val_acc_loss")


class Evaluator:
    """Scores genomes with a trainer, training each distinct genome once (host-side cache).

    trainer, data: what trains a candidate and on which splits (a Dataset with a validation split);
    key: the training key (initial draws and data order, shared by every candidate); chunk_size:
    candidates per compiled training call;
    fitness: ``"val_acc"`` (default, Harvey's), ``"val_loss"`` (negated) or ``"val_acc_loss"``
    (accuracy, ties broken by the lower loss). Test metrics are recorded too but never used for
    ranking.

    Attributes (host side, grow as genomes are scored): ``cache`` {genome key: metrics dict};
    ``trained`` distinct genomes trained; ``slots`` candidate slots run including padding;
    ``calls`` compiled training calls; ``train_s`` wall-clock seconds inside training calls;
    ``compile_s`` seconds spent compiling the training program (once per evaluator).
    """

    def __init__(self, trainer: CandidateTrainer, data: Dataset, key: jax.Array, chunk_size: int = 16,
                 fitness: str = "val_acc"):
        if not isinstance(trainer, CandidateTrainer):
            raise TypeError(f"trainer must be a CandidateTrainer (from make_trainer), got {type(trainer).__name__}")
        if fitness not in FITNESS_METRICS:
            raise ValueError(f"fitness must be one of {list(FITNESS_METRICS)}, got {fitness!r}")
        self.trainer = trainer
        self.space = trainer.space
        self.data = on_device(check_trainer_data(trainer, data))
        self.key = key
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        self.fitness_name = fitness
        self.cache: dict[tuple, dict[str, float]] = {}
        self.trained = 0
        self.slots = 0
        self.calls = 0
        self.train_s = 0.0
        self.compile_s = 0.0
        self._train_fn: Callable | None = None
        self._best: tuple[float, tuple, Any] | None = None  # (fitness, genome key, masked params on device)

    def compile(self) -> float:
        """Compile the training program for ``chunk_size`` candidates (once); returns the seconds it took.
        :meth:`score` calls it on first use, so ``train_s`` never includes compilation."""
        if self._train_fn is not None:
            return 0.0
        t0 = time.perf_counter()
        self._train_fn = self.trainer.compile(self.key, self.chunk_size, self.data)
        dt = time.perf_counter() - t0
        self.compile_s += dt
        return dt

    def best_network(self) -> tuple[tuple, Any] | None:
        """``(genome key, params)`` of the best genome this evaluator trained (first among equals):
        its trained maximum-size masked network (use :func:`~evojax_ga.hparam.masked_mlp.small_params`
        to cut out the small one), or ``None`` before any training."""
        return None if self._best is None else (self._best[1], self._best[2])

    def fitness_of(self, metrics: dict[str, Any]) -> Any:
        """The ranking value of one genome's metrics (higher is better; scalars or arrays)."""
        acc, loss = metrics["val_acc"], metrics["val_loss"]
        if self.fitness_name == "val_acc":
            return acc
        if self.fitness_name == "val_loss":
            return -np.asarray(loss, np.float64) if np.ndim(loss) else -float(loss)
        tie = 1e-4 * np.minimum(np.where(np.isfinite(loss), loss, 10.0), 10.0)
        return np.asarray(acc, np.float64) - tie if np.ndim(acc) else float(acc) - float(tie)

    def score(self, genomes: Genomes, progress: Callable[[int, int], Any] | None = None
              ) -> tuple[np.ndarray, list[dict[str, float]], int]:
        """``(fitness [P] float32, metrics per genome, number newly trained)``.

        Genomes already in the cache (or repeated within ``genomes``) are not trained again.
        """
        keys = self.space.keys(genomes)
        new = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if new:
            self.compile()
            t0 = time.perf_counter()

            def keep_best(start: int, n: int, res: dict) -> None:
                fit = np.asarray(self.fitness_of({k: np.asarray(res[k])[:n] for k in ("val_acc", "val_loss")}),
                                 np.float64)
                fit = np.where(np.isfinite(fit), fit, -np.inf)
                i = int(np.argmax(fit))
                if "params" in res and (self._best is None or fit[i] > self._best[0]):
                    self._best = (float(fit[i]), new[start + i],
                                  jax.tree_util.tree_map(lambda a: a[i], res["params"]))

            res = train_in_chunks(self.trainer, self.key, self.space.from_keys(new), self.data, self.chunk_size,
                                  callback=progress, train_fn=self._train_fn, on_result=keep_best)
            self.train_s += time.perf_counter() - t0
            n_calls = math.ceil(len(new) / self.chunk_size)
            self.calls += n_calls
            self.slots += n_calls * self.chunk_size
            self.trained += len(new)
            for i, k in enumerate(new):
                self.cache[k] = {m: float(v[i]) for m, v in res.items()}
        metrics = [self.cache[k] for k in keys]
        fitness = np.array([self.fitness_of(m) for m in metrics], np.float32)
        fitness[~np.isfinite(fitness)] = -np.inf
        return fitness, metrics, len(new)


class SearchResult(NamedTuple):
    """The outcome of a search.

    best_config: the best genome's configuration; best_key: its cache key; best: its metrics
    (``val_acc``, ``test_acc`` ...); history: per step (generation, grid chunk or random round)
    ``{"step", "best_val", "best_test", "best_step_val", "mean_val", "trained", "wall_s"}`` lists
    (``best_val`` is the best validation accuracy so far, ``best_test`` the test accuracy of that
    genome, ``best_step_val`` / ``mean_val`` the best / mean over the genomes of that step, e.g. the
    GA's population; ``trained`` counts distinct genomes scored so far); trained: genomes trained by this search;
    wall_s: wall-clock of the whole search (training, GA operators, host work, first compilation).
    """
    method: str
    best_config: dict
    best_key: tuple
    best: dict
    history: dict
    trained: int
    wall_s: float


class _Tracker:
    """Best-so-far bookkeeping shared by the drivers."""

    def __init__(self, evaluator: Evaluator):
        self.ev = evaluator
        self.best_key: tuple = ()  # () until the first add (a genome key has at least one gene)
        self.best_fit = -np.inf
        self.seen: set = set()
        self.t0 = time.perf_counter()
        self.history: dict[str, list] = {"step": [], "best_val": [], "best_test": [], "best_step_val": [],
                                         "mean_val": [], "trained": [], "wall_s": []}

    def add(self, keys: list[tuple], step: int) -> None:
        for k in keys:
            self.seen.add(k)
            f = self.ev.fitness_of(self.ev.cache[k])
            if f > self.best_fit or not self.best_key:
                self.best_fit, self.best_key = f, k
        b = self.ev.cache[self.best_key]
        h = self.history
        h["step"].append(step)
        h["best_val"].append(b["val_acc"])
        h["best_test"].append(b["test_acc"])
        vals = [self.ev.cache[k]["val_acc"] for k in keys]
        h["best_step_val"].append(float(np.max(vals)))
        h["mean_val"].append(float(np.mean(vals)))
        h["trained"].append(len(self.seen))
        h["wall_s"].append(time.perf_counter() - self.t0)

    def result(self, method: str) -> SearchResult:
        cfg = self.ev.space.to_configs(self.ev.space.from_keys([self.best_key]))[0]
        return SearchResult(method, cfg, self.best_key, dict(self.ev.cache[self.best_key]), self.history,
                            len(self.seen), time.perf_counter() - self.t0)


def harvey_strategy(space: Space, pop_size: int = 20, keep: float = 0.25, random_survivors: int = 3,
                    mutation_rate: float = 0.1, crossover_prob: float = 0.5) -> Strategy:
    """Harvey's GA on genomes of ``space``: the top ``round(keep * pop_size)`` kept unchanged,
    ``random_survivors`` others kept at random, children bred from parents drawn uniformly among the
    kept (per-gene crossover with ``crossover_prob``), each child gene resampled with ``mutation_rate``.
    """
    pop_size = check_int(pop_size, "pop_size", minimum=2)
    check_range(keep, "keep", 0.0, 1.0, low_open=True)
    check_prob(mutation_rate, "mutation_rate")
    check_prob(crossover_prob, "crossover_prob")
    elite = max(1, int(round(keep * pop_size)))
    random_survivors = check_int(random_survivors, "random_survivors", minimum=0)
    if elite + random_survivors >= pop_size:
        raise ValueError(f"keep ({keep} -> {elite} kept) + random_survivors ({random_survivors}) must leave room "
                         f"for children in a population of pop_size={pop_size}")
    return ga(select=sel.uniform(), crossover=space.crossover(crossover_prob), mutate=space.mutation(mutation_rate),
              elite=elite, random_survivors=random_survivors, parent_pool=elite, diversity_metric=False)


def compile_strategy(strategy: Strategy, space: Space, pop_size: int) -> float:
    """Trace and compile ``strategy``'s ask and tell for ``pop_size`` genomes of ``space`` (what
    :func:`ga_search` would compile on its first generation); returns the seconds it took. Later
    ``ga_search`` calls with the same strategy object reuse the compiled programs."""
    t0 = time.perf_counter()
    key = jax.random.key(0)
    state = strategy.init(key, space.sample(key, pop_size))
    pop, state = jax.jit(strategy.ask)(key, state)
    jax.block_until_ready(jax.jit(strategy.tell)(state, pop, jnp.zeros((pop_size,), jnp.float32)))
    return time.perf_counter() - t0


def _refresher(space: Space, rate: float) -> Callable:
    """Jitted ``(key, genomes, rows_mask [P] bool) -> genomes``: resample genes (probability ``rate``
    each) of the masked rows only."""
    mut = space.mutation(rate)

    @jax.jit
    def refresh(key, genomes, rows):
        params = mu.set_param(mut.params, "rate", jnp.where(rows, jnp.float32(rate), 0.0))
        return mut.apply(key, params, genomes)
    return refresh


def ga_search(key: jax.Array, evaluator: Evaluator, pop_size: int = 20, generations: int = 10,
              strategy: Strategy | None = None, callback: Callable[[int, dict], Any] | None = None,
              fresh_children: bool = True, fresh_tries: int = 20, **strategy_kwargs: Any) -> SearchResult:
    """Evolve configurations: ``generations`` rounds of ask -> score (cache) -> tell.

    key: the GA's randomness (initial sample, selection, crossover, mutation); the training key is
    the evaluator's. strategy: defaults to :func:`harvey_strategy` (``strategy_kwargs`` go to it).
    fresh_children: a child whose genome is already scored (or repeats another child of the same
    generation) would cost no training but also teach nothing; with this set it is mutated again
    (each gene resampled with probability 1/2, up to ``fresh_tries`` times) until it is new, so
    every slot of a padded training chunk is used. ``False`` gives Harvey's GA with a cache (known
    children are looked up, not retrained). Kept individuals are never changed.
    callback(generation, info) after every generation, with ``best_val``, ``new`` (trained this
    generation), ``trained``, ``wall_s``, ``best_config``.
    """
    space = evaluator.space
    generations = check_int(generations, "generations", minimum=1)
    fresh_tries = check_int(fresh_tries, "fresh_tries", minimum=0)
    if strategy is None:
        strategy = harvey_strategy(space, pop_size, **strategy_kwargs)
    elif strategy_kwargs:
        raise ValueError(f"pass either strategy or strategy settings, got both ({sorted(strategy_kwargs)})")
    kept = int(strategy.config["elite"]) + int(strategy.config["random_survivors"])
    k_init, k_sample, k_run, k_fresh = jax.random.split(key, 4)
    tracker = _Tracker(evaluator)
    state = strategy.init(k_init, space.sample(k_sample, pop_size))
    ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
    refresh = _refresher(space, 0.5) if fresh_children else None
    for gen in range(generations):
        pop, state = ask(jax.random.fold_in(k_run, gen), state)
        if refresh is not None:
            first = 0 if gen == 0 else kept  # the first ask returns the initial sample: all of it is new
            for t in range(fresh_tries):
                keys = space.keys(pop)
                seen, stale = set(), np.zeros(len(keys), bool)
                for i, k in enumerate(keys):
                    stale[i] = i >= first and (k in evaluator.cache or k in seen)
                    seen.add(k)
                if not stale.any():
                    break
                pop = refresh(jax.random.fold_in(jax.random.fold_in(k_fresh, gen), t), pop, jnp.asarray(stale))
        fitness, _, n_new = evaluator.score(pop)
        state = tell(state, pop, jnp.asarray(fitness))
        tracker.add(space.keys(pop), gen + 1)
        if callback is not None:
            h = tracker.history
            callback(gen + 1, {"best_val": h["best_val"][-1], "new": n_new, "trained": h["trained"][-1],
                               "wall_s": h["wall_s"][-1],
                               "best_config": space.to_configs(space.from_keys([tracker.best_key]))[0]})
    return tracker.result("ga")


def brute_force(evaluator: Evaluator, callback: Callable[[int, dict], Any] | None = None) -> SearchResult:
    """Train every configuration of the space's grid, ``evaluator.chunk_size`` at a time."""
    space = evaluator.space
    grid = space.grid()
    P = space.validate(grid)
    tracker = _Tracker(evaluator)
    chunk_size = evaluator.chunk_size
    for i, start in enumerate(range(0, P, chunk_size)):
        part = jax.tree_util.tree_map(lambda a: a[start:start + chunk_size], grid)
        evaluator.score(part)
        tracker.add(space.keys(part), i + 1)
        if callback is not None:
            callback(i + 1, {"best_val": tracker.history["best_val"][-1], "trained": tracker.history["trained"][-1],
                             "total": P, "wall_s": tracker.history["wall_s"][-1]})
    return tracker.result("grid")


def random_search(key: jax.Array, evaluator: Evaluator, budget: int,
                  callback: Callable[[int, dict], Any] | None = None, max_rounds: int = 1000) -> SearchResult:
    """Sample configurations uniformly until ``budget`` distinct ones are scored (or the space is
    exhausted), ``evaluator.chunk_size`` per round."""
    space = evaluator.space
    budget = check_int(budget, "budget", minimum=1)
    budget = min(budget, space.grid_size) if not space.continuous else budget
    tracker = _Tracker(evaluator)
    rnd = 0
    while len(tracker.seen) < budget and rnd < max_rounds:
        cand = space.keys(space.sample(jax.random.fold_in(key, rnd), evaluator.chunk_size))
        fresh = [k for k in dict.fromkeys(cand) if k not in tracker.seen][:budget - len(tracker.seen)]
        rnd += 1
        if not fresh:
            continue
        evaluator.score(space.from_keys(fresh))
        tracker.add(fresh, rnd)
        if callback is not None:
            callback(rnd, {"best_val": tracker.history["best_val"][-1], "trained": tracker.history["trained"][-1],
                           "wall_s": tracker.history["wall_s"][-1]})
    return tracker.result("random")
