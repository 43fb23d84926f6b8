"""This project's GAs for the equal-terms control study (issue 15, item 2): the presets and the
one-change-at-a-time variants that ``benchmarks.equal_terms --contenders`` may name."""

from __future__ import annotations

import math
from typing import Any


def variants(cfg: Any, truncation: int) -> dict[str, Any]:
    """This project's GAs that ``--contenders`` may name (item 2's study), each a ``Strategy`` on ``cfg``'s
    sigma and population: ``truncation`` / ``deep_ga`` are the presets (``simple``, the job's, is built
    by :func:`contenders_for`); the ``half*`` and ``quarter`` variants draw parents
    uniformly from the top half (as evosax's SimpleGA does) and mutate every weight, and differ in one
    thing each (elite, crossover, self-adaptive sigma, mutation fraction)."""
    import evojax_ga as ega
    from evojax_ga import crossover as xo
    from evojax_ga import mutation as mu
    from evojax_ga import selection as sel

    def half(elite: int = 1, crossover: Any = None, mutate: Any = None, select: Any = None, pool: float = 0.5) -> Any:
        return ega.ga(select=select or sel.uniform(), crossover=crossover or xo.none(),
                      mutate=mutate or mu.gaussian(1.0, cfg.sigma), elite=elite, parent_pool=pool)

    def with_centroid(strategy: Any) -> Any:
        """``strategy`` whose second row (the first child) is the mean of the evaluated top half instead:
        an ES-like consensus member (probe of the tanh CartPole gap; not a preset)."""
        import jax
        import jax.numpy as jnp

        def ask(key: Any, state: Any) -> Any:
            pop, new = strategy.ask(key, state)
            top = sel.top_k(state.fitness, state.fitness.shape[0] // 2)
            mean = jax.tree_util.tree_map(lambda x: jnp.mean(x[top], axis=0), state.population)
            later = state.generation > 0
            return jax.tree_util.tree_map(lambda p, m: p.at[1].set(jnp.where(later, m, p[1])), pop, mean), new
        return strategy._replace(ask=ask)

    return {
        "truncation": ega.presets.truncation_ga(parent_pool=0.5, tournament=2, sigma=cfg.sigma, elite=1),
        "trunc_centroid": with_centroid(ega.presets.truncation_ga(parent_pool=0.5, tournament=2, sigma=cfg.sigma,
                                                                  elite=1)),
        "trunc_e0": ega.presets.truncation_ga(parent_pool=0.5, tournament=2, sigma=cfg.sigma, elite=0),
        "deep_ga": ega.presets.deep_ga(truncation=truncation, sigma=cfg.sigma, elite=cfg.elite),
        "half": half(),
        "half_e0": half(elite=0),
        "half_x": half(crossover=xo.uniform(0.5)),
        "half_sa": half(mutate=mu.self_adaptive(mu.gaussian(1.0, cfg.sigma), tau=0.3)),
        "half_mix2": half(mutate=mu.scale_mixture(mu.gaussian(1.0, cfg.sigma), spread=math.log(2))),
        "half_mix4": half(mutate=mu.scale_mixture(mu.gaussian(1.0, cfg.sigma), spread=math.log(4))),
        "quarter": half(pool=0.25),
        "half_e2": half(elite=2),
        "half_rank": half(select=sel.linear_rank(2.0)),
        # linear ranking (pressure 2) in the top half whose pressure gives way while the best stalls
        "rank_relief": ega.ga(select=sel.linear_rank(2.0), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                              elite=1, parent_pool=0.5, adapt=ega.adaptation.relief(0.05)),
        "rank_relief2": ega.ga(select=sel.linear_rank(2.0), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                               elite=1, parent_pool=0.5, adapt=ega.adaptation.relief(0.02)),
        # stochastic universal sampling in the top half: equal shares (EvoJAX's copy-twice + an elite),
        # or linear-rank shares (the tournament's pressure without its sampling drift)
        "sus_half": half(select=sel.universal(1.0)),
        "sus_rank": half(select=sel.universal(2.0)),
        "sus_rank15": half(select=sel.universal(1.5)),
        "half_rank15": half(select=sel.linear_rank(1.5)),     # the same pressure, drawn independently
        "half_rank175": half(select=sel.linear_rank(1.75)),
        # pressure 2 while records come, down to 1.5 while they do not
        "relief15": ega.ga(select=sel.linear_rank(2.0), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                           elite=1, parent_pool=0.5, adapt=ega.adaptation.relief(0.02, floor=1.5)),
        # the same, watching the mean of the top half (the parent pool) instead of the noisy best
        "relief_pool": ega.ga(select=sel.linear_rank(2.0), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                              elite=1, parent_pool=0.5, adapt=ega.adaptation.relief(0.05, watch=0.5)),
        "relief_pool2": ega.ga(select=sel.linear_rank(2.0), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                               elite=1, parent_pool=0.5, adapt=ega.adaptation.relief(0.02, watch=0.5)),
        "half_r50": half(mutate=mu.gaussian(0.5, cfg.sigma * 2 ** 0.5)),
        "half_e4": half(elite=4),
        # ranked by a moving average of the fitness that children inherit from their parent (one
        # episode per member is a noisy fitness: the average pools a lineage's episodes)
        "trunc_ema5": ega.ga(select=sel.tournament(2), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                             elite=1, parent_pool=0.5, fitness_ema=0.5),
        "trunc_ema3": ega.ga(select=sel.tournament(2), crossover=xo.none(), mutate=mu.gaussian(1.0, cfg.sigma),
                             elite=1, parent_pool=0.5, fitness_ema=0.3),
        # the two tournament parents averaged, then every weight mutated (intermediate recombination,
        # the ES's smoothing in GA form)
        "trunc_arith": ega.ga(select=sel.tournament(2), crossover=xo.arithmetic(0.5),
                              mutate=mu.gaussian(1.0, cfg.sigma), elite=1, parent_pool=0.5),
    }
