"""Hyper-parameter search: spaces and their operators, masked-network and optimizer exactness,
vectorised training equal to direct Flax + optax training, the score cache, and tiny searches."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from evojax_ga import hparam as hp
from evojax_ga.hparam import train as T
from evojax_ga.hparam.space import Space, choice, log_uniform, uniform
from evojax_ga.models import MLP

ACTS = ("relu", "elu", "tanh", "sigmoid", "gelu")
OPTS = ("sgd", "momentum", "adam", "adamax", "rmsprop", "adagrad")
# optax's own optimizers, written out independently of evojax_ga.hparam.train.OPTIMIZERS
OPTAX = {"sgd": lambda lr: optax.sgd(lr), "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
         "adam": optax.adam, "adamax": optax.adamax, "rmsprop": optax.rmsprop, "adagrad": optax.adagrad}


@pytest.fixture(scope="module")
def mixed_space():
    return Space([choice("depth", (1, 2, 3)), choice("width", (4, 8, 16)), choice("activation", ACTS),
                  log_uniform("learning_rate", 1e-4, 1e-1, grid=3), uniform("dropout", 0.0, 0.5, grid=2)])


@pytest.fixture(scope="module")
def tiny_data():
    return hp.load_dataset("digits", train_subset=100)


# ------------------------------------------------------------------------------------------------
# spaces and operators
# ------------------------------------------------------------------------------------------------
def test_sampling_stays_in_bounds_and_covers_values(mixed_space, key):
    g = mixed_space.sample(key, 2000)
    assert g["discrete"].dtype == jnp.int32 and g["discrete"].shape == (2000, 3)
    assert g["continuous"].shape == (2000, 2)
    assert mixed_space.in_bounds(g).all()
    for j, gene in enumerate(mixed_space.discrete):
        assert set(np.unique(np.asarray(g["discrete"][:, j]))) == set(range(len(gene.values)))
    vals = mixed_space.decode(g)
    lr = np.asarray(vals["learning_rate"])
    assert lr.min() >= 1e-4 * (1 - 1e-6) and lr.max() <= 1e-1 * (1 + 1e-6)
    # log-uniform: about a third of the draws per decade
    assert abs(np.mean(lr < 1e-3) - 1 / 3) < 0.05
    assert set(np.unique(np.asarray(vals["width"]))) == {4, 8, 16}
    for cfg in mixed_space.to_configs(jax.tree_util.tree_map(lambda a: a[:50], g)):
        assert cfg["activation"] in ACTS and cfg["depth"] in (1, 2, 3) and 0.0 <= cfg["dropout"] <= 0.5


def test_mutation_only_yields_allowed_values(mixed_space, key):
    k1, k2 = jax.random.split(key)
    g = mixed_space.sample(k1, 500)
    m = mixed_space.mutation(rate=1.0)
    out = jax.jit(m.apply)(k2, m.params, g)
    assert mixed_space.in_bounds(out).all()
    assert out["discrete"].dtype == jnp.int32
    # rate 1 resamples every gene: the codes all change, most indices change
    assert np.all(np.asarray(out["continuous"]) != np.asarray(g["continuous"]))
    assert np.mean(np.asarray(out["discrete"]) != np.asarray(g["discrete"])) > 0.5
    m0 = mixed_space.mutation(rate=0.0)
    same = jax.jit(m0.apply)(k2, m0.params, g)
    for leaf in g:
        np.testing.assert_array_equal(np.asarray(same[leaf]), np.asarray(g[leaf]))


def test_crossover_genes_come_from_a_parent(mixed_space, key):
    ka, kb, kx = jax.random.split(key, 3)
    a, b = mixed_space.sample(ka, 400), mixed_space.sample(kb, 400)
    xo = mixed_space.crossover(0.5)
    child = jax.jit(xo.apply)(kx, xo.params, a, b)
    for leaf in a:
        c, pa, pb = (np.asarray(t[leaf]) for t in (child, a, b))
        assert np.all((c == pa) | (c == pb))
        differ = pa != pb
        assert 0.4 < np.mean(c[differ] == pb[differ]) < 0.6


def test_ga_children_stay_in_space(mixed_space, key):
    strategy = hp.harvey_strategy(mixed_space, population=12, random_survivors=2, mutation_rate=0.3)
    k0, k1, k2 = jax.random.split(key, 3)
    ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
    state = strategy.init(k0, mixed_space.sample(k1, 12))
    pop, state = ask(k2, state)  # first ask: the initial population
    fit = jnp.arange(12, dtype=jnp.float32)
    state = tell(state, pop, fit)
    children, _ = ask(jax.random.fold_in(k2, 1), state)
    assert mixed_space.in_bounds(children).all()
    # the top 25 % (3) are kept unchanged in the first rows
    top = np.argsort(-np.asarray(fit))[:3]
    np.testing.assert_array_equal(np.asarray(children["discrete"][:3]), np.asarray(pop["discrete"])[top])


def test_grid_enumerates_every_configuration(mixed_space):
    grid = mixed_space.grid()
    assert mixed_space.grid_size == 3 * 3 * 5 * 3 * 2
    keys = mixed_space.keys(grid)
    assert len(keys) == len(set(keys)) == mixed_space.grid_size
    assert mixed_space.in_bounds(grid).all()
    lrs = sorted({c["learning_rate"] for c in mixed_space.to_configs(grid)})
    np.testing.assert_allclose(lrs, [1e-4, 10 ** -2.5, 1e-1], rtol=1e-5)


def test_encode_decode_round_trip(mixed_space):
    cfgs = [{"depth": 2, "width": 16, "activation": "gelu", "learning_rate": 3e-3, "dropout": 0.1},
            {"depth": 1, "width": 4, "activation": "relu", "learning_rate": 1e-4, "dropout": 0.5}]
    back = mixed_space.to_configs(mixed_space.encode(cfgs))
    for c, b in zip(cfgs, back):
        for k in c:
            assert b[k] == (c[k] if isinstance(c[k], str) else pytest.approx(c[k], rel=1e-5, abs=1e-7))
    assert mixed_space.keys(mixed_space.from_keys(mixed_space.keys(mixed_space.encode(cfgs)))) == \
        mixed_space.keys(mixed_space.encode(cfgs))


@pytest.mark.parametrize("bad, match", [
    (lambda: choice("depth", ()), "non-empty"),
    (lambda: choice("depth", (1, 1)), "distinct"),
    (lambda: choice("depth", (1, "a")), "all strings or all numbers"),
    (lambda: log_uniform("lr", 0.0, 1.0), "low > 0"),
    (lambda: uniform("x", 1.0, 1.0), "low < high"),
    (lambda: Space([choice("a", (1,)), choice("a", (2,))]), "unique"),
    (lambda: hp.digits_space().encode([{"depth": 9, "width": 8, "activation": "relu", "optimizer": "sgd"}]),
     "must be one of"),
    (lambda: hp.make_trainer(Space([choice("momentum", (0.9,))]), in_dim=4, num_classes=3), "not training"),
    (lambda: hp.make_trainer(Space([choice("activation", ("swish",))]), in_dim=4, num_classes=3), "activation"),
    (lambda: hp.make_trainer(Space([choice("optimizer", ("lbfgs",))]), in_dim=4, num_classes=3), "optimizer"),
    (lambda: hp.make_trainer(Space([choice("width", (0, 4))]), in_dim=4, num_classes=3), "positive ints"),
])
def test_bad_input_raises_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


# ------------------------------------------------------------------------------------------------
# exactness: masking, activations, optimizers
# ------------------------------------------------------------------------------------------------
def test_fused_activation_switch_matches_reference_functions(key):
    z = 4.0 * jax.random.normal(key, (len(ACTS), 257))
    out = jax.vmap(lambda i, zz: T._activate(i, zz, ACTS))(jnp.arange(len(ACTS)), z)
    for i, name in enumerate(ACTS):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(T.ACTIVATIONS[name](z[i])), rtol=2e-6, atol=2e-6,
                                   err_msg=name)


def test_masked_network_equals_small_network_built_directly(key):
    D, L, H, C = 7, 3, 10, 4
    k1, k2, k3 = jax.random.split(key, 3)
    base = jax.jit(T.init_base, static_argnums=(1, 2, 3, 4))(k1, D, L, H, C)
    junk = jax.jit(lambda k: jax.tree_util.tree_map(
        lambda a: 100.0 * jax.random.normal(jax.random.fold_in(k, a.size), a.shape), base))(k2)
    x = jax.random.normal(k3, (33, D))
    combos = [(d, w, a) for a in range(len(ACTS)) for d, w in ((1, 10), (3, 7))] + [(3, 1, 0), (2, 4, 4), (2, 10, 2)]
    d, w, a = (jnp.array(c) for c in zip(*combos))

    def one(d, w, a):
        # the candidate's own initial weights, and large junk (not zeros) in every entry outside its
        # network, biases included: masking, not zero padding, must isolate them
        p = T.candidate_params(base, d, w)
        p = jax.tree_util.tree_map(lambda v, j, m: jnp.where(m, v, j), p, junk, T.param_mask(base, d, w))
        return p, T.masked_forward(p, d, w, a, x, ACTS)

    params, masked = jax.jit(jax.vmap(one))(d, w, a)

    @jax.jit
    def references(params):  # every small network built directly, in one compiled program
        out = []
        for i, (dd, ww, aa) in enumerate(combos):
            p_i = jax.tree_util.tree_map(lambda v: v[i], params)
            out.append(MLP(features=(ww,) * dd, out=C, activation=ACTS[aa]).apply(T.small_params(p_i, dd, ww), x))
        return out

    refs = references(params)
    for i, (dd, ww, aa) in enumerate(combos):
        if ww < H:
            assert np.abs(np.asarray(params["out"]["kernel"][i, ww:])).min() > 1e-3  # the junk really is there
        np.testing.assert_allclose(np.asarray(masked[i]), np.asarray(refs[i]), rtol=1e-5, atol=1e-5,
                                   err_msg=f"depth={dd} width={ww} activation={ACTS[aa]}")


def test_switched_optimizer_steps_equal_optax_own(key):
    params = {"w": jax.random.normal(key, (5, 3)), "b": jnp.zeros((3,)), "v": jnp.ones((3, 3))}
    sw = T.switched_optimizer(OPTS, params)
    lr = jnp.array([0.1, 0.05, 0.01, 0.02, 0.003, 0.2])
    idx = jnp.arange(len(OPTS))
    grads_seq = jax.jit(lambda k: [jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.fold_in(k, 10 + t),
                                                                                     a.shape), params)
                                   for t in range(3)])(key)
    stack = lambda tree: jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (len(OPTS),) + a.shape), tree)
    p = stack(params)

    @jax.jit
    def switched(p, grads_seq):
        st = jax.vmap(sw.init)(idx, p)
        ups = []
        for g in grads_seq:
            u, st = jax.vmap(sw.update)(idx, lr, stack(g), st, p)
            ups.append(u)
            p = optax.apply_updates(p, u)
        return ups, st

    ups, st = switched(p, grads_seq)

    @jax.jit
    def optax_own(params, grads_seq):  # each optimizer alone, written plainly, one compiled program
        out = []
        for i, name in enumerate(OPTS):
            opt = OPTAX[name](lr[i])
            q, s, ups = params, opt.init(params), []
            for g in grads_seq:
                u, s = opt.update(g, s, q)
                q = optax.apply_updates(q, u)
                ups.append(u)
            out.append((ups, s))
        return out

    # float32 rounding differs between the two separately compiled programs (seen: 1.5e-6 relative);
    # a wrong optimizer or state would be off by orders of magnitude more
    for i, (name, (ref_ups, ref_state)) in enumerate(zip(OPTS, optax_own(params, grads_seq))):
        for t in range(len(grads_seq)):
            for leaf in params:
                np.testing.assert_allclose(np.asarray(ups[t][leaf][i]), np.asarray(ref_ups[t][leaf]), rtol=1e-5,
                                           atol=1e-7, err_msg=f"{name} step {t} {leaf}")
        # the packed state unpacks to optax's own state
        mine = sw.unpack(i, jax.tree_util.tree_map(lambda a: a[i], st))
        for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(ref_state)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7, err_msg=name)


def _reference_train(key, cfgs, data, epochs, L, H, num_classes):
    """Direct training of each small Flax MLP with optax, one after another: the ground truth."""
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    N, D = x.shape
    k_init, k_data = T.training_keys(key)
    d, w = (jnp.array([c[n] for c in cfgs]) for n in ("depth", "width"))
    init = jax.jit(lambda k, d, w: jax.vmap(lambda dd, ww: T.candidate_params(T.init_base(k, D, L, H, num_classes),
                                                                                dd, ww))(d, w))
    p0 = jax.tree_util.tree_map(np.asarray, init(k_init, d, w))
    perms = np.asarray(jax.jit(lambda k: jnp.stack([T.data_order(k, e, N) for e in range(epochs)]))(k_data))
    results = []
    for i, cfg in enumerate(cfgs):
        params = T.small_params(jax.tree_util.tree_map(lambda a: a[i], p0), cfg["depth"], cfg["width"])
        model = MLP(features=(cfg["width"],) * cfg["depth"], out=num_classes, activation=cfg["activation"])
        opt = OPTAX[cfg["optimizer"]](cfg["learning_rate"])
        state = opt.init(params)

        @jax.jit
        def step(p, s, xb, yb):
            g = jax.grad(lambda q: optax.softmax_cross_entropy_with_integer_labels(model.apply(q, xb), yb).mean())(p)
            u, s = opt.update(g, s, p)
            return optax.apply_updates(p, u), s

        b = cfg["batch_size"]
        for e in range(epochs):
            for s in range(math.ceil(N / b)):
                idx = perms[e, s * b:(s + 1) * b]
                params, state = step(params, state, x[idx], y[idx])
        results.append((params, model))
    return results


@pytest.fixture(scope="module")
def search_setup(tiny_data):
    """One small space and trainer shared by the training-exactness, cache and search tests (one
    compiled program for chunks of 4: the trainer memoises it)."""
    acts, opts = ("relu", "tanh", "sigmoid", "gelu"), ("sgd", "adam", "rmsprop", "adagrad")
    space = Space([choice("depth", (1, 2, 3)), choice("width", (3, 5, 8)), choice("activation", acts),
                   choice("optimizer", opts), choice("learning_rate", (0.05, 0.01)), choice("batch_size", (20, 24))])
    trainer = hp.make_trainer(space, hp.TrainConfig(epochs=2), in_dim=64, num_classes=10)
    return space, trainer, tiny_data


def test_vectorised_training_equals_direct_small_network_training(search_setup, key):
    """Masking, activation/optimizer switches and the batch-size gene together: every candidate of a
    vmapped generation ends with the weights that Flax + optax reach training it alone (all six
    optimizers are checked step by step against optax in the test above)."""
    space, trainer, tiny_data = search_setup
    epochs = trainer.config.epochs
    # N = 100: batch 20 gives 5 full steps per epoch, batch 24 four full steps and a partial one of 4
    cfgs = [dict(depth=1, width=5, activation="relu", optimizer="sgd", learning_rate=0.05, batch_size=20),
            dict(depth=3, width=3, activation="gelu", optimizer="adam", learning_rate=0.01, batch_size=24),
            dict(depth=2, width=8, activation="sigmoid", optimizer="adagrad", learning_rate=0.05, batch_size=24),
            dict(depth=3, width=8, activation="tanh", optimizer="rmsprop", learning_rate=0.01, batch_size=20)]
    out = trainer.compile(key, len(cfgs), tiny_data)(key, space.encode(cfgs), tiny_data)
    assert out["val_acc"].shape == (len(cfgs),)
    refs = _reference_train(key, cfgs, tiny_data, epochs, L=3, H=8, num_classes=10)
    for i, (cfg, (ref, model)) in enumerate(zip(cfgs, refs)):
        trained = jax.tree_util.tree_map(lambda a: np.asarray(a[i]), out["params"])
        mine = T.small_params(trained, cfg["depth"], cfg["width"])
        for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(ref)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5, err_msg=str(cfg))
        # entries outside the candidate's network never move from 0
        mask = T.param_mask(trained, cfg["depth"], cfg["width"])
        for p, m in zip(jax.tree_util.tree_leaves(trained), jax.tree_util.tree_leaves(mask)):
            assert np.all(p[~np.asarray(m)] == 0.0)
        # the score is the small network's accuracy on the validation split
        acc = np.mean(np.argmax(np.asarray(model.apply(ref, tiny_data.x_val)), -1) == tiny_data.y_val)
        assert float(out["val_acc"][i]) == pytest.approx(acc, abs=1.5 / len(tiny_data.y_val))


# ------------------------------------------------------------------------------------------------
# cache and searches
# ------------------------------------------------------------------------------------------------
def test_cache_does_not_retrain_known_genomes(search_setup):
    space, trainer, data = search_setup
    ev = hp.Evaluator(trainer, data, jax.random.key(7), chunk=4)
    g = space.grid()
    pick = lambda idx: jax.tree_util.tree_map(lambda a: a[np.array(idx)], g)
    fit1, m1, new1 = ev.score(pick([0, 5, 0, 9, 5, 0]))
    assert new1 == 3 and ev.trained == 3 and ev.calls == 1 and len(ev.cache) == 3
    assert fit1[0] == fit1[2] == fit1[5] and fit1[1] == fit1[4]
    calls = ev.calls
    fit2, _, new2 = ev.score(pick([9, 5, 0]))
    assert new2 == 0 and ev.calls == calls and ev.trained == 3
    np.testing.assert_array_equal(fit2, fit1[[3, 1, 0]])
    _, _, new3 = ev.score(pick([0, 11]))
    assert new3 == 1 and ev.trained == 4 and ev.calls == calls + 1
    # a cached score is what retraining would give: same genome, other chunk-mates, same result
    fresh = trainer.compile(ev.key, 4, ev.data)(ev.key, pick([9, 1, 2, 3]), ev.data)  # compiled once, shared
    assert float(fresh["val_acc"][0]) == ev.cache[space.keys(pick([9]))[0]]["val_acc"]
    np.testing.assert_allclose(float(fresh["val_loss"][0]), ev.cache[space.keys(pick([9]))[0]]["val_loss"],
                               rtol=1e-5)


def test_tiny_ga_search_improves_over_its_first_generation(search_setup):
    space, trainer, data = search_setup
    improved = 0
    strategy = hp.harvey_strategy(space, population=8, random_survivors=1, mutation_rate=0.2)
    for seed in range(4):
        ev = hp.Evaluator(trainer, data, jax.random.key(3), chunk=4)
        seen = []
        res = hp.ga_search(jax.random.key(seed), ev, population=8, generations=6, strategy=strategy,
                           fresh_children=False, callback=lambda g, info: seen.append(info["new"]))
        h = res.history
        assert h["step"] == [1, 2, 3, 4, 5, 6]
        assert np.all(np.diff(h["best_val"]) >= 0)
        assert h["mean_val"][-1] > h["mean_val"][0] + 0.05, h["mean_val"]  # selection pulls the population up
        improved += h["best_val"][-1] > h["best_val"][0]
        # kept genomes are looked up, not retrained: at most 8 - 2 kept - 1 survivor new ones per generation
        assert seen[0] <= 8 and max(seen[1:]) <= 5 and ev.trained == sum(seen) == res.trained
        assert res.best["val_acc"] == h["best_val"][-1] and set(res.best_config) == set(space.names)
    assert improved >= 2, f"the best improved over the first generation in only {improved} of 4 runs"


def test_fresh_children_fill_every_generation_with_new_genomes(search_setup):
    space, trainer, data = search_setup
    strategy = hp.harvey_strategy(space, population=8, random_survivors=1, mutation_rate=0.2)
    counts = {}
    for fresh in (False, True):
        ev = hp.Evaluator(trainer, data, jax.random.key(3), chunk=4)
        seen = []
        hp.ga_search(jax.random.key(5), ev, population=8, generations=5, strategy=strategy,
                           fresh_children=fresh, callback=lambda g, info: seen.append(info["new"]))
        counts[fresh] = seen
        assert space.in_bounds(space.from_keys(list(ev.cache))).all()
    # 576 configurations: room for 8 + 4 x 5 new ones, so with fresh children every child is new
    assert counts[True] == [8, 5, 5, 5, 5]
    assert sum(counts[False]) < sum(counts[True])


def test_brute_force_and_random_search(search_setup):
    space, trainer, data = search_setup
    ev = hp.Evaluator(trainer, data, jax.random.key(3), chunk=4)
    grid = hp.brute_force(ev)
    assert grid.trained == space.grid_size == 576 and ev.trained == 576
    best = max(v["val_acc"] for v in ev.cache.values())
    assert grid.best["val_acc"] == best
    rnd = hp.random_search(jax.random.key(1), ev, budget=10)
    assert rnd.trained == 10 and ev.trained == 576  # the shared cache already held every configuration
    assert rnd.best["val_acc"] <= best
