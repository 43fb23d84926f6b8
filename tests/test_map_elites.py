"""MAP-Elites: insertion against a brute-force reference, parent draws, QD metrics, a short run, resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga import checkpoint
from evojax_ga import crossover as xo
from evojax_ga import map_elites as me
from evojax_ga.tasks.qd_functions import rastrigin_qd

BINS = (3, 4)


def centers(cells):
    """Descriptors in [0, 1]^2 at the centres of the given cells of the BINS grid."""
    i, j = np.divmod(np.asarray(cells), BINS[1])
    return np.stack([(i + 0.5) / BINS[0], (j + 0.5) / BINS[1]], axis=1).astype(np.float32)


def reference_insert(arch_f, arch_id, cells, f, ids):
    """One Python loop per cell: the batch's best (first on a tie) replaces a strictly worse incumbent."""
    arch_f, arch_id = arch_f.copy(), arch_id.copy()
    for c in range(arch_f.shape[0]):
        rows = [i for i in range(len(f)) if cells[i] == c and not np.isnan(f[i]) and f[i] > -np.inf]
        if not rows:
            continue
        best = max(f[i] for i in rows)
        first = next(i for i in rows if f[i] == best)
        if best > arch_f[c]:
            arch_f[c], arch_id[c] = best, ids[first]
    return arch_f, arch_id


def test_insert_keeps_exactly_the_best_per_cell_against_a_reference():
    rng = np.random.default_rng(0)
    s = me.map_elites((0.0, 0.0), (1.0, 1.0), BINS)
    B, C = 40, BINS[0] * BINS[1]
    st = s.init(jax.random.key(0), jnp.zeros((B, 1)))
    tell = jax.jit(s.tell)
    arch_f, arch_id = np.full(C, -np.inf, np.float32), np.full(C, -1.0, np.float32)
    for r in range(6):
        cells = rng.integers(0, C - 2, B)                          # collisions; the last 2 cells stay empty
        f = rng.integers(-3, 3, B).astype(np.float32)              # many ties, within and across batches
        f[rng.random(B) < 0.15] = np.nan
        f[rng.random(B) < 0.05] = -np.inf
        ids = (100 * r + np.arange(B)).astype(np.float32)
        st = tell(st, jnp.asarray(ids)[:, None], jnp.asarray(f), jnp.asarray(centers(cells)))
        arch_f, arch_id = reference_insert(arch_f, arch_id, cells, f, ids)
        np.testing.assert_array_equal(np.asarray(st.archive_fitness), arch_f)
        filled = arch_f > -np.inf
        np.testing.assert_array_equal(np.asarray(st.filled), filled)
        np.testing.assert_array_equal(np.asarray(st.archive)[filled, 0], arch_id[filled])
        np.testing.assert_array_equal(np.asarray(st.archive)[~filled, 0], 0.0)
        np.testing.assert_array_equal(np.asarray(st.descriptors)[filled], centers(np.flatnonzero(filled)))
        assert np.all(np.isnan(np.asarray(st.descriptors)[~filled]))
    assert int(st.generation) == 6 and float(st.best_fitness) == np.nanmax(arch_f)


def test_grid_cells_clip_at_the_edges_and_nan_descriptors_never_enter():
    d = jnp.array([[-10.0, 0.5], [0.0, 0.0], [1.0, 1.0], [0.999, 0.26], [7.0, -3.0]])
    np.testing.assert_array_equal(np.asarray(me.grid_cells(d, (0, 0), (1, 1), (2, 4))), [2, 0, 7, 5, 4])
    s = me.map_elites((0.0, 0.0), (1.0, 1.0), BINS)
    st = s.init(jax.random.key(0), jnp.zeros((2, 1)))
    st = jax.jit(s.tell)(st, jnp.ones((2, 1)), jnp.array([5.0, 1.0]), jnp.array([[jnp.nan, 0.1], [0.1, 0.1]]))
    assert int(jnp.sum(st.filled)) == 1 and float(st.archive_fitness[0]) == 1.0


def test_parents_come_only_from_filled_cells(key):
    s = me.map_elites((0.0, 0.0), (1.0, 1.0), BINS, crossover=xo.none())
    B = 3000
    st = s.init(key, jnp.zeros((B, 1)))
    full = np.array([1, 4, 5, 10])
    cells = np.resize(full, B)
    tell, ask = jax.jit(s.tell), jax.jit(s.ask)
    st = tell(st, jnp.asarray(cells, jnp.float32)[:, None], jnp.zeros(B), jnp.asarray(centers(cells)))
    children, _ = ask(jax.random.fold_in(key, 1), st)
    c = np.asarray(children)[:, 0]
    counts = np.array([np.sum(c == v) for v in full])
    assert counts.sum() == B and np.all(np.abs(counts / B - 0.25) < 0.04)   # uniform over filled cells
    # while no cell is filled (all NaN) the parents come from the last batch
    st = s.init(key, jnp.arange(B, dtype=jnp.float32)[:, None] + 1)
    st = tell(st, st.population, jnp.full(B, jnp.nan), jnp.asarray(centers(cells)))
    children, _ = ask(key, st)
    assert not bool(jnp.any(st.filled)) and np.all(np.asarray(children) >= 1)


