import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src.random.threefry2x32 import threefry_2x32

from evojax_ga import prng


def test_threefry_20_rounds_matches_jax():
    k = jnp.array([0x13198A2E, 0x03707344], jnp.uint32)
    c0 = jnp.arange(7, dtype=jnp.uint32)
    c1 = jnp.arange(7, dtype=jnp.uint32) * 977 + 5
    ref = np.asarray(threefry_2x32(k, jnp.concatenate([c0, c1])))
    h0, h1 = prng.threefry2x32(k[0], k[1], c0, c1, rounds=20)
    np.testing.assert_array_equal(np.concatenate([h0, h1]), ref)


def test_row_offset_reproduces_slices(key):
    full0, full1 = prng.counter_bits(key, (10, 3, 4))
    part0, part1 = prng.counter_bits(key, (6, 3, 4), row_offset=4)
    np.testing.assert_array_equal(full0[4:], part0)
    np.testing.assert_array_equal(full1[4:], part1)
    assert not np.array_equal(full0[:6], part0)


def test_different_keys_and_positions_differ(key):
    a, _ = prng.counter_bits(key, (4, 100))
    b, _ = prng.counter_bits(jax.random.fold_in(key, 1), (4, 100))
    assert np.mean(np.asarray(a) == np.asarray(b)) < 0.01
    assert len(np.unique(np.asarray(a))) == 400


def test_unit_and_normal_distributions(key):
    h0, h1 = prng.counter_bits(key, (200, 1000))
    u = np.asarray(prng.bits_to_unit(h0))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005
    z = np.asarray(prng.bits_to_normal(h1))
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    # fourth moment of a normal is 3
    assert abs(np.mean(z ** 4) - 3.0) < 0.1


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.97, 1.0])
def test_bernoulli_frequency(key, p):
    h0, _ = prng.counter_bits(key, (100, 1000))
    m = np.asarray(prng.bernoulli_from_bits(h0, p))
    n = m.size
    if p in (0.0, 1.0):
        assert m.mean() == p
    else:
        assert abs(m.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_raw_uint32_key_and_bad_key():
    k = jnp.array([1, 2], jnp.uint32)
    a, _ = prng.counter_bits(k, (2, 3))
    assert a.shape == (2, 3)
    with pytest.raises(TypeError, match="key"):
        prng.counter_bits(jnp.array([1, 2, 3], jnp.uint32), (2, 3))


def test_row_vector_selects_global_rows(key):
    full0, _ = prng.counter_bits(key, (10, 4))
    rows = jnp.array([7, 2, 2, 9])
    sub0, _ = prng.counter_bits(key, (4, 4), row_offset=rows)
    np.testing.assert_array_equal(sub0, np.asarray(full0)[np.asarray(rows)])
    with pytest.raises(ValueError, match="row_offset must be a scalar"):
        prng.counter_bits(key, (4, 4), row_offset=jnp.arange(3))


def test_map_genes_fused_loop_gives_the_per_leaf_bits():
    """One fused loop over all leaves draws exactly the bits of the per-leaf loops (and of
    counter_bits under fold_in(key, j)), for scalar and per-row offsets."""
    key = jax.random.key(3)
    leaves = [jnp.zeros((5, 3, 4)), jnp.zeros((5, 7)), jnp.zeros((5, 2, 2, 2))]
    fn = lambda x, h0, h1: (h0 ^ (h1 >> 1)).astype(jnp.float32) + x  # noqa: E731
    for offset in (0, 11, jnp.array([9, 2, 4, 0, 30])):
        fused = prng.map_genes(key, (leaves,), offset, fn, fuse=True)
        split = prng.map_genes(key, (leaves,), offset, fn, fuse=False)
        for j, (f, s, x) in enumerate(zip(fused, split, leaves)):
            assert f.shape == x.shape
            np.testing.assert_array_equal(np.asarray(f), np.asarray(s))
            h0, h1 = prng.counter_bits(jax.random.fold_in(key, j), x.shape, offset)
            np.testing.assert_array_equal(np.asarray(f), np.asarray((h0 ^ (h1 >> 1)).astype(jnp.float32)))
    # the default fuses small populations of one dtype and leaves a mixed-dtype one per leaf
    mixed = [jnp.zeros((5, 3), jnp.int32), jnp.zeros((5, 2), jnp.float32)]
    out = prng.map_genes(key, (mixed,), 0, lambda x, h0, h1: x + (h0 & 1).astype(x.dtype))
    assert [o.dtype for o in out] == [jnp.int32, jnp.float32]
    with pytest.raises(ValueError, match="one dtype"):
        prng.map_genes(key, (mixed,), 0, lambda x, h0, h1: x, fuse=True)
