import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import adaptation, crossover, mutation, presets, selection


def vec_pop(key, P=32, N=6):
    return {"x": jax.random.normal(key, (P, N))}


def rows(pop):
    return [tuple(r) for r in np.asarray(pop["x"])]


def test_first_ask_returns_initial_population(key):
    pop = vec_pop(key)
    s = ega.ga()
    state = s.init(key, pop)
    asked, state = s.ask(key, state)
    np.testing.assert_array_equal(asked["x"], pop["x"])


def test_elites_bit_identical_and_nan_never_elite(key):
    pop = vec_pop(key, P=16)
    fit = jnp.arange(16, dtype=jnp.float32).at[15].set(jnp.nan).at[14].set(jnp.nan)
    s = ega.ga(elite=3)
    state = s.tell(s.init(key, pop), pop, fit)
    child, _ = s.ask(jax.random.key(9), state)
    for i, src in enumerate([13, 12, 11]):
        np.testing.assert_array_equal(child["x"][i], pop["x"][src])
    assert float(state.best_fitness) == 13.0
    np.testing.assert_array_equal(state.best_params["x"], pop["x"][13])


def test_random_survivors_kept_unchanged(key):
    pop = vec_pop(key, P=20)
    fit = jnp.arange(20, dtype=jnp.float32)
    s = ega.ga(elite=2, random_survivors=3, mutate=mutation.gaussian(1.0, 1.0))
    state = s.tell(s.init(key, pop), pop, fit)
    child, _ = s.ask(key, state)
    old = set(rows(pop))
    kept = rows(child)[2:5]
    assert all(r in old for r in kept)
    assert len(set(kept)) == 3
    assert not set(kept) & {rows(pop)[19], rows(pop)[18]}
    assert not any(r in old for r in rows(child)[5:])   # every child mutated (rate 1)


def test_survivors_come_from_outside_the_pool_and_join_it(key):
    pop = {"x": jnp.arange(20, dtype=jnp.float32)[:, None] * jnp.ones((20, 3))}
    fit = jnp.arange(20, dtype=jnp.float32)            # individual i has fitness i
    s = ega.ga(select=selection.uniform(), crossover=crossover.none(), mutate=mutation.gaussian(0.0, 1.0),
               elite=5, random_survivors=3, parent_pool=5)
    state = s.tell(s.init(key, pop), pop, fit)
    seen_parents = set()
    for g in range(20):
        child, _ = s.ask(jax.random.fold_in(key, g), state)
        ids = np.asarray(child["x"][:, 0]).astype(int)
        assert list(ids[:5]) == [19, 18, 17, 16, 15]
        surv = set(ids[5:8])
        assert len(surv) == 3 and max(surv) <= 14         # losers, outside the top-5 pool
        assert set(ids[8:]) <= set(range(15, 20)) | surv  # parents: the pool plus this generation's survivors
        seen_parents |= set(ids[8:]) - set(range(15, 20))
    assert seen_parents                                    # survivors do become parents
    with pytest.raises(ValueError, match="random_survivors .* exceeds"):
        ega.ga(elite=2, random_survivors=10, parent_pool=12).init(key, pop)


def test_parent_pool_restricts_parents(key):
    pop = vec_pop(key, P=30)
    fit = jax.random.normal(jax.random.key(5), (30,))
    s = ega.ga(select=selection.uniform(), crossover=crossover.none(), mutate=mutation.gaussian(0.0, 1.0),
               elite=0, parent_pool=0.2)
    state = s.tell(s.init(key, pop), pop, fit)
    child, _ = s.ask(key, state)
    top6 = {rows(pop)[i] for i in np.argsort(-np.asarray(fit))[:6]}
    assert set(rows(child)) <= top6 and len(set(rows(child))) > 1


def test_children_genes_come_from_parents_before_mutation(key):
    pop = {"x": jnp.arange(40 * 5, dtype=jnp.float32).reshape(40, 5)}
    s = ega.ga(crossover=crossover.uniform(0.5), mutate=mutation.gaussian(0.0, 1.0), elite=1)
    state = s.tell(s.init(key, pop), pop, jnp.arange(40, dtype=jnp.float32))
    child, _ = s.ask(key, state)
    c = np.asarray(child["x"])
    col = np.arange(5)
    # gene j of any child is j + 5 * (some parent index)
    assert np.all((c - col) % 5 == 0)


