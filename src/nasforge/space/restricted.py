"""`RestrictedSpace`: a view of a space with some choices forbidden or pinned (from steering).

A human steering a running study says "never use ``avg_pool_3x3``" (forbid an operation, in
every decision that offers it), "no pooling on ``cell.edge_1_0``" (forbid one choice), or "keep
``cell.edge_1_0`` at ``nor_conv_3x3``" (pin it). The study then gives its strategy this view
instead of the space: strategies use only the :class:`~nasforge.space.base.SearchSpace`
interface, so none of them needs to know about steering (``DESIGN.md``).

The view narrows each decision's options in the space's :class:`DecisionTable` and keeps the
space's validity rules, so ``sample``, ``mutate``, ``neighbours``, ``enumerate`` and ``size``
all stay inside it. ``encode``, ``build``, ``format`` and ``parse`` are the full space's: the
feature vector of a trial does not change when a restriction arrives (a predictor trained on
earlier trials keeps working), and an architecture injected by hand may use any choice.

Architectures asked before the restriction may lie outside the view (an evolution's parents).
``mutate`` of such an architecture redraws its forbidden choices (that is its change), and
``neighbours`` of it are its projection into the view (each forbidden choice replaced by the
first allowed option) followed by the projection's neighbours; both return only architectures
of the view. ``canonical`` is the full space's too, so the keys strategies de-duplicate on stay
the same when a restriction arrives.

Example:
    >>> from nasforge.space import SPACES
    >>> space = SPACES.create("nb201")
    >>> view = RestrictedSpace(space=space, restriction=Restriction().forbid("avg_pool_3x3"))
    >>> int(view.size), int(space.size)
    (4096, 15625)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem
from nasforge.space._primitives import Decision, DecisionTable, value_key
from nasforge.space._table_space import TableSpace
from nasforge.space.base import SearchSpace, format_value
from nasforge.space.rules import Rules

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo

OP = "op"
"""The name that means "every decision offering this value" (``forbid op=avg_pool_3x3``)."""


@dataclass(frozen=True)
class Step:
    """One steering restriction: ``forbid``/``pin`` ``value`` in ``decision`` (``None``: every
    decision that offers ``value``)."""

    action: Literal["forbid", "pin"]
    value: Value
    decision: str | None = None

    def __str__(self) -> str:
        text = format_value(self.value) if not isinstance(self.value, str) else self.value
        return f"{self.action} {self.decision or OP}={text}"


@dataclass(frozen=True)
class Restriction:
    """Forbidden and pinned choices, in the order they were given (later steps narrow what the
    earlier ones left). Immutable: :meth:`forbid` and :meth:`pin` return a new restriction."""

    steps: tuple[Step, ...] = ()

    def forbid(self, value: Value, decision: str | None = None) -> Restriction:
        """This restriction, and ``value`` forbidden in ``decision`` (default: everywhere)."""
        return Restriction((*self.steps, Step("forbid", value, decision)))

    def pin(self, value: Value, decision: str | None = None) -> Restriction:
        """This restriction, and ``decision`` (default: every decision offering ``value``)
        pinned to ``value``."""
        return Restriction((*self.steps, Step("pin", value, decision)))

    def __bool__(self) -> bool:
        return bool(self.steps)

    def options(self, table: DecisionTable) -> dict[str, tuple[Value, ...]]:
        """Each decision's options left after every step.

        Raises:
            ConfigError: a step names a decision the table lacks, or a value no targeted
                decision offers, or leaves a decision with no option (naming it).
        """
        allowed = {d.name: tuple(d.options) for d in table.decisions}
        for step in self.steps:
            targets = _targets(table, step)
            for name in targets:
                kept = tuple(
                    o for o in allowed[name]
                    if (step.action == "pin") == _matches(o, step.value)
                )
                if not kept:
                    raise ConfigError([Problem(
                        f"steering {step}",
                        f"it leaves decision {name!r} with no option (it had "
                        f"{[*allowed[name]]!r})",
                        "forbid less, or pin that decision to an option it still has",
                    )])
                allowed[name] = kept
        return allowed


def _matches(option: Value, value: Value) -> bool:
    """Whether ``value`` names ``option``: the same typed value, or its text (``"5"`` for 5)."""
    if value_key(option) == value_key(value):
        return True
    return isinstance(value, str) and not isinstance(option, str) and (
        value == format_value(option) or value == str(option)
    )


def _targets(table: DecisionTable, step: Step) -> list[str]:
    """The decisions ``step`` changes; a ConfigError when it names nothing in the table."""
    if step.decision is not None:
        try:
            decision = table.decision(step.decision)
        except KeyError:
            listing = ", ".join(table.names[:12]) + (", ..." if len(table.names) > 12 else "")
            raise ConfigError([Problem(
                f"steering {step}", f"the space has no decision {step.decision!r}",
                f"use one of: {listing} (or op=VALUE for every decision offering VALUE)",
            )]) from None
        if not any(_matches(o, step.value) for o in decision.options):
            raise ConfigError([Problem(
                f"steering {step}",
                f"decision {step.decision!r} has no option {step.value!r}",
                f"use one of {list(decision.options)!r}",
            )])
        return [step.decision]
    found = [d.name for d in table.decisions if any(_matches(o, step.value) for o in d.options)]
    if not found:
        values = sorted({format_value(o) for d in table.decisions for o in d.options})
        listing = ", ".join(values[:20]) + (", ..." if len(values) > 20 else "")
        raise ConfigError([Problem(
            f"steering {step}", f"no decision of the space offers {step.value!r}",
            f"use one of the space's options: {listing}",
        )])
    return found


class _RestrictedTable(DecisionTable):
    """A decision table with narrowed options; ``complete`` never copies a forbidden value."""

    def __init__(self, decisions: Sequence[Decision]) -> None:
        super().__init__(decisions)
        self.size = self.count()

    def complete(self, values: Mapping[str, Value], changed: str | None = None) -> Architecture:
        out = dict(values)
        for d in self.decisions:
            if not self.is_active(d, out):
                out.pop(d.name, None)
                continue
            if d.name in out and d.index(out[d.name]) is not None:
                continue
            source = dict(d.previous).get(changed) if changed else None
            copied = out.get(source) if source is not None else None
            out[d.name] = copied if copied is not None and d.index(copied) is not None \
                else d.options[0]
        return Architecture(out)


class RestrictedSpace(TableSpace):
    """``space`` seen through ``restriction``: only architectures whose every decision keeps
    an allowed choice (see the module docstring).

    Args:
        space: a space with a decision table (every declared and define-by-run space).
        restriction: what is forbidden and pinned.

    Raises:
        ConfigError: the space has no decision table, or the restriction names a decision or
            value the space lacks, or leaves a decision with no option.
    """

    space: TableSpace
    restriction: Restriction

    def __init__(self, *, space: SearchSpace, restriction: Restriction) -> None:
        if isinstance(space, RestrictedSpace):  # a view of a view narrows the original
            restriction = Restriction((*space.restriction.steps, *restriction.steps))
            space = space.space
        if not isinstance(space, TableSpace):
            raise ConfigError([Problem(
                "steering", f"{type(space).__name__} has no decision table, so its choices "
                "cannot be forbidden or pinned", "steer a declared or define-by-run space",
            )])
        self.space = space
        self.restriction = restriction
        allowed = restriction.options(space.table)
        self._table = _RestrictedTable(
            [dataclasses.replace(d, options=allowed[d.name]) for d in space.table.decisions]
        )
        self.rules = space.rules

    def get_params(self) -> dict[str, Any]:
        """The wrapped space's parameters (a view is not a registered component)."""
        return self.space.get_params()

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RestrictedSpace) and other.space == self.space
                and other.restriction == self.restriction)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        steps = "; ".join(str(s) for s in self.restriction.steps)
        return f"RestrictedSpace({self.space!r}, {steps})"

    @property
    def table(self) -> DecisionTable:
        return self._table

    @property
    def space_rules(self) -> Rules:
        # compiled against the full options: a rule may name an option the view forbids
        return self.space.space_rules

    # -- membership -------------------------------------------------------------------------
    def _outside(self, arch: Mapping[str, Value]) -> list[str]:
        """The decisions of ``arch`` whose choice the restriction forbids."""
        return [n for n, v in arch.items() if self._table.decision(n).index(v) is None]

    def validate(self, arch: Architecture) -> None:
        self.space.validate(arch)
        outside = self._outside(arch)
        if outside:
            name = outside[0]
            raise InvalidArchitectureError(
                f"decision {name!r}={arch[name]!r} is forbidden by steering "
                f"({'; '.join(str(s) for s in self.restriction.steps)}); allowed: "
                f"{list(self._table.decision(name).options)!r}",
                path=tuple(name.split(".")),
            )

    def _project(self, arch: Architecture, rng: np.random.Generator | None) -> Architecture:
        """``arch`` with each forbidden choice replaced (by a random allowed one with ``rng``,
        else the first)."""
        values = dict(arch)
        for name in self._outside(arch):
            options = self._table.decision(name).options
            values[name] = options[int(rng.integers(len(options)))] if rng else options[0]
        return self._table.complete(values)

    # -- operations that accept architectures from outside the view -------------------------
    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        self.space.validate(arch)
        if not self._outside(arch):
            return super().mutate(arch, rng)
        projected = self._project(arch, rng)
        return projected if self.space_rules.allows(projected) else self.sample(rng)

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        self.space.validate(arch)
        if not self._outside(arch):
            return super().neighbours(arch)
        projected = self._project(arch, None)
        out = [projected] if self.space_rules.allows(projected) else []
        out += [n for n in super().neighbours(projected) if n != arch]
        return out

    # -- the full space's ---------------------------------------------------------------------
    def encode(self, arch: Architecture) -> np.ndarray:
        return self.space.encode(arch)

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        return self.space.build(arch, task)

    def canonical(self, arch: Architecture) -> Architecture:
        """The full space's representative, even where it uses a forbidden choice: strategies
        key what they have seen by it, and those keys must not change when a restriction
        arrives."""
        return self.space.canonical(arch)

    def format(self, arch: Architecture) -> str:
        return self.space.format(arch)

    def parse(self, text: str) -> Architecture:
        return self.space.parse(text)

    def enumerate(self) -> Iterator[Architecture]:
        return super().enumerate()
