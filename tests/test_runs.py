"""The run layer: evolve_blocks, the family configs (checked on creation), make_run(config)(key)."""

import dataclasses

import jax
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga.runs import classify, control, hparam


def test_evolve_blocks_is_evolve_block_by_block(key):
    task = ega.tasks.sphere(6)
    pop = ega.from_template(key, task.template(), 16)
    s = ega.presets.simple_ga(sigma=0.1)
    _, whole = ega.evolve(key, s, task, pop, generations=11, block=4, progress=False)
    seen, state = [], None
    for state, hist in ega.evolve_blocks(key, s, task, pop, generations=11, block=4, progress=False):  # noqa: B007
        seen.append(hist)
    assert [len(h["generation"]) for h in seen] == [4, 4, 3]
    assert int(state.generation) == 11
    for k in whole:
        if k != "wall_s":
            np.testing.assert_array_equal(np.concatenate([h[k] for h in seen]), whole[k], err_msg=k)
    # stopping early is a break; the arguments are checked before any block runs
    blocks = ega.evolve_blocks(key, s, task, pop, generations=11, block=4, progress=False)
    first, _ = next(blocks)
    blocks.close()
    assert int(first.generation) == 4
    with pytest.raises(ValueError, match="pause"):
        ega.evolve_blocks(key, s, task, pop, generations=2, pause=float("nan"))
    with pytest.raises(ValueError, match="generations"):
        ega.evolve_blocks(key, s, task, pop, generations=-1)


def test_evolve_blocks_reuse_one_program(key):
    """Another run of the same strategy and task (another key, a resumed state) compiles nothing new."""
    task = ega.tasks.sphere(6)
    pop = ega.from_template(key, task.template(), 16)
    s = ega.presets.simple_ga(sigma=0.1)
    state, _ = ega.evolve(key, s, task, pop, generations=5, block=4, progress=False)
    ega.evolve(jax.random.fold_in(key, 1), s, task, state, generations=6, block=4, progress=False, pause=-1.0)
    assert ega.make_block_runner(s, task, 4)._cache_size() == 1


@pytest.mark.parametrize("bad,match", [
    (dict(pop_size=1), "pop_size"), (dict(preset="nope"), "preset"), (dict(mutation_rate=1.5), "mutation_rate"),
    (dict(crossover_prob=-0.1), "crossover_prob"), (dict(elite=128), "elite"), (dict(chunk_size=0), "chunk_size"),
    (dict(hidden=()), "hidden"), (dict(target=float("inf")), "target"), (dict(sigma=float("nan")), "sigma"),
])
def test_control_config_is_checked_on_creation(bad, match):
    with pytest.raises(ValueError, match=match):
        control.config_for("cartpole", **bad)
    ok = control.config_for("cartpole")
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(ok, **bad)


def test_control_truncation_is_a_count_or_a_fraction_of_the_population():
    half = control.config_for("cartpole", preset="deep_ga", pop_size=16, truncation=0.5)
    assert control.build(half).strategy.config["parent_pool"] == 0.5      # the top 8 of 16
    assert control.build(dataclasses.replace(half, truncation=3)).strategy.config["parent_pool"] == 3
    rec = dataclasses.asdict(half)                                        # config.json keeps the fraction
    assert control.config_from_record(rec) == half and isinstance(control.config_from_record(rec).truncation, float)
    for bad in (0.0, 1.5, 17):
        with pytest.raises(ValueError, match="truncation"):
            dataclasses.replace(half, truncation=bad)


def test_other_configs_are_checked_on_creation():
    with pytest.raises(ValueError, match="crossover"):
        classify.config_for("digits", crossover="nope")
    with pytest.raises(ValueError, match="elite"):
        classify.config_for("digits", pop_size=2, elite=0.9)
    with pytest.raises(ValueError, match="chunk_size"):
        classify.config_for("digits", chunk_size=0)
    with pytest.raises(ValueError, match="pop_size"):
        hparam.HparamConfig(pop_size=0)
    with pytest.raises(ValueError, match="random_survivors"):
        hparam.HparamConfig(pop_size=4, random_survivors=3)
    assert hparam.HparamConfig(method="random", pop_size=6, generations=2).resolved_budget() == 6 + 1 * 1
    # the old names of a recorded config.json are read
    rec = dataclasses.asdict(control.config_for("cartpole"))
    rec["rate"] = rec.pop("mutation_rate")
    assert control.config_from_record(rec) == control.config_for("cartpole")


