"""One generic registry for spaces, strategies, evaluators, tasks and executors.

Registration is by decorator with a lower_snake key; a duplicate key is an error. ``create`` builds
an object from its key and parameters with the same validation as the Python constructor, so a
typo in YAML says which field and which names would have been valid.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from nasforge.config import validate_params
from nasforge.errors import ConfigError, Problem

T = TypeVar("T")


class Registry(Generic[T]):
    """Named constructors of one kind of component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator adding ``cls`` under ``name`` (and setting ``cls.name``)."""

        def decorate(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered by {self._entries[name]}"
                )
            self._entries[name] = cls
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return decorate

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def get(self, name: str, *, field: str | None = None) -> type[T]:
        """The class registered as ``name``; a ConfigError naming the field otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._entries, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                [
                    Problem(
                        f"{field or self.kind}.name" if field else self.kind,
                        f"unknown {self.kind} {name!r}",
                        f"{hint}choose one of: {', '.join(self.names())}",
                    )
                ]
            ) from None

    def create(
        self, name: str, params: Mapping[str, Any] | None = None, *, field: str | None = None
    ) -> T:
        """Validate ``params`` and construct the component registered as ``name``."""
        cls = self.get(name, field=field)
        values = validate_params(cls, params or {}, field or self.kind)
        return cls(**values)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
