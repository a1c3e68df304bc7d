"""nasforge: Neural Architecture Search on PyTorch.

Search spaces, strategies and evaluators as swappable parts, a study loop that stores every trial
in SQLite and resumes a killed run with nothing lost, and export of the winner.

``import nasforge`` is cheap: the subpackages (``nasforge.space``, ``nasforge.strategy`` ...) and
the names below are imported on first use (PEP 562), so torch loads only when something needs it.

Example:
    >>> import nasforge as nf
    >>> study = nf.search(task="digits", space="mlp", strategy="random",
    ...                   evaluator={"name": "train", "epochs": 3}, budget=nf.Budget(trials=4),
    ...                   executor="inline", in_memory=True)  # doctest: +SKIP
    >>> print(study.best())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from nasforge import evaluate, execute, export, report, space, strategy, tasks
    from nasforge.architecture import Architecture
    from nasforge.errors import ConfigError, InvalidArchitectureError, NasforgeError, TrialPruned
    from nasforge.export import load
    from nasforge.objective import Objective
    from nasforge.run.api import open_study, resume, search
    from nasforge.run.loop import ExecutorBrokenError
    from nasforge.run.spec import Budget, RunSpec, load_spec
    from nasforge.run.steering import steer
    from nasforge.run.study import Study, StudyFailedError
    from nasforge.trial import Candidate, Result, Status, Trial, TrialState

_SUBPACKAGES = ("evaluate", "execute", "export", "report", "space", "strategy", "tasks")

# name -> the module that defines it (the TYPE_CHECKING imports above say the same to mypy).
_NAMES = {
    "Architecture": "nasforge.architecture",
    "Budget": "nasforge.run.spec",
    "Candidate": "nasforge.trial",
    "ConfigError": "nasforge.errors",
    "ExecutorBrokenError": "nasforge.run.loop",
    "InvalidArchitectureError": "nasforge.errors",
    "NasforgeError": "nasforge.errors",
    "Objective": "nasforge.objective",
    "Result": "nasforge.trial",
    "RunSpec": "nasforge.run.spec",
    "Status": "nasforge.trial",
    "Study": "nasforge.run.study",
    "StudyFailedError": "nasforge.run.study",
    "Trial": "nasforge.trial",
    "TrialPruned": "nasforge.errors",
    "TrialState": "nasforge.trial",
    "load": "nasforge.export",
    "load_spec": "nasforge.run.spec",
    "open_study": "nasforge.run.api",
    "resume": "nasforge.run.api",
    "search": "nasforge.run.api",
    "steer": "nasforge.run.steering",
}

__all__ = [
    "Architecture",
    "Budget",
    "Candidate",
    "ConfigError",
    "ExecutorBrokenError",
    "InvalidArchitectureError",
    "NasforgeError",
    "Objective",
    "Result",
    "RunSpec",
    "Status",
    "Study",
    "StudyFailedError",
    "Trial",
    "TrialPruned",
    "TrialState",
    "__version__",
    "evaluate",
    "execute",
    "export",
    "load",
    "load_spec",
    "open_study",
    "report",
    "resume",
    "search",
    "space",
    "steer",
    "strategy",
    "tasks",
]


def __getattr__(name: str) -> Any:
    """Import a subpackage or a public name on first access, then cache it in the module."""
    if name in _SUBPACKAGES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
