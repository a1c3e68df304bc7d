"""`Architecture`: an immutable, hashable value naming one point of a search space.

An architecture is a flat mapping of decision name to choice (``str``, ``int``, ``float`` or
``bool``). Its canonical string is compact JSON with sorted keys, so ``str(arch)`` parses back with
:meth:`Architecture.parse` and equality is by canonical form: a store can de-duplicate on it.

Example:
    >>> a = Architecture({"depth": 2, "op": "conv3"})
    >>> str(a)
    '{"depth":2,"op":"conv3"}'
    >>> Architecture.parse(str(a)) == a
    True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

Value = str | int | float | bool
_ALLOWED = (str, int, float, bool)
# One encoder for every canonical form: json.dumps with options builds a new one per call.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


class Architecture(Mapping[str, Value]):
    """An immutable mapping of decision name to choice with a canonical string form."""

    __slots__ = ("_canonical", "_hash", "_items")

    def __init__(self, decisions: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        items = dict(decisions or {}, **kwargs)
        for key, value in items.items():
            if not isinstance(key, str) or not key:
                raise TypeError(
                    f"architecture decision names must be non-empty strings, got {key!r}"
                )
            if not isinstance(value, _ALLOWED):
                raise TypeError(
                    f"architecture decision {key!r} must be a str, int, float or bool, "
                    f"got {type(value).__name__} {value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise TypeError(f"architecture decision {key!r} must be finite, got {value!r}")
        self._items = dict(sorted(items.items()))
        self._canonical = _CANONICAL.encode(self._items)
        self._hash = hash(self._canonical)

    @classmethod
    def from_canonical(cls, text: str, decisions: Mapping[str, Value]) -> Architecture:
        """Rebuild an architecture from its own canonical string and its decoded ``decisions``,
        without validating or encoding again.

        For strings that ``str(arch)`` wrote (a store reading its rows back): only the cheap
        signs of another writer are checked (keys out of order, a value that is not a JSON
        scalar), and such text is validated and re-encoded as :class:`Architecture` does.
        """
        items = dict(decisions)
        keys = list(items)
        if keys != sorted(keys) or not all(type(v) in _ALLOWED for v in items.values()):
            return cls(items)  # not canonical after all: validate (and re-encode) as usual
        arch = cls.__new__(cls)
        arch._items = items
        arch._canonical = text
        arch._hash = hash(text)
        return arch

    @classmethod
    def parse(cls, text: str) -> Architecture:
        """Parse the canonical string form produced by ``str(arch)``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"not an architecture string (expected JSON object): {text!r}"
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(f"not an architecture string (expected JSON object): {text!r}")
        return cls(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Build from a plain dict (the inverse of :meth:`to_dict`)."""
        return cls(data)

    def to_dict(self) -> dict[str, Value]:
        """A plain, JSON-able dict copy."""
        return dict(self._items)

    @property
    def arch_id(self) -> str:
        """A short stable hash of the canonical form, used in messages and file names."""
        return hashlib.sha1(self._canonical.encode()).hexdigest()[:12]

    def replace(self, **changes: Value) -> Architecture:
        """A copy with some decisions changed (or added)."""
        return Architecture({**self._items, **changes})

    def __getitem__(self, key: str) -> Value:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise KeyError(f"architecture has no decision {key!r}; it has: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Architecture):
            return self._canonical == other._canonical
        return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return self._canonical

    def __repr__(self) -> str:
        return f"Architecture({self._canonical})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Architecture, (self._items,))
