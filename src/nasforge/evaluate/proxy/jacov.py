"""`JacovProxy` (``jacov`` in PROXIES): Jacobian covariance of the untrained network.

NASWOT v1 (Mellor, Turner, Storkey & Crowley, https://arxiv.org/abs/2006.04647v1): the
Jacobians ``J_i = ∂(Σ f(x_i))/∂x_i`` of a seeded minibatch, their correlation matrix ``Σ_J`` and
its eigenvalues ``λ``; the score is ``-Σ [log(λ + k) + 1/(λ + k)]`` with ``k = 1e-5``. Networks
whose Jacobians are less correlated across examples score higher (closer to 0).

Conventions: training mode (batch statistics); a Jacobian that is constant (zero) for some
example makes the correlation undefined and scores ``-inf``.

Cost: about 0.67 s for an NB201 CIFAR-size network (3×32×32, C=16, N=5) on a minibatch of 64,
one core, building the network included (a forward and a backward pass to the input).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nasforge.evaluate.proxy._network import DataProxy
from nasforge.evaluate.proxy.base import PROXIES

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from nasforge.tasks.base import TaskInfo

K = 1e-5
"""Mellor et al.'s regulariser of the eigenvalues."""


def jacov_score(jacobians: np.ndarray) -> float:
    """The v1 score of per-example Jacobians (one row each)."""
    import numpy as np

    if np.any(jacobians.std(axis=1) == 0):
        return -math.inf
    eig = np.clip(np.linalg.eigvalsh(np.corrcoef(jacobians)), 0.0, None)  # rounding
    return float(-np.sum(np.log(eig + K) + 1.0 / (eig + K)))


@PROXIES.register("jacov")
class JacovProxy(DataProxy):
    """NASWOT v1: the Jacobian covariance score on a seeded minibatch."""

    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        x, _ = self.minibatch()
        x = x.clone().requires_grad_(True)
        net.train()
        net.zero_grad()
        net(x).sum().backward()
        assert x.grad is not None
        return jacov_score(x.grad.reshape(x.shape[0], -1).double().numpy())
