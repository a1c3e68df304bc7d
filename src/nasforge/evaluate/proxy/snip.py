"""`SnipProxy` (``snip`` in PROXIES): connection sensitivity of the untrained network.

SNIP (Lee, Ajanthan & Torr, "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
ICLR 2019, https://arxiv.org/abs/1810.02340) as a network score (Abdelfattah et al. 2021,
https://arxiv.org/abs/2101.08134): ``Σ |∂L/∂θ ⊙ θ|`` over the weights of convolutions and linear
layers, ``L`` the task's loss (cross-entropy; MSE for regression) on one seeded minibatch, the
network in training mode.

Cost: about 0.85 s for an NB201 CIFAR-size network (3×32×32, C=16, N=5) on a minibatch of 64,
one core, building the network included (a forward and a backward pass of the batch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.evaluate.proxy._network import DataProxy, layer_weights, task_loss
from nasforge.evaluate.proxy.base import PROXIES

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nasforge.tasks.base import TaskInfo


def loss_gradients(net: nn.Module, proxy: DataProxy, info: TaskInfo) -> list[torch.Tensor]:
    """Back-propagate the task loss of ``proxy``'s minibatch through ``net`` (training mode);
    the layer weights, whose ``.grad`` now hold the gradient."""
    x, y = proxy.minibatch()
    net.train()
    net.zero_grad()
    task_loss(net(x), y, info).backward()
    return list(layer_weights(net))


@PROXIES.register("snip")
class SnipProxy(DataProxy):
    """SNIP: ``Σ |g ⊙ w|`` of the task loss's gradient on a seeded minibatch."""

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        total = 0.0
        for weight in loss_gradients(net, self, info):
            if weight.grad is not None:
                total += float((weight.grad * weight.detach()).abs().sum())
        return total
