"""Named GA configurations: plain compositions of the operators with the seed articles' settings.

Every preset is registered by name in :data:`evojax_ga.registry.PRESETS`.
"""

from __future__ import annotations

import math
from typing import Sequence

from evojax_ga import adaptation, crossover, mutation, selection
from evojax_ga.strategy import Strategy, ga

__all__ = ["simple_ga", "genetic_mlp", "deep_ga", "truncation_ga", "universal_ga", "mnist_cnn_ga",
           "limited_evaluation_ga"]


def simple_ga(mutation_rate: float = 0.1, sigma: float = 0.02, tournament: int = 2, crossover_prob: float = 0.5,
              elite: int = 1) -> Strategy:
    """The benchmark's reference GA: binary tournament, uniform crossover, Gaussian mutation, 1 elite."""
    return ga(select=selection.tournament(tournament), crossover=crossover.uniform(crossover_prob),
              mutate=mutation.gaussian(mutation_rate, sigma), elite=elite)


def genetic_mlp(pop_size: int, die_off_rate: float = 0.5, preference: float = 1.0, mutation_rate: float = 0.1,
                type_probs: Sequence[float] = (0.8, 0.1, 0.1), shift_max: float = 2.0, swap_max: float = 2.0,
                mutation_rate_cap: float = 0.25, mutation_rate_increase: float = 0.025,
                max_crossover: float = 0.5, crossover_prob: float = 1.0) -> Strategy:
    """Gursky's NumPy ``GeneticMLP`` loop (defaults are its constructor's).

    The top ``P - floor(P * die_off_rate)`` individuals survive unchanged (the notebook's die-off),
    parents are drawn from the survivors with ``P_i ∝ F_i^preference``, children get neuron
    crossover (the notebook's exact with-replacement unit draw) and shift/sign/swap mutation, and the
    mutation rate rises by ``mutation_rate_increase`` per stagnant generation up to the cap.
    The notebook's fitness is the inverse cross-entropy: use it with
    ``tasks.classification(..., fitness="inverse_cross_entropy")``.
    """
    survivors = pop_size - math.floor(pop_size * die_off_rate)
    if not 1 <= survivors < pop_size:
        raise ValueError(f"die_off_rate={die_off_rate} leaves {survivors} survivors of {pop_size}; "
                         f"it must keep at least one and kill at least one")
    return ga(select=selection.fitness_proportional(preference),
              crossover=crossover.neuron(max_crossover, crossover_prob, mode="seed"),
              mutate=mutation.mixed(mutation_rate, type_probs, shift_max, swap_max),
              elite=survivors, parent_pool=survivors,
              adapt=adaptation.stagnation(mutation_rate_increase, mutation_rate_cap))


def deep_ga(truncation: int | float = 20, sigma: float = 0.002, elite: int = 1) -> Strategy:
    """Such et al. 2017 deep GA: parents uniform from the top ``truncation`` (an int, or a fraction in
    (0, 1] of the population: 0.5 is the top half), every weight
    ``+= sigma * N(0, 1)``, no crossover, ``elite`` kept unchanged."""
    return ga(select=selection.uniform(), crossover=crossover.none(), mutate=mutation.gaussian(1.0, sigma),
              elite=elite, parent_pool=truncation)


def truncation_ga(parent_pool: int | float = 0.5, tournament: int = 2, sigma: float = 0.1,
                  elite: int = 1) -> Strategy:
    """The control jobs' GA: parents by a ``tournament`` among the top ``parent_pool`` (an int, or a
    fraction of the population; a binary tournament in the top half is close to linear ranking there),
    every weight ``+= sigma * N(0, 1)``, no crossover, ``elite`` kept unchanged and re-evaluated.

    Chosen on the equal-terms control study (``benchmarks/README.md``): selection pressure inside a
    wide pool plus an elite; ``tournament=1`` and no elite is evosax's / EvoJAX's SimpleGA.
    """
    return ga(select=selection.tournament(tournament), crossover=crossover.none(),
              mutate=mutation.gaussian(1.0, sigma), elite=elite, parent_pool=parent_pool)


