"""Plugins: modules that register extra spaces, strategies, evaluators, tasks or executors.

Two ways in, both read by the ``nasforge`` command and by :func:`load_plugins`:
- an installed package declaring an entry point in the ``nasforge.plugins`` group;
- the ``NASFORGE_PLUGINS`` environment variable: comma-separated module names to import.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from nasforge.errors import ConfigError, Problem

ENV_VAR = "NASFORGE_PLUGINS"


def load_plugins() -> list[str]:
    """Import every plugin module; returns their names."""
    loaded = []
    for entry in entry_points(group="nasforge.plugins"):
        entry.load()
        loaded.append(entry.value)
    for name in filter(None, (n.strip() for n in os.environ.get(ENV_VAR, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError([Problem(ENV_VAR, f"cannot import plugin module {name!r}: {exc}",
                                       "fix the module name or unset the variable")]) from None
        loaded.append(name)
    return loaded


_loaded: list[str] | None = None


def load_plugins_once() -> list[str]:
    """:func:`load_plugins` the first time it is called in a process; the same names after."""
    global _loaded
    if _loaded is None:
        _loaded = []  # set first: a plugin importing nasforge.run must not load itself again
        _loaded = load_plugins()
    return _loaded
