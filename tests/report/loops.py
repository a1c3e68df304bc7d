"""A training function for the report tests: learning curves, one-shot-style weights, failures.

Imported by name (``tests.report.loops:fit``) by the function evaluator.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def fit(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    """Score a toy architecture without training: a curve rising to a value set by the
    decisions, ``alpha.d0.<k>`` weights drifting towards ``d0``'s option 2, and a raised error
    for ``d0 == 0 and d1 == 0``."""
    arch = trial.arch
    if arch["d0"] == 0 and arch["d1"] == 0:
        raise RuntimeError("<script>alert('x')</script> diverged")
    final = 20.0 + 15.0 * arch["d0"] + 5.0 * arch["d1"] + 2.0 * arch.get("d2", 0)
    for step in range(4):
        weights = [math.exp((2 - abs(k - 2)) * step / 3) for k in range(4)]
        total = sum(weights)
        trial.report(step, val_accuracy=final * (step + 1) / 4,
                     **{f"alpha.d0.{k}": w / total for k, w in enumerate(weights)})
    return {"val_accuracy": final, "params": float(sum(p.numel() for p in model.parameters()))}
