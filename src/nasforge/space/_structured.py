"""Search spaces defined by a declaration: everything but ``build`` comes from the primitives.

:class:`StructuredSpace` turns a declaration (see :mod:`nasforge.space._primitives`) into the
whole :class:`SearchSpace` contract. :class:`LayerSpace` adds the generic network builder for
declarations written in the layer vocabulary (see :mod:`nasforge.space._layers`); the built-in
spaces and :class:`DeclaredSpace` are layer spaces.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space._layers import build_layers, check_layers, layers_declaration
from nasforge.space._primitives import Structure
from nasforge.space._table_space import TableSpace
from nasforge.tasks.base import Kind

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.supernet import Supernet
    from nasforge.tasks.base import TaskInfo


class StructuredSpace(TableSpace):
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

    _structure: Structure | None = None

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
    def table(self) -> Structure:
        return self.structure

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

    has_supernet = True

    def supernet(self, task: TaskInfo) -> Supernet:
        """The weight-sharing supernet of every network for ``task`` (see
        :class:`~nasforge.space.supernet.LayerSupernet`).

        Raises:
            NoSupernetError: a choice changes a feature map's size (the message names it).
        """
        from nasforge.space.supernet import LayerSupernet

        return LayerSupernet(self, task)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_layers", None)
        return state
