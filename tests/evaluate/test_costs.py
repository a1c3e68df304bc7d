"""Cost measures match hand counts and leave the model as they found it."""

from __future__ import annotations

from typing import Any

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


F32 = 4  # bytes


def _weights(model: nn.Module) -> int:
    # BatchNorm's num_batches_tracked is an int64: 8 bytes
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


@pytest.mark.parametrize(
    ("model", "shape", "batch", "activations"),
    [
        # Linear(10, 20) -> ReLU -> Linear(20, 5), batch 4: while the ReLU runs, its input and
        # output (4 x 20 floats each) are alive; the first is freed before the last Linear.
        pytest.param(lambda: nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)),
                     (10,), 4, 2 * 4 * 20, id="mlp"),
        # An in-place ReLU allocates nothing: the peak is the hidden layer plus the output.
        pytest.param(lambda: nn.Sequential(nn.Linear(10, 20), nn.ReLU(inplace=True),
                                           nn.Linear(20, 5)),
                     (10,), 4, 4 * 20 + 4 * 5, id="mlp-inplace"),
        # Conv1d(2, 4, 3) on length 10 -> 8; BatchNorm and ReLU each make one more such map;
        # the flatten is a view, the head's output is 3 x 3 floats.
        pytest.param(lambda: nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.ReLU(),
                                           nn.Flatten(), nn.Linear(32, 3)),
                     (2, 10), 3, 2 * 3 * 4 * 8, id="conv1d-bn"),
        # Conv2d(3, 8, 3, padding=1) on 16 x 16, batch 2: two 8 x 16 x 16 maps at the peak.
        pytest.param(lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                           nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                           nn.Linear(8, 3)),
                     (3, 16, 16), 2, 2 * 2 * 8 * 16 * 16, id="conv2d"),
        pytest.param(lambda: nn.Flatten(), (4, 4), 5, 0, id="views-only"),
    ],
)
def test_peak_memory_on_cpu_is_weights_plus_live_activations(
    model: Any, shape: tuple[int, ...], batch: int, activations: int
) -> None:
    network = model()
    expected = (_weights(network) + F32 * activations) / 2**20
    assert peak_memory_mb(network, shape, batch_size=batch) == pytest.approx(expected, rel=1e-12)


def test_peak_memory_grows_with_the_batch_and_leaves_the_model_alone() -> None:
    model = nn.Sequential(nn.Linear(6, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
    model.train()
    before = model[1].running_mean.clone()
    one, many = peak_memory_mb(model, (6,)), peak_memory_mb(model, (6,), batch_size=64)
    assert (many - one) * 2**20 == pytest.approx(F32 * 2 * 32 * 63)  # two hidden maps per example
    assert peak_memory_mb(model, (6,), batch_size=64) == many  # exact, so the same every time
    assert model.training and all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(model[1].running_mean, before)
    with pytest.raises(ValueError, match="batch_size must be >= 1; got 0"):
        peak_memory_mb(model, (6,), batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_on_cuda_counts_weights_and_activations() -> None:
    model = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 8)).cuda()
    found = peak_memory_mb(model, (256,), batch_size=64)
    assert found * 2**20 >= _weights(model) + F32 * 64 * 1024