def test_tell_rejects_wrong_fitness_shape(key):
    pop = vec_pop(key, P=8)
    s = ega.ga()
    with pytest.raises(ValueError, match=r"fitness must have shape \[8\]"):
        s.tell(s.init(key, pop), pop, jnp.zeros(7))


def test_bad_configuration_errors(key):
    with pytest.raises(TypeError, match="select must be a Selection"):
        ega.ga(select=lambda k, f, n: f)
    with pytest.raises(ValueError, match="elite must be >= 0"):
        ega.ga(elite=-1)
    with pytest.raises(ValueError, match="must leave room"):
        ega.ga(elite=4, random_survivors=4).init(key, vec_pop(key, P=8))
    with pytest.raises(ValueError, match="parent_pool as a fraction"):
        ega.ga(parent_pool=1.5)
    with pytest.raises(ValueError, match="self_adaptive needs a mutation with a 'sigma'"):
        mutation.self_adaptive(mutation.sign(0.1), 0.1)
    with pytest.raises(TypeError, match="crossover must be a Crossover"):
        ega.ga(crossover=mutation.gaussian())


def test_step_does_not_recompile_and_same_key_same_result(key):
    traces = []
    task = ega.tasks.sphere(6)

    def evaluate(k, pop):
        traces.append(1)
        return task.evaluate(k, pop)[0]

    s = ega.presets.simple_ga()
    step = jax.jit(lambda k, st: s.step(k, st, evaluate))
    state = s.init(key, vec_pop(key, P=16))
    st1 = state
    for g in range(4):
        st1, m = step(jax.random.fold_in(key, g), st1)
    assert len(traces) == 1
    st2 = state
    for g in range(4):
        st2, _ = step(jax.random.fold_in(key, g), st2)
    np.testing.assert_array_equal(st1.population["x"], st2.population["x"])
    assert int(st1.generation) == 4


def test_evolve_block_size_invariant_and_no_recompile(key):
    task = ega.tasks.sphere(8)
    pop = ega.from_template(key, task.template(), 24)
    s = ega.presets.simple_ga(sigma=0.1)
    _, h5 = ega.evolve(key, s, task, pop, generations=12, block=5, progress=False)
    _, h4 = ega.evolve(key, s, task, pop, generations=12, block=4, progress=False)
    np.testing.assert_array_equal(h5["best"], h4["best"])
    assert list(h5["generation"]) == list(range(1, 13))
    runner = ega.make_block_runner(s, task, 4)
    st, _ = ega.evolve(key, s, task, pop, generations=8, block=4, progress=False)
    st, _ = ega.evolve(key, s, task, st, generations=5, block=4, progress=False)
    assert int(st.generation) == 13
    assert runner._cache_size() == 1


def test_evolve_stops_at_target_and_rejects_posinf(key):
    task = ega.tasks.sphere(4)
    pop = ega.from_template(key, task.template(), 32)
    st, h = ega.evolve(key, ega.presets.simple_ga(sigma=0.1), task, pop, generations=500, block=8,
                       target=-0.5, progress=False)
    assert h["best_so_far"][-1] >= -0.5 and len(h["best"]) < 500
    assert np.all(h["best_so_far"][:-1] < -0.5)

    def inf_task(k, p):
        return jnp.full((32,), jnp.inf)
    with pytest.raises(ValueError, match=r"\+inf fitness"):
        ega.evolve(key, ega.presets.simple_ga(), inf_task, pop, generations=2, progress=False)


