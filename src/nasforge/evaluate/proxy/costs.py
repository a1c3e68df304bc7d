"""`ParamsProxy` (``params``) and `FlopsProxy` (``flops``): a network's size as a proxy.

The two baselines of Abdelfattah et al. 2021 (https://arxiv.org/abs/2101.08134): on NAS-Bench-201
a larger network tends to be a more accurate one (Spearman ρ about 0.73 for both on CIFAR-10),
so larger scores better. Counted by :func:`nasforge.evaluate.costs.count_params` (trainable
parameters) and :func:`nasforge.evaluate.costs.count_flops` (one example, 2 FLOPs per
multiply-accumulate, element-wise work not counted).

Cost: params about 0.015 s, FLOPs about 0.3 s (a counted forward pass) for an NB201 CIFAR-size
network (3×32×32, C=16, N=5) on one core, building the network included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.evaluate.proxy._network import NetworkProxy
from nasforge.evaluate.proxy.base import PROXIES

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo


@PROXIES.register("params")
class ParamsProxy(NetworkProxy):
    """The trainable parameter count of the network; larger scores better."""

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        from nasforge.evaluate.costs import count_params

        return float(count_params(net))


@PROXIES.register("flops")
class FlopsProxy(NetworkProxy):
    """The FLOPs of one example's forward pass; larger scores better."""

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        from nasforge.evaluate.costs import count_flops

        return float(count_flops(net, info.input_shape))
