"""Checks before the first trial: mistakes that would fail every trial are refused up front.

Run by :meth:`Study.create` before anything is written, and by a resume before it runs again
(a data file may have moved since). Each problem names its field and its fix; the run spec's own
validation (unknown names, bad values, objectives the evaluator does not report) has already run.
"""

from __future__ import annotations

from nasforge.errors import ConfigError
from nasforge.run.parts import Parts


def check_before_first_trial(parts: Parts, *, source: str = "") -> None:
    """Load the task, and check that the evaluator can evaluate the space on it.

    Raises:
        ConfigError: listing every problem found (a missing or unreadable data file, a space
            whose networks do not fit the task, a table evaluator given a space it cannot look
            up).
    """
    problems = parts.evaluator.preflight(parts.space, parts.task)
    if problems:
        raise ConfigError(problems, source=source)
