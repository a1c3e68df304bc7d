"""BatchNorm re-calibration of a supernet path."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasforge.space import NB201Space
from nasforge.space.supernet import copy_to_network, recalibrate_bn
from nasforge.space.supernet._dynamic import DynBatchNorm
from nasforge.tasks.base import TaskInfo

SIGNAL = TaskInfo(name="s", input_shape=(1, 24), n_classes=5, kind="signal")


def test_statistics_are_the_cumulative_average_of_the_batches() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 3, 5, generator=gen) * (i + 1) + i for i in range(3)]
    for norm in (nn.BatchNorm1d(3), DynBatchNorm(3)):
        net = nn.Sequential(nn.Dropout(0.5), norm).eval()
        norm.running_mean.fill_(7.0)
        assert recalibrate_bn(net, batches) == 3
        means = torch.stack([b.mean(dim=(0, 2)) for b in batches]).mean(0)
        variances = torch.stack([b.var(dim=(0, 2), unbiased=True) for b in batches]).mean(0)
        torch.testing.assert_close(norm.running_mean, means)
        torch.testing.assert_close(norm.running_var, variances)
        assert norm.momentum == 0.1 and not net.training and not norm.training


def test_modes_are_restored_and_no_parameter_changes() -> None:
    space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    net = space.supernet(SIGNAL).train()
    net.use(space.sample(np.random.default_rng(0)))
    before = {n: p.clone() for n, p in net.named_parameters()}
    recalibrate_bn(net, [torch.randn(4, 1, 24)])
    assert all(m.training for m in net.modules())
    assert all(torch.equal(before[n], p) for n, p in net.named_parameters())


def test_a_recalibrated_path_matches_its_recalibrated_network() -> None:
    """Statistics re-estimated on the path equal those of the stand-alone network."""
    space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    torch.manual_seed(0)
    net = space.supernet(SIGNAL)
    rng = np.random.default_rng(1)
    batches = [torch.randn(6, 1, 24) for _ in range(3)]
    x = torch.randn(5, 1, 24)
    net.use(space.sample(rng))  # another path first, so stale statistics are there
    recalibrate_bn(net, batches)
    arch = space.sample(rng)
    built = copy_to_network(net, arch, space.build(arch, SIGNAL), x)
    recalibrate_bn(net, batches)
    recalibrate_bn(built, batches)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), built.eval()(x), rtol=1e-5, atol=1e-5)
