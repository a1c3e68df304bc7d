"""The two front doors, the CLI and the Python API, and how a message names a setting in each.

Both doors call the same functions with the same checks; only the syntax in a fix differs:
``--set budget.trials=60`` and ``--overwrite`` on the command line, ``budget={"trials": 60}``
and ``overwrite=True`` in Python.
"""

from __future__ import annotations

import enum


class Front(enum.Enum):
    """Which front door a call came through."""

    PYTHON = "python"
    CLI = "cli"

    def setting(self, key: str, value: str = "...") -> str:
        """How to set ``key`` (dotted) here: ``--set budget.trials=60`` or ``budget.trials=60``."""
        return f"--set {key}={value}" if self is Front.CLI else f"{key}={value}"

    def flag(self, name: str) -> str:
        """How to switch on the option ``name``: ``--overwrite`` or ``overwrite=True``."""
        return f"--{name.replace('_', '-')}" if self is Front.CLI else f"{name}=True"
