"""The chain and MLP spaces: decisions, sizes, options and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasforge.errors import ConfigError
from nasforge.space import SPACES, ChainSpace, MLPSpace
from nasforge.tasks.base import TaskInfo


def test_chain_decisions_and_size() -> None:
    space = ChainSpace(n_stages=2, depths=[1, 2], kernels=[3, 5], activations=["relu"],
                       skips=[True, False], widths=[[8, 16], [16]])
    assert space.decisions == [
        "stage0.depth", "stage0.0.width", "stage0.0.kernel", "stage0.0.skip",
        "stage0.1.width", "stage0.1.kernel", "stage0.1.skip",
        "stage1.depth", "stage1.0.kernel", "stage1.0.skip", "stage1.1.kernel", "stage1.1.skip",
    ]
    stage0, stage1 = 8 + 8**2, 4 + 4**2
    assert space.size == stage0 * stage1


def test_chain_default_widths_double_per_stage() -> None:
    space = ChainSpace()
    assert [space.stage_widths(s) for s in range(3)] == [[16, 32], [32, 64], [64, 128]]
    arch = space.sample(np.random.default_rng(0))
    assert arch["stage2.0.width"] in (64, 128)


def test_chain_downsamples_between_stages() -> None:
    space = ChainSpace(n_stages=3, depths=[1], kernels=[3], activations=["relu"], skips=[False])
    task = TaskInfo(name="s", input_shape=(1, 40), n_classes=10, kind="signal")
    arch = space.sample(np.random.default_rng(0))
    model = space.build(arch, task)
    feats = model.forward_features(torch.randn(2, 1, 40))
    assert feats.shape[-1] == 10  # 40 -> 20 -> 10
    assert model(torch.randn(2, 1, 40)).shape == (2, 10)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_stages": 2, "widths": [[16]]}, "one list of width options per stage"),
        ({"kernels": [3, 4]}, "odd int"),
        ({"activations": ["relu", "nope"]}, "got 'nope'"),
        ({"depths": []}, "non-empty"),
        ({"n_stages": 0}, "n_stages"),
    ],
)
def test_chain_bad_params(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SPACES.create("chain", params)


def test_mlp_decisions_and_size() -> None:
    space = MLPSpace(depths=[1, 2], widths=[8, 16, 32], activations=["relu", "tanh"],
                     dropouts=[0.0, 0.5])
    assert space.decisions == [
        "layers.depth", "layers.0.width", "layers.0.activation", "layers.0.dropout",
        "layers.1.width", "layers.1.activation", "layers.1.dropout",
    ]
    per_layer = 3 * 2 * 2
    assert space.size == per_layer + per_layer**2


def test_mlp_flattens_any_input() -> None:
    space = MLPSpace(norm="batch")
    rng = np.random.default_rng(0)
    for shape in [(7,), (2, 5), (1, 4, 4)]:
        kind = {1: "tabular", 2: "signal", 3: "image"}[len(shape)]
        task = TaskInfo(name="x", input_shape=shape, n_classes=3, kind=kind)  # type: ignore[arg-type]
        model = space.build(space.sample(rng), task)
        assert model(torch.randn(4, *shape)).shape == (4, 3)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dropouts": [0.0, 1.5]}, "dropouts"),
        ({"norm": "group"}, "norm"),
        ({"widths": [0]}, "widths"),
        ({"widths": [8, 8]}, "distinct"),
    ],
)
def test_mlp_bad_params(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SPACES.create("mlp", params)
