"""`SynFlowProxy` (``synflow`` in PROXIES): synaptic flow of the untrained network, data-free.

SynFlow (Tanaka, Kunin, Yamins & Ganguli, "Pruning neural networks without any data by
iteratively conserving synaptic flow", NeurIPS 2020, https://arxiv.org/abs/2006.05467) scores a
network by ``R = 1ᵀ (Π |W_l|) 1``: every weight replaced by its absolute value, an all-ones input,
and the sum of the outputs. The proxy is ``Σ_θ |θ ⊙ ∂R/∂θ|`` over the weights of convolutions and
linear layers, as in Abdelfattah, Mehrotra, Dudziak & Lane, "Zero-Cost Proxies for Lightweight
NAS", ICLR 2021, https://arxiv.org/abs/2101.08134.

Conventions (Abdelfattah et al.'s): BatchNorm layers are replaced by the identity (their
``bn=False`` copy), biases and other parameters also become absolute values, the input is one
all-ones example, and the computation runs in double precision so a deep network's product does
not overflow (about 1e308; NB201 CIFAR networks score around 1e40-1e60). The score returned is
``log(Σ |θ ⊙ ∂R/∂θ|)``, the same ranking in a readable range; a network whose output does not
depend on its input (a cell of ``none`` edges) scores ``-inf``.

Cost: about 0.1 s for an NB201 CIFAR-size network (3×32×32, C=16, N=5) on one core
(``torch.set_num_threads(1)``), building the network included; 0.2-0.25 s with two such processes
sharing this project's 2-core machine (``benchmarks/proxies.py``, ``seconds_per_arch``).
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

from nasforge.evaluate.proxy._network import NetworkProxy, layer_weights
from nasforge.evaluate.proxy.base import PROXIES

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo


def without_batchnorm(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with every BatchNorm layer replaced by the identity."""
    from torch import nn

    net = copy.deepcopy(net)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())
    return net


def synflow_sum(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """``Σ |θ ⊙ ∂R/∂θ|`` over the weighted layers of ``net`` as it is (no BatchNorm removal),
    with every parameter made absolute and an all-ones double-precision input."""
    import torch

    net = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    out = net(torch.ones((1, *input_shape), dtype=torch.float64))
    torch.sum(out).backward()
    total = 0.0
    for weight in layer_weights(net):
        if weight.grad is not None:
            total += float((weight.detach() * weight.grad).abs().sum())
    return total


@PROXIES.register("synflow")
class SynFlowProxy(NetworkProxy):
    """log SynFlow of the untrained network (BatchNorm as identity, double precision); data-free.

    Args:
        task: the task the network is built for; ``None``: the study's (only its shape is used).
        seed: seeds the weights (SynFlow uses their magnitudes).

    Example:
        >>> from nasforge.space import NB201Space, nb201_to_arch
        >>> proxy = SynFlowProxy(task={"name": "nb201", "dataset": "cifar10"})
        >>> space = NB201Space(dims=2, cells_per_stage=1)
        >>> convs = nb201_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        ...                       "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> skips = nb201_to_arch("|skip_connect~0|+|skip_connect~0|skip_connect~1|"
        ...                       "+|skip_connect~0|skip_connect~1|skip_connect~2|")
        >>> proxy.score(convs, space) > proxy.score(skips, space)
        True
    """

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        total = synflow_sum(without_batchnorm(net), tuple(info.input_shape))
        if not total > 0.0:
            return -math.inf
        return math.log(total)
