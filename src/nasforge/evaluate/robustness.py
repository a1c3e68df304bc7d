"""Robustness metrics: a classifier's accuracy on perturbed inputs.

Two perturbations, both in the units of the inputs as the network sees them. Built-in tasks and
user tasks with ``standardize`` (the default) standardise every feature or channel with training
statistics, so ``std = 0.1`` or ``eps = 0.05`` is a tenth or a twentieth of a training standard
deviation; on unstandardised data they are in the raw units. Inputs are not clipped to a range
afterwards, since standardised inputs have none.

- **Gaussian noise** (:func:`noise_accuracy`): every input value gets independent
  ``N(0, std^2)`` noise, drawn from a ``torch.Generator`` seeded with ``seed`` on the CPU, so the
  same model, data and seed give the same accuracy on any device.
- **FGSM** (:func:`fgsm_accuracy`), the fast gradient sign method of Goodfellow, Shlens and
  Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015
  (https://arxiv.org/abs/1412.6572): each example moves by ``eps`` in every input value, in
  the direction of the sign of the cross-entropy's gradient with respect to the input,
  ``x_adv = x + eps * sign(grad_x CE(f(x), y))``, an L-infinity attack of radius ``eps``. An
  input value whose gradient is exactly zero does not move (``sign(0) = 0``).

Both evaluate the model in evaluation mode (BatchNorm statistics fixed, dropout off), restore
its training mode afterwards and leave its parameters and their gradients untouched. Accuracies
are in percent, as every accuracy in nasforge.

Example:
    >>> import torch
    >>> model = torch.nn.Linear(2, 2)
    >>> batches = [(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))]
    >>> noise_accuracy(model, batches, std=0.0) == clean_accuracy(model, batches)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.tasks.base import Split

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""Batches of ``(inputs, class ids)``, e.g. ``split.loader(batch_size)``."""


def clean_accuracy(model: nn.Module, data: Split | Batches, *, batch_size: int = 1024) -> float:
    """Accuracy (%) of ``model`` on unperturbed ``data`` (a :class:`Split` or batches)."""
    return _accuracy(model, data, batch_size, lambda x, y: x)


def noise_accuracy(
    model: nn.Module,
    data: Split | Batches,
    *,
    std: float,
    seed: int = 0,
    batch_size: int = 1024,
) -> float:
    """Accuracy (%) of ``model`` on ``data`` with Gaussian noise of ``std`` added to the inputs.

    Args:
        model: a classifier returning one logit per class.
        data: a :class:`Split` or an iterable of ``(inputs, class ids)`` batches.
        std: the noise's standard deviation, in input units (see the module docstring); 0
            gives the clean accuracy.
        seed: seeds the noise (drawn on the CPU, batch after batch).
        batch_size: batch size when ``data`` is a Split.

    Raises:
        ValueError: ``std`` is negative or not finite.
    """
    if not std >= 0 or std == float("inf"):
        raise ValueError(f"noise std must be a finite number >= 0; got {std}")
    generator = torch.Generator().manual_seed(seed)

    def perturb(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if std == 0:
            return x
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return x + std * noise.to(x.device)

    return _accuracy(model, data, batch_size, perturb)


def fgsm_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """FGSM adversarial inputs for one batch: ``x + eps * sign(grad_x CE(model(x), y))``.

    The gradient is taken with respect to the inputs only (``torch.autograd.grad``), so the
    parameters' ``.grad`` stays as it was. The model is used in whatever mode it is in.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        # A summed loss, not the mean: the sign is the same, and no gradient underflows to 0.
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).detach()


def fgsm_accuracy(
    model: nn.Module, data: Split | Batches, *, eps: float, batch_size: int = 1024
) -> float:
    """Accuracy (%) of ``model`` on FGSM adversarial versions of ``data``'s examples.

    Args:
        model: a classifier returning one logit per class.
        data: a :class:`Split` or an iterable of ``(inputs, class ids)`` batches.
        eps: the attack's strength, the L-infinity size of each example's step, in input units
            (see the module docstring); 0 gives the clean accuracy.
        batch_size: batch size when ``data`` is a Split.

    Raises:
        ValueError: ``eps`` is negative or not finite.
    """
    if not eps >= 0 or eps == float("inf"):
        raise ValueError(f"FGSM eps must be a finite number >= 0; got {eps}")
    return _accuracy(model, data, batch_size, lambda x, y: fgsm_examples(model, x, y, eps))


def _accuracy(
    model: nn.Module,
    data: Split | Batches,
    batch_size: int,
    perturb: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> float:
    correct, seen = 0, 0
    with _eval_mode(model):
        for x, y in _batches(model, data, batch_size):
            x_in = perturb(x, y)
            with torch.no_grad():
                correct += int((model(x_in).argmax(dim=1) == y).sum().item())
            seen += len(y)
    return 100.0 * correct / max(seen, 1)


def _batches(
    model: nn.Module, data: Split | Batches, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``data``'s batches on the model's device, class ids as int64."""
    batches: Batches = data.loader(batch_size) if isinstance(data, Split) else data
    device = next((p.device for p in model.parameters()), None)
    for x, y in batches:
        if device is not None:
            x, y = x.to(device), y.to(device)
        yield x, y.long()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluation mode for the block, then each submodule's own mode back."""
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, mode in zip(model.modules(), modes, strict=True):
            module.training = mode
