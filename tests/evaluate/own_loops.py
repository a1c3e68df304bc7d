"""Training functions for the function-evaluator tests (imported by name in worker processes)."""

from __future__ import annotations

from typing import Any

import torch

import nasforge as nf


def fit(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    """A tiny, real training loop: a few epochs of SGD on the task, reporting val accuracy."""
    x, y = torch.as_tensor(task.train.x), torch.as_tensor(task.train.y)
    xv, yv = torch.as_tensor(task.val.x), torch.as_tensor(task.val.y)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    accuracy = 0.0
    for epoch in range(trial.fidelity or 3):
        model.train()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = 100.0 * float((model(xv).argmax(1) == yv).float().mean())
        trial.report(epoch, val_accuracy=accuracy)
        if trial.should_prune():
            raise nf.TrialPruned()
    return {"val_accuracy": accuracy, "first_weight": next(model.parameters()).flatten()[0]}


def diverges(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    trial.report(0, val_accuracy=10.0)
    trial.report(1, val_accuracy=float("nan"))
    return {"val_accuracy": 10.0}


def returns_text(model: torch.nn.Module, task: Any, trial: Any) -> Any:
    return {"val_accuracy": "high"}


def returns_list(model: torch.nn.Module, task: Any, trial: Any) -> Any:
    return [1.0]


def gives_up(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    trial.report(0, val_accuracy=1.0)
    raise nf.TrialPruned()


def handle_fields(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    """Returns what the handle says, as numbers."""
    return {"val_accuracy": float(trial.seed % 100), "number": float(trial.number),
            "time_left": -1.0 if trial.time_left_s is None else trial.time_left_s,
            "n_classes": float(task.info.n_classes)}
