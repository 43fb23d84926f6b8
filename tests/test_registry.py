import pytest

import evojax_ga as ega
from evojax_ga import crossover, mutation, presets, registry, selection


@pytest.mark.parametrize("module,table", [(selection, registry.SELECTIONS), (crossover, registry.CROSSOVERS),
                                          (mutation, registry.MUTATIONS), (presets, registry.PRESETS)])
def test_registries_are_complete(module, table):
    """Every public factory of the module (a function returning its operator / a strategy) is registered."""
    kind = {selection: selection.Selection, crossover: crossover.Crossover, mutation: mutation.Mutation,
            presets: ega.Strategy}[module]
    factories = {name for name in module.__all__
                 if callable(getattr(module, name)) and getattr(getattr(module, name), "__annotations__", {})
                 .get("return") in (kind.__name__, kind)}
    # combinators take operators, not settings
    factories -= {"chain", "self_adaptive", "scale_mixture", "by_dtype", "keep_zeros"}
    assert factories, module.__name__
    assert factories <= {f.__name__ for f in table.values()}, factories - {f.__name__ for f in table.values()}


def test_preset_names_are_stable():
    assert set(registry.PRESETS) == {"simple_ga", "genetic_mlp", "deep_ga", "truncation_ga", "universal_ga",
                                     "mnist_cnn_ga", "limited_evaluation_ga"}


def test_register_refuses_duplicates_and_get_lists_known_names():
    with pytest.raises(ValueError, match="crossover 'uniform' is already registered"):
        registry.register("crossover", "uniform", crossover.uniform)
    with pytest.raises(ValueError, match="unknown mutation 'nope'; known: .*gaussian"):
        registry.get("mutation", "nope")
    with pytest.raises(ValueError, match="kind must be one of"):
        registry.get("selector", "uniform")
    registry.register("mutation", "test_sign_twice", lambda rate=0.1: mutation.chain(mutation.sign(rate)))
    try:
        assert isinstance(registry.get("mutation", "test_sign_twice")(), mutation.Mutation)
        with pytest.raises(ValueError, match="already registered"):
            registry.register("mutation", "test_sign_twice", mutation.sign)
    finally:
        del registry.MUTATIONS["test_sign_twice"]
