"""`SearchRun`: the machinery every one-shot search shares, inside the worker that runs it.

It builds the space's supernet for the task, hands the strategy its data (training batches for
the weights, validation batches for the architecture), and drives the epochs: after each one it
checks that training stayed finite, reports the architecture weights through the trial's
reporter (``alpha.<decision>.<option>``: the softmax per decision, so the store keeps them over
time and a user can watch a collapse happening), applies the strategy's collapse guard, and
checkpoints the supernet, the strategy's own state (architecture parameters, controller,
optimisers, schedulers), the epochs done, the derived architecture of each epoch and the CPU
seconds spent so far. A re-run of the same search loads that checkpoint, reports the saved epochs
again (a restarted trial's learning curve starts afresh) and carries on.

Randomness is re-seeded from ``(seed, epoch)`` at the start of each epoch (weights, dropout,
sampling, shuffling), inside :func:`torch.random.fork_rng`, so a search resumed from epoch ``k``
continues exactly as an uninterrupted one, and the caller's global generator is untouched.

Cost: ``time.process_time()`` (CPU seconds of this process, every thread), summed over the
attempts up to the last checkpoint.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.checkpoint_io import load_checkpoint
from nasforge.errors import TrialTimeout
from nasforge.rng import derive_seed
from nasforge.strategy.oneshot._collapse import collapsed, parameter_free_share
from nasforge.strategy.oneshot.base import DERIVED
from nasforge.trial import Result

if TYPE_CHECKING:
    from nasforge.evaluate.base import EvalContext
    from nasforge.space.supernet import Supernet
    from nasforge.strategy.oneshot.base import OneShotStrategy

CHECKPOINT = "oneshot_search.pt"
"""The search's checkpoint file, under the search trial's workdir."""


class Diverged(Exception):
    """Training produced a non-finite loss or architecture weight."""


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` through a temporary file, so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class SearchRun:
    """One one-shot search in a worker (see the module docstring).

    Attributes the strategies use: ``supernet``, ``space``, ``seed``, ``epoch`` (the current
    one), ``state`` (a dict of what to checkpoint: tensors, modules, optimisers, schedulers,
    plain numbers; keys starting with ``_`` are views of the others and are not saved),
    ``gen`` (a ``torch.Generator`` re-seeded every epoch, for sampling) and ``rng`` (a
    ``numpy`` generator likewise).
    """

    def __init__(self, strategy: OneShotStrategy, ctx: EvalContext, seed: int) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self.space = ctx.space
        self.seed = int(seed)
        data = ctx.task.load()
        self.info = data.info
        self.train = data.train
        self.val = data.val
        self.path = Path(ctx.workdir) / CHECKPOINT if ctx.workdir else None
        self.state: dict[str, Any] = {}
        self.epoch = 0
        self.history: list[str] = []  # the derived architectures of epochs, without a flaw
        self.reported: list[dict[str, float]] = []  # each epoch's report, sent again on resume
        self.stopped: str | None = None
        self.gen = torch.Generator()
        self.rng = np.random.default_rng(0)
        self.supernet: Supernet
        self._started = time.monotonic()
        self._cpu_start = time.process_time()
        self._cpu_before = 0.0

    # -- data ------------------------------------------------------------------------------------
    def train_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This epoch's shuffled training batches (the same for the same seed and epoch)."""
        seed = derive_seed(self.seed, "oneshot-train", self.epoch)
        size = min(batch_size, len(self.train))  # a split smaller than a batch is one batch
        yield from self.train.loader(size, shuffle=True, seed=seed, drop_last=True)

    def val_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Validation batches without end, reshuffled each pass (for architecture steps)."""
        passes = 0
        size = min(batch_size, len(self.val))
        if size < 1:
            raise ValueError("the task's validation split is empty; a one-shot search needs "
                             "validation examples for its architecture steps")
        while True:
            seed = derive_seed(self.seed, "oneshot-val", self.epoch, passes)
            yield from self.val.loader(size, shuffle=True, seed=seed, drop_last=True)
            passes += 1

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task's training loss of the supernet's current path or mixture."""
        out = self.supernet(x)
        if self.info.is_regression:
            return nn.functional.mse_loss(out.reshape(y.shape), y.float())
        return nn.functional.cross_entropy(out, y)

    def check_finite(self, value: torch.Tensor | float, what: str, step: int) -> None:
        """Raise :class:`Diverged` when ``value`` is NaN or infinite."""
        number = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        if not math.isfinite(number):
            raise Diverged(f"non-finite {what} ({number}) at epoch {self.epoch + 1}, "
                           f"step {step + 1}")

    def check_time(self) -> None:
        """Raise :class:`TrialTimeout` past the trial's time limit (checked per batch)."""
        limit = self.ctx.time_limit_s
        if limit is not None and time.monotonic() - self._started > limit:
            kept = (f"its checkpoint of epoch {self.epoch} is kept" if self.epoch
                    else "no epoch had finished, so there is no checkpoint")
            raise TrialTimeout(f"the one-shot search passed its time limit of {limit:g} s in "
                               f"epoch {self.epoch + 1}; {kept}; raise trial_time_limit_s")

    # -- scoring with inherited weights ----------------------------------------------------------
    @torch.no_grad()
    def accuracy(self, arch: Architecture, *, bn_batches: int, max_examples: int,
                 batch_size: int = 256) -> float:
        """``arch``'s validation accuracy (%) with the supernet's weights (regression: minus
        the mean squared error), after re-calibrating BatchNorm on ``bn_batches`` training
        batches (:func:`~nasforge.space.supernet.recalibrate_bn`)."""
        from nasforge.space.supernet import recalibrate_bn

        net = self.supernet
        net.use(arch)
        seed = derive_seed(self.seed, "oneshot-bn")
        inputs = (x for _, (x, _y) in zip(range(bn_batches), self.train.loader(
            batch_size, shuffle=True, seed=seed), strict=False))
        recalibrate_bn(net, inputs)
        was_training = net.training
        net.eval()
        right, seen, sq = 0.0, 0, 0.0
        for x, y in self.val.loader(batch_size):
            if seen >= max_examples:
                break
            x, y = x[: max_examples - seen], y[: max_examples - seen]
            out = net(x)
            if self.info.is_regression:
                sq += float(((out.reshape(y.shape) - y.float()) ** 2).sum())
            else:
                right += float((out.argmax(1) == y).sum())
            seen += len(y)
        net.train(was_training)
        if self.info.is_regression:
            return -sq / max(seen, 1)
        return 100.0 * right / max(seen, 1)

    # -- checkpoints -----------------------------------------------------------------------------
    def cpu_s(self) -> float:
        """CPU seconds of the search so far, earlier attempts (to their checkpoint) included."""
        return self._cpu_before + time.process_time() - self._cpu_start

    def _save(self) -> None:
        if self.path is None:
            return
        state = {k: (v.state_dict() if hasattr(v, "state_dict") else v)
                 for k, v in self.state.items() if not k.startswith("_")}
        atomic_save({"epoch": self.epoch, "supernet": self.supernet.state_dict(),
                     "state": state, "history": list(self.history), "cpu_s": self.cpu_s(),
                     "reported": list(self.reported),
                     "stopped": self.stopped}, self.path)

    def _load(self) -> None:
        if self.path is None or not self.path.is_file():
            return
        saved = load_checkpoint(self.path, field="strategy")
        self.supernet.load_state_dict(saved["supernet"])
        for key, value in saved["state"].items():
            target = self.state[key]
            if hasattr(target, "load_state_dict"):
                target.load_state_dict(value)
            elif isinstance(target, torch.Tensor):
                with torch.no_grad():
                    target.copy_(value)
            else:
                self.state[key] = value
        self.epoch = int(saved["epoch"])
        self.history = list(saved["history"])
        self.reported = list(saved.get("reported", []))
        if self.ctx.reporter is not None:  # a restarted trial's curve starts afresh: refill it
            for step, values in enumerate(self.reported):
                self.ctx.reporter.report(step, values)
        self.stopped = saved.get("stopped")
        self._cpu_before = float(saved["cpu_s"])
        self._cpu_start = time.process_time()

    def _seed_epoch(self) -> None:
        seed = derive_seed(self.seed, "oneshot-epoch", self.epoch)
        torch.manual_seed(seed)
        self.gen.manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    # -- the whole search ------------------------------------------------------------------------
    def run(self) -> Result:
        """Build, resume, train epoch by epoch, derive; the search trial's result."""
        with torch.random.fork_rng():
            torch.manual_seed(derive_seed(self.seed, "oneshot-init"))
            self.supernet = self.space.supernet(self.info)
            self.strategy._init_state(self)
            self._load()
            try:
                while self.epoch < self.strategy.epochs and self.stopped is None:
                    self._seed_epoch()
                    self.supernet.train()
                    loss = self.strategy._train_epoch(self)
                    self.check_finite(loss, "training loss", 0)
                    self._after_epoch(loss)
            except Diverged as exc:
                return self._diverged(str(exc))
            self._seed_epoch()  # the final derivation's draws depend on the seed only
            derived = self.strategy._final(self)
        return self._result(derived)

    def _after_epoch(self, loss: float) -> None:
        weights = self.strategy._weights(self)
        values: dict[str, float] = {"train_loss": float(loss)}
        for name, probs in (weights or {}).items():
            for option, p in zip(self.supernet.choices[name], probs, strict=True):
                if not math.isfinite(p):
                    raise Diverged(f"non-finite architecture weight of {name}={option} at "
                                   f"epoch {self.epoch + 1}")
                values[f"alpha.{name}.{option}"] = float(p)
        current = self.strategy._current(self)
        free = self.supernet.parameter_free
        if current is not None:
            values["parameter_free_share"] = parameter_free_share(current, free)
            values["collapsed"] = float(collapsed(self.space, current, free))
        self.epoch += 1
        if current is not None:
            self.stopped = self.strategy._guard(self, current)
            if self.stopped is None and self.strategy._flaw(self, current) is None:
                self.history.append(str(current))
        self.reported.append(values)
        self._save()  # before the report: what was reported is in the checkpoint
        reporter = self.ctx.reporter
        if reporter is not None:
            reporter.report(self.epoch - 1, values)

    def _diverged(self, why: str) -> Result:
        kept = (f"the last good checkpoint (epoch {self.epoch}) is kept in {self.path}"
                if self.path is not None and self.path.is_file() else "no checkpoint was kept")
        return Result.failed(
            f"the one-shot search diverged: {why}; {kept}; lower strategy.lr (or "
            "strategy.arch_lr), or set strategy.grad_clip",
            cost_s=self.cpu_s())

    def _result(self, derived: list[Architecture]) -> Result:
        best = derived[0]
        free = self.supernet.parameter_free
        accuracy = self.accuracy(best, bn_batches=getattr(self.strategy, "bn_batches", 4),
                                 max_examples=getattr(self.strategy, "score_examples", 1000))
        cpu_s = self.cpu_s()
        metrics = {
            "search_epochs": float(self.epoch),
            "search_cpu_s": cpu_s,
            "supernet_val_accuracy": accuracy,
            "collapsed": float(collapsed(self.space, best, free)),
            "parameter_free_share": parameter_free_share(best, free),
        }
        info: dict[str, Any] = {DERIVED: [str(a) for a in derived], "source": "oneshot",
                                "strategy": self.strategy.name, "epochs": self.epoch}
        if self.stopped is not None:
            info["stopped"] = self.stopped
        if self.path is not None:
            info["checkpoint"] = str(self.path)
        return Result(metrics=metrics, cost_s=cpu_s, info=info)


