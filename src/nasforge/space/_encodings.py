"""Fixed-length encodings of architectures for predictors and Bayesian optimisation.

Predictor-based strategies (BANANAS, GP-BO) learn from vectors, and how a cell is turned into a
vector matters as much as the model (White, Neiswanger, Nolen & Savani 2020, "A Study on Encodings
for Neural Architecture Search", NeurIPS, https://arxiv.org/abs/2007.04965). Two encodings of the
NAS-Bench-201 cell are provided, plus the space's own ``encode`` for any other space:

- **path** (:func:`nb201_path_encoding`): BANANAS' path encoding. Every input-to-output path of the
  cell is a sequence of operations; the feature of that sequence is 1 when the cell has such a
  path. The cell has paths of length 1, 2 and 3, hence ``5 + 25 + 125 = 155`` features. A path
  through ``none`` carries nothing and is dropped, so two cells computing the same function up to
  dead edges get the same vector.
- **adjacency** (:func:`nb201_adjacency_encoding`): the one-hot operation of each of the 6 edges,
  30 features.
- **onehot**: ``space.encode(arch)``, the generic fallback every space provides.

Example:
    >>> from nasforge.space._nb201 import nb201_to_arch
    >>> arch = nb201_to_arch("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    >>> int(nb201_path_encoding(arch).sum())
    0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem
from nasforge.space._nb201 import NB201_DECISIONS, NB201_OPS, NB201Space, arch_to_nb201
from nasforge.space.base import SearchSpace

EncodingKind = Literal["path", "adjacency", "onehot"]
"""The encodings :func:`encoding_for` knows."""

Encoder = Callable[[Architecture], np.ndarray]

_N_OPS = len(NB201_OPS)
_OP_INDEX = {op: i for i, op in enumerate(NB201_OPS)}
_NONE = _OP_INDEX["none"]
NB201_PATH_LENGTH = _N_OPS + _N_OPS**2 + _N_OPS**3
"""Length of the NB201 path encoding: 155."""
NB201_ADJACENCY_LENGTH = _N_OPS * len(NB201_DECISIONS)
"""Length of the NB201 adjacency encoding: 30."""

# The cell's input-to-output paths as tuples of decision names (node 0 -> ... -> node 3).
_PATHS: tuple[tuple[str, ...], ...] = (
    ("cell.edge_3_0",),
    ("cell.edge_1_0", "cell.edge_3_1"),
    ("cell.edge_2_0", "cell.edge_3_2"),
    ("cell.edge_1_0", "cell.edge_2_1", "cell.edge_3_2"),
)
# First feature of the paths of each length: length 1 at 0, length 2 at 5, length 3 at 30.
_OFFSET = {1: 0, 2: _N_OPS, 3: _N_OPS + _N_OPS**2}


def _ops(arch: Mapping[str, Any]) -> dict[str, int]:
    arch_to_nb201(arch)  # raises a clear error when a decision is missing
    ops = {}
    for name in NB201_DECISIONS:
        op = arch[name]
        if op not in _OP_INDEX:
            raise ConfigError(
                [Problem(name, f"unknown NB201 operation {op!r}", f"use one of {list(NB201_OPS)}")]
            )
        ops[name] = _OP_INDEX[op]
    return ops


def nb201_path_features(arch: Mapping[str, Any]) -> list[int]:
    """Indices of the path features that are 1 (sorted, unique): the sparse path encoding."""
    ops = _ops(arch)
    active = set()
    for path in _PATHS:
        codes = [ops[name] for name in path]
        if _NONE in codes:
            continue
        index = 0
        for code in codes:
            index = index * _N_OPS + code
        active.add(_OFFSET[len(codes)] + index)
    return sorted(active)


def nb201_path_encoding(arch: Mapping[str, Any]) -> np.ndarray:
    """BANANAS' path encoding of an NB201 cell: 155 indicators over operation sequences.

    Feature ``offset(L) + sum(op_k * 5**(L-1-k))`` is 1 when the cell has an input-to-output path
    of length ``L`` with operations ``op_0 .. op_{L-1}`` (indices in :data:`NB201_OPS`). Paths
    through ``none`` are dropped, so features naming ``none`` are always 0.
    """
    out = np.zeros(NB201_PATH_LENGTH, dtype=np.float32)
    out[nb201_path_features(arch)] = 1.0
    return out


def nb201_adjacency_encoding(arch: Mapping[str, Any]) -> np.ndarray:
    """The one-hot operation of each edge, in NB201's edge order: 30 features."""
    ops = _ops(arch)
    out = np.zeros((len(NB201_DECISIONS), _N_OPS), dtype=np.float32)
    for row, name in enumerate(NB201_DECISIONS):
        out[row, ops[name]] = 1.0
    return out.reshape(-1)


def encoding_for(space: SearchSpace, kind: EncodingKind = "path") -> Encoder:
    """A function turning architectures of ``space`` into fixed-length float vectors.

    ``path`` and ``adjacency`` are the NB201 cell encodings above when ``space`` is an
    :class:`~nasforge.space._nb201.NB201Space`; for any other space they fall back to
    ``space.encode`` (the ``onehot`` kind), which every space provides.

    Raises:
        ConfigError: ``kind`` is not one of ``path``, ``adjacency``, ``onehot``.
    """
    if kind not in ("path", "adjacency", "onehot"):
        raise ConfigError(
            [Problem("encoding", f"unknown encoding {kind!r}", "use path, adjacency or onehot")]
        )
    if isinstance(space, NB201Space):
        if kind == "path":
            return nb201_path_encoding
        if kind == "adjacency":
            return nb201_adjacency_encoding

    def encode(arch: Architecture) -> np.ndarray:
        return np.asarray(space.encode(arch), dtype=np.float32).reshape(-1)

    return encode
