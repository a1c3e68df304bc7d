"""`TrainEvaluator`: score an architecture by training it on the task.

The network from ``space.build(arch, task)`` is trained with mini-batch gradient descent for
``candidate.fidelity`` epochs (default: ``epochs``), validated after every epoch, and the weights
of the best validation epoch are kept and measured on the test split. Early stopping on validation
accuracy, a cooperative time limit, a non-finite-loss check and checkpointed continuation to a
higher fidelity are built in.

Data: array splits (every built-in task) are moved to the device once and batched by indexing,
the fast path; Dataset splits (:class:`~nasforge.tasks.DatasetTask`, a lazily read image folder)
are read through a DataLoader with the same seeded order of examples, so both kinds train the
same way and are reproducible.

Problems: classification trains with cross-entropy and keeps the epoch of best validation
accuracy; regression trains with mean squared error and keeps the epoch of lowest ``val_mse``.
After every epoch the validation values are reported to ``ctx.reporter`` (when the study has a
pruner), and a trial the pruner stops raises :class:`~nasforge.errors.TrialPruned`.

Robustness and fairness: with ``robustness: {noise_std: 0.1, fgsm_eps: 0.05}`` a classifier's
accuracy under Gaussian input noise and under an FGSM attack is measured on validation and test
with the kept weights (:mod:`nasforge.evaluate.robustness`); on a task with groups
(``TaskInfo.has_groups``) its group metrics are too (:mod:`nasforge.evaluate.fairness`). The
``val_`` values let a search optimise or constrain them without looking at the test split.

Costs: ``params``, ``flops`` (one example) and ``memory_mb``, the peak memory of a forward pass
of a batch of ``latency.batch_size`` examples (weights, buffers and the activations alive at
once; :func:`~nasforge.evaluate.costs.peak_memory_mb`, exact on the CPU too). With
``measure_latency`` (on by default) the trained network is timed with
:func:`~nasforge.evaluate.latency.measure_latency` per ``latency: {batch_size: 64, runtimes:
[torch], threads: 1, min_run_time: 0.1}``: ``torch`` gives ``latency_ms`` and its spread
``latency_iqr_ms`` (batch 1) and ``latency_batch_ms`` (the batch size), ``onnx`` (opt-in; needs
the ``onnx`` extra) ``onnx_latency_ms`` and ``onnx_latency_batch_ms``; every measurement, with
its spread and the settings, is in ``Result.info["latency"]``. The defaults add about 0.3 s to a
trial (two torch measurements of 0.1 s each after a warm-up); onnx adds an export and a session,
about another 0.3 s for a small network. These figures are taken while other workers may train
beside it, so the study measures its front again in a quiet phase at the end
(:mod:`nasforge.run.remeasure`).

Schedule and continuation: the cosine learning-rate schedule always spans the evaluator's full
``epochs`` (its :attr:`~TrainEvaluator.max_fidelity`), whatever the fidelity asked for. A
low-fidelity run is therefore exactly the first part of a full run (its learning rate is not
annealed to zero, as in a full run at the same point), and continuing it from its checkpoint gives
the same weights and metrics as training straight through (bit-for-bit on CPU).

Data-fraction fidelity: with ``fidelity: data_fraction`` a candidate's ``fidelity`` is the
fraction of the training split it trains on, a number in (0, 1] (``max_fidelity`` 1.0; ``None``:
the whole split), always for the full ``epochs``. Fraction ``f`` uses the first ``ceil(f * n)``
examples of one fixed permutation of the ``n`` training examples, drawn from ``subset_seed``
(the same for every architecture, so a rung compares them on the same examples), so the
examples of a higher fraction contain those of every lower one. For a classification task with
array splits the permutation is class-stratified: each class's examples are spread evenly
through it, so every prefix holds the classes in about their proportions in the split.
Validation and test always use the whole splits. Fraction 1.0 trains exactly as the epochs path
does at full fidelity (same batches, same metrics).

A promotion (the same architecture and key asked at a higher fraction) continues from the
checkpoint of the highest lower fraction saved: its kept (best-validation) weights initialise the
network, which is then trained with a fresh optimiser over the full schedule on the larger
subset. This warm start is *not* bit-identical to training that fraction from scratch, and costs
as much as that run: what it buys is the better starting point, not fewer steps (a subset cannot
be "continued" to a larger one the way epochs can). ``Result.info["warm_started_from"]`` gives
the fraction it started from (absent: from scratch). Asking again at a fraction already saved is
answered from its checkpoint. Each fraction keeps its own checkpoint file, and the checkpoint key
includes the fidelity kind, so epochs and data-fraction runs never share one.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem, TrialPruned
from nasforge.evaluate.base import (
    EVALUATORS,
    WEIGHTS_FILE,
    EvalContext,
    Evaluator,
    check_forward,
)
from nasforge.evaluate.costs import count_flops, count_params, model_device, peak_memory_mb
from nasforge.evaluate.fairness import group_metrics, missing_fairlearn
from nasforge.evaluate.latency import Latency, LatencySettings, measure_latency
from nasforge.evaluate.robustness import fgsm_accuracy, noise_accuracy
from nasforge.imports import missing_modules
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import Split, Task, TaskData, TaskInfo
from nasforge.trial import Candidate, Result, Status

if TYPE_CHECKING:
    from nasforge.execute.resources import Resources

_CHECKPOINT_VERSION = 1
_log = logging.getLogger(__name__)


Strength = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_ROBUSTNESS_METRICS: dict[str, tuple[str, str]] = {
    "noise_std": (M.VAL_NOISE_ACCURACY, M.TEST_NOISE_ACCURACY),
    "fgsm_eps": (M.VAL_FGSM_ACCURACY, M.TEST_FGSM_ACCURACY),
}
"""The keys of the train evaluator's ``robustness`` parameter and the metrics each gives:
``noise_std`` the Gaussian noise's standard deviation, ``fgsm_eps`` the FGSM attack's strength,
both in standardised input units (:mod:`nasforge.evaluate.robustness`)."""
_LATENCY_METRICS: dict[str, tuple[str, ...]] = {
    "torch": (M.LATENCY_MS, M.LATENCY_IQR_MS, M.LATENCY_BATCH_MS),
    "onnx": (M.ONNX_LATENCY_MS, M.ONNX_LATENCY_BATCH_MS),
}
"""The metrics each runtime of the ``latency`` parameter gives (batch 1, its spread for torch,
and the latency batch size)."""
_FAIRNESS_PAIRS = {
    "dp_diff": (M.VAL_DP_DIFF, M.TEST_DP_DIFF),
    "eo_diff": (M.VAL_EO_DIFF, M.TEST_EO_DIFF),
    "worst_group_accuracy": (M.VAL_WORST_GROUP_ACCURACY, M.TEST_WORST_GROUP_ACCURACY),
}


@dataclass
class _Progress:
    """Training progress that a checkpoint carries besides weights and random states."""

    epoch: int = 0
    """Epochs finished."""
    step: int = 0
    """Optimiser steps taken (drives the per-step cosine schedule)."""
    best_val_accuracy: float = -1.0
    best_val_loss: float = math.inf
    """Cross-entropy at the best epoch; for regression the best (lowest) mean squared error."""
    best_val_mae: float = math.nan
    """Regression: mean absolute error at the best epoch."""
    best_val_r2: float = math.nan
    """Regression: R^2 at the best epoch."""
    best_epoch: int = 0
    bad_epochs: int = 0
    """Epochs since the last improvement (for early stopping)."""
    stopped: bool = False
    """Early stopping triggered; more epochs would not be trained."""
    train_loss: float = math.nan
    """Mean training loss of the last epoch."""
    train_seconds: float = 0.0
    """Seconds spent training and validating, over all continuations."""


class _Data:
    """One split as batches on the training device: arrays moved there once and indexed (the
    fast path), or a Dataset read through a DataLoader in the order asked for."""

    def __init__(self, split: Split, info: TaskInfo, device: torch.device) -> None:
        self.split = split
        self.device = device
        self.n_targets = info.n_targets if info.is_regression else 0
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        if not split.is_dataset:
            x, y = split.tensors()
            self.x, self.y = x.to(device), y.to(device)
        self.n = len(split)
        self.indices: torch.Tensor | None = None

    def restrict(self, indices: torch.Tensor) -> None:
        """Train on the examples at ``indices`` only (a data-fraction subset)."""
        self.indices = indices.to(self.device if self.x is not None else torch.device("cpu"))
        self.n = len(indices)

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        y = y.to(self.device)
        if self.n_targets:  # regression: float targets (n, n_targets), however the data gave them
            return y.to(torch.float32).reshape(len(y), self.n_targets)
        return y.long()

    def epoch(self, order: torch.Tensor, size: int, steps: int) -> Iterator[
        tuple[torch.Tensor, torch.Tensor]
    ]:
        """The ``steps`` training batches of ``size`` examples each, in ``order`` (positions in
        the subset when :meth:`restrict` chose one)."""
        if self.indices is not None:
            order = self.indices[order.to(self.indices.device)]
        if self.x is not None and self.y is not None:
            order = order.to(self.y.device)
            for s in range(steps):
                index = order[s * size : (s + 1) * size]
                yield self.x[index], self.y[index]
            return
        chunks = [order[s * size : (s + 1) * size].tolist() for s in range(steps)]
        for x, y in self.split.batches(chunks):
            yield x.to(self.device), self._targets(y)

    def in_order(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every example once, in batches, for validation and test."""
        if self.x is not None and self.y is not None:
            for lo in range(0, self.n, batch_size):
                yield self.x[lo : lo + batch_size], self.y[lo : lo + batch_size]
            return
        for x, y in self.split.loader(batch_size):
            yield x.to(self.device), self._targets(y)