def test_evolve_pause_ends_blocks_at_crossings_without_changing_the_run(key):
    """pause: a block ends right after a generation whose best reaches the level (the callback
    sees that generation); the run goes on, and every generation is the same as without pauses."""
    task = ega.tasks.sphere(6)
    pop = ega.from_template(key, task.template(), 24)
    s = ega.presets.simple_ga(sigma=0.1)
    runner = ega.make_block_runner(s, task, 8)
    _, plain = ega.evolve(key, s, task, pop, generations=40, block=8, progress=False)
    level = float(np.median(plain["best"]))
    ends = []
    _, paused = ega.evolve(key, s, task, pop, generations=40, block=8, progress=False,
                           pause=level, callback=lambda st, h: ends.append(int(h["generation"][-1])))
    np.testing.assert_array_equal(paused["best"], plain["best"])
    assert list(paused["generation"]) == list(range(1, 41))
    crossing = {int(g) for g, b in zip(plain["generation"], plain["best"]) if b >= level}
    # every block ends at a crossing, at the block length, or at the last generation
    starts = [0] + ends[:-1]
    for a, b in zip(starts, ends):
        inside = [g for g in range(a + 1, b + 1) if g in crossing]
        assert inside in ([], [b]), (a, b, inside)
        assert b - a == 8 or b in crossing or b == 40
    assert set(ends) >= crossing
    assert runner._cache_size() == 1   # a pause value is traced, not a new program
    with pytest.raises(ValueError, match="pause"):
        ega.evolve(key, s, task, pop, generations=2, block=2, progress=False, pause=float("nan"))
    with pytest.raises(ValueError, match="pause"):
        ega.evolve(key, s, task, pop, generations=2, block=2, progress=False, pause="high")


def test_nonfinite_fitness_counted_and_not_propagated(key):
    pop = vec_pop(key, P=16)

    def nan_task(k, p):
        f = -jnp.sum(p["x"] ** 2, axis=1)
        return f.at[:5].set(jnp.nan)

    st, h = ega.evolve(key, ega.presets.simple_ga(), nan_task, pop, generations=3, block=3, progress=False)
    assert np.all(h["nonfinite"] == 5)
    assert np.all(np.isfinite(h["best"])) and np.all(np.isfinite(np.asarray(st.population["x"])))


def test_sphere_100d_reaches_optimum(key):
    task = ega.tasks.sphere(100)
    pop = ega.from_template(jax.random.key(0), task.template(), 256, "normal", 1.0)
    s = ega.ga(select=selection.tournament(4), crossover=crossover.uniform(0.5),
               mutate=mutation.gaussian(0.05, 0.05), elite=2, adapt=None)
    st, h = ega.evolve(jax.random.key(1), s, task, pop, generations=400, block=100, progress=False)
    assert h["best"][0] < -60
    assert float(st.best_fitness) > -0.1       # from about -100 to within 0.1 of the optimum 0


def test_rastrigin_100d_improves_greatly(key):
    task = ega.tasks.rastrigin(100)
    pop = ega.from_template(jax.random.key(0), task.template(), 256, "normal", 1.0)
    s = ega.ga(select=selection.tournament(4), crossover=crossover.uniform(0.5),
               mutate=mutation.gaussian(0.02, 0.3), elite=2)
    st, h = ega.evolve(jax.random.key(2), s, task, pop, generations=400, block=100, progress=False)
    assert float(st.best_fitness) > 0.25 * h["best"][0]   # f drops by more than 4x (start ~ -1000)


def test_stagnation_schedule():
    ad = adaptation.stagnation(step=0.025, cap=0.1)
    params = mutation.mixed(0.05).params
    st = ad.init(params)
    st, p = ad.update(st, params, jnp.float32(1.0))      # improvement from -inf: base rate
    assert float(p["rate"]) == pytest.approx(0.05)
    rates = []
    for _ in range(4):
        st, p = ad.update(st, p, jnp.float32(1.0))       # stagnant
        rates.append(float(p["rate"]))
    assert rates == pytest.approx([0.075, 0.1, 0.1, 0.1])
    st, p = ad.update(st, p, jnp.float32(2.0))           # improved: reset
    assert float(p["rate"]) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="does not have"):
        adaptation.stagnation(name="sigma").init(mutation.sign(0.1).params)


