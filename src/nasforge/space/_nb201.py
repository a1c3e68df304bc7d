"""NAS-Bench-201's cell search space, in 1-D or 2-D, declared with the layer vocabulary.

The cell is a 4-node DAG with 6 edges, each one of ``none``, ``skip_connect``, ``nor_conv_1x1``,
``nor_conv_3x3``, ``avg_pool_3x3``: 5^6 = 15,625 architectures. The decisions are named
``cell.edge_<j>_<i>`` (the edge into node ``j`` from node ``i``), in NB201's order
``edge_1_0, edge_2_0, edge_2_1, edge_3_0, edge_3_1, edge_3_2``.

The macro skeleton is NB201's ``infer.tiny`` network: a 3x3 convolution and BatchNorm stem, three
stages of ``cells_per_stage`` copies of the *same* cell separated by residual reduction blocks that
halve the length and double the channels, then BatchNorm, ReLU, global average pool and a linear
head. With ``channels=16, cells_per_stage=5`` on 32x32 images the parameter counts are NB201's.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
ICLR 2020, https://arxiv.org/abs/2001.00326.

Example:
    >>> space = NB201Space(dims=1, cells_per_stage=2)
    >>> arch = nb201_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
    ...                      "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    >>> arch["cell.edge_2_1"]
    'avg_pool_3x3'
    >>> space.parse(space.format(arch)) == arch
    True

Canonical forms: many cells compute the same function (a ``none`` edge drops its term,
``skip_connect`` is the identity, a node with no live input is zero, an operation of zero is
zero, and sums commute; see :func:`nb201_expression`). The 15,625 cells compute **4,930**
distinct functions; :meth:`NB201Space.canonical` maps each cell to the first cell of its class
in enumeration order (for example every cell whose output cannot see the input maps to the
all-``none`` cell), so strategies spend their budget on distinct networks.

Enumeration is lexicographic over the edges in the order above and the ops in the order above.
That is not NB201's official index order, which follows the benchmark's file and cannot be
derived from the cell; tabular lookups therefore go through the NB201 string
(:func:`arch_to_nb201`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space._structured import LayerSpace
from nasforge.space.base import SPACES, parse_decisions
from nasforge.space.rules import normalize_rules

NB201_OPS: tuple[str, ...] = (
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3",
)
"""NB201's operations, in its own order."""

NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""The cell's edges ``(to node, from node)`` in NB201's string order."""

CELL = "cell"
"""The layer name of the cell, hence the prefix of every decision."""


def _decision(j: int, i: int) -> str:
    return f"{CELL}.edge_{j}_{i}"


NB201_DECISIONS: tuple[str, ...] = tuple(_decision(j, i) for j, i in NB201_EDGES)
"""The decision names, in NB201's edge order."""

_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
    "skip_connect~2|"


def _malformed(text: str, why: str) -> InvalidArchitectureError:
    return InvalidArchitectureError(
        f"malformed NAS-Bench-201 string {text!r}: {why}; expected three '+'-separated nodes "
        f"listing 1, 2 and 3 inputs 'op~i', e.g. {_EXAMPLE!r}"
    )


