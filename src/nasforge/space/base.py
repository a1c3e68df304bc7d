"""`SearchSpace`: what may be built, and how to sample, mutate, encode and build it.

A search space is plain configuration plus pure functions of architectures; it is never an
``nn.Module`` and never changes itself. Only evaluators call :meth:`SearchSpace.build`.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nasforge.architecture import Architecture, Value
from nasforge.config import Component
from nasforge.errors import InvalidArchitectureError
from nasforge.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.supernet import Supernet
    from nasforge.tasks.base import TaskInfo


class SearchSpace(Component, ABC):
    """The contract every search space keeps.

    - ``sample(rng)`` draws uniformly (or as documented) using only ``rng``.
    - ``mutate(arch, rng)`` returns an architecture of the space that differs from ``arch``.
    - ``neighbours(arch)`` lists every architecture one decision away, in a deterministic order.
    - ``encode(arch)`` returns a fixed-length float vector (for predictors and BO).
    - ``validate(arch)`` raises :class:`InvalidArchitectureError` with a path to the bad decision.
    - ``build(arch, task)`` returns a fresh ``torch.nn.Module`` mapping a batch of
      ``task.input_shape`` inputs to ``task.n_classes`` logits.
    - ``canonical(arch)`` maps isomorphic architectures (the same computation) to one
      representative of the space; the default is ``arch`` itself. De-duplication goes through
      it, so a strategy never asks two architectures with the same canonical form.
    - A space may have validity rules (see :mod:`nasforge.space.rules`): an architecture that
      breaks one is not in the space, and no operation above returns it.
    - ``format``/``parse`` give a human string form (``parse(format(a)) == a``); the canonical
      :class:`Architecture` string is always accepted by ``parse`` too. The default form is
      ``decision=value`` pairs separated by spaces (see :func:`format_decisions`); a space may
      print its own notation instead (NB201 strings), as long as ``parse`` reads it back.
    """

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture: ...

    @abstractmethod
    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture: ...

    @abstractmethod
    def neighbours(self, arch: Architecture) -> list[Architecture]: ...

    @abstractmethod
    def encode(self, arch: Architecture) -> np.ndarray: ...

    @abstractmethod
    def validate(self, arch: Architecture) -> None: ...

    @property
    @abstractmethod
    def size(self) -> float:
        """Number of distinct architectures (``math.inf`` when unbounded)."""

    @abstractmethod
    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module: ...

    has_supernet: bool = False
    """Whether :meth:`supernet` gives one (weight sharing for one-shot search)."""

    def supernet(self, task: TaskInfo) -> Supernet:
        """Every network of the space for ``task`` in one module, sharing weights.

        See :mod:`nasforge.space.supernet`. The default has none.

        Raises:
            NoSupernetError: the space has no supernet (the message says which spaces do).
        """
        from nasforge.errors import NoSupernetError

        raise NoSupernetError(
            str(getattr(self, "name", type(self).__name__)),
            f"{type(self).__name__} does not say which weights its networks share",
        )

    def contains(self, arch: Architecture) -> bool:
        try:
            self.validate(arch)
        except InvalidArchitectureError:
            return False
        return True

    def canonical(self, arch: Architecture) -> Architecture:
        """The representative of ``arch``'s isomorphism class (default: ``arch`` itself).

        Architectures that compute the same function map to the same representative, which is
        in the space; ``canonical(canonical(a)) == canonical(a)``. Strategies de-duplicate on
        it (:class:`~nasforge.strategy._dedup.AskedArchs`), so the budget counts distinct
        networks.
        """
        return arch

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture, in a deterministic order (finite spaces only)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be enumerated")

    def format(self, arch: Architecture) -> str:
        """The human form of ``arch``, e.g. ``depth=2 kernel=5 op=conv3``."""
        return format_decisions(arch)

    def parse(self, text: str) -> Architecture:
        """Read :meth:`format`'s form or the canonical JSON form, and validate the result.

        Raises:
            InvalidArchitectureError: the text is malformed, or the architecture is not in the
                space.
        """
        arch = parse_decisions(text)
        self.validate(arch)
        return arch


SPACES: Registry[SearchSpace] = Registry("space")
"""Registered search spaces (``@SPACES.register("nb201")``)."""


# -- the ``decision=value`` form ------------------------------------------------------------------

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?")
_WORDS = {"true": True, "false": False}


def _scalar(text: str) -> Value:
    """An unquoted value: ``true``/``false``, an int, a float, else the text as a string."""
    if text in _WORDS:
        return _WORDS[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _is_bare(text: str) -> bool:
    return bool(text) and not text.startswith("{") and not any(
        c.isspace() or c in "\"'=" for c in text
    )


def format_value(value: Value) -> str:
    """A decision value as it reads back with its type: ``true``, ``5``, ``0.5``, ``relu``.

    Strings that would read as another type, or that hold spaces or quotes, are JSON-quoted
    (``"5"``, ``"true"``, ``"a b"``); floats always show a point or an exponent (``2.0``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if _is_bare(value) and _scalar(value) == value and isinstance(_scalar(value), str):
        return value
    return json.dumps(value, ensure_ascii=False)


def format_decisions(arch: Architecture, order: Iterable[str] | None = None) -> str:
    """``name=value`` pairs separated by single spaces, in ``order`` (default: sorted names).

    Names missing from ``order`` follow it, sorted. An architecture with no decisions prints as
    ``{}``. :func:`parse_decisions` reads the result back with every value's type.

    Example:
        >>> format_decisions(Architecture({"depth": 2, "act": "relu", "skip": True, "p": 0.5}))
        'act=relu depth=2 p=0.5 skip=true'
    """
    if not arch:
        return "{}"
    names = [n for n in (order or ()) if n in arch]
    names += sorted(set(arch) - set(names))
    return " ".join(
        f"{n if _is_bare(n) else json.dumps(n, ensure_ascii=False)}={format_value(arch[n])}"
        for n in names
    )


def _malformed(text: str, at: int, what: str) -> InvalidArchitectureError:
    return InvalidArchitectureError(
        f"cannot read architecture {text!r}: {what} at character {at + 1} (expected "
        "decision=value pairs separated by spaces, e.g. 'depth=2 kernel=5', or the canonical "
        "JSON form)"
    )


def _token(text: str, i: int, stop: Callable[[str], bool]) -> tuple[str, bool, int]:
    """Read a quoted or bare token from ``text[i:]``: (token, was quoted, next index)."""
    if text[i] == '"':
        try:
            value, end = json.JSONDecoder().raw_decode(text, i)
        except json.JSONDecodeError:
            raise _malformed(text, i, "an unterminated quoted string") from None
        return value, True, end
    j = i
    while j < len(text) and not stop(text[j]):
        j += 1
    return text[i:j], False, j


def parse_decisions(
    text: str, options: Callable[[str], Sequence[Value] | None] | None = None
) -> Architecture:
    """Read :func:`format_decisions`'s form, or the canonical JSON form, into an Architecture.

    Unquoted values read as bools (``true``/``false``), ints, floats, else strings; quoted
    values are strings. When ``options(name)`` gives a decision's declared options, a value
    that is not exactly one of them is matched to the one option it spells (``kernel=5`` for
    the option ``"5"``, ``dropout=0`` for ``0.0``, ``skip=True`` for ``true``), so hand-written
    forms get the declared types too.

    Raises:
        InvalidArchitectureError: the text is malformed or names a decision twice.

    Example:
        >>> parse_decisions('act=relu depth=2 p=0.5 skip=true name="a b"').to_dict()
        {'act': 'relu', 'depth': 2, 'name': 'a b', 'p': 0.5, 'skip': True}
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"expected an architecture string; got {text!r}")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return Architecture.parse(stripped)
        except (TypeError, ValueError) as exc:
            raise InvalidArchitectureError(str(exc)) from None
    values: dict[str, Value] = {}
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            break
        start = i
        name, _, i = _token(text, i, lambda c: c == "=" or c.isspace())
        if i == len(text) or text[i] != "=":
            raise _malformed(text, i, f"no '=' after {name!r}")
        if not name:
            raise _malformed(text, start, "a decision without a name")
        i += 1
        if i == len(text) or text[i].isspace():
            raise _malformed(text, i, f"no value for {name!r}")
        raw, quoted, i = _token(text, i, str.isspace)
        if i < len(text) and not text[i].isspace():
            raise _malformed(text, i, f"text right after the value of {name!r}")
        if name in values:
            raise InvalidArchitectureError(
                f"decision {name!r} appears twice in {text!r}; give each decision once",
                path=tuple(name.split(".")),
            )
        value = raw if quoted else _scalar(raw)
        declared = options(name) if options is not None else None
        values[name] = _resolve(value, raw, quoted, declared) if declared else value
    if not values:
        raise _malformed(text, 0, "no decisions")
    return Architecture(values)


def _same(a: Value, b: Value) -> bool:
    return type(a) is type(b) and a == b


def _spells(option: Value, value: Value, raw: str, quoted: bool) -> bool:
    """Whether the text of ``value`` names ``option`` when their types differ."""
    if isinstance(option, str):
        return option == raw
    if quoted:
        return False
    if isinstance(option, bool):
        return raw.lower() == str(option).lower()
    return not isinstance(value, bool) and isinstance(value, int | float) and option == value


def _resolve(value: Value, raw: str, quoted: bool, options: Sequence[Value]) -> Value:
    """``value`` if it is one of ``options``, else the single option its text spells."""
    if any(_same(value, o) for o in options):
        return value
    spelled = [o for o in options if _spells(o, value, raw, quoted)]
    return spelled[0] if len(spelled) == 1 else value
