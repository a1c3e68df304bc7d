"""The nasforge error hierarchy.

Every error the library raises on purpose subclasses :class:`NasforgeError` and the matching
builtin, so callers can catch either. Messages name the field or object, what was expected, what
was received and, where possible, the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class NasforgeError(Exception):
    """Base class of all nasforge errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, what, and how to fix it."""

    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return f"{text} (fix: {self.fix})" if self.fix else text


class ConfigError(NasforgeError, ValueError):
    """A configuration, CLI or API input is invalid. Lists every problem found."""

    def __init__(self, problems: Sequence[Problem] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems = list(problems)
        self.source = source
        head = f"invalid configuration{f' in {source}' if source else ''}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}:\n{lines}")


class InvalidArchitectureError(NasforgeError, ValueError):
    """An architecture does not belong to a search space; ``path`` locates the bad decision."""

    def __init__(self, message: str, path: Sequence[str] = ()) -> None:
        self.path = tuple(path)
        where = " -> ".join(self.path)
        super().__init__(f"{where}: {message}" if where else message)


class StudyLockedError(NasforgeError, RuntimeError):
    """Another process is running the same study."""


class StudyNotFoundError(NasforgeError, FileNotFoundError):
    """No study exists at the given place."""


class TrialFinishedError(NasforgeError, RuntimeError):
    """A finished trial was written again; finished trials are immutable."""


class DuplicateTrialError(NasforgeError, ValueError):
    """A trial number was created twice in one study; trial numbers are unique per study."""


class UnknownEventError(NasforgeError, ValueError):
    """An event of a kind no study understands was written; the message lists the valid kinds."""


class DataNotFoundError(NasforgeError, FileNotFoundError):
    """A dataset or benchmark file is missing; the message says how to get it."""


class TrialTimeout(NasforgeError, TimeoutError):
    """A trial ran past its time limit."""


class TrialPruned(NasforgeError):
    """Control flow, not a failure: an evaluator stopped a trial early on purpose."""


class NoSupernetError(ConfigError):
    """A search space has no supernet (weight sharing); the message says why and what works.

    Raised by :meth:`SearchSpace.supernet` and by whatever needs one (the ``supernet``
    evaluator, one-shot strategies), before anything is trained.
    """

    def __init__(self, space: str, reason: str, *, field: str = "space",
                 works: str = "") -> None:
        self.space = space
        self.reason = reason
        fix = works or (
            "use a space with a supernet (nb201, chain, mlp or a declared space of layer specs), "
            "or a black-box strategy (e.g. regularized_evolution) with the train evaluator"
        )
        super().__init__([Problem(field, f"space {space!r} has no supernet: {reason}", fix)])
