"""Declarative hyper-parameter search spaces and their genomes.

A :class:`Space` is an ordered tuple of genes. A :func:`choice` gene takes one of a finite tuple of
values (ints, floats or names) and is stored as the **index** of the value; a :func:`uniform` /
:func:`log_uniform` gene is continuous and is stored as a **code** ``c`` in ``[-1, 1]`` that decodes
linearly (or log-linearly) onto ``[low, high]``.

A population of genomes is the pytree ``{"discrete": int32[P, Gd], "continuous": float32[P, Gc]}``
(a key is present only when the space has genes of that kind), so the core GA operators apply
unchanged:

* crossover: :func:`evojax_ga.crossover.uniform` — every gene from either parent;
* mutation: :func:`evojax_ga.mutation.categorical` on the discrete leaf (resample the index to
  ``U{0..card-1}``) and :func:`evojax_ga.mutation.reset` with ``swap_max=1`` on the continuous leaf
  (resample the code to ``U(-1, 1)``, i.e. a fresh uniform / log-uniform value) — both are
  "resample a gene to a random allowed value" (Harvey 2017, "Let's evolve a neural network with a
  genetic algorithm").

For brute force, a continuous gene is laid on ``grid`` evenly spaced codes (log-evenly spaced
values for a log gene); :meth:`Space.grid` enumerates every combination.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga import crossover as xo
from evojax_ga import mutation as mu
from evojax_ga._checks import check_int, check_prob

__all__ = ["Gene", "Space", "choice", "uniform", "log_uniform", "harvey_space", "digits_space",
           "default_space", "on_leaf"]

Genomes = dict[str, jax.Array]


class Gene(NamedTuple):
    """One gene. ``kind`` is ``"choice"`` (``values``) or ``"continuous"`` (``low``, ``high``, ``log``).

    grid: number of evenly spaced points used by :meth:`Space.grid` (continuous genes only).
    """
    name: str
    kind: str
    values: tuple = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    grid: int = 0

    @property
    def cardinality(self) -> int:
        """Number of values for a choice gene, grid points for a continuous one."""
        return len(self.values) if self.kind == "choice" else self.grid

    def grid_codes(self) -> np.ndarray:
        """The brute-force codes of a continuous gene, ``[grid]`` float32 in [-1, 1]."""
        if self.grid == 1:
            return np.zeros((1,), np.float32)
        return np.linspace(-1.0, 1.0, self.grid, dtype=np.float32)

    def decode_code(self, code: Any) -> Any:
        """Code in [-1, 1] -> value in [low, high] (jnp or np arrays; float32)."""
        xp = jnp if isinstance(code, jax.Array) else np
        u = (xp.clip(xp.asarray(code, xp.float32), -1.0, 1.0) + 1.0) * 0.5
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return xp.exp(lo + u * (hi - lo)).astype(xp.float32)
        return (self.low + u * (self.high - self.low)).astype(xp.float32)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"gene name must be a Python identifier string, got {name!r}")
    return name


def choice(name: str, values: Sequence[Any]) -> Gene:
    """A discrete gene: one of ``values`` (distinct ints, floats or strings), stored as its index."""
    name = _check_name(name)
    vals = tuple(values) if not isinstance(values, (str, bytes)) else None
    if not vals:
        raise ValueError(f"values of gene {name!r} must be a non-empty sequence, got {values!r}")
    if len(set(vals)) != len(vals):
        raise ValueError(f"values of gene {name!r} must be distinct, got {vals!r}")
    kinds = {type(v) for v in vals}
    ok = all(isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in vals)
    if not ok or (str in kinds and len(kinds) > 1):
        raise ValueError(f"values of gene {name!r} must be all strings or all numbers, got {vals!r}")
    return Gene(name, "choice", values=vals)


def uniform(name: str, low: float, high: float, grid: int = 5) -> Gene:
    """A continuous gene, uniform on ``[low, high]``; ``grid`` points for brute force."""
    return _continuous(name, low, high, False, grid)


def log_uniform(name: str, low: float, high: float, grid: int = 5) -> Gene:
    """A continuous gene, log-uniform on ``[low, high]`` (``0 < low < high``); ``grid`` points for
    brute force (log-evenly spaced, ends included)."""
    return _continuous(name, low, high, True, grid)


def _continuous(name: str, low: float, high: float, log: bool, grid: int) -> Gene:
    name = _check_name(name)
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"gene {name!r} needs finite low < high, got low={low}, high={high}")
    if log and low <= 0:
        raise ValueError(f"log-uniform gene {name!r} needs low > 0, got low={low}")
    grid = check_int(grid, f"grid of gene {name!r}", minimum=1)
    return Gene(name, "continuous", low=low, high=high, log=log, grid=grid)


def on_leaf(mutation: mu.Mutation, leaf: str) -> mu.Mutation:
    """Apply a core mutation to one key of a dict population only (params shared, so the GA can set
    a per-row ``rate``)."""
    def apply(key, params, pop, row_offset=0):
        if leaf not in pop:
            return pop
        return {**pop, leaf: mutation.apply(key, params, {leaf: pop[leaf]}, row_offset)[leaf]}
    return mu.Mutation(mutation.params, apply, f"{mutation.name}@{leaf}")


class Space:
    """An ordered set of genes; genomes are ``{"discrete": int32[P, Gd], "continuous": float32[P, Gc]}``.

    Genes keep their declaration order in :meth:`to_configs`; inside the genome the discrete genes
    come first (in order), then the continuous ones.
    """

    def __init__(self, genes: Sequence[Gene]):
        genes = tuple(genes)
        if not genes:
            raise ValueError("a Space needs at least one gene, got none")
        for g in genes:
            if not isinstance(g, Gene):
                raise TypeError(f"Space genes must be Gene objects (from choice/uniform/log_uniform), got {g!r}")
        names = [g.name for g in genes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"gene names must be unique, got duplicates {dup}")
        self.genes: tuple[Gene, ...] = genes
        self.discrete: tuple[Gene, ...] = tuple(g for g in genes if g.kind == "choice")
        self.continuous: tuple[Gene, ...] = tuple(g for g in genes if g.kind == "continuous")
        self.names: tuple[str, ...] = tuple(names)

    # -- description -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = []
        for g in self.genes:
            if g.kind == "choice":
                parts.append(f"{g.name}={list(g.values)}")
            else:
                parts.append(f"{g.name}~{'log' if g.log else ''}U[{g.low:g}, {g.high:g}]")
        return "Space(" + ", ".join(parts) + ")"

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def gene(self, name: str) -> Gene:
        """The gene called ``name``."""
        for g in self.genes:
            if g.name == name:
                return g
        raise KeyError(f"no gene {name!r} in {self!r}")

    @property
    def grid_size(self) -> int:
        """Number of configurations :meth:`grid` enumerates (product of cardinalities)."""
        return int(np.prod([g.cardinality for g in self.genes], dtype=np.int64))

    @property
    def cardinalities(self) -> np.ndarray:
        """``[Gd]`` int32: number of values of each discrete gene."""
        return np.array([len(g.values) for g in self.discrete], np.int32)

    # -- genomes ------------------------------------------------------------------------------------
    def sample(self, key: jax.Array, n: int) -> Genomes:
        """``n`` random genomes: each index ``U{0..card-1}``, each code ``U(-1, 1)``."""
        n = check_int(n, "n", minimum=1)
        k_d, k_c = jax.random.split(key)
        out = {}
        if self.discrete:
            u = jax.random.uniform(k_d, (n, len(self.discrete)), jnp.float32)
            card = jnp.asarray(self.cardinalities)
            out["discrete"] = jnp.minimum((u * card).astype(jnp.int32), card - 1)
        if self.continuous:
            out["continuous"] = jax.random.uniform(k_c, (n, len(self.continuous)), jnp.float32, -1.0, 1.0)
        return out

    def grid(self) -> Genomes:
        """Every configuration of the space (continuous genes on their grid codes), in
        lexicographic order of declaration; leaves ``[grid_size, G]``."""
        axes = [range(len(g.values)) if g.kind == "choice" else list(g.grid_codes()) for g in self.genes]
        rows = list(itertools.product(*axes))
        di = [i for i, g in enumerate(self.genes) if g.kind == "choice"]
        ci = [i for i, g in enumerate(self.genes) if g.kind == "continuous"]
        out = {}
        if di:
            out["discrete"] = jnp.asarray(np.array([[r[i] for i in di] for r in rows], np.int32))
        if ci:
            out["continuous"] = jnp.asarray(np.array([[r[i] for i in ci] for r in rows], np.float32))
        return out

    def validate(self, genomes: Genomes, name: str = "genomes") -> int:
        """Check structure and shapes; returns P. Raises ValueError naming what is wrong."""
        if not isinstance(genomes, dict):
            raise TypeError(f"{name} must be a dict with keys 'discrete'/'continuous', got {type(genomes).__name__}")
        want = ({"discrete"} if self.discrete else set()) | ({"continuous"} if self.continuous else set())
        if set(genomes) != want:
            raise ValueError(f"{name} must have keys {sorted(want)} for {self!r}, got {sorted(genomes)}")
        sizes = set()
        for k, g in (("discrete", self.discrete), ("continuous", self.continuous)):
            if k in genomes:
                shape = tuple(np.shape(genomes[k]))
                if len(shape) != 2 or shape[1] != len(g):
                    raise ValueError(f"{name}[{k!r}] must have shape [P, {len(g)}], got {list(shape)}")
                sizes.add(shape[0])
        if len(sizes) != 1:
            raise ValueError(f"{name} leaves must share the population size, got {sorted(sizes)}")
        return sizes.pop()

    def in_bounds(self, genomes: Genomes) -> np.ndarray:
        """``[P]`` bool (host): every index in ``[0, card)`` and every code in ``[-1, 1]``."""
        P = self.validate(genomes)
        ok = np.ones((P,), bool)
        if self.discrete:
            d = np.asarray(genomes["discrete"])
            ok &= np.all((d >= 0) & (d < self.cardinalities[None, :]), axis=1)
        if self.continuous:
            c = np.asarray(genomes["continuous"])
            ok &= np.all(np.isfinite(c) & (c >= -1.0) & (c <= 1.0), axis=1)
        return ok

    def keys(self, genomes: Genomes) -> list[tuple]:
        """Hashable cache keys, one per genome (host): discrete indices then continuous codes."""
        P = self.validate(genomes)
        d = np.asarray(genomes["discrete"]).tolist() if self.discrete else [[] for _ in range(P)]
        c = np.asarray(genomes["continuous"], np.float32).tolist() if self.continuous else [[] for _ in range(P)]
        return [tuple(int(v) for v in a) + tuple(float(v) for v in b) for a, b in zip(d, c)]

    def from_keys(self, keys: Sequence[tuple]) -> Genomes:
        """Inverse of :meth:`keys`: genomes ``[len(keys), G]`` from cache keys."""
        nd = len(self.discrete)
        out = {}
        if self.discrete:
            out["discrete"] = jnp.asarray(np.array([k[:nd] for k in keys], np.int32).reshape(len(keys), nd))
        if self.continuous:
            out["continuous"] = jnp.asarray(np.array([k[nd:] for k in keys], np.float32)
                                            .reshape(len(keys), len(self.continuous)))
        return out

    def decode(self, genomes: Genomes) -> dict[str, jax.Array]:
        """Gene values as arrays ``[P]`` (traceable): numeric choices and continuous genes give their
        values (float32, or int32 when every choice is an int); name choices give the index (int32)."""
        out = {}
        for j, g in enumerate(self.discrete):
            idx = jnp.asarray(genomes["discrete"])[..., j]
            if isinstance(g.values[0], str):
                out[g.name] = idx.astype(jnp.int32)
            elif all(isinstance(v, (int, np.integer)) for v in g.values):
                out[g.name] = jnp.asarray(np.array(g.values, np.int32))[idx]
            else:
                out[g.name] = jnp.asarray(np.array(g.values, np.float32))[idx]
        for j, g in enumerate(self.continuous):
            out[g.name] = g.decode_code(jnp.asarray(genomes["continuous"])[..., j])
        return out

    def to_configs(self, genomes: Genomes) -> list[dict[str, Any]]:
        """Human-readable configurations (host), genes in declaration order."""
        keys = self.keys(genomes)
        nd = len(self.discrete)
        configs = []
        for k in keys:
            d = dict(zip((g.name for g in self.discrete), k[:nd]))
            c = dict(zip((g.name for g in self.continuous), k[nd:]))
            cfg = {}
            for g in self.genes:
                if g.kind == "choice":
                    v = g.values[d[g.name]]
                    cfg[g.name] = v.item() if isinstance(v, np.generic) else v
                else:
                    cfg[g.name] = float(g.decode_code(np.float32(c[g.name])))
            configs.append(cfg)
        return configs

    def encode(self, configs: Sequence[dict[str, Any]]) -> Genomes:
        """Genomes from configurations (inverse of :meth:`to_configs`; continuous values are encoded
        to their code). Raises ValueError for a value the space does not allow."""
        keys = []
        for cfg in configs:
            missing = [n for n in self.names if n not in cfg]
            if missing:
                raise ValueError(f"configuration {cfg!r} lacks genes {missing}")
            d, c = [], []
            for g in self.discrete:
                if cfg[g.name] not in g.values:
                    raise ValueError(f"gene {g.name!r} must be one of {list(g.values)}, got {cfg[g.name]!r}")
                d.append(g.values.index(cfg[g.name]))
            for g in self.continuous:
                v = float(cfg[g.name])
                if not (g.low <= v <= g.high):
                    raise ValueError(f"gene {g.name!r} must be in [{g.low}, {g.high}], got {v!r}")
                if g.log:
                    u = (math.log(v) - math.log(g.low)) / (math.log(g.high) - math.log(g.low))
                else:
                    u = (v - g.low) / (g.high - g.low)
                c.append(float(np.float32(2.0 * u - 1.0)))
            keys.append(tuple(d) + tuple(c))
        return self.from_keys(keys)

    # -- operators ----------------------------------------------------------------------------------
    def crossover(self, prob: float = 0.5) -> xo.Crossover:
        """Per-gene crossover: each gene from parent ``b`` with probability ``prob``, else ``a``."""
        return xo.uniform(prob)

    def mutation(self, rate: float = 0.1) -> mu.Mutation:
        """Each gene is resampled to a random allowed value with probability ``rate`` (the new value
        may equal the old one, as in Harvey's code). Discrete: ``categorical``; continuous: ``reset``
        of the code to ``U(-1, 1)``."""
        check_prob(rate, "rate")
        parts = []
        if self.discrete:
            parts.append(on_leaf(mu.categorical({"discrete": self.cardinalities}, rate), "discrete"))
        if self.continuous:
            parts.append(on_leaf(mu.reset(rate, swap_max=1.0), "continuous"))
        return mu.chain(*parts)


# ------------------------------------------------------------------------------------------------
# ready-made spaces
# ------------------------------------------------------------------------------------------------
ACTIVATION_NAMES = ("relu", "elu", "tanh", "sigmoid", "gelu")
OPTIMIZER_NAMES = ("sgd", "momentum", "adam", "adamax", "rmsprop", "adagrad")


def harvey_space(widths: Sequence[int] = (64, 128, 256, 512, 768, 1024), depths: Sequence[int] = (1, 2, 3, 4),
                 activations: Sequence[str] = ACTIVATION_NAMES,
                 optimizers: Sequence[str] = OPTIMIZER_NAMES) -> Space:
    """The seed article's four genes: depth, width, activation, optimizer (4 x 6 x 5 x 6 = 720)."""
    return Space([choice("depth", depths), choice("width", widths), choice("activation", activations),
                  choice("optimizer", optimizers)])


def digits_space() -> Space:
    """Harvey's four genes with his widths divided by 8 for the 64-input digits task
    (8, 16, 32, 64, 96, 128; 4 x 6 x 5 x 6 = 720 configurations)."""
    return harvey_space(widths=(8, 16, 32, 64, 96, 128))


def default_space(max_width: int = 1024) -> Space:
    """Harvey's genes plus a log-uniform learning rate in [1e-4, 1e-1] (5 grid points).

    Batch size is not in the default space: under ``vmap`` every candidate runs the step loop of
    the smallest batch with the largest batch's rows (masked), so a batch gene multiplies the cost
    of every candidate by ``max(batch) / min(batch)``; add ``choice("batch_size", ...)`` to opt in.
    """
    widths = tuple(w for w in (64, 128, 256, 512, 768, 1024) if w <= max_width) or (max_width,)
    return Space([choice("depth", (1, 2, 3, 4)), choice("width", widths),
                  choice("activation", ACTIVATION_NAMES), choice("optimizer", OPTIMIZER_NAMES),
                  log_uniform("learning_rate", 1e-4, 1e-1, grid=5)])
