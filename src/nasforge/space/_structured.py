"""Search spaces defined by a declaration: everything but ``build`` comes from the primitives.

:class:`StructuredSpace` turns a declaration (see :mod:`nasforge.space._primitives`) into the
whole :class:`SearchSpace` contract. :class:`LayerSpace` adds the generic network builder for
declarations written in the layer vocabulary (see :mod:`nasforge.space._layers`); the built-in
spaces and :class:`DeclaredSpace` are layer spaces.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space._layers import build_layers, check_layers, layers_declaration
from nasforge.space._primitives import Structure
from nasforge.space.base import SearchSpace, format_decisions, parse_decisions
from nasforge.space.rules import ENUMERATE_LIMIT, Rules
from nasforge.tasks.base import Kind

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo


class StructuredSpace(SearchSpace):
    """A search space whose decisions come from :meth:`declaration`.

    Subclasses implement :meth:`declaration` (a tree of ``Choice``/``Repeat``/``Cell``,
    mappings, lists and fixed values) and :meth:`build`. Sampling is uniform per decision (so a
    depth is uniform over its options), ``mutate`` changes one active decision, ``encode`` is
    one-hot per decision over the maximal structure; see :class:`Structure`.

    Validity rules (:mod:`nasforge.space.rules`) come from the ``rules`` attribute: a subclass
    that takes a ``rules`` constructor parameter and stores it there (``self.rules =
    normalize_rules(rules)``) gets rule-respecting ``sample``, ``mutate``, ``neighbours``,
    ``enumerate``, ``size`` and ``validate`` with no further code.
    """

    supported_kinds: ClassVar[tuple[Kind, ...]] = ("signal", "image", "tabular")
    """Task kinds :meth:`build` supports (the contract tests build for each)."""

    rules: Sequence[Mapping[str, Any]] = ()
    """The validity rules (see :mod:`nasforge.space.rules`); none by default."""

    _structure: Structure | None = None
    _compiled_rules: Rules | None = None

    @abstractmethod
    def declaration(self) -> Any:
        """The declaration tree (computed from the constructor parameters)."""

    @property
    def structure(self) -> Structure:
        """The compiled declaration (built once, on first use)."""
        if self._structure is None:
            self._structure = Structure(self.declaration())
        return self._structure

    @property
    def space_rules(self) -> Rules:
        """The compiled validity rules (checked against the decisions once, on first use).

        Raises:
            ConfigError: a rule names an unknown decision or option, naming ``space.rules.<i>``.
        """
        if self._compiled_rules is None:
            table = {d.name: d.options for d in self.structure.decisions}
            self._compiled_rules = Rules.compile(self.rules, table)
        return self._compiled_rules

    @property
    def decisions(self) -> list[str]:
        """Decision names in table order (depth decisions before what they govern)."""
        return [d.name for d in self.structure.decisions]

    def _everything(self) -> Iterator[Architecture] | None:
        size = self.structure.size
        return self.structure.enumerate() if size <= ENUMERATE_LIMIT else None

    def _inverse_probability(self, arch: Architecture) -> float:
        """``1 / P(structure.sample() == arch)``: the product of the active options' counts."""
        return float(math.prod(len(self.structure.decision(n).options) for n in arch))

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Each active decision uniformly at random, redrawn while a rule is broken."""
        return self.space_rules.sample(self.structure.sample, rng, self._everything)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One active decision changed (see :meth:`Structure.mutate`), keeping the rules."""
        return self.space_rules.mutate(
            self.structure.mutate, arch, rng, self.structure.neighbours, self.sample,
            self._everything,
        )

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return self.space_rules.filter(self.structure.neighbours(arch))

    def encode(self, arch: Architecture) -> np.ndarray:
        return self.structure.encode(arch)

    def validate(self, arch: Architecture) -> None:
        self.structure.validate(arch)
        self.space_rules.check(arch)

    @property
    def size(self) -> float:
        """The exact number of architectures (an ``int``, counting every depth).

        With rules: exact up to :data:`~nasforge.space.rules.COUNT_LIMIT` architectures, a
        Monte-Carlo estimate (a ``float``) beyond; see :meth:`Rules.size`.
        """
        return self.space_rules.size(
            self.structure.size, self.structure.enumerate, self.structure.sample,
            self._inverse_probability,
        )

    def enumerate(self) -> Iterator[Architecture]:
        return self.space_rules.enumerate(self.structure.enumerate())

    def format(self, arch: Architecture) -> str:
        """``decision=value`` pairs in table order, e.g. ``stage0.depth=2 stage0.0.kernel=5``."""
        return format_decisions(arch, self.decisions)

    def parse(self, text: str) -> Architecture:
        """Read :meth:`format`'s form (values typed by the declared options) or canonical JSON."""

        def options(name: str) -> tuple[Any, ...] | None:
            try:
                return self.structure.decision(name).options
            except KeyError:
                return None

        arch = parse_decisions(text, options)
        self.validate(arch)
        return arch

    def resolve(self, arch: Architecture) -> Any:
        """The declaration with each decision replaced by its value in ``arch``."""
        return self.structure.resolve(arch)

    def __getstate__(self) -> dict[str, Any]:
        # The structure is derived; rebuilding it keeps pickles small and version-proof.
        state = dict(self.__dict__)
        state.pop("_structure", None)
        state.pop("_compiled_rules", None)
        return state


class LayerSpace(StructuredSpace):
    """A structured space written in the layer vocabulary, with the generic builder.

    Subclasses implement :meth:`layer_specs` and have a ``dims`` parameter (1, 2 or ``auto``).
    """

    dims: Any = "auto"
    _layers: list[dict[str, Any]] | None = None

    @abstractmethod
    def layer_specs(self) -> list[dict[str, Any]]:
        """The JSON-able layer specs of this space."""

    def checked_layers(self) -> list[dict[str, Any]]:
        """:meth:`layer_specs`, checked once (a :class:`ConfigError` lists every problem)."""
        if self._layers is None:
            layers = self.layer_specs()
            problems = check_layers(layers)
            if problems:
                raise ConfigError(problems, source=f"{type(self).__name__} layers")
            self._layers = layers
        return self._layers

    def declaration(self) -> Mapping[str, Any]:
        return layers_declaration(self.checked_layers())

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        """A fresh network for ``task``: the layers, global average pool, linear head."""
        resolved = self.resolve(arch)
        return build_layers(self.checked_layers(), resolved, task, self.dims)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_layers", None)
        return state