def softmax_weights(alpha: Mapping[str, torch.Tensor]) -> dict[str, list[float]]:
    """The softmax of each decision's architecture parameters, as plain floats."""
    return {n: torch.softmax(a.detach(), 0).tolist() for n, a in alpha.items()}


def argmax_arch(run: SearchRun, alpha: Mapping[str, torch.Tensor],
                allowed: Callable[[str, Any], bool] | None = None) -> Architecture:
    """The architecture of each decision's largest parameter (only among ``allowed`` options
    when given and some option of the decision is allowed)."""
    values = {}
    for name, a in alpha.items():
        options = run.supernet.choices[name]
        scores = a.detach().clone()
        if allowed is not None:
            mask = torch.tensor([allowed(name, o) for o in options])
            if bool(mask.any()):
                scores[~mask] = -math.inf
        values[name] = options[int(scores.argmax())]
    return Architecture(values)


def weight_optimiser(run: SearchRun, *, lr: float, lr_min: float, momentum: float,
                     weight_decay: float, epochs: int) -> None:
    """The supernet's SGD optimiser and cosine schedule, as ``run.state["w_opt"]`` and
    ``run.state["schedule"]`` (checkpointed)."""
    opt = torch.optim.SGD(run.supernet.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    run.state["w_opt"] = opt
    run.state["schedule"] = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=epochs, eta_min=lr_min)


def single_path_epoch(run: SearchRun, sample: Callable[[], Architecture], *, batch_size: int,
                      grad_clip: float | None) -> float:
    """One epoch of single-path training: each training batch trains the path ``sample()``
    draws (uniform for SPOS, the controller's for ENAS); returns the mean loss."""
    opt = run.state["w_opt"]
    total, n = 0.0, 0
    for step, (x, y) in enumerate(run.train_batches(batch_size)):
        run.check_time()
        run.supernet.use(sample())
        opt.zero_grad()
        loss = run.loss(x, y)
        run.check_finite(loss, "training loss", step)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(run.supernet.parameters(), grad_clip)
        opt.step()
        total += float(loss.detach())
        n += 1
    run.state["schedule"].step()
    return total / max(n, 1)