def universal_ga(parent_pool: int | float = 0.5, pressure: float = 1.5, sigma: float = 0.1,
                 elite: int = 1) -> Strategy:
    """Parents from the top ``parent_pool`` (an int, or a fraction of the population) by linear-rank
    shares (best ``pressure``, worst of the pool ``2 - pressure``) drawn by stochastic universal
    sampling, so each gets the floor or the ceiling of its share (no sampling drift); every weight
    ``+= sigma * N(0, 1)``, no crossover, ``elite`` kept unchanged and re-evaluated.

    ``pressure=1`` is EvoJAX's SimpleGA (each of the top half copied twice) plus the elite; the
    equal-terms control study (``benchmarks/README.md``) compares it with :func:`truncation_ga`.
    """
    return ga(select=selection.universal(pressure), crossover=crossover.none(),
              mutate=mutation.gaussian(1.0, sigma), elite=elite, parent_pool=parent_pool)


def mnist_cnn_ga(preference: float = 2.0, mutation_rate: float = 0.05, sigma: float = 0.05, elite: int = 1) -> Strategy:
    """The MNIST-CNN article's GA: fitness-biased random pairing of the whole population, uniform
    element-mask crossover per weight matrix (p = 0.5), then mutation.

    The article leaves the mutation amount and the bias towards fitter members unspecified ("I boosted
    the top performers"); we use ``P_i ∝ F^preference`` on accuracy and Gaussian mutation.
    """
    return ga(select=selection.fitness_proportional(preference), crossover=crossover.uniform(0.5),
              mutate=mutation.gaussian(mutation_rate, sigma), elite=elite)


def limited_evaluation_ga(pop_size: int, elite: float = 0.05, crossover_children: float = 0.75,
                          truncation: float = 0.5, sigma: float = 0.001, exploit: float = 0.5,
                          fitness_ema: float | None = 0.5, sigma_tau: float = 0.0,
                          crossover_tau: float = 0.0) -> Strategy:
    """Prellberg & Kramer 2018 ("Limited Evaluation Evolutionary Optimization of Large Neural
    Networks"), from the paper's description: every generation scores the population on one shared
    minibatch; the top ``elite`` fraction is copied unchanged, ``crossover_children`` (a fraction of
    ``pop_size``) are uniform-crossover children of two parents drawn uniformly from the top
    ``truncation`` fraction (a gene from the fitter parent with probability ``exploit``), not mutated,
    and the rest are copies of one such parent with every weight ``+= sigma * N(0, 1)``. Fitness is a
    moving average of the minibatch fitness (``fitness_ema``, None: the raw fitness) that children
    inherit from their parents; ``sigma_tau > 0`` makes sigma self-adaptive and ``crossover_tau > 0``
    the crossover rate (log-normal, per member: :func:`mutation.self_adaptive`,
    :func:`crossover.self_adaptive`).
    The paper's MNIST setting: population 2,000, minibatch 1,024, sigma 0.001, elite 5%, crossover
    75%, mutation 20%, on the 14x14 images (:func:`evojax_ga.data.downsample`).
    """
    from evojax_ga._checks import check_int, check_prob
    pop_size = check_int(pop_size, "pop_size", minimum=3)
    for name, v in (("elite", elite), ("crossover_children", crossover_children), ("truncation", truncation),
                    ("exploit", exploit)):
        check_prob(v, name)
    n_elite = max(1, int(round(elite * pop_size))) if elite > 0 else 0
    if n_elite + int(round(crossover_children * pop_size)) > pop_size:
        raise ValueError(f"elite ({elite}) + crossover_children ({crossover_children}) exceed the population")
    mutate = mutation.gaussian(1.0, sigma)
    if sigma_tau > 0:
        mutate = mutation.self_adaptive(mutate, sigma_tau)
    xo = crossover.uniform(1.0 - exploit)
    if crossover_tau > 0:
        xo = crossover.self_adaptive(xo, crossover_tau)
    return ga(select=selection.uniform(), crossover=xo, mutate=mutate,
              elite=n_elite, parent_pool=truncation, crossover_children=crossover_children,
              fitness_ema=fitness_ema, diversity_metric=False)
