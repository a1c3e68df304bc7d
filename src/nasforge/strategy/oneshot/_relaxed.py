"""What DARTS and GDAS share: architecture parameters, alternating updates, the collapse guard.

Each decision of the supernet gets a vector of architecture parameters ``alpha`` (one per
option, initialised to ``1e-3 * N(0, 1)`` as in the DARTS code). Every training step first
updates ``alpha`` on a validation batch (Adam, as in both papers), then the supernet's weights on
a training batch (SGD with momentum, cosine-annealed from ``lr`` to ``lr_min``, gradient norm
clipped), each with the mixture the strategy draws (:meth:`RelaxedSearch._mixture`). The derived
architecture is the argmax of ``alpha`` per decision; with ``top > 1`` the next ones follow in
order of their joint softmax probability.

**Collapse guard** (on by default): after each epoch past ``guard_warmup``, the search stops
when the argmax cell has collapsed (:func:`~nasforge.strategy.oneshot.collapsed`: no parametric
operation on any input-to-output path, or a majority of ``skip``/``none``) or more than
``max_parameter_free`` of its operations have no parameters. It then proposes the last argmax
cell of an earlier epoch that had neither flaw (warm-up epochs included); when there is none,
the argmax among each decision's parametric options. Further proposals (``top > 1``) are the
next cells by joint probability that have neither flaw. This is early stopping on the growth of
parameter-free operations, as DARTS+ (Liang et al. 2019, https://arxiv.org/abs/1909.06035)
stops on the number of skip connections. ``aux_skip`` adds DARTS-'s auxiliary skip connection
(Chu et al. 2021, https://arxiv.org/abs/2009.01027): ``beta * x`` on every decision with a
``skip_connect`` option, ``beta`` decaying linearly from ``aux_skip`` to 0, which takes away the
unfair advantage of the candidate skip.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem
from nasforge.strategy.oneshot._collapse import collapsed, parameter_free_share
from nasforge.strategy.oneshot.base import OneShotStrategy, top_k

if TYPE_CHECKING:
    import torch

    from nasforge.strategy.oneshot._engine import SearchRun

_SKIPS = ("skip_connect", "skip", "identity")


class RelaxedSearch(OneShotStrategy):
    """Base of DARTS and GDAS: the settings below, shared; subclasses draw the mixture.

    Args:
        epochs: search epochs over the training split.
        batch_size: examples per batch, for weights and architecture steps alike.
        lr: the supernet's SGD learning rate at the start (cosine-annealed to ``lr_min``).
        lr_min: the learning rate at the end.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        grad_clip: clip the weights' gradient norm to this (``None``: off).
        arch_lr: Adam learning rate of the architecture parameters.
        arch_weight_decay: their weight decay.
        top: how many derived architectures the study scores as trials (best first).
        collapse_guard: stop when the argmax cell collapses (see the module docstring).
        max_parameter_free: the guard also stops when more than this share of the argmax
            cell's operations have no parameters.
        guard_warmup: epochs before the guard applies (the parameters start near uniform).
        aux_skip: DARTS-'s auxiliary skip coefficient at the start (0: off).
        bn_batches: training batches that re-calibrate BatchNorm before the found cell is
            scored with inherited weights.
        score_examples: validation examples it is scored on.
    """

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
        **more: Any,
    ) -> None:
        problems = []
        if lr_min > lr:
            problems.append(Problem("strategy.lr_min", f"must be <= lr ({lr}); got {lr_min}",
                                    f"use lr_min <= {lr} (the cosine schedule ends there)"))
        if collapse_guard and guard_warmup >= epochs:
            problems.append(Problem(
                "strategy.guard_warmup",
                f"must be below epochs ({epochs}) for the collapse guard to apply; got "
                f"{guard_warmup}", f"use guard_warmup < {epochs}, or collapse_guard: false"))
        problems += self._check(epochs=epochs, **more)
        if problems:
            raise ConfigError(problems)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.arch_lr = arch_lr
        self.arch_weight_decay = arch_weight_decay
        self.top = top
        self.collapse_guard = collapse_guard
        self.max_parameter_free = max_parameter_free
        self.guard_warmup = guard_warmup
        self.aux_skip = aux_skip
        self.bn_batches = bn_batches
        self.score_examples = score_examples
        for key, value in more.items():
            setattr(self, key, value)

    def _check(self, **settings: Any) -> list[Problem]:
        """Cross-field problems of a subclass's own settings."""
        return []

    # -- the mixture ----------------------------------------------------------------------------
    def _mixture(self, run: SearchRun, alpha: torch.Tensor, name: str) -> torch.Tensor:
        """The weights of decision ``name``'s options in one forward pass."""
        raise NotImplementedError

    def _use_mixture(self, run: SearchRun) -> None:
        import torch

        alpha: dict[str, torch.Tensor] = run.state["_alpha"]
        beta = self.aux_skip * (1.0 - run.epoch / self.epochs)
        weights = {}
        for name, a in alpha.items():
            w = self._mixture(run, a, name)
            options = run.supernet.choices[name]
            if beta > 0 and any(o in _SKIPS for o in options):
                extra = torch.tensor([beta if o in _SKIPS else 0.0 for o in options])
                w = w + extra
            weights[name] = w
        run.supernet.use_weights(weights)

    # -- the hooks ------------------------------------------------------------------------------
    def _init_state(self, run: SearchRun) -> None:
        import torch

        params = {}
        for name, options in run.supernet.choices.items():
            params[name] = torch.nn.Parameter(1e-3 * torch.randn(len(options)))
        alpha = torch.nn.ParameterDict({_key(n): p for n, p in params.items()})
        weights = list(run.supernet.parameters())
        w_opt = torch.optim.SGD(weights, lr=self.lr, momentum=self.momentum,
                                weight_decay=self.weight_decay)
        a_opt = torch.optim.Adam(list(params.values()), lr=self.arch_lr, betas=(0.5, 0.999),
                                 weight_decay=self.arch_weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, T_max=self.epochs,
                                                              eta_min=self.lr_min)
        run.state.update(alpha=alpha, w_opt=w_opt, a_opt=a_opt, schedule=schedule)
        run.state["_alpha"] = params  # the same Parameters by decision name (not saved)

    def _train_epoch(self, run: SearchRun) -> float:
        import torch

        params: dict[str, torch.Tensor] = run.state["_alpha"]
        w_opt, a_opt = run.state["w_opt"], run.state["a_opt"]
        weights = [p for g in w_opt.param_groups for p in g["params"]]
        val = run.val_batches(self.batch_size)
        total, n = 0.0, 0
        for step, (x, y) in enumerate(run.train_batches(self.batch_size)):
            run.check_time()
            xv, yv = next(val)
            a_opt.zero_grad()
            self._arch_step(run, (x, y), (xv, yv), w_opt)
            a_opt.step()
            for a in params.values():
                run.check_finite(a.detach().sum(), "architecture parameter", step)
            w_opt.zero_grad()
            self._use_mixture(run)
            loss = run.loss(x, y)
            run.check_finite(loss, "training loss", step)
            loss.backward()
            for a in params.values():
                a.grad = None  # the weights' step does not move the architecture
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(weights, self.grad_clip)
            w_opt.step()
            total += float(loss.detach())
            n += 1
        run.state["schedule"].step()
        return total / max(n, 1)

    def _arch_step(self, run: SearchRun, train: tuple[Any, Any], val: tuple[Any, Any],
                   w_opt: Any) -> None:
        """Put the architecture's gradient in ``alpha.grad`` (first order: of the validation
        loss at the current weights)."""
        self._use_mixture(run)
        loss = run.loss(*val)
        run.check_finite(loss, "validation loss", 0)
        params = list(run.state["_alpha"].values())
        grads = _grad(loss, params)
        for p, g in zip(params, grads, strict=True):
            p.grad = g

    def _weights(self, run: SearchRun) -> dict[str, list[float]]:
        from nasforge.strategy.oneshot._engine import softmax_weights

        return softmax_weights(run.state["_alpha"])

    def _current(self, run: SearchRun) -> Architecture:
        from nasforge.strategy.oneshot._engine import argmax_arch

        return argmax_arch(run, run.state["_alpha"])

    def _flaw(self, run: SearchRun, arch: Architecture) -> str | None:
        if not self.collapse_guard:
            return None
        free = run.supernet.parameter_free
        share = parameter_free_share(arch, free)
        if collapsed(run.space, arch, free):
            return "the argmax cell collapsed (no parametric path, or mostly skip/none)"
        if share > self.max_parameter_free:
            return (f"{share:.0%} of the argmax cell's operations have no parameters (more "
                    f"than strategy.max_parameter_free={self.max_parameter_free:g})")
        return None

    def _guard(self, run: SearchRun, current: Architecture) -> str | None:
        if not self.collapse_guard or run.epoch <= self.guard_warmup:
            return None
        why = self._flaw(run, current)
        return None if why is None else f"collapse guard: stopped after epoch {run.epoch}: {why}"

    def _final(self, run: SearchRun) -> list[Architecture]:
        from nasforge.strategy.oneshot._engine import argmax_arch

        alpha: dict[str, torch.Tensor] = run.state["_alpha"]
        found: list[Architecture] = []
        if run.stopped is not None:
            if run.history:
                found.append(Architecture.parse(run.history[-1]))
            else:
                free = run.supernet.parameter_free
                found.append(argmax_arch(run, alpha, allowed=lambda n, o: not free(n, o)))
        names = list(alpha)
        logp = [alpha[n].detach().log_softmax(0).tolist() for n in names]
        more = self.top - len(found)
        if more > 0:  # the next ones by joint probability (without a flaw, under the guard)
            for picks in top_k(logp, 50 * self.top):
                arch = Architecture({n: run.supernet.choices[n][i]
                                     for n, i in zip(names, picks, strict=True)})
                if arch not in found and run.space.contains(arch) and (
                        run.stopped is None or self._flaw(run, arch) is None):
                    found.append(arch)
                    if len(found) == self.top:
                        break
        return found or [argmax_arch(run, alpha)]


def _key(name: str) -> str:
    """A ParameterDict key for a decision name (dots are not allowed in module names)."""
    return name.replace(".", "__")


def _grad(loss: Any, params: list[Any]) -> list[Any]:
    import torch

    return list(torch.autograd.grad(loss, params, allow_unused=True))


def cosine_value(start: float, end: float, epoch: int, epochs: int) -> float:
    """A value annealed from ``start`` to ``end`` by a half cosine over ``epochs``."""
    if epochs <= 1:
        return end
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * epoch / (epochs - 1)))
