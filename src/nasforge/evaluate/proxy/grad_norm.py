"""`GradNormProxy` (``grad_norm`` in PROXIES): the size of the loss gradient at initialisation.

As in Abdelfattah et al. 2021 (https://arxiv.org/abs/2101.08134): the L2 norm of the task loss's
gradient with respect to each convolution's and linear layer's weight, summed over the layers,
on one seeded minibatch with the network in training mode.

Cost: about 0.65-0.85 s for an NB201 CIFAR-size network (3×32×32, C=16, N=5) on a minibatch of
64, one core, building the network included (a forward and a backward pass, as snip).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.evaluate.proxy._network import DataProxy
from nasforge.evaluate.proxy.base import PROXIES
from nasforge.evaluate.proxy.snip import loss_gradients

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo


@PROXIES.register("grad_norm")
class GradNormProxy(DataProxy):
    """Sum over weighted layers of ``‖∂L/∂W‖₂`` on a seeded minibatch."""

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        total = 0.0
        for weight in loss_gradients(net, self, info):
            if weight.grad is not None:
                total += float(weight.grad.norm())
        return total
