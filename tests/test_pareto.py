"""Pareto ranking, crowding distance and hypervolume against plain-Python references."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_ga import pareto


def ref_ranks(F):
    """Brute-force O(M P^2) dominance then front peeling; NaN rows after every other front."""
    P, M = F.shape
    bad = [any(math.isnan(v) for v in F[i]) for i in range(P)]
    good = [i for i in range(P) if not bad[i]]

    def dominates(i, j):
        return all(F[i, m] >= F[j, m] for m in range(M)) and any(F[i, m] > F[j, m] for m in range(M))

    ranks = [-1] * P
    left, r = set(good), 0
    while left:
        front = {j for j in left if not any(dominates(i, j) for i in left if i != j)}
        for j in front:
            ranks[j] = r
        left -= front
        r += 1
    for i in range(P):
        if bad[i]:
            ranks[i] = r
    return np.array(ranks)


def ref_crowding(F, ranks):
    P, M = F.shape
    d = np.zeros(P)
    for r in set(ranks.tolist()):
        members = [i for i in range(P) if ranks[i] == r]
        if any(math.isnan(v) for v in F[members[0]]):
            continue
        for m in range(M):
            s = sorted(members, key=lambda i: (F[i, m], i))
            d[s[0]] = d[s[-1]] = math.inf
            span = F[s[-1], m] - F[s[0], m]
            for k in range(1, len(s) - 1):
                if span > 0:
                    d[s[k]] += (F[s[k + 1], m] - F[s[k - 1], m]) / span
    return d


def random_fitness(seed, P, M):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 4, size=(P, M)).astype(np.float32)  # few levels: many ties and equal rows
    F[rng.random((P, M)) < 0.05] = np.nan
    return F


@pytest.mark.parametrize("seed,P,M", [(0, 1, 2), (1, 7, 1), (2, 30, 2), (3, 40, 3), (4, 25, 4), (5, 50, 2)])
def test_ranks_equal_brute_force(seed, P, M):
    F = random_fitness(seed, P, M)
    got = np.asarray(jax.jit(pareto.nondominated_ranks)(F))
    np.testing.assert_array_equal(got, ref_ranks(F))
    assert got.dtype == np.int32


def test_nan_rows_rank_after_every_other_row():
    F = np.array([[0.0, 0.0], [np.nan, 9.0], [-5.0, -5.0], [1.0, 1.0], [np.nan, np.nan]], np.float32)
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(F)), [1, 3, 2, 0, 3])
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(np.full((3, 2), np.nan))), [0, 0, 0])


def test_inf_values_are_ordinary():
    F = np.array([[-np.inf, 5.0], [0.0, 0.0], [np.inf, -np.inf], [-np.inf, -np.inf]], np.float32)
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(F)), [0, 0, 0, 1])


@pytest.mark.parametrize("seed,P,M", [(10, 30, 2), (11, 40, 3), (12, 12, 2)])
def test_crowding_equals_reference(seed, P, M):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(P, M)).astype(np.float32)
    F[rng.random(P) < 0.3, 0] = 0.5  # ties in one objective
    F[rng.random(P) < 0.1, 1] = np.nan
    ranks = pareto.nondominated_ranks(F)
    got = np.asarray(jax.jit(pareto.crowding_distance)(F, ranks))
    want = ref_crowding(F.astype(np.float64), np.asarray(ranks))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[~np.isinf(want)], want[~np.isinf(want)], rtol=1e-5, atol=1e-6)


def test_crowding_small_front_by_hand():
    F = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]], np.float32)
    d = np.asarray(pareto.crowding_distance(F, pareto.nondominated_ranks(F)))
    assert np.isinf(d[0]) and np.isinf(d[3])
    np.testing.assert_allclose(d[1:3], [3 / 4 + 3 / 4, 3 / 4 + 2 / 4])


def test_crowded_order():
    ranks = jnp.array([1, 0, 0, 2, 0], jnp.int32)
    crowd = jnp.array([9.0, 1.0, jnp.inf, 5.0, 1.0])
    np.testing.assert_array_equal(np.asarray(pareto.crowded_order(ranks, crowd)), [2, 1, 4, 0, 3])


def test_hypervolume_2d_by_hand():
    F = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [1.0, 1.0], [np.nan, 9.0], [5.0, -1.0]], np.float32)
    # staircase over ref (0, 0): 1*3 + 1*2 + 1*1 = 6; the dominated, NaN and below-ref rows add nothing
    assert float(pareto.hypervolume_2d(F, [0.0, 0.0])) == pytest.approx(6.0)
    assert float(pareto.hypervolume(F[:1], jnp.array([0.0, 0.0]))) == pytest.approx(3.0)
    assert float(pareto.hypervolume(F, [0.0, -1.0])) == pytest.approx(1 * 4 + 1 * 3 + 1 * 2 + 0 + 2 * 0)
    assert float(pareto.hypervolume(F, [10.0, 10.0])) == 0.0


def test_hypervolume_3d_by_hand_and_brute_force():
    F = np.array([[1.0, 1.0, 1.0]], np.float32)
    assert float(pareto.hypervolume(F, [0.0, 0.0, 0.0])) == pytest.approx(1.0)
    F = np.array([[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]], np.float32)
    assert float(pareto.hypervolume(F, [0.0, 0.0, 0.0])) == pytest.approx(4.0)  # 3 * 2 - 3 + 1
    rng = np.random.default_rng(7)
    F = rng.integers(1, 5, size=(12, 3)).astype(np.float32)
    # brute force on the unit grid: a cell counts when some point dominates its upper corner
    want = sum(any(all(F[i] >= np.array(c) + 1) for i in range(len(F)))
               for c in itertools.product(range(4), repeat=3))
    assert float(jax.jit(pareto.hypervolume)(F, jnp.zeros(3))) == pytest.approx(want)


@pytest.mark.parametrize("call,exc,words", [
    (lambda: pareto.nondominated_ranks(np.zeros(5)), ValueError, "F must be a non-empty [P, M]"),
    (lambda: pareto.nondominated_ranks(np.zeros((0, 2))), ValueError, "F must be a non-empty [P, M]"),
    (lambda: pareto.nondominated_ranks(np.zeros((3, 2), np.complex64)), TypeError, "F must be real"),
    (lambda: pareto.crowding_distance(np.zeros((3, 2)), np.zeros(4, np.int32)), ValueError, "ranks must be"),
    (lambda: pareto.crowding_distance(np.zeros((3, 2)), np.zeros(3)), ValueError, "ranks must be an integer"),
    (lambda: pareto.hypervolume(np.zeros((3, 4)), np.zeros(4)), ValueError, "2 or 3 objectives"),
    (lambda: pareto.hypervolume(np.zeros((3, 2)), np.zeros(3)), ValueError, "ref must be a [2]"),
    (lambda: pareto.hypervolume(np.zeros((3, 2)), [0.0, np.nan]), ValueError, "ref must be finite"),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc, match=None) as e:
        call()
    assert words in str(e.value)


def test_vmapped_and_integer_fitness():
    F = np.array([[[1, 2], [0, 0], [2, 1]], [[0, 0], [1, 1], [1, 1]]], np.int32)
    got = np.asarray(jax.jit(jax.vmap(pareto.nondominated_ranks))(F))
    np.testing.assert_array_equal(got, [ref_ranks(F[0].astype(float)), ref_ranks(F[1].astype(float))])


@pytest.mark.parametrize("seed,P,M,C", [(21, 37, 2, 4), (22, 50, 3, 7)])
def test_chunked_ranks_equal_dense_and_brute_force(seed, P, M, C):
    F = random_fitness(seed, P, M)
    if P > 3:
        F[:3] = F[3]  # equal rows
    dense = np.asarray(jax.jit(pareto.nondominated_ranks)(F))
    chunked = np.asarray(jax.jit(pareto.nondominated_ranks, static_argnums=1)(F, C))
    np.testing.assert_array_equal(chunked, dense)
    np.testing.assert_array_equal(chunked, ref_ranks(F))
    np.testing.assert_array_equal(np.asarray(pareto.domination_counts(F, C)), np.asarray(pareto.domination_counts(F)))


def test_chunk_size_is_checked():
    with pytest.raises(ValueError, match="chunk_size must be an int >= 1 or None"):
        pareto.nondominated_ranks(np.zeros((3, 2)), 0)


@pytest.mark.parametrize("chunk", [None, 8])
def test_stop_after_ranks_the_first_fronts_only(chunk):
    F = random_fitness(25, 40, 2)
    true = ref_ranks(F)
    got = np.asarray(jax.jit(pareto.nondominated_ranks, static_argnums=1)(F, chunk, stop_after=20))
    r = got.max()   # the rows left after the fronts that reach 20 rows
    assert np.sum(true < r) >= 20 > np.sum(true < r - 1)
    np.testing.assert_array_equal(got[true < r], true[true < r])
    assert np.all(got[true >= r] == r)


def numpy_ranks(F):
    """The brute-force reference with NumPy's [P, P] domination matrix (for a few hundred rows)."""
    bad = np.isnan(F).any(axis=1)
    ge = (F[:, None, :] >= F[None, :, :]).all(axis=2)
    gt = (F[:, None, :] > F[None, :, :]).any(axis=2)
    dom = ge & gt & ~bad[:, None] & ~bad[None, :]
    ranks, left, r = np.full(len(F), -1), ~bad, 0
    while left.any():
        front = left & ~(dom & left[:, None]).any(axis=0)
        ranks[front], left, r = r, left & ~front, r + 1
    ranks[bad] = r
    return ranks


