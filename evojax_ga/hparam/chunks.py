"""Training many genomes through one compiled program, a fixed number of candidates at a time.

:func:`train_in_chunks` cuts a population of genomes into chunks of one size (the last one padded),
so the program that :meth:`~evojax_ga.hparam.train.CandidateTrainer.compile` built for that size
serves every call.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.chunking import map_chunks
from evojax_ga.data import Dataset
from evojax_ga.hparam.space import Genomes
from evojax_ga.hparam.train import CandidateTrainer

__all__ = ["train_in_chunks"]


def train_in_chunks(trainer: CandidateTrainer, key: jax.Array, genomes: Genomes, data: Dataset, chunk_size: int,
                    callback: Callable[[int, int], Any] | None = None,
                    train_fn: Callable | None = None,
                    on_result: Callable[[int, int, dict], Any] | None = None) -> dict[str, np.ndarray]:
    """Train ``genomes`` ``chunk_size`` at a time (:func:`~evojax_ga.chunking.map_chunks` in a host
    loop, ``last="pad"``: the last chunk padded with copies of the last genome, whose results are
    dropped), so one compiled program serves every call. Returns host arrays ``[P]`` of the scalar
    metrics (``params`` never leave the device here).

    callback(done, total) after every chunk (progress bars); train_fn: a compiled program from
    ``trainer.compile(key, chunk_size, data)`` (default: ``trainer.train``); on_result(start, n, result)
    gets every chunk's raw result (device arrays, first ``n`` rows valid), e.g. to keep the best
    network's ``params``.
    """
    train_fn = trainer.train if train_fn is None else train_fn
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    P = trainer.space.validate(genomes)

    def one(part: Genomes, rows: np.ndarray) -> dict[str, np.ndarray]:
        start = int(rows[0])
        n = min(chunk_size, P - start)
        res = train_fn(key, part, data)
        if on_result is not None:
            on_result(start, n, res)
        if callback is not None:
            callback(start + n, P)
        return {k: np.asarray(v) for k, v in res.items() if k != "params"}

    return map_chunks(one, genomes, chunk_size, last="pad", loop="python")
