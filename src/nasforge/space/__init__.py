"""Search spaces: what an architecture is, and how to sample, mutate, encode and build it.

Spaces are declared with a few primitives (:class:`Choice`, :class:`Repeat`, :class:`Cell`) and,
for networks, a layer vocabulary (``conv``, ``dense``, ``pool``, ``cell``, ``repeat`` ...), so a
new space needs no subclassing: see :class:`DeclaredSpace`. The built-ins (``nb201``, ``chain``,
``mlp``) are such declarations and are registered in :data:`SPACES` on import. A space of plain
named decisions (for lookup benchmarks and your own builders) is :class:`ChoicesSpace`; a network
written in PyTorch with its decisions asked where they are needed is a define-by-run space
(:func:`define`, :class:`FunctionSpace`).
"""

from __future__ import annotations

from nasforge.space._chain import ChainSpace
from nasforge.space._choices import ChoicesSpace
from nasforge.space._declared import DeclaredSpace
from nasforge.space._function import Answers, FunctionSpace, define
from nasforge.space._layers import (
    LAYER_FIELDS,
    LAYER_TYPES,
    Activation,
    CellLayer,
    Conv,
    Dense,
    Dropout,
    Norm,
    Pool,
    ResBlock,
)
from nasforge.space._mlp import MLPSpace
from nasforge.space._modules import ACTIVATIONS, CELL_OPS, DeclaredNet
from nasforge.space._nb201 import (
    NB201_DECISIONS,
    NB201_EDGES,
    NB201_OPS,
    NB201Space,
    arch_to_nb201,
    nb201_expression,
    nb201_to_arch,
)
from nasforge.space._primitives import Cell, Choice, Decision, Repeat, Structure
from nasforge.space._structured import LayerSpace, StructuredSpace
from nasforge.space.base import SPACES, SearchSpace
from nasforge.space.rules import Rule, Rules

# Short names, as written in the design (``nf.space.NB201(dims=1)``).
NB201 = NB201Space
Chain = ChainSpace
MLP = MLPSpace
Declared = DeclaredSpace
Choices = ChoicesSpace

__all__ = [
    "ACTIVATIONS",
    "CELL_OPS",
    "LAYER_FIELDS",
    "LAYER_TYPES",
    "MLP",
    "NB201",
    "NB201_DECISIONS",
    "NB201_EDGES",
    "NB201_OPS",
    "SPACES",
    "Activation",
    "Answers",
    "Cell",
    "CellLayer",
    "Chain",
    "ChainSpace",
    "Choice",
    "Choices",
    "ChoicesSpace",
    "Conv",
    "Decision",
    "Declared",
    "DeclaredNet",
    "DeclaredSpace",
    "Dense",
    "Dropout",
    "FunctionSpace",
    "LayerSpace",
    "MLPSpace",
    "NB201Space",
    "Norm",
    "Pool",
    "Repeat",
    "ResBlock",
    "Rule",
    "Rules",
    "SearchSpace",
    "Structure",
    "StructuredSpace",
    "arch_to_nb201",
    "define",
    "nb201_expression",
    "nb201_to_arch",
]