@pytest.mark.parametrize("M", [2, 3])
@pytest.mark.parametrize("block", [1, 5, 64, 1000])
def test_block_size_never_changes_the_ranks(M, block):
    """Rows dominated across many blocks, long chains inside a block, equal rows split over blocks, NaN
    rows, +-inf, and a last block padded: every block size gives the brute-force ranks."""
    rng = np.random.default_rng(40 + M)
    F = np.concatenate([rng.random((200, M)), rng.integers(0, 3, (100, M)),
                        np.linspace(0, 1, 40)[:, None] * np.ones((1, M))]).astype(np.float32)   # a 40-row chain
    F[rng.random(len(F)) < 0.03, 0] = np.nan
    F[5], F[250] = np.inf, -np.inf
    F = F[rng.permutation(len(F))]
    F[100:110] = F[20]                    # equal rows, far apart after sorting by block
    want = numpy_ranks(F)
    got = np.asarray(jax.jit(pareto.nondominated_ranks, static_argnums=1)(F, block))
    np.testing.assert_array_equal(got, want)
    assert want.max() >= 40               # the chain makes at least 40 fronts


def test_integer_and_bool_fitness_keep_their_values():
    """Integer objectives are compared as integers (2^24 + 1 and 2^24 differ; float32 would tie them)."""
    F = np.array([[2 ** 24 + 1, 0], [2 ** 24, 0], [0, 1]], np.int32)
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(F)), [0, 1, 0])
    B = np.array([[True, False], [False, False], [True, True]])
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(B)), [1, 2, 0])


def test_stop_after_zero_or_everyone():
    F = random_fitness(26, 30, 2)
    true = ref_ranks(F)
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(F, stop_after=30)), true)
    np.testing.assert_array_equal(np.asarray(pareto.nondominated_ranks(F, stop_after=0)), np.zeros(30))
