"""Robustness metrics: FGSM against its analytic effect on a linear classifier, Gaussian noise
(zero noise is the clean accuracy, seeded determinism), and the model left as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasforge.evaluate.robustness import (
    clean_accuracy,
    fgsm_accuracy,
    fgsm_examples,
    noise_accuracy,
)
from nasforge.tasks.base import Split


def _linear(w: torch.Tensor) -> nn.Linear:
    """Two logits ``(w.x, -w.x)``: class 0 exactly when ``w.x > 0``."""
    model = nn.Linear(len(w), 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.stack([w, -w]))
    return model


def _data(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    w = torch.tensor([1.0, -2.0, 0.5])
    x = torch.randn(n, 3, generator=gen)
    y = ((x @ w) <= 0).long()  # every label is the linear model's own: clean accuracy 100%
    return w, x, y


def test_fgsm_on_a_linear_model_flips_exactly_the_examples_within_eps_l1w() -> None:
    # The gradient of the cross-entropy with respect to x points against the true class's
    # margin 2 w.x (class 0) or -2 w.x (class 1), so sign(grad) = -/+ sign(w): the step shrinks
    # |w.x| by eps * ||w||_1, and exactly the examples with |w.x| < eps * ||w||_1 flip.
    w, x, y = _data()
    model = _linear(w)
    batches = [(x, y)]
    assert clean_accuracy(model, batches) == 100.0
    for eps in (0.0, 0.05, 0.2, 0.5):
        expected = 100.0 * float(((x @ w).abs() > eps * w.abs().sum()).float().mean())
        assert fgsm_accuracy(model, batches, eps=eps) == pytest.approx(expected)
    adv = fgsm_examples(model, x, y, 0.1)
    assert torch.allclose((adv - x).abs(), torch.full_like(x, 0.1))  # an L-inf step of eps
    direction = torch.where(y[:, None] == 0, -w.sign(), w.sign())
    assert torch.equal((adv - x).sign(), direction.expand_as(x))


def test_fgsm_lowers_accuracy_more_than_noise_of_the_same_size() -> None:
    w, x, y = _data()
    model = _linear(w)
    batches = [(x, y)]
    assert fgsm_accuracy(model, batches, eps=0.3) < noise_accuracy(model, batches, std=0.3)


def test_zero_noise_is_the_clean_accuracy_and_noise_is_seeded() -> None:
    w, x, y = _data()
    y[:40] = 1 - y[:40]  # 90% clean accuracy
    model = _linear(w)
    batches = [(x[:200], y[:200]), (x[200:], y[200:])]
    assert noise_accuracy(model, batches, std=0.0) == clean_accuracy(model, batches) == 90.0
    a = noise_accuracy(model, batches, std=0.5, seed=3)
    assert a == noise_accuracy(model, batches, std=0.5, seed=3)
    others = {noise_accuracy(model, batches, std=0.5, seed=s) for s in range(4, 9)}
    assert others != {a}  # another seed draws other noise
    assert noise_accuracy(model, batches, std=50.0, seed=0) < 70  # drowned in noise: near 50%


def test_a_split_is_read_in_batches_like_its_arrays() -> None:
    w, x, y = _data(n=50)
    split = Split(x.numpy(), y.numpy())
    model = _linear(w)
    assert fgsm_accuracy(model, split, eps=0.2, batch_size=7) == fgsm_accuracy(
        model, [(x, y)], eps=0.2
    )
    assert noise_accuracy(model, split, std=0.3, seed=1, batch_size=50) == noise_accuracy(
        model, [(x, y)], std=0.3, seed=1
    )


def test_model_mode_parameters_and_gradients_are_left_alone() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    model[1].eval()  # a submodule's own mode is restored too
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _, x, y = _data(n=64)
    fgsm_accuracy(model, [(x, y)], eps=0.1)
    noise_accuracy(model, [(x, y)], std=0.1)
    assert model.training and not model[1].training and model[2].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats too
    assert all(p.grad is None for p in model.parameters())


def test_eval_mode_makes_dropout_deterministic() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.9), nn.Linear(16, 2)).train()
    _, x, y = _data(n=64)
    assert len({fgsm_accuracy(model, [(x, y)], eps=0.1) for _ in range(3)}) == 1


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_strength_is_refused(bad: float) -> None:
    w, x, y = _data(n=8)
    with pytest.raises(ValueError, match="noise std must be a finite number >= 0"):
        noise_accuracy(_linear(w), [(x, y)], std=bad)
    with pytest.raises(ValueError, match="FGSM eps must be a finite number >= 0"):
        fgsm_accuracy(_linear(w), [(x, y)], eps=bad)


def test_noise_leaves_the_global_torch_rng_alone() -> None:
    w, x, y = _data(n=16)
    model = _linear(w)  # initialising it draws from the global RNG; the noise must not
    torch.manual_seed(123)
    state = torch.get_rng_state()
    noise_accuracy(model, [(x, y)], std=1.0, seed=0)
    assert torch.equal(state, torch.get_rng_state())
