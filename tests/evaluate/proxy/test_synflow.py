"""SynFlow: the hand-computed value of a linear chain, BatchNorm as identity, determinism."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.evaluate.proxy import SynFlowProxy
from nasforge.evaluate.proxy._network import build_network
from nasforge.evaluate.tabular import NB201Task
from nasforge.space import NB201Space, nb201_to_arch
from tests.evaluate.proxy.nets import ARCH, ArrayTask, FixedNetSpace

TASK = ArrayTask(x=np.zeros((4, 3)), y=np.zeros(4))


def chain(info: object) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))


def test_a_bias_free_linear_chain_scores_layers_times_the_path_sum() -> None:
    # R = 1ᵀ|A2||A1|1; each layer's Σ|θ ⊙ ∂R/∂θ| equals R, so the score is log(2R).
    space = FixedNetSpace(make=chain)
    net = build_network(space, ARCH, TASK.info(), seed=0)
    a1 = np.abs(net[0].weight.detach().double().numpy())
    a2 = np.abs(net[1].weight.detach().double().numpy())
    path_sum = float(np.ones(2) @ a2 @ a1 @ np.ones(3))
    proxy = SynFlowProxy(seed=0)
    proxy.bind(TASK)
    assert proxy.score(ARCH, space) == pytest.approx(math.log(2 * path_sum), rel=1e-12)


def test_batchnorm_counts_as_the_identity() -> None:
    with_bn = FixedNetSpace(make=lambda info: nn.Sequential(
        nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False)))
    proxy = SynFlowProxy(seed=0)
    proxy.bind(TASK)
    # the same seeded weights (BatchNorm draws none), so the same score as the plain chain
    assert proxy.score(ARCH, with_bn) == pytest.approx(proxy.score(ARCH, FixedNetSpace(make=chain)))


def test_nb201_cells_deterministic_ranked_and_degenerate() -> None:
    space = NB201Space(dims=2, cells_per_stage=1, channels=8)
    proxy = SynFlowProxy(task={"name": "nb201", "dataset": "cifar10"})
    conv = nb201_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                         "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    thin = nb201_to_arch("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    dead = nb201_to_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    first = proxy.score(conv, space)
    assert first == proxy.score(conv, space)
    assert pickle.loads(pickle.dumps(proxy)).score(conv, space) == first
    assert first > proxy.score(thin, space)
    assert proxy.score(dead, space) == -math.inf  # the output ignores the input
    other_seed = SynFlowProxy(task={"name": "nb201", "dataset": "cifar10"}, seed=1)
    assert other_seed.score(conv, space) != first


def test_the_callers_rng_is_untouched() -> None:
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    proxy = SynFlowProxy()
    proxy.bind(TASK)
    proxy.score(ARCH, FixedNetSpace(make=chain))
    assert torch.rand(1).equal(expected)


def test_a_proxy_without_a_task_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match=r"proxy\.task.*synflow.*task: mnist1d"):
        SynFlowProxy().score(ARCH, FixedNetSpace(make=chain))


def test_a_bad_task_is_refused_when_made() -> None:
    with pytest.raises(ConfigError, match=r"proxy\.task"):
        SynFlowProxy(task={"dataset": "cifar10"})
    with pytest.raises(ConfigError, match=r"proxy\.task"):
        SynFlowProxy(task="no_such_task")


def test_binding_the_study_task_is_overridden_by_the_proxys_own() -> None:
    proxy = SynFlowProxy(task={"name": "nb201", "dataset": "imagenet16-120"})
    proxy.bind(NB201Task(dataset="cifar10"))
    assert proxy.resolved_task().info().input_shape == (3, 16, 16)
