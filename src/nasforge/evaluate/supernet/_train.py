"""Uniform single-path training of a supernet (SPOS), resumable from a checkpoint file.

Single Path One-Shot (Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform
Sampling", ECCV 2020, https://arxiv.org/abs/1904.00420): at every training step one architecture
is drawn uniformly from the space (``space.sample``: uniform per decision, the space's rules
kept), the supernet is switched to it (:meth:`~nasforge.space.supernet.Supernet.use`) and one
gradient step is taken on its path only. Architectures are then scored with the inherited
weights after a BatchNorm re-calibration (:func:`~nasforge.space.supernet.recalibrate_bn`).

Deviations from the paper: the optimiser and schedule are the train evaluator's (AdamW with a
per-step cosine schedule by default, as small networks on a CPU train best; the paper uses SGD
with a linear decay on ImageNet); there is no FLOPs-constrained sampling.

Checkpoints: with ``checkpoint`` set, the supernet, optimiser, both random states and the cost so
far are written atomically after every epoch; a later call with the same settings continues from
the last one (bit-for-bit the same weights as an uninterrupted run on a CPU), and one that finds
the training complete only loads the weights. A non-finite loss stops training cleanly, keeps
the last good checkpoint and says why (``status="diverged"``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.architecture import Architecture
from nasforge.checkpoint_io import load_checkpoint
from nasforge.errors import ConfigError, Problem

if TYPE_CHECKING:
    from nasforge.space.base import SearchSpace
    from nasforge.space.supernet import Supernet
    from nasforge.tasks.base import Split, TaskData

CHECKPOINT_VERSION = 1
Status = Literal["ok", "diverged", "timeout"]


@dataclass(frozen=True)
class SinglePathTraining:
    """What :func:`train_single_path` did, over every session (resumes included).

    Attributes:
        epochs: epochs trained in all (``epochs`` asked for, unless stopped).
        steps: optimiser steps in all.
        train_seconds: seconds spent training, summed over all sessions: the supernet's cost.
        train_loss: mean training loss of the last epoch (NaN before the first).
        resumed_from_epoch: the epoch this session started from (0: from scratch).
        status: ``ok``, ``diverged`` (a non-finite loss) or ``timeout`` (``time_limit_s``).
        reason: why it stopped early ("" when ``ok``).
        checkpoint: the checkpoint file, if any.
    """

    epochs: int
    steps: int
    train_seconds: float
    train_loss: float
    resumed_from_epoch: int
    status: Status = "ok"
    reason: str = ""
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batches(split: Split, order: torch.Tensor, size: int, steps: int
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` batches of ``size`` examples of ``split`` in ``order`` (arrays or a Dataset)."""
    if not split.is_dataset:
        x, y = split.tensors()
        for s in range(steps):
            index = order[s * size:(s + 1) * size]
            yield x[index], y[index]
        return
    chunks = [order[s * size:(s + 1) * size].tolist() for s in range(steps)]
    yield from split.batches(chunks)


def _fingerprint(space: SearchSpace, data: TaskData, settings: dict[str, Any]) -> str:
    return json.dumps({"space": [str(getattr(space, "name", type(space).__name__)),
                                 space.get_params()],
                       "task": data.info.to_dict(), "settings": settings},
                      sort_keys=True, default=repr)


