"""`TableSpace`: a space whose decisions form a :class:`DecisionTable`, with validity rules.

Declared spaces (:class:`~nasforge.space._structured.StructuredSpace`, from a declaration) and
define-by-run spaces (:class:`~nasforge.space._function.FunctionSpace`, from what discovery
learnt) both come down to a table of conditionally active decisions. Everything but ``build``
follows from that table and the space's ``rules`` (:mod:`nasforge.space.rules`), once, here.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.architecture import Architecture
from nasforge.space._primitives import DecisionTable
from nasforge.space.base import SearchSpace, format_decisions, parse_decisions
from nasforge.space.rules import ENUMERATE_LIMIT, Rules


class TableSpace(SearchSpace):
    """The search-space contract over :attr:`table`, keeping the validity rules.

    A subclass gives :attr:`table` and :meth:`build`; one that takes a ``rules`` constructor
    parameter stores it as ``self.rules = normalize_rules(rules)`` and gets rule-respecting
    ``sample``, ``mutate``, ``neighbours``, ``enumerate``, ``size`` and ``validate`` with no
    further code.
    """

    rules: Sequence[Mapping[str, Any]] = ()
    """The validity rules (see :mod:`nasforge.space.rules`); none by default."""

    _compiled_rules: Rules | None = None

    @property
    @abstractmethod
    def table(self) -> DecisionTable:
        """The table of decisions every operation works on."""

    @property
    def space_rules(self) -> Rules:
        """The compiled validity rules (checked against the decisions once, on first use).

        Raises:
            ConfigError: a rule names an unknown decision or option, naming ``space.rules.<i>``.
        """
        if self._compiled_rules is None:
            options = {d.name: d.options for d in self.table.decisions}
            self._compiled_rules = Rules.compile(self.rules, options)
        return self._compiled_rules

    @property
    def decisions(self) -> list[str]:
        """Decision names in table order (a decision after those it is conditioned on)."""
        return self.table.names

    def _everything(self) -> Iterator[Architecture] | None:
        return self.table.enumerate() if self.table.size <= ENUMERATE_LIMIT else None

    def _inverse_probability(self, arch: Architecture) -> float:
        """``1 / P(table.sample() == arch)``: the product of the active options' counts."""
        return float(math.prod(len(self.table.decision(n).options) for n in arch))

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Each active decision uniformly at random, redrawn while a rule is broken."""
        return self.space_rules.sample(self.table.sample, rng, self._everything)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One active decision changed (see :meth:`DecisionTable.mutate`), keeping the rules."""
        return self.space_rules.mutate(
            self.table.mutate, arch, rng, self.table.neighbours, self.sample, self._everything
        )

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return self.space_rules.filter(self.table.neighbours(arch))

    def encode(self, arch: Architecture) -> np.ndarray:
        return self.table.encode(arch)

    def validate(self, arch: Architecture) -> None:
        self.table.validate(arch)
        self.space_rules.check(arch)

    @property
    def size(self) -> float:
        """The exact number of architectures (an ``int``, counting every depth).

        With rules: exact up to :data:`~nasforge.space.rules.COUNT_LIMIT` architectures, a
        Monte-Carlo estimate (a ``float``) beyond; see :meth:`Rules.size`.
        """
        return self.space_rules.size(
            self.table.size, self.table.enumerate, self.table.sample, self._inverse_probability
        )

    def enumerate(self) -> Iterator[Architecture]:
        return self.space_rules.enumerate(self.table.enumerate())

    def format(self, arch: Architecture) -> str:
        """``decision=value`` pairs in table order, e.g. ``stage0.depth=2 stage0.0.kernel=5``."""
        return format_decisions(arch, self.decisions)

    def parse(self, text: str) -> Architecture:
        """Read :meth:`format`'s form (values typed by the options) or canonical JSON."""

        def options(name: str) -> tuple[Any, ...] | None:
            try:
                return self.table.decision(name).options
            except KeyError:
                return None

        arch = parse_decisions(text, options)
        self.validate(arch)
        return arch