def test_genetic_mlp_preset_raises_rate_when_stagnant(key):
    pop = vec_pop(key, P=20)
    s = presets.genetic_mlp(20, mutation_rate=0.1, mutation_rate_increase=0.05, mutation_rate_cap=0.2)
    state = s.init(key, pop)
    const = lambda k, p: jnp.ones((20,))
    state, m1 = s.step(key, state, const)
    state, m2 = s.step(key, state, const)
    state, m3 = s.step(key, state, const)
    assert [float(m["mutation_rate"]) for m in (m1, m2, m3)] == pytest.approx([0.1, 0.15, 0.2])
    assert s.config["elite"] == 10


def test_self_adaptive_sigma_inherited(key):
    pop = vec_pop(key, P=64)
    s = ega.ga(mutate=mutation.self_adaptive(mutation.gaussian(1.0, 0.1), tau=0.5), elite=1)
    task = ega.tasks.sphere(6)
    st, h = ega.evolve(key, s, task, pop, generations=10, block=5, progress=False)
    sigma = st.params["mutation"]["sigma"]
    assert sigma.shape == (64,)
    assert float(jnp.std(sigma)) > 0.0
    assert "sigma_mean" in h and np.all(np.isfinite(h["sigma_mean"]))
    assert "sigma_mean" not in ega.evolve(key, ega.ga(), task, pop, generations=1, block=1, progress=False)[1]


def test_self_adaptive_kept_rows_keep_their_sigma_children_inherit_from_parent_a(key):
    pop = vec_pop(key, P=12)
    # rate 0: a child is an exact copy of its parent a, so the parent is found exactly below (with
    # genes mutated by sigmas up to 1.1 the nearest row was sometimes another individual)
    s = ega.ga(select=selection.uniform(), crossover=crossover.none(),
               mutate=mutation.self_adaptive(mutation.gaussian(0.0, 0.1), tau=0.0), elite=2)
    state = s.init(key, pop)
    np.testing.assert_array_equal(state.params["mutation"]["sigma"], np.full(12, 0.1, np.float32))
    sigma0 = jnp.arange(12, dtype=jnp.float32) / 10
    state = state.replace(params={**state.params, "mutation": {**state.params["mutation"], "sigma": sigma0}})
    fit = jnp.arange(12, dtype=jnp.float32)
    asked, st1 = s.ask(key, s.tell(state, pop, fit))
    sigma1 = np.asarray(st1.params["mutation"]["sigma"])
    assert list(sigma1[:2]) == pytest.approx([1.1, 1.0])          # elites 11 and 10 keep theirs
    for i in range(2, 12):                                        # tau 0: a child's sigma is its parent's
        dist = np.abs(np.asarray(pop["x"]) - np.asarray(asked["x"][i])).sum(1)
        parent = int(np.argmin(dist))
        assert dist[parent] == 0.0
        assert sigma1[i] == pytest.approx(float(sigma0[parent]))


def _plus_one() -> mutation.Mutation:
    """A user mutation with no 'rate' parameter: every gene + 1."""
    return mutation.Mutation({"step": jnp.float32(1.0)},
                             lambda k, params, pop, row_offset=0: jax.tree_util.tree_map(lambda x: x + params["step"],
                                                                                          pop), "plus_one")


def _constant_crossover() -> crossover.Crossover:
    """A user crossover that returns a constant child."""
    return crossover.Crossover({}, lambda k, params, a, b, row_offset=0: jax.tree_util.tree_map(
        lambda x: jnp.full_like(x, -7.0), a), "constant")


