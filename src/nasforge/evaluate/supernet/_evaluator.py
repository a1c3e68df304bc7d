"""`SupernetEvaluator`: score architectures with weights inherited from one trained supernet.

The ``supernet`` evaluator lets any black-box strategy search over a trained supernet (SPOS's
evolutionary search on top of uniform single-path training, Guo et al. 2020): the supernet of
the study's space and task is trained **once** by :func:`train_single_path`, then each
candidate is scored in well under a second: its path is switched on, its BatchNorm statistics
are re-estimated on ``bn_batches`` fixed training batches (the same for every candidate), and
its validation and test accuracy are measured with the inherited weights.

When and where it trains: the study calls :meth:`SupernetEvaluator.prepare` on the driver
before the first trial; in a study directory the supernet is trained into
``<study>/supernet/supernet.pt`` (checkpointed after every epoch, so a killed study resumes
from the last epoch rather than from zero, and a finished one is never trained again), and
workers load that file read-only, once per process. The training's cost and outcome go to
``<study>/supernet/training.json`` and into every trial's ``Result.info["supernet"]`` (stored
with the trial); ``train_seconds`` there is the one-off cost of the whole search's supernet,
each trial's ``cost_s`` only its own scoring. Without a study directory (an in-memory study)
the trained weights travel with the evaluator; an evaluator used with no study trains on first
use.

YAML::

    evaluator: {name: supernet, epochs: 30, bn_batches: 8}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from nasforge import metrics as M
from nasforge.errors import NoSupernetError, Problem
from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator
from nasforge.evaluate.costs import count_flops, count_params
from nasforge.evaluate.supernet._train import (
    SinglePathTraining,
    batches,
    read_checkpoint,
    train_single_path,
)
from nasforge.space.supernet import Supernet, recalibrate_bn
from nasforge.trial import Candidate, Result, Status

if TYPE_CHECKING:
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Split, Task, TaskData

SUPERNET_DIR = "supernet"
"""The folder of the study directory that holds the supernet's checkpoint and training record."""
CHECKPOINT_FILE = "supernet.pt"
TRAINING_FILE = "training.json"

_LOADED: dict[tuple[str, float], Supernet] = {}
"""Per process: supernets loaded from a checkpoint file (path, modification time)."""


