"""DARTS: differentiable architecture search (Liu, Simonyan & Yang 2019).

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019,
https://arxiv.org/abs/1806.09055. Every decision's options are mixed with the softmax of its
architecture parameters, so the search is a bilevel problem solved by alternating gradient
steps: the parameters on validation batches, the supernet's weights on training batches.

``order: 1`` (default) is the first-order approximation (the validation gradient at the current
weights). ``order: 2`` is the paper's unrolled gradient: the validation loss at the weights
after one virtual SGD step ``w' = w - lr * grad_w L_train(w, alpha)``, whose second-order term
is the finite difference of ``grad_alpha L_train`` at ``w +- eps * grad_w' L_val`` with ``eps =
0.01 / ||grad_w' L_val||`` (the paper's section 2.3); it costs about three times as much.

Deviations: architecture steps use the task's validation split (the paper halves the training
set); the virtual step ignores momentum (as the first DARTS code's option ``--unrolled`` does
not); the weight warm-up (PC-DARTS, DrNAS), the collapse guard and DARTS-'s auxiliary skip are
this framework's additions. As in the paper, the search's BatchNorm has no affine parameters
and the derived cell never chooses ``none`` (both settings can be changed; see
:mod:`nasforge.strategy.oneshot._relaxed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from nasforge.strategy.base import STRATEGIES
from nasforge.strategy.oneshot._relaxed import RelaxedSearch

if TYPE_CHECKING:
    import torch

    from nasforge.strategy.oneshot._engine import SearchRun


@STRATEGIES.register("darts")
class DARTS(RelaxedSearch):
    """DARTS (Liu et al. 2019), first order by default; the shared settings are
    :class:`~nasforge.strategy.oneshot._relaxed.RelaxedSearch`'s.

    Args:
        order: 1 (first-order approximation) or 2 (the unrolled second-order gradient).
    """

    paper = "Liu, Simonyan & Yang 2019, https://arxiv.org/abs/1806.09055"
    order: Literal[1, 2]

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
        order: Literal[1, 2] = 1,
    ) -> None:
        super().__init__(
            order=order, epochs=epochs, batch_size=batch_size, lr=lr, lr_min=lr_min,
            momentum=momentum, weight_decay=weight_decay, grad_clip=grad_clip,
            arch_lr=arch_lr, arch_weight_decay=arch_weight_decay, top=top,
            collapse_guard=collapse_guard, max_parameter_free=max_parameter_free,
            guard_warmup=guard_warmup, aux_skip=aux_skip, bn_batches=bn_batches,
            score_examples=score_examples, warmup_epochs=warmup_epochs,
            derive_none=derive_none, bn_affine=bn_affine)

    def _mixture(self, run: SearchRun, alpha: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        return torch.softmax(alpha, 0)

    def _arch_step(self, run: SearchRun, train: tuple[Any, Any], val: tuple[Any, Any],
                   w_opt: Any) -> None:
        if self.order == 1:
            super()._arch_step(run, train, val, w_opt)
            return
        import torch

        alpha = list(run.state["_alpha"].values())
        weights = [p for g in w_opt.param_groups for p in g["params"]]
        eta = w_opt.param_groups[0]["lr"]
        backup = [p.detach().clone() for p in weights]
        # the virtual step w' = w - eta * (grad_w L_train + wd * w)
        self._use_mixture(run)
        grads = torch.autograd.grad(run.loss(*train), weights, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(weights, grads, strict=True):
                if g is not None:
                    p.sub_(eta * (g + self.weight_decay * p))
        self._use_mixture(run)
        val_loss = run.loss(*val)
        run.check_finite(val_loss, "validation loss", 0)
        found = torch.autograd.grad(val_loss, [*alpha, *weights], allow_unused=True)
        d_alpha, d_w = found[: len(alpha)], found[len(alpha):]
        norm = torch.sqrt(sum((g * g).sum() for g in d_w if g is not None))  # type: ignore[arg-type]
        eps = 0.01 / max(float(norm), 1e-12)
        hessian = []
        for sign in (1.0, -1.0):  # grad_alpha L_train at w + eps*dw, then at w - eps*dw
            with torch.no_grad():
                for p, b, g in zip(weights, backup, d_w, strict=True):
                    p.copy_(b if g is None else b + sign * eps * g)
            self._use_mixture(run)
            hessian.append(torch.autograd.grad(run.loss(*train), alpha, allow_unused=True))
        with torch.no_grad():
            for p, b in zip(weights, backup, strict=True):
                p.copy_(b)
        for a, g, hp, hn in zip(alpha, d_alpha, hessian[0], hessian[1], strict=True):
            grad = torch.zeros_like(a) if g is None else g.clone()
            if hp is not None and hn is not None:
                grad -= eta * (hp - hn) / (2 * eps)
            a.grad = grad