class _Stop(Exception):
    """Ends training early with a status and reason (non-finite loss, time limit)."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"ndarray{value.shape}:{value.dtype}:{digest}"
    return repr(value)


def _fingerprint(obj: Any) -> dict[str, Any]:
    """A JSON-able description of a component: class, registered name and parameters."""
    params = obj.get_params() if hasattr(obj, "get_params") else {}
    return {"class": type(obj).__qualname__, "name": getattr(obj, "name", ""), "params": params}


@EVALUATORS.register("train")
class TrainEvaluator(Evaluator):
    """Train each candidate on the task; report its best validation score and costs.

    Metrics of a classification task: ``val_accuracy`` (best epoch, %), ``val_loss`` (at that
    epoch), ``test_accuracy`` (%, with the best-validation weights) and ``test_loss``. Of a
    regression task: ``val_mse``, ``val_mae``, ``val_r2`` (the epoch of lowest ``val_mse``) and
    ``test_mse``, ``test_mae``, ``test_r2`` (with its weights). Both: ``train_loss`` (mean over the
    last epoch), ``params``, ``flops`` (one example), ``memory_mb`` (a forward pass of
    ``latency.batch_size`` examples), with ``measure_latency`` the latencies of
    ``latency.runtimes`` (torch: ``latency_ms``, ``latency_iqr_ms``, ``latency_batch_ms``; onnx:
    ``onnx_latency_ms``, ``onnx_latency_batch_ms``; see the module docstring), ``train_seconds``
    (over all continuations), ``epochs`` (trained; fewer than asked after early stopping) and
    ``best_epoch``. A classification task adds ``val_noise_accuracy`` and
    ``test_noise_accuracy`` (with ``robustness.noise_std``), ``val_fgsm_accuracy`` and
    ``test_fgsm_accuracy`` (with ``robustness.fgsm_eps``), all in %, and, when it has groups
    (and ``fairness`` is on), ``val_dp_diff``, ``val_eo_diff``, ``val_worst_group_accuracy`` (%)
    and their ``test_`` counterparts, all with the kept weights. :meth:`provides_for` lists them
    for a task; :attr:`provides` is the union.

    Learning curve: after every epoch, ``ctx.reporter.report(epoch_index, values)`` receives that
    epoch's ``val_accuracy`` and ``val_loss`` (regression: ``val_mse``, ``val_mae``, ``val_r2``),
    with ``epoch_index`` counting from 0; when ``ctx.reporter.should_prune()`` then says so, the
    evaluation raises :class:`~nasforge.errors.TrialPruned` (the trial is stored PRUNED).

    Outcomes: a NaN/inf training loss gives a FAILED result naming the epoch and step; passing
    ``ctx.time_limit_s`` (checked before every batch) gives TIMEOUT with the metrics so far.

    Randomness: weights are initialised and dropout drawn from the torch RNG seeded with
    ``ctx.seed`` inside :func:`torch.random.fork_rng`, so the caller's global RNG is untouched;
    batches are shuffled with a separate ``torch.Generator`` seeded likewise. The same
    architecture, task and seed give the same metrics on CPU.

    Files: with ``ctx.workdir`` set (the study gives one directory per architecture), the best
    weights are saved as ``WEIGHTS_FILE`` (a plain ``state_dict`` of ``space.build(arch, task)``)
    for export, and a checkpoint (model, optimiser, progress, best weights, random states) is
    written beside them after training, keyed by architecture, seed, task, space and training
    settings. A later evaluation of the same key asking for more epochs
    continues from it (or is answered from it when it has exactly that many epochs or stopped
    early); one asking for fewer epochs than saved is retrained from scratch, and the longer
    checkpoint is kept.

    Args:
        epochs: the full fidelity; with ``fidelity: epochs`` a candidate's ``fidelity``
            overrides it (never above it); with ``data_fraction`` every run trains this many.
        fidelity: what a candidate's ``fidelity`` means: ``epochs`` (whole epochs, 1 to
            ``epochs``) or ``data_fraction`` (the fraction of the training split, in (0, 1]; see
            the module docstring).
        subset_seed: seeds the one permutation of the training examples that every data
            fraction is a prefix of (``fidelity: data_fraction`` only).
        batch_size: training mini-batch size.
        lr: peak learning rate.
        optimizer: ``sgd`` (with Nesterov momentum when ``momentum > 0``), ``adam`` or ``adamw``.
        momentum: SGD momentum (ignored by adam/adamw).
        weight_decay: L2 penalty (sgd, adam) or decoupled decay (adamw).
        schedule: ``cosine`` anneals per step to 0 over ``epochs``; ``constant`` keeps ``lr``.
        patience: stop after this many epochs without a better validation accuracy (regression:
            a lower val_mse) (None: off).
        device: ``auto`` uses CUDA when available.
        label_smoothing: cross-entropy label smoothing during training (classification only).
        measure_latency: measure the trained network's latency (on the training device;
            onnxruntime on the CPU) as ``latency`` says.
        latency: how: ``batch_size`` (the second batch size timed, and the one ``memory_mb`` is
            measured at; default 64), ``runtimes`` (``[torch]`` by default; add ``onnx``),
            ``threads`` (pinned while timing; 1) and ``min_run_time`` (seconds timed per
            measurement; 0.1). Keys left out take these defaults; none changes training, so a
            checkpoint is shared across them.
        grad_clip: clip the gradient norm to this value (None: off).
        eval_batch_size: batch size for validation and test passes.
        robustness: measure accuracy under perturbed inputs on validation and test:
            ``{noise_std: 0.1}`` (Gaussian noise, seeded with the trial's seed), ``{fgsm_eps:
            0.05}`` (an FGSM attack), or both (None: off). Classification only.
        fairness: report group metrics on a task with groups (needs the ``fair`` extra).
    """

    CLASSIFICATION_METRICS: ClassVar[tuple[str, ...]] = (
        M.VAL_ACCURACY, M.VAL_LOSS, M.TEST_ACCURACY, M.TEST_LOSS,
    )  # fmt: skip
    REGRESSION_METRICS: ClassVar[tuple[str, ...]] = (
        M.VAL_MSE, M.VAL_MAE, M.VAL_R2, M.TEST_MSE, M.TEST_MAE, M.TEST_R2,
    )  # fmt: skip
    COMMON_METRICS: ClassVar[tuple[str, ...]] = (
        M.TRAIN_LOSS, M.PARAMS, M.FLOPS, M.MEMORY_MB, M.TRAIN_SECONDS, M.EPOCHS, M.BEST_EPOCH,
    )  # fmt: skip
    LATENCY_METRICS: ClassVar[tuple[str, ...]] = (
        *_LATENCY_METRICS["torch"], *_LATENCY_METRICS["onnx"],
    )  # fmt: skip
    """Measured with ``measure_latency`` on, per the ``latency.runtimes`` asked for."""
    provides: ClassVar[tuple[str, ...]] = (
        *CLASSIFICATION_METRICS, *REGRESSION_METRICS, *COMMON_METRICS, *LATENCY_METRICS,
        *M.ROBUSTNESS, *M.FAIRNESS, M.PREDICTED_LATENCY_MS,
    )  # fmt: skip
    """Every metric this evaluator may report (for any task and settings); ``predicted_latency_ms``
    comes from :meth:`cheap_metrics` before training, added by the study when a constraint or an
    objective names it."""
    curve = (M.VAL_ACCURACY, M.VAL_LOSS, M.VAL_MSE, M.VAL_MAE, M.VAL_R2)
    """What it reports after each epoch (``val_`` + the epoch's scores), for a pruner to judge."""
    units: ClassVar[dict[str, str]] = {m: "%" for m in M.PERCENT}

    def __init__(
        self,
        *,
        epochs: Annotated[int, Field(ge=1)] = 15,
        fidelity: Literal["epochs", "data_fraction"] = "epochs",
        subset_seed: Annotated[int, Field(ge=0)] = 0,
        batch_size: Annotated[int, Field(ge=1)] = 128,
        lr: Annotated[float, Field(gt=0)] = 0.01,
        optimizer: Literal["sgd", "adam", "adamw"] = "adamw",
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        weight_decay: Annotated[float, Field(ge=0)] = 0.01,
        schedule: Literal["cosine", "constant"] = "cosine",
        patience: Annotated[int, Field(ge=1)] | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0,
        measure_latency: bool = True,
        latency: dict[str, Any] | None = None,
        grad_clip: Annotated[float, Field(gt=0)] | None = None,
        eval_batch_size: Annotated[int, Field(ge=1)] = 1024,
        robustness: dict[str, Strength] | None = None,
        fairness: bool = True,
    ) -> None:
        self.epochs = epochs
        self.fidelity = fidelity
        self.subset_seed = subset_seed
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.patience = patience
        self.device = device
        self.label_smoothing = label_smoothing
        self.measure_latency = measure_latency
        self.latency = latency
        self._latency = LatencySettings.parse(latency, "evaluator.latency")
        self.grad_clip = grad_clip
        self.eval_batch_size = eval_batch_size
        unknown = sorted(set(robustness or {}) - set(_ROBUSTNESS_METRICS))
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(_ROBUSTNESS_METRICS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError([Problem(
                f"evaluator.robustness.{unknown[0]}",
                f"unknown robustness setting{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}",
                f"{hint}use noise_std and/or fgsm_eps, e.g. robustness: {{noise_std: 0.1, "
                "fgsm_eps: 0.05}",
            )])  # fmt: skip
        self.robustness = robustness
        self.fairness = fairness

    @property
    def max_fidelity(self) -> int | float:
        """``epochs``, or 1.0 (the whole training split) with ``fidelity: data_fraction``."""
        return 1.0 if self.fidelity == "data_fraction" else self.epochs

    @property
    def min_fidelity(self) -> int | float:
        """1 epoch, or with ``fidelity: data_fraction`` the smallest positive float: any
        fraction in (0, 1] whose subset holds at least two examples trains."""
        return math.ulp(0.0) if self.fidelity == "data_fraction" else 1

    @property
    def fidelity_kind(self) -> str:
        return self.fidelity

    @property
    def latency_settings(self) -> LatencySettings:
        """The validated ``latency`` parameter, defaults filled in."""
        return self._latency

    def provides_for(self, info: TaskInfo) -> tuple[str, ...]:
        """The metrics reported on a task of this shape: classification or regression ones,
        the latencies of the runtimes asked for (with ``measure_latency``), the robustness ones
        asked for (classification), and group metrics on a classification task with groups (so
        an objective naming one on a task without groups is refused)."""
        latency = self._latency_metrics()
        if info.is_regression:
            return (*self.REGRESSION_METRICS, *self.COMMON_METRICS, *latency)
        robust = [m for key in self._robustness_keys() for m in _ROBUSTNESS_METRICS[key]]
        fair = M.FAIRNESS if self._has_group_metrics(info) else ()
        return (*self.CLASSIFICATION_METRICS, *self.COMMON_METRICS, *latency, *robust, *fair)

    def _latency_metrics(self) -> tuple[str, ...]:
        if not self.measure_latency:
            return ()
        return tuple(m for r in self._latency.runtimes for m in _LATENCY_METRICS[r])

    def metrics_for(self, task: Task) -> tuple[str, ...]:
        return self.provides_for(task.info())

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        """Load the task, check its examples and run one sampled network forward on two; then
        refuse robustness on a regression task, and a task with groups without fairlearn."""
        problems = check_forward(space, task)
        if problems:
            return problems
        info = task.info()
        if self._robustness_keys() and info.is_regression:
            problems.append(Problem(
                "evaluator.robustness",
                f"robustness accuracies need a classification task; {info.name!r} is a "
                "regression task",
                "remove evaluator.robustness, or use a classification task",
            ))  # fmt: skip
        if self._has_group_metrics(info) and missing_fairlearn():
            problems.append(Problem(
                "evaluator.fairness",
                f"task {info.name!r} has groups {list(info.groups)}, and their metrics need the "
                "'fairlearn' package, which is not installed",
                "pip install 'nasforge[fair]', or set evaluator.fairness: false",
            ))  # fmt: skip
        missing = [m for m in missing_modules("onnx") if m != "onnxscript"]  # dynamo fallback only
        if self.measure_latency and "onnx" in self._latency.runtimes and missing:
            problems.append(Problem(
                "evaluator.latency.runtimes",
                f"onnx latency needs {' and '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed",
                "pip install 'nasforge[onnx]', or remove onnx from evaluator.latency.runtimes",
            ))  # fmt: skip
        return problems

    def _robustness_keys(self) -> list[str]:
        return [k for k in _ROBUSTNESS_METRICS if (self.robustness or {}).get(k) is not None]

    def _has_group_metrics(self, info: TaskInfo) -> bool:
        return self.fairness and info.has_groups and not info.is_regression

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        start = time.perf_counter()
        deadline = None if ctx.time_limit_s is None else start + ctx.time_limit_s
        fraction = self._target_fraction(candidate)
        target = self._target_epochs(candidate)
        device = self._resolve_device()
        data = ctx.task.load()
        info = data.info
        train, val, test = (_Data(s, info, device) for s in (data.train, data.val, data.test))
        if val.n == 0:
            raise ValueError(f"task {ctx.task!r} has no validation examples to select epochs on")
        if fraction is not None:
            size = data_fraction_size(train.n, fraction)
            if size < 2:
                raise ValueError(
                    f"data fraction {fraction} of the {train.n} training examples is {size} "
                    "example(s); training needs at least 2. Raise the lowest rung (the "
                    "strategy's min_fidelity or rungs)."
                )
            if size < train.n:
                order = data_fraction_order(data.train, info, self.subset_seed)
                train.restrict(torch.from_numpy(order[:size]))
        path = self._checkpoint_path(candidate.arch, ctx, fraction)
        rng_devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(ctx.seed)
            model = ctx.space.build(candidate.arch, data.info).to(device)
            optimizer = self._make_optimizer(model)
            generator = torch.Generator().manual_seed(ctx.seed)
            progress = _Progress()
            best_state: dict[str, torch.Tensor] | None = None
            saved = self._read_checkpoint(path)
            resumed_from = 0
            warm_from: float | None = None
            # Resume only from a checkpoint that is a prefix of the run asked for; one trained
            # further cannot be rewound (a lower fidelity is retrained from scratch).
            if saved is not None and saved["epoch"] <= target:
                best_state = self._restore(saved, model, optimizer, generator, device)
                progress = _Progress(**saved["progress"])
                resumed_from = progress.epoch
            elif fraction is not None and saved is None:
                warm_from = self._warm_start(model, candidate.arch, ctx, fraction)
            costs = {
                M.PARAMS: float(count_params(model)),
                M.FLOPS: float(count_flops(model, data.info.input_shape)),
            }
            begun = progress.epoch
            try:
                best_state = self._train(
                    model, optimizer, generator, progress, best_state, train, val, target,
                    deadline, info, ctx,
                )  # fmt: skip
            except _Stop as stop:
                partial = {**costs, **self._progress_metrics(progress, info)}
                return Result(
                    metrics=partial,
                    status=stop.status,
                    reason=stop.reason,
                    cost_s=time.perf_counter() - start,
                    info={"resumed_from_epoch": resumed_from,
                          **self._fraction_info(fraction, train.n, warm_from)},
                )
            # Only the furthest-trained run of this key writes, so a lower fidelity evaluated
            # later never replaces a longer checkpoint or better-trained weights.
            is_furthest = progress.epoch >= self._saved_epochs(saved)
            if path is not None and is_furthest and progress.epoch > begun:
                self._write_checkpoint(path, model, optimizer, generator, progress, best_state)
        # The weights kept for export are those of the highest fraction trained.
        is_highest = fraction is None or not any(
            f > fraction for f in self._fraction_checkpoints(candidate.arch, ctx)
        )
        if ctx.workdir is not None and is_furthest and is_highest and best_state is not None:
            _atomic_save(
                {k: v.detach().cpu() for k, v in best_state.items()},
                os.path.join(ctx.workdir, WEIGHTS_FILE),
            )
        if best_state is not None:
            model.load_state_dict(best_state)
        scores = self._score(model, test, info)
        result_metrics = {
            **costs,
            **self._progress_metrics(progress, info),
            **{f"test_{k}": v for k, v in scores.items()},
            **self._robust_and_fair(model, val, test, data, ctx.seed),
        }
        result_info: dict[str, Any] = {
            "resumed_from_epoch": resumed_from,
            "checkpoint": path,
            **self._fraction_info(fraction, train.n, warm_from),
        }
        shape = data.info.input_shape
        result_metrics[M.MEMORY_MB] = peak_memory_mb(
            model, shape, batch_size=self._latency.batch_size
        )
        if self.measure_latency:
            latencies = self._measure_latencies(model, shape)
            result_metrics.update(self._latency_values(latencies))
            result_info["latency"] = {
                "settings": self._latency.to_dict(),
                "measured": [m.to_dict() for m in latencies],
            }
        return Result(metrics=result_metrics, cost_s=time.perf_counter() - start, info=result_info)

    def _measure_latencies(self, model: nn.Module, input_shape: tuple[int, ...]) -> list[Latency]:
        """Batch 1 and the latency batch size in each runtime asked for (onnxruntime on a CPU
        copy of a CUDA model), with the pinned thread count."""
        settings = self._latency
        batches = dict.fromkeys((1, settings.batch_size))  # once when batch_size is 1
        found = []
        for runtime in settings.runtimes:
            on = model
            if runtime == "onnx" and model_device(model).type != "cpu":
                on = copy.deepcopy(model).cpu()
            for batch in batches:
                found.append(measure_latency(
                    on, input_shape, batch_size=batch, runtime=runtime, threads=settings.threads,
                    min_run_time=settings.min_run_time,
                ))  # fmt: skip
        return found

    def _latency_values(self, latencies: list[Latency]) -> dict[str, float]:
        """The latency metrics of the measurements (see :data:`_LATENCY_METRICS`)."""
        values: dict[str, float] = {}
        batch = self._latency.batch_size
        for runtime, prefix in (("torch", ""), ("onnx", "onnx_")):
            by_batch = {m.batch_size: m for m in latencies if m.runtime == runtime}
            if not by_batch:
                continue
            values[f"{prefix}{M.LATENCY_MS}"] = by_batch[1].median_ms
            values[f"{prefix}{M.LATENCY_BATCH_MS}"] = by_batch[batch].median_ms
            if runtime == "torch":
                values[M.LATENCY_IQR_MS] = by_batch[1].iqr_ms
        return values

    def _target_fraction(self, candidate: Candidate) -> float | None:
        """The data fraction asked for (``None`` with ``fidelity: epochs``)."""
        if self.fidelity != "data_fraction":
            return None
        value = 1.0 if candidate.fidelity is None else candidate.fidelity
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ValueError(
                f"candidate fidelity must be a data fraction in (0, 1] (evaluator.fidelity is "
                f"data_fraction); got {candidate.fidelity!r}. Give the strategy fractions, e.g. "
                "min_fidelity: 0.1, max_fidelity: 1.0, or set evaluator.fidelity: epochs."
            )
        return float(value)

    @staticmethod
    def _fraction_info(fraction: float | None, n: int, warm_from: float | None) -> dict[str, Any]:
        """What ``Result.info`` says of a data-fraction run: the fraction, the training
        examples it used and the lower fraction it was warm-started from (if any)."""
        if fraction is None:
            return {}
        found: dict[str, Any] = {"data_fraction": fraction, "train_examples": n}
        if warm_from is not None:
            found["warm_started_from"] = warm_from
        return found

    def _target_epochs(self, candidate: Candidate) -> int:
        if self.fidelity == "data_fraction":
            return self.epochs
        fidelity = candidate.fidelity
        if fidelity is not None and (isinstance(fidelity, bool) or fidelity != int(fidelity)):
            raise ValueError(
                f"candidate fidelity must be whole epochs (evaluator.fidelity is epochs); got "
                f"{fidelity!r}. Give the strategy whole epochs, or set evaluator.fidelity: "
                "data_fraction to train on a fraction of the data."
            )
        target = self.epochs if fidelity is None else int(fidelity)
        if not 1 <= target <= self.epochs:
            raise ValueError(
                f"candidate fidelity must be between 1 and the evaluator's epochs "
                f"({self.epochs}); got {candidate.fidelity}. Raise evaluator.epochs to train "
                f"longer."
            )
        return target

    def trial_resources(self) -> Resources:
        """One GPU per trial with ``device: cuda`` (what the Ray executor asks for per trial);
        ``auto`` and ``cpu`` state no GPU need, so under Ray they train on the CPU unless
        ``executor.gpus_per_trial`` is set."""
        from nasforge.execute.resources import Resources

        return Resources(gpus=1.0 if self.device == "cuda" else None)

    def _resolve_device(self) -> torch.device:
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                "evaluator.device is 'cuda' but CUDA is not available in this worker; "
                "use device: auto or cpu"
            )
        use_cuda = self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())
        return torch.device("cuda" if use_cuda else "cpu")

    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                params,
                lr=self.lr,
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                weight_decay=self.weight_decay,
            )
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)

    def _steps_per_epoch(self, n: int) -> int:
        # A final batch of a single example is skipped: BatchNorm cannot train on it. The
        # permutation changes each epoch, so no example is skipped systematically.
        size = min(self.batch_size, n)
        return n // size + (1 if n % size >= 2 else 0)

    def _lr_at(self, step: int, total: int) -> float:
        if self.schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

    def _train(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        progress: _Progress,
        best_state: dict[str, torch.Tensor] | None,
        train: _Data,
        val: _Data,
        target: int,
        deadline: float | None,
        info: TaskInfo,
        ctx: EvalContext,
    ) -> dict[str, torch.Tensor] | None:
        """Train until ``target`` epochs or early stopping; return the best weights.

        Raises:
            TrialPruned: the study's pruner stopped the trial after an epoch.
        """
        n = train.n
        size = min(self.batch_size, n)
        steps = self._steps_per_epoch(n)
        total = self.epochs * steps  # the schedule spans the full fidelity, see module doc
        clock = time.perf_counter()
        try:
            while progress.epoch < target and not progress.stopped:
                model.train()
                order = torch.randperm(n, generator=generator)
                loss_sum, seen = 0.0, 0
                batches = train.epoch(order, size, steps)
                for s in range(steps):
                    if deadline is not None and time.perf_counter() > deadline:
                        raise _Stop(
                            Status.TIMEOUT,
                            f"time limit reached at epoch {progress.epoch + 1}, step {s + 1}",
                        )
                    x, y = next(batches)
                    lr = self._lr_at(progress.step, total)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    optimizer.zero_grad(set_to_none=True)
                    loss = self._loss(model(x), y, info)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        raise _Stop(
                            Status.FAILED,
                            f"non-finite training loss at epoch {progress.epoch + 1}, step {s + 1}",
                        )
                    loss.backward()
                    if self.grad_clip is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
                    optimizer.step()
                    progress.step += 1
                    loss_sum += value * len(y)
                    seen += len(y)
                progress.epoch += 1
                progress.train_loss = loss_sum / max(seen, 1)
                scores = self._score(model, val, info)
                if self._is_better(scores, progress, info):
                    self._keep_best(scores, progress, info)
                    progress.best_epoch = progress.epoch
                    progress.bad_epochs = 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    progress.bad_epochs += 1
                    if self.patience is not None and progress.bad_epochs >= self.patience:
                        progress.stopped = True
                self._report(ctx, progress.epoch, scores)
        finally:
            progress.train_seconds += time.perf_counter() - clock
        return best_state

    @staticmethod
    def _report(ctx: EvalContext, epoch: int, scores: dict[str, float]) -> None:
        """Report epoch ``epoch``'s validation values; raise TrialPruned if the pruner says so."""
        if ctx.reporter is None:
            return
        values = {f"val_{k}": v for k, v in scores.items()}
        ctx.reporter.report(epoch - 1, values)
        if ctx.reporter.should_prune():
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            raise TrialPruned(f"pruned after epoch {epoch} (step {epoch - 1}: {shown})")

    def _loss(self, out: torch.Tensor, y: torch.Tensor, info: TaskInfo) -> torch.Tensor:
        if info.is_regression:
            return F.mse_loss(out, y)
        return F.cross_entropy(out, y, label_smoothing=self.label_smoothing)

    @staticmethod
    def _is_better(scores: dict[str, float], progress: _Progress, info: TaskInfo) -> bool:
        if info.is_regression:
            return scores["mse"] < progress.best_val_loss
        accuracy, loss = scores["accuracy"], scores["loss"]
        return accuracy > progress.best_val_accuracy or (
            accuracy == progress.best_val_accuracy and loss < progress.best_val_loss
        )

    @staticmethod
    def _keep_best(scores: dict[str, float], progress: _Progress, info: TaskInfo) -> None:
        if info.is_regression:
            progress.best_val_loss = scores["mse"]
            progress.best_val_mae = scores["mae"]
            progress.best_val_r2 = scores["r2"]
        else:
            progress.best_val_accuracy = scores["accuracy"]
            progress.best_val_loss = scores["loss"]

    def _score(self, model: nn.Module, split: _Data, info: TaskInfo) -> dict[str, float]:
        """``model`` on ``split`` in evaluation mode: ``accuracy`` (%) and mean cross-entropy
        ``loss``, or for regression ``mse``, ``mae`` and ``r2`` (averaged over targets, as
        scikit-learn's ``r2_score``; a constant target scores 1 if predicted exactly, else 0)."""
        if info.is_regression:
            return self._score_regression(model, split)
        model.eval()
        correct = torch.zeros((), dtype=torch.long, device=split.device)
        loss = torch.zeros((), dtype=torch.float64, device=split.device)
        with torch.no_grad():
            for x, y in split.in_order(self.eval_batch_size):
                logits = model(x)
                loss += F.cross_entropy(logits, y, reduction="sum").double()
                correct += (logits.argmax(dim=1) == y).sum()
        n = max(split.n, 1)
        return {"accuracy": 100.0 * float(correct.item()) / n, "loss": float(loss.item()) / n}

    def _robust_and_fair(
        self, model: nn.Module, val: _Data, test: _Data, data: TaskData, seed: int
    ) -> dict[str, float]:
        """Robustness accuracies and group metrics of the kept weights on validation and test
        (those asked for and defined on this task; see :meth:`provides_for`)."""
        info = data.info
        values: dict[str, float] = {}
        if info.is_regression:
            return values
        settings = self.robustness or {}
        for split, at in ((val, 0), (test, 1)):
            if "noise_std" in self._robustness_keys():
                values[_ROBUSTNESS_METRICS["noise_std"][at]] = noise_accuracy(
                    model, split.in_order(self.eval_batch_size), std=settings["noise_std"],
                    seed=seed,
                )  # fmt: skip
            if "fgsm_eps" in self._robustness_keys():
                values[_ROBUSTNESS_METRICS["fgsm_eps"][at]] = fgsm_accuracy(
                    model, split.in_order(self.eval_batch_size), eps=settings["fgsm_eps"]
                )
        if self._has_group_metrics(info):
            for split, source, at in ((val, data.val, 0), (test, data.test, 1)):
                if source.group is None:
                    raise ValueError(
                        f"task {info.name!r} has groups but a split carries no group codes"
                    )
                y_true, y_pred = self._predictions(model, split)
                found = group_metrics(y_true, y_pred, source.group, n_classes=info.n_classes)
                for key, names in _FAIRNESS_PAIRS.items():
                    values[names[at]] = found[key]
        return values

    def _predictions(self, model: nn.Module, split: _Data) -> tuple[np.ndarray, np.ndarray]:
        """Class ids and predicted class ids of ``split``'s examples, in order."""
        model.eval()
        truth, predicted = [], []
        with torch.no_grad():
            for x, y in split.in_order(self.eval_batch_size):
                truth.append(y.cpu())
                predicted.append(model(x).argmax(dim=1).cpu())
        return torch.cat(truth).numpy(), torch.cat(predicted).numpy()

    def _score_regression(self, model: nn.Module, split: _Data) -> dict[str, float]:
        model.eval()
        sums = torch.zeros((4, split.n_targets), dtype=torch.float64, device=split.device)
        with torch.no_grad():
            for x, y in split.in_order(self.eval_batch_size):
                out, y64 = model(x).double(), y.double()
                error = out - y64
                sums[0] += (error**2).sum(dim=0)  # squared errors
                sums[1] += error.abs().sum(dim=0)  # absolute errors
                sums[2] += y64.sum(dim=0)
                sums[3] += (y64**2).sum(dim=0)
        n = max(split.n, 1)
        sse, sae, total, squares = sums.cpu().numpy()
        sst = squares - total**2 / n
        perfect = np.where(sse == 0, 1.0, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(sst > 1e-12 * np.maximum(squares, 1.0), 1.0 - sse / sst, perfect)
        return {
            "mse": float(sse.sum() / (n * split.n_targets)),
            "mae": float(sae.sum() / (n * split.n_targets)),
            "r2": float(r2.mean()),
        }

    @staticmethod
    def _progress_metrics(progress: _Progress, info: TaskInfo) -> dict[str, float]:
        if progress.epoch == 0:  # nothing validated yet
            return {M.TRAIN_SECONDS: progress.train_seconds, M.EPOCHS: 0.0}
        if info.is_regression:
            best = {
                M.VAL_MSE: progress.best_val_loss,
                M.VAL_MAE: progress.best_val_mae,
                M.VAL_R2: progress.best_val_r2,
            }
        else:
            best = {M.VAL_ACCURACY: progress.best_val_accuracy, M.VAL_LOSS: progress.best_val_loss}
        return {
            **best,
            M.TRAIN_LOSS: progress.train_loss,
            M.TRAIN_SECONDS: progress.train_seconds,
            M.EPOCHS: float(progress.epoch),
            M.BEST_EPOCH: float(progress.best_epoch),
        }

    # -- checkpoints ------------------------------------------------------------------------

    def _checkpoint_key(self, arch: Architecture, ctx: EvalContext) -> str:
        """A hash of everything that determines the training trajectory."""
        settings = {
            k: v
            for k, v in self.get_params().items()
            if k not in ("measure_latency", "latency", "eval_batch_size", "robustness", "fairness")
        }
        if self.fidelity == "epochs":  # keys of epoch checkpoints stay as they were
            settings.pop("fidelity", None)
            settings.pop("subset_seed", None)
        described = {
            "version": _CHECKPOINT_VERSION,
            "arch": str(arch),
            "seed": ctx.seed,
            "evaluator": settings,
            "task": _fingerprint(ctx.task),
            "space": _fingerprint(ctx.space),
        }
        text = json.dumps(described, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _checkpoint_path(
        self, arch: Architecture, ctx: EvalContext, fraction: float | None = None
    ) -> str | None:
        """The checkpoint file of ``arch``; with a data fraction, one file per fraction."""
        if ctx.workdir is None:
            return None
        stem = f"train-{arch.arch_id}-{self._checkpoint_key(arch, ctx)}"
        if fraction is not None:
            stem += f"-f{fraction!r}"
        return os.path.join(ctx.workdir, f"{stem}.pt")

    def _fraction_checkpoints(self, arch: Architecture, ctx: EvalContext) -> dict[float, str]:
        """The data-fraction checkpoints saved for ``arch`` under this key: fraction -> path."""
        if ctx.workdir is None or not os.path.isdir(ctx.workdir):
            return {}
        stem = re.escape(f"train-{arch.arch_id}-{self._checkpoint_key(arch, ctx)}-f")
        pattern = re.compile(stem + r"([0-9.e+-]+)\.pt")
        found: dict[float, str] = {}
        for name in sorted(os.listdir(ctx.workdir)):
            match = pattern.fullmatch(name)
            if match:
                found[float(match.group(1))] = os.path.join(ctx.workdir, name)
        return found

    def _warm_start(
        self, model: nn.Module, arch: Architecture, ctx: EvalContext, fraction: float
    ) -> float | None:
        """Load the kept weights of the highest lower fraction saved into ``model``; return
        that fraction (``None``: none saved, or unreadable: train from scratch)."""
        lower = sorted(
            (f, p) for f, p in self._fraction_checkpoints(arch, ctx).items() if f < fraction
        )
        for lower_fraction, path in reversed(lower):
            saved = self._read_checkpoint(path)
            if saved is None:
                continue
            weights = saved.get("best_state") or saved["model"]
            model.load_state_dict(weights)
            return lower_fraction
        return None

    @staticmethod
    def _read_checkpoint(path: str | None) -> dict[str, Any] | None:
        if path is None or not os.path.isfile(path):
            return None
        try:
            saved: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged checkpoint costs a retrain, not the trial
            _log.warning(
                "ignoring unreadable checkpoint %s (%s: %s)", path, type(exc).__name__, exc
            )
            return None
        if not isinstance(saved, dict) or saved.get("version") != _CHECKPOINT_VERSION:
            return None
        progress = saved["progress"]
        saved["epoch"], saved["stopped"] = progress["epoch"], progress["stopped"]
        return saved

    @staticmethod
    def _saved_epochs(saved: dict[str, Any] | None) -> int:
        return 0 if saved is None else int(saved["epoch"])

    @staticmethod
    def _restore(
        saved: dict[str, Any],
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        device: torch.device,
    ) -> dict[str, torch.Tensor] | None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        best = saved.get("best_state")
        return None if best is None else {k: v.to(device) for k, v in best.items()}

    @staticmethod
    def _write_checkpoint(
        path: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        progress: _Progress,
        best_state: dict[str, torch.Tensor] | None,
    ) -> None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        state = {
            "version": _CHECKPOINT_VERSION,
            "progress": asdict(progress),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "best_state": best_state,
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }
        _atomic_save(state, path)


def data_fraction_size(n: int, fraction: float) -> int:
    """The examples that data fraction ``fraction`` of ``n`` uses: ``ceil(fraction * n)``.

    Example:
        >>> [data_fraction_size(1000, f) for f in (0.1, 1 / 3, 1.0)]
        [100, 334, 1000]
    """
    # round() first so 0.1 * 1000 (100.00000000000001 in floats) is 100, not 101
    return min(n, math.ceil(round(fraction * n, 9)))


def data_fraction_order(split: Split, info: TaskInfo, seed: int) -> np.ndarray:
    """The seeded permutation of ``split``'s examples that every data fraction is a prefix of.

    A classification split with arrays is class-stratified: each class's examples, shuffled,
    take evenly spaced positions ``(rank + u) / n_class`` (``u`` uniform in [0, 1)), and the
    permutation sorts by them, so every prefix holds each class in about its share of the split.
    Other splits (regression, a Dataset) get a plain seeded permutation.
    """
    rng = np.random.default_rng(seed)
    n = len(split)
    if info.is_regression or split.y is None:
        return rng.permutation(n)
    labels = np.asarray(split.y).reshape(n, -1)[:, 0]
    position = np.empty(n, dtype=np.float64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        shuffled = rng.permutation(members)
        position[shuffled] = (np.arange(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(position, kind="stable")


def _atomic_save(obj: Any, path: str) -> None:
    """``torch.save`` through a temporary file, so a killed worker never leaves half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)
