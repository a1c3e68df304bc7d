"""nasforge: Neural Architecture Search on PyTorch.

Search spaces, strategies and evaluators as swappable parts, a study loop that stores every trial
in SQLite and resumes a killed run with nothing lost, and export of the winner.

Example:
    >>> import nasforge as nf
    >>> study = nf.search(task="digits", space="mlp", strategy="random",
    ...                   evaluator={"name": "train", "epochs": 3}, budget=nf.Budget(trials=4),
    ...                   executor="inline", in_memory=True)  # doctest: +SKIP
    >>> print(study.best())  # doctest: +SKIP
"""

from __future__ import annotations

from nasforge import evaluate, execute, space, strategy, tasks
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError, NasforgeError
from nasforge.export import load
from nasforge.objective import Objective
from nasforge.run.api import open_study, resume, search
from nasforge.run.spec import Budget, RunSpec, load_spec
from nasforge.run.study import Study
from nasforge.trial import Candidate, Result, Status, Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Budget",
    "Candidate",
    "ConfigError",
    "InvalidArchitectureError",
    "NasforgeError",
    "Objective",
    "Result",
    "RunSpec",
    "Status",
    "Study",
    "Trial",
    "TrialState",
    "__version__",
    "evaluate",
    "execute",
    "load",
    "load_spec",
    "open_study",
    "resume",
    "search",
    "space",
    "strategy",
    "tasks",
]
