"""What DARTS and GDAS share: architecture parameters, alternating updates, the collapse guard.

Each decision of the supernet gets a vector of architecture parameters ``alpha`` (one per
option, initialised to ``1e-3 * N(0, 1)`` as in the DARTS code). Every training step first
updates ``alpha`` on a validation batch (Adam, as in both papers), then the supernet's weights on
a training batch (SGD with momentum, cosine-annealed from ``lr`` to ``lr_min``, gradient norm
clipped), each with the mixture the strategy draws (:meth:`RelaxedSearch._mixture`).

**Weight warm-up** (``warmup_epochs``, default a quarter of the epochs): the first epochs train
only the weights, with every option weighted equally (``alpha`` frozen, the mixture of all-zero
parameters), so that the architecture is first judged on trained operations rather than on
random ones, which favour the parameter-free options (the warm-up of PC-DARTS, Xu et al. 2020,
https://arxiv.org/abs/1907.05737, and DrNAS, Chen et al. 2021, https://arxiv.org/abs/2006.10355).
**BatchNorm without affine**: with ``bn_affine: false`` (default) every BatchNorm's scale and
shift stay at 1 and 0 during the search, as DARTS's search network has ``affine=False``: a
learnt scale could otherwise absorb, or undo, the architecture weight of its operation.

**Derivation**: the derived architecture is the argmax of ``alpha`` per decision; with ``top >
1`` the next ones follow in order of their joint softmax probability. With ``derive_none:
false`` (default) the ``none``/``zero`` option is left out of the argmax, as DARTS derives its
cell (Liu et al. 2019, section 2.4): its weight measures how much the mixture is scaled down,
not an operation; ``derive_none: true`` keeps it selectable. Nothing is derived, logged or
guarded during the warm-up (the parameters have not moved).

**Collapse guard** (on by default): after each epoch past ``warmup_epochs + guard_warmup``, the
search stops when the argmax cell has collapsed (:func:`~nasforge.strategy.oneshot.collapsed`:
no parametric operation on any input-to-output path, or a majority of ``skip``/``none``) or more
than ``max_parameter_free`` of its operations have no parameters. It then proposes the last
argmax cell of an earlier epoch after the warm-up that had neither flaw; when there is none, the
argmax among each decision's parametric options. Further proposals (``top > 1``) are the next
cells by joint probability that have neither flaw. This is early stopping on the growth of
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
NONE_OPTIONS: frozenset[str] = frozenset({"none", "zero"})
"""Option names left out of the derivation with ``derive_none: false``."""


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
        guard_warmup: search epochs after the weight warm-up before the guard applies.
        warmup_epochs: first epochs that train only the weights, every option weighted
            equally (``None``: a quarter of ``epochs``, rounded down); below ``epochs``.
        derive_none: whether the derived cell may choose ``none``/``zero`` (DARTS: no).
        bn_affine: whether BatchNorm scales and shifts are learnt during the search (DARTS:
            no, ``affine=False``).
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
        warmup_epochs: Annotated[int, Field(ge=0)] | None = None,
        derive_none: bool = False,
        bn_affine: bool = False,
        **more: Any,
    ) -> None:
        problems = []
        if lr_min > lr:
            problems.append(Problem("strategy.lr_min", f"must be <= lr ({lr}); got {lr_min}",
                                    f"use lr_min <= {lr} (the cosine schedule ends there)"))
        warmup = epochs // 4 if warmup_epochs is None else warmup_epochs
        if warmup >= epochs:
            problems.append(Problem(
                "strategy.warmup_epochs",
                f"must be below epochs ({epochs}), or no epoch searches the architecture; got "
                f"{warmup}", f"use warmup_epochs < {epochs} (0: no warm-up)"))
        elif collapse_guard and warmup + guard_warmup >= epochs:
            problems.append(Problem(
                "strategy.guard_warmup",
                f"plus warmup_epochs ({warmup}) must be below epochs ({epochs}) for the collapse "
                f"guard to apply; got {guard_warmup}",
                f"use guard_warmup < {epochs - warmup}, fewer warmup_epochs, or "
                "collapse_guard: false"))
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
        self.warmup_epochs = warmup
        self.derive_none = derive_none
        self.bn_affine = bn_affine
        for key, value in more.items():
            setattr(self, key, value)

    def _check(self, **settings: Any) -> list[Problem]:
        """Cross-field problems of a subclass's own settings."""
        return []

    # -- the mixture ----------------------------------------------------------------------------
    def _mixture(self, run: SearchRun, alpha: torch.Tensor, name: str) -> torch.Tensor:
        """The weights of decision ``name``'s options in one forward pass."""
        raise NotImplementedError

    def searching(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) updates the architecture (it is past the warm-up)."""
        return epoch >= self.warmup_epochs

    def _use_mixture(self, run: SearchRun) -> None:
        import torch

        alpha: dict[str, torch.Tensor] = run.state["_alpha"]
        beta = self.aux_skip * (1.0 - run.epoch / self.epochs)
        searching = self.searching(run.epoch)
        weights = {}
        for name, a in alpha.items():
            # the warm-up mixes every option equally (all-zero parameters, no gradient to alpha)
            w = self._mixture(run, a if searching else torch.zeros_like(a.detach()), name)
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
        if not self.bn_affine:
            for norm in batch_norms(run.supernet):
                with torch.no_grad():
                    norm.weight.fill_(1.0)
                    norm.bias.zero_()
                norm.weight.requires_grad_(False)
                norm.bias.requires_grad_(False)
        weights = [p for p in run.supernet.parameters() if p.requires_grad]
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
        searching = self.searching(run.epoch)
        total, n = 0.0, 0
        for step, (x, y) in enumerate(run.train_batches(self.batch_size)):
            run.check_time()
            if searching:  # the warm-up leaves alpha (and its optimiser) untouched
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

    def _current(self, run: SearchRun) -> Architecture | None:
        from nasforge.strategy.oneshot._engine import argmax_arch

        if not self.searching(run.epoch):  # alpha has not moved: there is nothing to derive
            return None
        return argmax_arch(run, run.state["_alpha"], allowed=self._derivable)

    def _derivable(self, name: str, option: Any) -> bool:
        """Whether the derivation may choose ``option`` (``none`` only with ``derive_none``)."""
        return self.derive_none or not (isinstance(option, str) and option in NONE_OPTIONS)

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
        if not self.collapse_guard or run.epoch <= self.warmup_epochs + self.guard_warmup:
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
        # per decision, the options the derivation may choose (all of them when none may)
        keep = []
        for n in names:
            ok = [i for i, o in enumerate(run.supernet.choices[n]) if self._derivable(n, o)]
            keep.append(ok or list(range(len(run.supernet.choices[n]))))
        logp = [[alpha[n].detach().log_softmax(0)[i].item() for i in ok]
                for n, ok in zip(names, keep, strict=True)]
        more = self.top - len(found)
        if more > 0:  # the next ones by joint probability (without a flaw, under the guard)
            for picks in top_k(logp, 50 * self.top):
                arch = Architecture({n: run.supernet.choices[n][ok[i]]
                                     for n, ok, i in zip(names, keep, picks, strict=True)})
                if arch not in found and run.space.contains(arch) and (
                        run.stopped is None or self._flaw(run, arch) is None):
                    found.append(arch)
                    if len(found) == self.top:
                        break
        return found or [argmax_arch(run, alpha, allowed=self._derivable)]


def batch_norms(module: Any) -> list[Any]:
    """The BatchNorm layers of ``module``: those with running statistics and a learnt scale."""
    import torch

    return [m for m in module.modules() if hasattr(m, "running_mean")
            and isinstance(getattr(m, "weight", None), torch.nn.Parameter)
            and isinstance(getattr(m, "bias", None), torch.nn.Parameter)]


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