@pytest.mark.parametrize("xo_name", ["constant", "b", "none"])
def test_custom_operators_keep_elites_and_survivors_bit_identical(key, xo_name):
    pop = vec_pop(key, P=20)
    fit = jnp.arange(20, dtype=jnp.float32)
    xo = {"constant": _constant_crossover(),
          "b": crossover.Crossover({}, lambda k, params, a, b, row_offset=0: b, "b"),
          "none": crossover.none()}[xo_name]
    s = ega.ga(crossover=xo, mutate=_plus_one(), elite=3, random_survivors=2)
    state = s.init(key, pop)
    first, _ = s.ask(key, state)                                   # generation 0: the initial population
    np.testing.assert_array_equal(first["x"], pop["x"])
    child, _ = s.ask(key, s.tell(state, pop, fit))
    for i, src in enumerate([19, 18, 17]):
        np.testing.assert_array_equal(child["x"][i], pop["x"][src])
    old = set(rows(pop))
    assert all(r in old for r in rows(child)[3:5])                 # survivors: exact copies
    assert not any(r in old for r in rows(child)[5:])              # children: +1 everywhere
    if xo_name == "constant":
        np.testing.assert_array_equal(child["x"][5:], np.full((15, 6), -6.0, np.float32))


def test_seed_encoded_custom_mutation_keeps_elites(key):
    init_fn = lambda k: {"x": jax.random.normal(k, (4,))}
    s = ega.seed_encoded_ga(init_fn, pop_size=12, parents=4, mutate=_plus_one(), elite=2, chunk_size=5)
    state = s.init(key)
    enc, state = s.ask(key, state)
    state = s.tell(state, enc, jnp.arange(12, dtype=jnp.float32))
    enc, state = s.ask(jax.random.key(3), state)
    rows_ = ega.seed_encoded.materialize(enc, jnp.arange(12), init_fn, crossover.none(), _plus_one(), enc.key)
    np.testing.assert_array_equal(rows_["x"][:2], enc.parents["x"][:2])
    np.testing.assert_array_equal(rows_["x"][2:], enc.parents["x"][np.asarray(enc.ia[2:])] + 1.0)
    with pytest.raises(ValueError, match="per-individual"):
        ega.seed_encoded_ga(init_fn, 12, 4, mutate=mutation.self_adaptive(mutation.gaussian(), 0.1))


def test_step_rejects_a_bare_function_returning_a_pair(key):
    pop = vec_pop(key, P=8)
    s = ega.ga()
    with pytest.raises(TypeError, match="fitness alone"):
        s.step(key, s.init(key, pop), lambda k, p: (jnp.zeros(8), {}))


def test_deep_ga_improves(key):
    task = ega.tasks.sphere(20)
    pop = ega.from_template(jax.random.key(4), task.template(), 64, "normal", 1.0)   # f starts near -20
    st, h = ega.evolve(jax.random.key(5), presets.deep_ga(truncation=10, sigma=0.1), task, pop, generations=60,
                       block=30, progress=False)
    assert h["best_so_far"][-1] > 0.5 * h["best"][0]
    assert np.all(np.diff(h["best_so_far"]) >= 0)


def test_truncation_ga_draws_parents_by_tournament_from_the_top_half_and_keeps_the_elite(key):
    P = 2000
    pop = {"w": jnp.arange(P, dtype=jnp.float32)[:, None]}       # fitness = w: member i has rank P - 1 - i
    s = presets.truncation_ga(parent_pool=0.5, tournament=2, sigma=0.0, elite=1)
    state = s.tell(s.init(key, pop), pop, pop["w"][:, 0])
    children, _ = s.ask(jax.random.key(1), state)
    w = np.asarray(children["w"][:, 0])
    assert w[0] == P - 1                                          # the elite, unchanged
    assert w[1:].min() >= P // 2                                  # parents only from the top half
    # a binary tournament in the top half: E[w] = P/2 + (2/3)(P/2) (uniform there: P/2 + P/4); SE ~ 2.6
    assert abs(w[1:].mean() - (P / 2 + P / 3)) < 15
    flat = presets.truncation_ga(parent_pool=0.5, tournament=1, sigma=0.0, elite=1)
    u = np.asarray(flat.ask(jax.random.key(1), flat.tell(flat.init(key, pop), pop, pop["w"][:, 0]))[0]["w"][1:, 0])
    assert abs(u.mean() - (P / 2 + P / 4)) < 15
    moved = presets.truncation_ga(sigma=0.1)                       # every weight mutated (rate 1)
    m, _ = moved.ask(jax.random.key(1), moved.tell(moved.init(key, pop), pop, pop["w"][:, 0]))
    assert np.all(np.asarray(m["w"][1:, 0]) != np.round(np.asarray(m["w"][1:, 0])))


