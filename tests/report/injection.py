"""Payloads and a study that carries them, for the injection tests of the report and the
dashboard (``tests.report.injection:build`` and ``:fit`` are named by the study's spec).

The architecture strings hold the payloads because the space is a ``choices`` declaration whose
option names are the payloads; a trial whose option is :data:`FAILING` raises an error whose
message holds every payload; the study's name is set in the store (the spec refuses such a
name, another writer could not be stopped) and a steering event's note holds them too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import torch

PAYLOADS = (
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "<a href=\"javascript:window.__pwned=1\">click</a>",
    "'-alert(1)-'</script><script>window.__pwned=1</script>",
)
"""Each would set ``window.__pwned`` (or open a dialog) if rendered as markup."""

ALL = " ".join(PAYLOADS)
FAILING = PAYLOADS[1]
"""The option whose trials (in either decision) raise an error holding every payload."""


def build(arch: Any, task: Any) -> torch.nn.Module:
    """A tiny network for wine (13 features, 3 classes) whose size depends on ``op``."""
    width = 1 + PAYLOADS.index(arch["op"])
    return torch.nn.Sequential(torch.nn.Linear(13, width), torch.nn.Linear(width, 3))


def fit(model: torch.nn.Module, task: Any, trial: Any) -> dict[str, float]:
    """A score from the decisions, curves, and an error holding the payloads."""
    arch = trial.arch
    if FAILING in (arch["op"], arch["mode"]):
        raise RuntimeError(f"diverged {ALL}")
    final = 10.0 * PAYLOADS.index(arch["op"]) + 3.0 * PAYLOADS.index(arch["mode"])
    for step in range(3):
        trial.report(step, val_accuracy=final * (step + 1) / 3)
    return {"val_accuracy": final, "params": float(sum(p.numel() for p in model.parameters()))}


def payload_study(root: Path, name: str = "inj", trials: int = 14) -> str:
    """Run a study over the payload space under ``root``; rename it to hold the payloads;
    return the new name."""
    from nasforge.run.spec import parse_spec
    from nasforge.run.study import Study

    study = Study.create(parse_spec({
        "name": name, "root": str(root), "task": "wine",
        "space": {"name": "choices", "builder": "tests.report.injection:build",
                  "decisions": {"op": list(PAYLOADS), "mode": list(PAYLOADS)}},
        "strategy": "random", "executor": "inline", "seed": 0,
        "evaluator": {"name": "function", "path": "tests.report.injection:fit"},
        "objectives": [{"metric": "val_accuracy", "direction": "max"},
                       {"metric": "params", "direction": "min"}],
        "max_consecutive_failures": 100,
        "budget": {"trials": trials}, "export_best": False,
    })).run()
    study.store.add_event(study.record.id, "stop", {"why": ALL})
    study.close()
    evil = f"{name} {ALL}"
    with sqlite3.connect(root / name / "study.db") as conn:
        conn.execute("UPDATE studies SET name=?", (evil,))
    return evil
