"""NB201 path/adjacency encodings and the generic fallback."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.space._encodings import (
    NB201_ADJACENCY_LENGTH,
    NB201_PATH_LENGTH,
    encoding_for,
    nb201_adjacency_encoding,
    nb201_path_encoding,
    nb201_path_features,
)
from nasforge.space._nb201 import NB201_OPS, NB201Space, nb201_to_arch
from nasforge.testing.toys import ToySpace

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_SKIP = (
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|"
    "+|skip_connect~0|skip_connect~1|skip_connect~2|"
)
SKIP = NB201_OPS.index("skip_connect")


def test_lengths() -> None:
    assert NB201_PATH_LENGTH == 155
    assert NB201_ADJACENCY_LENGTH == 30
    arch = nb201_to_arch(ALL_SKIP)
    assert nb201_path_encoding(arch).shape == (155,)
    assert nb201_adjacency_encoding(arch).shape == (30,)


def test_all_none_cell_has_no_paths() -> None:
    assert not nb201_path_encoding(nb201_to_arch(ALL_NONE)).any()


def test_all_skip_cell_has_one_path_per_length() -> None:
    # Paths: skip (length 1), skip-skip twice (same feature), skip-skip-skip.
    expected = [SKIP, 5 + SKIP * 5 + SKIP, 30 + SKIP * 25 + SKIP * 5 + SKIP]
    assert nb201_path_features(nb201_to_arch(ALL_SKIP)) == expected
    assert nb201_path_encoding(nb201_to_arch(ALL_SKIP)).sum() == 3


def test_paths_through_none_are_dropped() -> None:
    # Only edge 3_0 is alive: one path of length 1, conv3x3.
    arch = nb201_to_arch("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert nb201_path_features(arch) == [NB201_OPS.index("nor_conv_3x3")]
    # A dead end (node 1 feeds nothing) leaves no path.
    dead = nb201_to_arch("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert nb201_path_features(dead) == []


def test_path_feature_index_follows_op_order() -> None:
    arch = nb201_to_arch(
        "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"
    )
    ops = [NB201_OPS.index(o) for o in ("nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3")]
    assert nb201_path_features(arch) == [30 + ops[0] * 25 + ops[1] * 5 + ops[2]]


def test_adjacency_is_one_hot_per_edge() -> None:
    arch = nb201_to_arch(ALL_SKIP)
    code = nb201_adjacency_encoding(arch).reshape(6, 5)
    assert (code.sum(1) == 1).all()
    assert (code[:, SKIP] == 1).all()


def test_missing_decision_is_an_error() -> None:
    with pytest.raises(InvalidArchitectureError, match="missing"):
        nb201_path_encoding({"cell.edge_1_0": "none"})


def test_encoding_for_nb201_and_fallback() -> None:
    space = NB201Space(dims=1, cells_per_stage=1)
    arch = nb201_to_arch(ALL_SKIP)
    assert encoding_for(space, "path")(arch).shape == (155,)
    assert encoding_for(space, "adjacency")(arch).shape == (30,)
    toy = ToySpace()
    toy_arch = toy.sample(np.random.default_rng(0))
    for kind in ("path", "adjacency", "onehot"):
        np.testing.assert_array_equal(encoding_for(toy, kind)(toy_arch), toy.encode(toy_arch))
    with pytest.raises(ConfigError, match="unknown encoding"):
        encoding_for(space, "graph")  # type: ignore[arg-type]


def test_distinct_path_encodings_of_the_whole_space() -> None:
    space = NB201Space(dims=1, cells_per_stage=1)
    codes = np.stack([nb201_path_encoding(a) for a in space.enumerate()])
    assert codes.shape == (15625, 155)
    # Paths naming 'none' never occur; 4 + 16 + 64 features can.
    assert np.flatnonzero(codes.any(0)).size == 84