def test_universal_ga_gives_each_parent_its_linear_rank_share_and_keeps_the_elite(key):
    P = 2000
    pop = {"w": jnp.arange(P, dtype=jnp.float32)[:, None]}       # fitness = w: member i has rank P - 1 - i
    for pressure in (1.0, 1.5):
        s = presets.universal_ga(parent_pool=0.5, pressure=pressure, sigma=0.0, elite=1)
        state = s.tell(s.init(key, pop), pop, pop["w"][:, 0])
        w = np.asarray(s.ask(jax.random.key(1), state)[0]["w"][:, 0]).astype(int)
        assert w[0] == P - 1                                       # the elite, unchanged
        counts = np.bincount(P - 1 - w[1:], minlength=P)           # children per rank
        assert counts[P // 2:].sum() == 0                          # parents only from the top half
        r = np.arange(P // 2)
        share = (pressure - (2 * pressure - 2) * r / (P // 2 - 1))
        expected = (P - 1) * share / share.sum()
        assert np.all(np.abs(counts[:P // 2] - expected) < 1.0)    # floor or ceiling of the share: no drift
    moved = presets.universal_ga(sigma=0.1)                        # every weight mutated (rate 1)
    m, _ = moved.ask(jax.random.key(1), moved.tell(moved.init(key, pop), pop, pop["w"][:, 0]))
    assert np.all(np.asarray(m["w"][1:, 0]) != np.round(np.asarray(m["w"][1:, 0])))


def test_population_diversity_matches_numpy(key):
    from evojax_ga.strategy import population_diversity
    pop = {"a": jax.random.normal(key, (50, 3, 4)) * 2 + 5, "b": jnp.arange(50, dtype=jnp.int32)[:, None]}
    expect = np.mean(np.std(np.asarray(pop["a"]).reshape(50, -1), axis=0))
    np.testing.assert_allclose(float(population_diversity(pop)), expect, rtol=1e-4)
    sub = float(population_diversity(pop, max_rows=25))      # every second individual
    np.testing.assert_allclose(sub, np.mean(np.std(np.asarray(pop["a"]).reshape(50, -1)[::2], axis=0)), rtol=1e-4)


# ------------------------------------------------------------------ issue 14: no silent wrong results
def test_tell_checks_the_population_against_the_state(key):
    """8 or 32 rows for a state of 16 used to be accepted (parent indices clamped): now refused,
    naming the argument and the leaf path, inside jit too (static checks)."""
    pop = vec_pop(key, P=16, N=3)
    s = ega.ga()
    state = s.init(key, pop)
    f16 = jnp.zeros(16)
    for n in (8, 32):
        with pytest.raises(ValueError, match=rf"population leaf \['x'\] has {n} rows"):
            s.tell(state, vec_pop(key, P=n, N=3), jnp.zeros(n))
    with pytest.raises(ValueError, match=r"population leaf \['x'\] has 8 rows"):
        jax.jit(s.tell)(state, vec_pop(key, P=8, N=3), f16)
    with pytest.raises(ValueError, match=r"population leaf \['x'\] has shape \(16, 4\)"):
        s.tell(state, vec_pop(key, P=16, N=4), f16)
    with pytest.raises(ValueError, match=r"population does not have the pytree structure.*\['y'\]"):
        s.tell(state, {"y": pop["x"]}, f16)
    with pytest.raises(TypeError, match=r"population leaf \['x'\] has dtype int32"):
        s.tell(state, {"x": pop["x"].astype(jnp.int32)}, f16)
    with pytest.raises(TypeError, match="fitness must be real numbers.*complex64"):
        s.tell(state, pop, f16.astype(jnp.complex64))
    with pytest.raises(ValueError, match=r"fitness must be a non-empty \[n\] vector"):
        s.tell(state, pop, jnp.zeros((16, 1)))
    with pytest.raises(TypeError, match="ask: state must be the GAState"):
        s.ask(key, pop)
    # what ask hands out, and a numpy float64 population given to init, pass
    asked, state = s.ask(key, s.init(key, {"x": np.zeros((16, 3))}))
    assert int(s.tell(state, asked, np.zeros(16)).generation) == 1


def test_init_refuses_fewer_than_two_individuals(key):
    with pytest.raises(ValueError, match="population must have at least 2 individuals"):
        ega.ga(elite=0).init(key, vec_pop(key, P=1))


def test_seed_encoded_tell_checks_its_inputs(key):
    init_fn = lambda k: {"x": jax.random.normal(k, (4,))}
    s = ega.seed_encoded_ga(init_fn, pop_size=12, parents=4, chunk_size=6)
    enc, state = s.ask(key, s.init(key))
    with pytest.raises(ValueError, match=r"fitness must have shape \[12\]"):
        s.tell(state, enc, jnp.zeros(8))
    with pytest.raises(TypeError, match="fitness must be real numbers"):
        s.tell(state, enc, jnp.zeros(12, jnp.complex64))
    bad = enc.replace(parents={"x": jnp.zeros((4, 5))})
    with pytest.raises(ValueError, match=r"encoded.parents leaf \['x'\] has shape \(4, 5\)"):
        s.tell(state, bad, jnp.zeros(12))
    with pytest.raises(TypeError, match="encoded must be the EncodedPopulation"):
        s.tell(state, {"x": jnp.zeros((12, 4))}, jnp.zeros(12))


def test_nan_fitness_ranks_last_in_best_tracking(key):
    """An all-NaN generation keeps the best so far; seed-encoded parents skip NaN individuals."""
    pop = vec_pop(key, P=8)
    s = ega.ga()
    state = s.tell(s.init(key, pop), pop, jnp.arange(8, dtype=jnp.float32))
    state = s.tell(state, pop, jnp.full((8,), jnp.nan))
    assert float(state.best_fitness) == 7.0
    np.testing.assert_array_equal(state.best_params["x"], pop["x"][7])
    init_fn = lambda k: {"x": jax.random.normal(k, (3,))}
    se = ega.seed_encoded_ga(init_fn, pop_size=6, parents=2, chunk_size=6)
    enc, st = se.ask(key, se.init(key))
    st = se.tell(st, enc, jnp.array([jnp.nan, 1.0, jnp.nan, 3.0, 2.0, jnp.nan]))
    assert float(st.best_fitness) == 3.0
    every = ega.seed_encoded.materialize(enc, jnp.arange(6), init_fn, crossover.none(), mutation.gaussian(), enc.key)
    np.testing.assert_array_equal(st.encoded.parents["x"], every["x"][np.array([3, 4])])


def test_evolve_records_why_and_when_it_stopped(key):
    """allow_posinf=True used to stop after the first +inf generation without a word: the history
    now says stop_reason="posinf" and generations_run=1, and a warning says so."""
    task = ega.tasks.sphere(3)
    pop = ega.from_template(key, task.template(), 8)
    s = ega.presets.simple_ga()
    with pytest.warns(UserWarning, match=r"stopped after 1 of 3 generations.*\+inf"):
        _, h = ega.evolve(key, s, lambda k, p: jnp.full((8,), jnp.inf), pop, generations=3, progress=False,
                          allow_posinf=True)
    assert (h.stop_reason, h.generations_run, len(h["best"])) == ("posinf", 1, 1)
    _, h = ega.evolve(key, s, task, pop, generations=3, block=2, progress=False)
    assert (h.stop_reason, h.generations_run) == ("generations", 3)
    _, h = ega.evolve(key, s, task, pop, generations=9, block=2, target=-1e9, progress=False)
    assert (h.stop_reason, h.generations_run) == ("target", 1)
    _, h = ega.evolve(key, s, task, pop, generations=9, block=2, progress=False, callback=lambda st, b: False)
    assert (h.stop_reason, h.generations_run) == ("callback", 2)
    blocks = ega.evolve_blocks(key, s, task, pop, generations=9, block=2, progress=False)
    next(blocks)
    blocks.close()
    assert (blocks.stop_reason, blocks.generations_run) == ("stopped", 2)