@EVALUATORS.register("supernet")
class SupernetEvaluator(Evaluator):
    """Score each candidate with the weights it inherits from a supernet trained once (SPOS).

    Metrics: ``val_accuracy`` and ``test_accuracy`` (%), ``val_loss`` and ``test_loss`` (mean
    cross-entropy) for classification; ``val_mse`` and ``test_mse`` for regression; ``params``
    and ``flops`` of the stand-alone network. They rank candidates; they are not what the
    network reaches trained alone (retrain the winners for that).

    Args:
        epochs: supernet training epochs (uniform single-path sampling).
        batch_size: training mini-batch size.
        lr: peak learning rate.
        optimizer: ``sgd``, ``adam`` or ``adamw``.
        momentum: SGD momentum.
        weight_decay: L2 penalty (sgd, adam) or decoupled decay (adamw).
        schedule: ``cosine`` (per step over ``epochs``) or ``constant``.
        grad_clip: clip the gradient norm (None: off).
        label_smoothing: cross-entropy label smoothing while training (classification).
        bn_batches: training batches BatchNorm statistics are re-estimated on before each
            candidate is scored (0: keep the supernet's statistics).
        bn_batch_size: examples per re-calibration batch.
        eval_batch_size: batch size of the validation and test passes.
        seed: seeds the supernet's initialisation, training and re-calibration batches.
        device: ``auto`` uses CUDA when available.
    """

    CLASSIFICATION_METRICS: ClassVar[tuple[str, ...]] = (
        M.VAL_ACCURACY, M.VAL_LOSS, M.TEST_ACCURACY, M.TEST_LOSS)
    REGRESSION_METRICS: ClassVar[tuple[str, ...]] = (M.VAL_MSE, M.TEST_MSE)
    provides: ClassVar[tuple[str, ...]] = (
        *CLASSIFICATION_METRICS, *REGRESSION_METRICS, M.PARAMS, M.FLOPS)
    units: ClassVar[dict[str, str]] = {M.VAL_ACCURACY: "%", M.TEST_ACCURACY: "%"}

    _state_net: Supernet | None = None
    """The supernet built from ``_state`` in this process (not pickled)."""

    def __init__(
        self,
        *,
        epochs: Annotated[int, Field(ge=1)] = 30,
        batch_size: Annotated[int, Field(ge=2)] = 128,
        lr: Annotated[float, Field(gt=0)] = 0.01,
        optimizer: Literal["sgd", "adam", "adamw"] = "adamw",
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        weight_decay: Annotated[float, Field(ge=0)] = 0.01,
        schedule: Literal["cosine", "constant"] = "cosine",
        grad_clip: Annotated[float, Field(gt=0)] | None = 5.0,
        label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0,
        bn_batches: Annotated[int, Field(ge=0)] = 8,
        bn_batch_size: Annotated[int, Field(ge=2)] = 256,
        eval_batch_size: Annotated[int, Field(ge=1)] = 1024,
        seed: Annotated[int, Field(ge=0)] = 0,
        device: Literal["auto", "cpu", "cuda"] = "auto",
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.grad_clip = grad_clip
        self.label_smoothing = label_smoothing
        self.bn_batches = bn_batches
        self.bn_batch_size = bn_batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.device = device
        self._checkpoint: str | None = None
        self._state: dict[str, torch.Tensor] | None = None
        self._training: dict[str, Any] | None = None

    # -- the contract -------------------------------------------------------------------------

    def metrics_for(self, task: Task) -> tuple[str, ...]:
        kind = self.REGRESSION_METRICS if task.info().is_regression else \
            self.CLASSIFICATION_METRICS
        return (*kind, M.PARAMS, M.FLOPS)

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        """The task's problems, and the space's when it has no supernet for the task."""
        problems = super().preflight(space, task)
        if problems:
            return problems
        try:
            space.supernet(task.info())
        except NoSupernetError as exc:
            return [Problem(p.field, p.message,
                            f"{p.fix}; the supernet evaluator needs a space with a supernet")
                    for p in exc.problems]
        return []

    @property
    def training(self) -> dict[str, Any] | None:
        """The supernet training record (:class:`SinglePathTraining` as a dict), once trained."""
        return self._training

    def _device(self) -> torch.device:
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("evaluator.device is 'cuda' but CUDA is not available; use "
                               "device: auto or cpu")
        cuda = self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())
        return torch.device("cuda" if cuda else "cpu")

    def _train(self, space: SearchSpace, data: TaskData, checkpoint: Path | None
               ) -> tuple[Supernet, SinglePathTraining]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = space.supernet(data.info)
        training = train_single_path(
            net, space, data, epochs=self.epochs, seed=self.seed, batch_size=self.batch_size,
            lr=self.lr, optimizer=self.optimizer, momentum=self.momentum,
            weight_decay=self.weight_decay, schedule=self.schedule, grad_clip=self.grad_clip,
            label_smoothing=self.label_smoothing, checkpoint=checkpoint, device=self._device())
        return net, training

    def prepare(self, space: SearchSpace, task: Task, directory: str | None) -> None:
        """Train the supernet (:meth:`train_supernet`); the study calls it on the driver."""
        self.train_supernet(space, task, directory)

    def train_supernet(self, space: SearchSpace, task: Task,
                       directory: str | os.PathLike[str] | None) -> SinglePathTraining:
        """Train the supernet once (or resume or load its checkpoint under ``directory``).

        Called through :meth:`prepare` before the first trial of every run (a resume
        included). With a ``directory``, the supernet lives in
        ``<directory>/supernet/supernet.pt`` and its record in ``training.json``; without one
        the trained weights are kept on this object (and pickled with it to workers).

        Raises:
            NoSupernetError: the space has none for the task.
        """
        data = task.load()
        folder = None if directory is None else Path(directory) / SUPERNET_DIR
        path = None if folder is None else folder / CHECKPOINT_FILE
        net, training = self._train(space, data, path)
        self._training = training.to_dict()
        if folder is None:
            self._state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        else:
            self._checkpoint = str(path)
            (folder / TRAINING_FILE).write_text(json.dumps(self._training, indent=2))
        return training

    def _supernet(self, ctx: EvalContext) -> Supernet:
        """The trained supernet, loaded once per process (trained here on first use when no
        study prepared it)."""
        if self._checkpoint is None and self._state is None:
            self.train_supernet(ctx.space, ctx.task, None)
        info = ctx.task.info()
        if self._checkpoint is not None:
            key = (self._checkpoint, os.path.getmtime(self._checkpoint))
            if key not in _LOADED:
                saved = read_checkpoint(self._checkpoint)
                if saved is None:
                    raise FileNotFoundError(f"the supernet checkpoint {self._checkpoint} is gone;"
                                            " resume the study to train it again")
                net = ctx.space.supernet(info)
                net.load_state_dict(saved["model"])
                _LOADED.clear()  # one study's supernet per process
                _LOADED[key] = net
            return _LOADED[key]
        net = ctx.space.supernet(info)
        assert self._state is not None
        net.load_state_dict(self._state)
        self._state_net = net
        return net

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_state_net", None)
        return state

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        start = time.perf_counter()
        training = self._training or {}
        if training.get("status", "ok") != "ok":
            return Result(metrics={}, status=Status.FAILED,
                          reason=f"the supernet was not trained: {training.get('reason')}",
                          cost_s=time.perf_counter() - start, info={"supernet": training})
        net = self._state_net if self._state_net is not None else self._supernet(ctx)
        device = self._device()
        net.to(device)
        data = ctx.task.load()
        net.use(candidate.arch)
        n_bn = recalibrate_bn(net, (x.to(device) for x in self._bn_inputs(data.train)))
        metrics: dict[str, float] = {}
        for prefix, split in (("val", data.val), ("test", data.test)):
            if len(split):
                metrics.update({f"{prefix}_{k}": v for k, v in
                                self._score(net, split, data.info.is_regression, device).items()})
        model = ctx.space.build(candidate.arch, data.info)
        metrics[M.PARAMS] = float(count_params(model))
        metrics[M.FLOPS] = float(count_flops(model, data.info.input_shape))
        return Result(metrics=metrics, cost_s=time.perf_counter() - start,
                      info={"supernet": {**training, "checkpoint": self._checkpoint},
                            "bn_batches": n_bn})

    def _bn_inputs(self, split: Split) -> list[torch.Tensor]:
        """The same ``bn_batches`` training batches for every candidate (seeded order)."""
        n = len(split)
        size = min(self.bn_batch_size, n)
        count = min(self.bn_batches, n // size)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        return [x for x, _ in batches(split, order, size, count)]

    def _score(self, net: Supernet, split: Split, regression: bool, device: torch.device
               ) -> dict[str, float]:
        net.eval()
        n = len(split)
        size = min(self.eval_batch_size, n)
        steps = (n + size - 1) // size
        total, correct = 0.0, 0
        with torch.no_grad():
            for x, y in batches(split, torch.arange(n), size, steps):
                out = net(x.to(device))
                y = y.to(device)
                if regression:
                    total += float(F.mse_loss(out, y.float().reshape(out.shape),
                                              reduction="sum")) / out.shape[1:].numel()
                else:
                    total += float(F.cross_entropy(out, y.long(), reduction="sum"))
                    correct += int((out.argmax(1) == y).sum())
        if regression:
            return {"mse": total / n}
        return {"accuracy": 100.0 * correct / n, "loss": total / n}
