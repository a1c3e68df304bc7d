"""GDAS: searching by Gumbel-softmax sampling of one path per step (Dong & Yang 2019).

Dong & Yang, "Searching for A Robust Neural Architecture in Four GPU Hours", CVPR 2019,
https://arxiv.org/abs/1910.04465. Instead of mixing every option, each forward pass samples one
option per decision from the Gumbel-softmax of its architecture parameters (temperature ``tau``),
as a straight-through hard one-hot ``h = one_hot - soft.detach() + soft``: the forward computes
only the sampled option (the supernet skips options whose weight is exactly 0), the backward
reaches every parameter through ``soft``. ``tau`` decays linearly from ``tau_max`` to
``tau_min`` over the epochs after the weight warm-up (the paper: 10 to 0.1); the warm-up
samples every option uniformly (the Gumbel-softmax of all-zero parameters). The derived cell is
the argmax of the parameters (without ``none`` unless ``derive_none``).

Deviations: as DARTS here (validation split, the collapse guard; see
:mod:`nasforge.strategy.oneshot._relaxed`); GDAS's reduction-cell design is not part of it (the
spaces' reductions are fixed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from nasforge.errors import Problem
from nasforge.strategy.base import STRATEGIES
from nasforge.strategy.oneshot._relaxed import RelaxedSearch

if TYPE_CHECKING:
    import torch

    from nasforge.strategy.oneshot._engine import SearchRun


@STRATEGIES.register("gdas")
class GDAS(RelaxedSearch):
    """GDAS (Dong & Yang 2019); the shared settings are
    :class:`~nasforge.strategy.oneshot._relaxed.RelaxedSearch`'s.

    Args:
        tau_max: the Gumbel-softmax temperature of the first epoch.
        tau_min: the temperature of the last epoch (at most ``tau_max``).
    """

    paper = "Dong & Yang 2019, https://arxiv.org/abs/1910.04465"
    tau_max: float
    tau_min: float

    def __init__(
        self,
        *,
        epochs: Annotated[int, Field(ge=1)] = 10,
        batch_size: Annotated[int, Field(ge=1)] = 64,
        lr: Annotated[float, Field(gt=0)] = 0.025,
        lr_min: Annotated[float, Field(ge=0)] = 0.001,
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        weight_decay: Annotated[float, Field(ge=0)] = 3e-4,
        grad_clip: Annotated[float, Field(gt=0)] | None = 5.0,
        arch_lr: Annotated[float, Field(gt=0)] = 3e-4,
        arch_weight_decay: Annotated[float, Field(ge=0)] = 1e-3,
        top: Annotated[int, Field(ge=1)] = 1,
        collapse_guard: bool = True,
        max_parameter_free: Annotated[float, Field(gt=0, le=1)] = 0.67,
        guard_warmup: Annotated[int, Field(ge=0)] = 1,
        aux_skip: Annotated[float, Field(ge=0)] = 0.0,
        bn_batches: Annotated[int, Field(ge=1)] = 4,
        score_examples: Annotated[int, Field(ge=1)] = 1000,
        warmup_epochs: Annotated[int, Field(ge=0)] | None = None,
        derive_none: bool = False,
        bn_affine: bool = False,
        tau_max: Annotated[float, Field(gt=0)] = 10.0,
        tau_min: Annotated[float, Field(gt=0)] = 0.1,
    ) -> None:
        super().__init__(
            tau_max=tau_max, tau_min=tau_min, epochs=epochs, batch_size=batch_size, lr=lr,
            lr_min=lr_min,
            momentum=momentum, weight_decay=weight_decay, grad_clip=grad_clip,
            arch_lr=arch_lr, arch_weight_decay=arch_weight_decay, top=top,
            collapse_guard=collapse_guard, max_parameter_free=max_parameter_free,
            guard_warmup=guard_warmup, aux_skip=aux_skip, bn_batches=bn_batches,
            score_examples=score_examples, warmup_epochs=warmup_epochs,
            derive_none=derive_none, bn_affine=bn_affine)

    def _check(self, **settings: Any) -> list[Problem]:
        tau_max, tau_min = settings["tau_max"], settings["tau_min"]
        if tau_min > tau_max:
            return [Problem("strategy.tau_min", f"must be <= tau_max ({tau_max}); got {tau_min}",
                            f"use tau_min <= {tau_max} (the temperature decays to it)")]
        return []

    def tau(self, epoch: int) -> float:
        """The temperature of ``epoch`` (0-based): linear from ``tau_max`` at the first epoch
        after the weight warm-up to ``tau_min`` at the last (``tau_max`` during the warm-up)."""
        searched = self.epochs - self.warmup_epochs
        if searched <= 1:
            return self.tau_min
        done = max(epoch - self.warmup_epochs, 0)
        return self.tau_max - (self.tau_max - self.tau_min) * done / (searched - 1)

    def _mixture(self, run: SearchRun, alpha: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        u = torch.rand(alpha.shape, generator=run.gen).clamp_(1e-9, 1 - 1e-9)
        gumbel = -torch.log(-torch.log(u))
        soft = torch.softmax((alpha + gumbel) / self.tau(run.epoch), 0)
        hard = torch.zeros_like(soft)
        hard[int(soft.detach().argmax())] = 1.0
        return hard - soft.detach() + soft
