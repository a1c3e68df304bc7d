"""Cost measures match hand counts and leave the model as they found it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasforge.evaluate import count_flops, count_params, measure_latency_ms, peak_memory_mb


def test_count_params_linear_and_frozen() -> None:
    model = nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 2, bias=False))
    assert count_params(model) == 10 * 5 + 5 + 5 * 2
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 5 + 10
    assert count_params(model, trainable_only=False) == 65


def test_count_params_counts_shared_weights_once() -> None:
    layer = nn.Linear(3, 3)
    assert count_params(nn.Sequential(layer, layer)) == 12


@pytest.mark.parametrize(
    ("module", "shape", "flops"),
    [
        # 2 FLOPs per multiply-accumulate; biases are not counted.
        pytest.param(nn.Linear(10, 5), (10,), 2 * 10 * 5, id="linear"),
        # out length 8, 4 out channels, 2 in channels, kernel 3
        pytest.param(nn.Conv1d(2, 4, 3), (2, 10), 2 * 4 * 8 * 2 * 3, id="conv1d"),
        # out 6x6, 3 out channels, 1 in channel, kernel 3x3
        pytest.param(nn.Conv2d(1, 3, 3), (1, 8, 8), 2 * 3 * 36 * 9, id="conv2d"),
        pytest.param(nn.Sequential(nn.ReLU(), nn.Flatten()), (4,), 0, id="no-matmul"),
    ],
)
def test_count_flops_matches_hand_count(
    module: nn.Module, shape: tuple[int, ...], flops: int
) -> None:
    assert count_flops(module, shape) == flops


def test_costs_restore_training_mode_and_leave_no_grads() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    model.train()
    before = model[1].running_mean.clone()
    count_flops(model, (4,))
    measure_latency_ms(model, (4,), repeats=2, warmup=1)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(model[1].running_mean, before)  # ran in eval mode
    model.eval()
    count_flops(model, (4,))
    assert not model.training


def test_latency_is_positive_and_validates_repeats() -> None:
    model = nn.Linear(8, 2)
    assert measure_latency_ms(model, (8,), repeats=3, warmup=0) > 0
    with pytest.raises(ValueError, match="repeats"):
        measure_latency_ms(model, (8,), repeats=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_peak_memory_needs_cuda() -> None:
    with pytest.raises(ValueError, match="CUDA"):
        peak_memory_mb(nn.Linear(2, 2), (2,))