def _save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (``None`` when there is none)."""
    p = Path(path)
    if not p.exists():
        return None
    saved: dict[str, Any] = load_checkpoint(p, field="evaluator")
    return saved


def train_single_path(
    supernet: Supernet,
    space: SearchSpace,
    data: TaskData,
    *,
    epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 0.01,
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw",
    momentum: float = 0.9,
    weight_decay: float = 0.01,
    schedule: Literal["cosine", "constant"] = "cosine",
    grad_clip: float | None = 5.0,
    label_smoothing: float = 0.0,
    checkpoint: str | os.PathLike[str] | None = None,
    time_limit_s: float | None = None,
    device: torch.device | str = "cpu",
    sampler: Callable[[np.random.Generator], Architecture] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> SinglePathTraining:
    """Train ``supernet`` (in place) by uniform single-path sampling, for ``epochs`` epochs.

    Args:
        supernet: ``space.supernet(data.info)``; trained in place (and loaded from a finished
            checkpoint).
        space: the space architectures are drawn from (``space.sample``, uniform per decision).
        data: the task's data (``task.load()``); trains on ``data.train``, classification or
            regression (cross-entropy or mean squared error).
        epochs: passes over the training split.
        seed: seeds the architecture draws, the batch order and the torch RNG (dropout).
        batch_size, lr, optimizer, momentum, weight_decay, schedule, grad_clip,
            label_smoothing: as the train evaluator's (the cosine schedule spans ``epochs``).
        checkpoint: a file to write after every epoch and resume from (``None``: none).
        time_limit_s: stop (``status="timeout"``) once training has run this long in this
            session; the last epoch's checkpoint is kept.
        device: where to train.
        sampler: draws the architecture of each step (default: ``space.sample``), for callers
            that sample otherwise (a fairness schedule, a restricted space).
        on_epoch: called after every epoch with its number (from 1) and mean training loss.

    Returns:
        The cost and outcome, summed over every session of this checkpoint.

    Raises:
        ConfigError: ``checkpoint`` was written by a run with other settings (the message
            names the file; delete it or point elsewhere).
    """
    settings = {"epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr,
                "optimizer": optimizer, "momentum": momentum, "weight_decay": weight_decay,
                "schedule": schedule, "grad_clip": grad_clip,
                "label_smoothing": label_smoothing}
    fingerprint = _fingerprint(space, data, settings)
    path = None if checkpoint is None else Path(checkpoint)
    supernet.to(device)
    params = [p for p in supernet.parameters() if p.requires_grad]
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0,
                              weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    n = len(data.train)
    size = min(batch_size, n)
    steps = n // size + (1 if n % size >= 2 else 0)  # never a last batch of one (BatchNorm)
    total = max(epochs * steps, 1)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    epoch, step, seconds, loss_mean = 0, 0, 0.0, math.nan
    saved = None if path is None else read_checkpoint(path)
    rng_devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" \
        else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        if saved is not None:
            if saved.get("version") != CHECKPOINT_VERSION or saved["fingerprint"] != fingerprint:
                raise ConfigError([Problem(
                    "evaluator", f"the supernet checkpoint {path} was trained with other "
                    "settings (space, task or training)",
                    "delete it to train again, or keep the settings it was trained with")])
            supernet.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            generator.set_state(saved["generator"])
            rng.bit_generator.state = saved["rng"]
            torch.set_rng_state(saved["torch_rng"])
            epoch, step = saved["epoch"], saved["step"]
            seconds, loss_mean = saved["train_seconds"], saved["train_loss"]
        resumed_from = epoch
        draw = sampler or space.sample
        status: Status = "ok"
        reason = ""
        start = time.perf_counter()
        supernet.train()
        while epoch < epochs:
            clock = time.perf_counter()
            order = torch.randperm(n, generator=generator)
            loss_sum, seen = 0.0, 0
            for s, (x, y) in enumerate(batches(data.train, order, size, steps)):
                x, y = x.to(device), y.to(device)
                supernet.use(draw(rng))
                if schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total)
                                                                 / total))
                opt.zero_grad(set_to_none=True)
                out = supernet(x)
                if data.info.is_regression:
                    loss = F.mse_loss(out, y.float().reshape(out.shape))
                else:
                    loss = F.cross_entropy(out, y.long(), label_smoothing=label_smoothing)
                value = float(loss.item())
                if not math.isfinite(value):
                    status = "diverged"
                    reason = (f"non-finite training loss at epoch {epoch + 1}, step {s + 1}; "
                              f"the last good checkpoint (epoch {epoch}) is kept; lower lr or "
                              "set grad_clip")
                    break
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                step += 1
                loss_sum += value * len(y)
                seen += len(y)
            seconds += time.perf_counter() - clock
            if status != "ok":
                break
            epoch += 1
            loss_mean = loss_sum / max(seen, 1)
            if path is not None:
                _save({"version": CHECKPOINT_VERSION, "fingerprint": fingerprint,
                       "model": supernet.state_dict(), "optimizer": opt.state_dict(),
                       "generator": generator.get_state(), "rng": rng.bit_generator.state,
                       "torch_rng": torch.get_rng_state(), "epoch": epoch, "step": step,
                       "train_seconds": seconds, "train_loss": loss_mean}, path)
            if on_epoch is not None:
                on_epoch(epoch, loss_mean)
            if time_limit_s is not None and epoch < epochs and \
                    time.perf_counter() - start > time_limit_s:
                status, reason = "timeout", (f"time limit of {time_limit_s} s reached after "
                                             f"epoch {epoch}; a later call resumes from it")
                break
        if status == "diverged" and path is not None and path.exists():
            supernet.load_state_dict(read_checkpoint(path)["model"])  # type: ignore[index]
        supernet.eval()
    return SinglePathTraining(epochs=epoch, steps=step, train_seconds=seconds,
                              train_loss=loss_mean, resumed_from_epoch=resumed_from,
                              status=status, reason=reason,
                              checkpoint=None if path is None else str(path))