def nb201_to_arch(text: str) -> Architecture:
    """The architecture of an NB201 string like ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

    Raises:
        InvalidArchitectureError: the string is malformed or names an unknown operation (the
            error's ``path`` then names the edge).
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"expected an NB201 string; got {type(text).__name__}")
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise _malformed(text, f"found {len(nodes)} node(s)")
    values: dict[str, str] = {}
    for j, node in enumerate(nodes, start=1):
        if len(node) < 2 or not node.startswith("|") or not node.endswith("|"):
            raise _malformed(text, f"node {j} {node!r} must start and end with '|'")
        tokens = node[1:-1].split("|")
        if len(tokens) != j:
            raise _malformed(text, f"node {j} must list {j} input(s); got {len(tokens)}")
        for i, token in enumerate(tokens):
            op, sep, source = token.partition("~")
            if not sep or source != str(i):
                raise _malformed(text, f"node {j} input {i} must be 'op~{i}'; got {token!r}")
            if op not in NB201_OPS:
                raise InvalidArchitectureError(
                    f"unknown NB201 operation {op!r} in {text!r}; use one of {list(NB201_OPS)}",
                    path=(CELL, f"edge_{j}_{i}"),
                )
            values[_decision(j, i)] = op
    return Architecture(values)


def arch_to_nb201(arch: Mapping[str, Any]) -> str:
    """The NB201 string of an architecture of :class:`NB201Space`."""
    missing = [name for name in NB201_DECISIONS if name not in arch]
    if missing:
        raise InvalidArchitectureError(
            f"not an NB201 architecture: missing {missing[0]!r}; it needs {list(NB201_DECISIONS)}",
            path=tuple(missing[0].split(".")),
        )
    nodes = []
    for j in range(1, 4):
        nodes.append("|" + "|".join(f"{arch[_decision(j, i)]}~{i}" for i in range(j)) + "|")
    return "+".join(nodes)


_LIVE_SKIP = "skip_connect"
_DEAD = "none"


@functools.cache
def _expression(ops: tuple[str, ...]) -> str:
    """The output expression of the cell whose edges (in NB201 order) carry ``ops``."""
    nodes: list[list[str]] = [["x"]]  # each node: the sorted terms of its sum; [] is zero
    edge = 0
    for j in range(1, 4):
        terms: list[str] = []
        for i in range(j):
            op, source = ops[edge], nodes[i]
            edge += 1
            if op == _DEAD or not source:
                continue  # a none edge drops its term; an op of zero is zero
            if op == _LIVE_SKIP:
                terms.extend(source)  # identity: the source's terms join this sum
            else:
                terms.append(f"{op}({'+'.join(source)})")
        nodes.append(sorted(terms))  # sums commute
    return "+".join(nodes[3]) or "0"


def nb201_expression(arch: Mapping[str, Any]) -> str:
    """The function an NB201 cell computes, as a canonical expression of its input ``x``.

    ``none`` edges drop their term, ``skip_connect`` is the identity, a node with no live input
    is zero and an operation of zero is zero (NB201's convention); a node sums its terms, which
    commute (they are sorted). ``"0"`` is the zero cell. Two cells compute the same function
    exactly when their expressions are equal.

    Example:
        >>> nb201_expression(nb201_to_arch(
        ...     "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"))
        'avg_pool_3x3(nor_conv_3x3(x))'
    """
    arch_to_nb201(arch)  # a clear error for a missing decision
    return _expression(tuple(str(arch[name]) for name in NB201_DECISIONS))


@SPACES.register("nb201")
class NB201Space(LayerSpace):
    """The NAS-Bench-201 cell space (15,625 architectures) on NB201's macro skeleton.

    :meth:`canonical` maps each cell to the first cell in enumeration order that computes the
    same function (:func:`nb201_expression`), so strategies count distinct networks.

    Args:
        channels: channels of the first stage (doubled at each of the two reductions).
        cells_per_stage: copies of the cell per stage (NB201 uses 5).
        dims: 1 for 1-D signals, 2 for images, ``auto`` to follow the task.
        rules: validity rules (see :mod:`nasforge.space.rules`), e.g.
            ``[{"not_all": {"decisions": "cell.edge_*", "equal": "skip_connect"}}]``.
    """

    def __init__(
        self,
        *,
        channels: Annotated[int, Field(ge=1)] = 16,
        cells_per_stage: Annotated[int, Field(ge=1)] = 5,
        dims: Literal[1, 2, "auto"] = "auto",
        rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.channels = channels
        self.cells_per_stage = cells_per_stage
        self.dims = dims
        self.rules = normalize_rules(rules)
        self.space_rules  # noqa: B018 - check the rules against the decisions now

    _representatives: dict[str, Architecture] | None = None

    def canonical(self, arch: Architecture) -> Architecture:
        """The first architecture (in :meth:`enumerate` order) computing the same function.

        The table of representatives is built once, on first use, over the valid cells.

        Raises:
            InvalidArchitectureError: ``arch`` is not in the space.
        """
        self.validate(arch)
        if self._representatives is None:
            table: dict[str, Architecture] = {}
            for each in self.enumerate():
                table.setdefault(nb201_expression(each), each)
            self._representatives = table
        return self._representatives[nb201_expression(arch)]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_representatives", None)
        return state

    def layer_specs(self) -> list[dict[str, Any]]:
        cell = {"type": "cell", "name": CELL, "nodes": 4, "ops": list(NB201_OPS)}
        c = self.channels
        layers: list[dict[str, Any]] = [
            {"type": "conv", "name": "stem", "width": c, "kernel": 3, "activation": "none"},
        ]
        for stage in range(3):
            if stage > 0:
                layers.append({"type": "resblock", "name": f"reduce{stage}",
                               "width": c * 2**stage, "stride": 2})
            # every cell layer has the same name and spec, so all share one set of decisions
            layers.extend(dict(cell) for _ in range(self.cells_per_stage))
        layers += [{"type": "norm", "name": "last_norm", "kind": "batch"},
                   {"type": "activation", "name": "last_act", "fn": "relu"}]
        return layers

    def format(self, arch: Architecture) -> str:
        """The NB201 string, e.g. ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|...|``."""
        self.validate(arch)
        return arch_to_nb201(arch)

    def parse(self, text: str) -> Architecture:
        """Parse an NB201 string or the canonical JSON form."""
        is_json = isinstance(text, str) and text.lstrip().startswith("{")
        arch = parse_decisions(text) if is_json else nb201_to_arch(text)
        self.validate(arch)
        return arch