def test_qd_metrics_on_a_hand_made_archive():
    f = jnp.array([1.0, -jnp.inf, 3.0, -2.0])
    m = me.qd_metrics(f, f > -jnp.inf, qd_offset=-1.0)
    assert float(m["coverage"]) == 0.75 and int(m["filled"]) == 3
    assert float(m["qd_score"]) == 2.0 + 4.0 + 0.0 and float(m["archive_best"]) == 3.0   # max(-2 + 1, 0) = 0


def test_short_run_fills_the_grid_and_resume_is_bit_identical(tmp_path):
    task = rastrigin_qd(6)
    s = me.map_elites(task.lower, task.upper, 10, qd_offset=task.min_fitness)
    pop = jax.random.uniform(jax.random.key(0), (32, 6), minval=-1.0, maxval=1.0)
    key = jax.random.key(3)
    full, hist = ega.evolve(key, s, task, pop, generations=20, block=5, progress=False)
    cov, qd = hist["coverage"], hist["qd_score"]
    assert np.all(np.diff(qd) >= 0) and np.all(np.diff(cov) >= 0)
    assert cov[-1] > 2 * cov[0] and qd[-1] > 2 * qd[0] and "descriptors" not in hist
    half, _ = ega.evolve(key, s, task, pop, generations=10, block=5, progress=False)
    path = checkpoint.save(tmp_path, half)
    restored, meta = checkpoint.load(path, s.init(key, pop))
    assert isinstance(restored, me.MapElitesState) and meta["generation"] == 10
    resumed, _ = ega.evolve(key, s, task, restored, generations=10, block=5, progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_input_gives_one_line_errors_naming_the_argument():
    with pytest.raises(ValueError, match=r"^bins\[1\] must be >= 1, got 0$"):
        me.map_elites((0, 0), (1, 1), (4, 0))
    with pytest.raises(ValueError, match=r"^lower\[0\] must be finite and < upper\[0\], got lower\[0\]=1.0"):
        me.map_elites((1, 0), (1, 1), 4)
    with pytest.raises(ValueError, match="^bins must have 2 entries"):
        me.map_elites((0, 0), (1, 1), (4, 4, 4))
    s = me.map_elites((0, 0), (1, 1), 4)
    st = s.init(jax.random.key(0), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"^descriptors must have shape \[3, 2\] .*got \(3, 3\)$"):
        s.tell(st, st.population, jnp.zeros(3), jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^descriptors must have shape \[B, 2\]"):
        me.grid_cells(jnp.zeros((3,)), (0, 0), (1, 1), 4)
    with pytest.raises(ValueError, match=r"^task: map_elites needs metrics\['descriptors'\]"):
        jax.eval_shape(lambda st: s.step(jax.random.key(0), st, lambda k, p: jnp.zeros(3)), st)


def test_cli_job_writes_a_run_folder_and_a_killed_run_resumes_to_the_same_end(tmp_path):
    import json
    import shutil

    from evojax_ga import cli
    from evojax_ga import run_folder as rf
    full = tmp_path / "full"
    argv = ["run", "map-elites", "--dim", "4", "--bins", "6", "--batch-size", "16", "--generations", "20",
            "--block", "5", "--checkpoint-every", "5", "--no-progress", "--out"]
    assert cli.main(argv + [str(full)]) == 0
    for name in ("config.json", "metrics.jsonl", "summary.json", "fitness.png", "archive.png"):
        assert (full / name).exists(), name
    killed = tmp_path / "killed"
    shutil.copytree(full, killed)
    (killed / rf.SUMMARY_FILE).unlink()
    (killed / rf.CHECKPOINT_DIR / "ckpt_00000020.msgpack").unlink()   # killed after generation 15's checkpoint
    assert cli.main(["resume", str(killed), "--no-progress"]) == 0
    a, b = rf.read_metrics(full), rf.read_metrics(killed)
    for k in ("coverage", "qd_score", "best_so_far", "inserted", "generation"):
        np.testing.assert_array_equal(a[k], b[k])
    sa, sb = (json.loads((d / rf.SUMMARY_FILE).read_text()) for d in (full, killed))
    assert sb["resumed_from_generation"] == 15 and sa["qd_score"] == sb["qd_score"] and sa["coverage"] > 0.3
    s = me.map_elites((-5.12,) * 2, (5.12,) * 2, 6)
    tmpl = s.init(jax.random.key(0), jnp.zeros((16, 4)))
    ends = [checkpoint.load(d / rf.CHECKPOINT_DIR / "ckpt_00000020.msgpack", tmpl)[0] for d in (full, killed)]
    assert isinstance(ends[0], me.MapElitesState)
    for x, y in zip(jax.tree_util.tree_leaves(ends[0]), jax.tree_util.tree_leaves(ends[1])):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