def test_control_run_improves_cartpole_within_a_few_generations():
    cfg = control.config_for("cartpole", pop_size=32, generations=6, block=6, max_steps=200, target=1e9)
    state, history, info = control.make_run(cfg)(jax.random.key(0))
    assert info["generations"] == 6 and not info["solved"]
    best = history["best"]
    assert best[-1] > best[0] and history["mean"][-1] > history["mean"][0]
    assert float(state.best_fitness) >= best.max()


def test_control_checks_every_generation_that_crosses_the_target():
    """A candidate is checked at the generation its training return reaches the target, not at the
    end of its block: one check per crossing generation, and a solved run stops at a crossing."""
    cfg = control.config_for("cartpole", pop_size=16, generations=12, block=4, max_steps=100, target=90.0,
                             check_episodes=20)
    run = control.make_run(cfg)
    failed = 0
    for seed in range(3):
        _, history, info = run(jax.random.key(seed))
        crossings = [int(g) for g, b in zip(history["generation"], history["best"]) if b >= cfg.target]
        assert crossings, "the test needs at least one generation that reaches the target"
        assert info["checks"] == len(crossings)
        if info["solved"]:
            assert info["solved_generation"] == crossings[-1] == int(history["generation"][-1])
        failed += info["checks"] - int(info["solved"])
    assert failed >= 1   # some crossing failed its check, and the run went on


def test_classify_run_in_memory_then_select_final():
    cfg = classify.config_for("digits", pop_size=16, generations=4, block=2, hidden=(4,), baseline="none",
                              test_samples=50)
    parts = classify.build(cfg)
    state, history, info = classify.make_run(cfg, parts)(jax.random.key(0))
    assert list(history["generation"]) == [1, 2, 3, 4] and info["generations"] == 4
    kept = classify.select_final(cfg, parts, state)
    assert 0.0 <= kept["test_accuracy"] <= 1.0 and kept["train_samples"] > 0


def test_seeds_outside_uint32_are_refused_by_the_run_entry_points(tmp_path):
    """jax.random.key keeps the low 32 bits: seed 2**32 gave seed 0's key; now it is refused."""
    from evojax_ga._checks import SEED_MAX, check_seed
    from evojax_ga.runs import loop
    assert np.array_equal(jax.random.key_data(jax.random.key(2**32)), jax.random.key_data(jax.random.key(0)))
    assert check_seed(0) == 0 and check_seed(SEED_MAX) == 2**32 - 1   # in range: the seed itself, so today's keys
    for seed in (-1, 2**32, 2**70):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32 - 1\]"):
            loop.start(None, "cartpole", seed, tmp_path / "run", 0, {})   # type: ignore[arg-type]
        assert not (tmp_path / "run").exists()
        with pytest.raises(ValueError, match="seed"):
            loop.execute(None, tmp_path, "cartpole", seed, 0)   # type: ignore[arg-type]
        with pytest.raises(ValueError, match="seed"):
            control.evaluate_saved(tmp_path, seed=seed)
        with pytest.raises(ValueError, match="seed"):
            hparam.execute(None, tmp_path, seed)   # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        check_seed(1.0)


def test_population_memory_estimate_and_refusal(monkeypatch):
    from evojax_ga import memory
    member = {"w": jax.ShapeDtypeStruct((3, 4), np.float32), "b": jax.ShapeDtypeStruct((4,), np.float16)}
    assert memory.population_bytes(member, 10, copies=2, extra_per_member=5) == 10 * (2 * (48 + 8) + 5)
    assert memory.available_bytes(jax.devices("cpu")[0]) > 0

    class FakeGPU:
        platform = "gpu"

        def __init__(self, stats):
            self.stats = stats

        def memory_stats(self):
            return self.stats

    assert memory.available_bytes(FakeGPU({"bytes_limit": 100, "bytes_in_use": 30})) == 70
    assert memory.available_bytes(FakeGPU(None)) is None       # unknown: nothing is refused
    memory.check_fits(10**30, "pop_size=1", device=FakeGPU({}))
    with pytest.raises(ValueError, match="pop_size=7: the population needs about 101 B .* 70 B of memory available "
                                         "on the gpu"):
        memory.check_fits(101, "pop_size=7", device=FakeGPU({"bytes_limit": 100, "bytes_in_use": 30}))
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 2**30)
    memory.check_fits(2**30, "pop_size=1")          # exactly fits
    with pytest.raises(ValueError, match=r"pop_size=100000000: the population needs about .* GiB .* 1\.0 GiB"):
        control.build(control.config_for("cartpole", pop_size=100_000_000))
    with pytest.raises(ValueError, match=r"pop_size=300000 \(its 224997 children"):
        hparam.make_run(hparam.HparamConfig(pop_size=300_000, epochs=1))
