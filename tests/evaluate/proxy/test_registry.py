"""Every computed proxy in the registry, on a small NB201 1-D network on MNIST-1D."""

from __future__ import annotations

import math
import pickle

import pytest

from nasforge.evaluate.costs import count_flops, count_params
from nasforge.evaluate.proxy import PROXIES, NetworkProxy
from nasforge.evaluate.proxy._network import build_network
from nasforge.space import NB201Space, nb201_to_arch
from nasforge.tasks import MNIST1DTask

COMPUTED = [n for n in PROXIES.names() if issubclass(PROXIES.get(n), NetworkProxy)]
SPACE = NB201Space(dims=1, cells_per_stage=1, channels=4)
CONV = nb201_to_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
                     "+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
OTHER = nb201_to_arch("|nor_conv_1x1~0|+|none~0|skip_connect~1|"
                      "+|skip_connect~0|none~1|nor_conv_1x1~2|")


def test_all_the_issues_proxies_are_registered() -> None:
    assert set(COMPUTED) >= {"synflow", "naswot", "snip", "grad_norm", "jacov", "params",
                             "flops"}


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in COMPUTED])
def test_deterministic_picklable_and_finite(name: str) -> None:
    proxy = PROXIES.create(name, {"task": "mnist1d"})
    first = proxy.score(CONV, SPACE)
    assert math.isfinite(first)
    assert proxy.score(CONV, SPACE) == first
    assert pickle.loads(pickle.dumps(proxy)).score(CONV, SPACE) == first
    assert proxy.score(OTHER, SPACE) != first  # it tells networks apart
    bound = PROXIES.create(name, {})
    bound.bind(MNIST1DTask())
    assert bound.score(CONV, SPACE) == first  # binding the study's task is the same


def test_params_and_flops_are_the_cost_measures() -> None:
    info = MNIST1DTask().info()
    net = build_network(SPACE, CONV, info, seed=0)
    assert PROXIES.create("params", {"task": "mnist1d"}).score(CONV, SPACE) == count_params(net)
    assert PROXIES.create("flops", {"task": "mnist1d"}).score(CONV, SPACE) == count_flops(
        net, info.input_shape)


def test_data_proxies_refuse_a_task_without_data() -> None:
    from nasforge.errors import ConfigError

    with pytest.raises(ConfigError, match="no data to train on"):
        PROXIES.create("naswot", {"task": "nb201"}).score(CONV, NB201Space(dims=2,
                                                                            cells_per_stage=1))
