"""BatchNorm re-calibration: running statistics of the current path, before it is scored.

A supernet's BatchNorm statistics are averages over every path trained, which fit no single
network; scoring a path with them misranks networks. :func:`recalibrate_bn` resets them and
re-estimates them on a few training batches with the path switched on, as SPOS does before each
evaluation (Guo et al. 2020, https://arxiv.org/abs/1904.00420, section 3.3).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nasforge.space.supernet._dynamic import DynBatchNorm


def _norms(module: nn.Module) -> list[DynBatchNorm | _BatchNorm]:
    return [m for m in module.modules() if isinstance(m, DynBatchNorm | _BatchNorm)]


@torch.no_grad()
def recalibrate_bn(supernet: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Reset every BatchNorm's running statistics and re-estimate them on ``batches``.

    The statistics become the cumulative average over the batches (``momentum=None``) of the
    path the supernet uses now (:meth:`~nasforge.space.supernet.Supernet.use`). Only the
    BatchNorm layers run in training mode, so dropout stays off; no gradients are computed and
    no parameter changes. Afterwards every module is back in its previous mode, and each
    BatchNorm has its momentum back. Works on any module, a built network too.

    Args:
        supernet: the module (a supernet switched to one path, or any network).
        batches: input tensors (inputs only, on the module's device).

    Returns:
        The number of batches used (0 leaves the reset statistics: mean 0, variance 1).
    """
    norms = _norms(supernet)
    modes = {id(m): m.training for m in supernet.modules()}
    momenta = [n.momentum for n in norms]
    n_batches = 0
    try:
        supernet.eval()
        for n in norms:
            n.reset_running_stats()
            n.momentum = None
            n.train()
        for x in batches:
            supernet(x)
            n_batches += 1
    finally:
        for n, momentum in zip(norms, momenta, strict=True):
            n.momentum = momentum
        for m in supernet.modules():
            m.training = modes[id(m)]
    return n_batches
