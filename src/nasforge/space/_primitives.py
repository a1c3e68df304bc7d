"""Declarative primitives (`Choice`, `Repeat`, `Cell`) and the generic engine behind them.

A *declaration* is a tree of plain values: mappings (named children), lists (children named by
position), fixed scalars, and the three primitives. :class:`Structure` compiles a declaration into
a flat, ordered table of decisions with dotted names taken from their place in the tree, e.g.
``{"stage0": {"blocks": Repeat({"kernel": Choice([3, 5])}, depth=Choice([1, 2, 3]))}}`` has the
decisions ``stage0.blocks.depth`` and ``stage0.blocks.0.kernel`` .. ``stage0.blocks.2.kernel``.

From that table every search-space operation follows generically: uniform sampling per decision,
mutation, neighbours, one-hot encoding, validation, exact size and enumeration.

Two rules make each network have exactly one canonical architecture:

- Decisions of repeat positions beyond the chosen depth are *inactive* and absent from the
  architecture (an architecture that names them is invalid).
- A ``Choice`` with a single option is a fixed value, not a decision.

When a mutation raises a depth, the new positions copy the position before them (or take each
decision's first option at position 0), so mutation and :meth:`Structure.neighbours` agree and are
deterministic given the changed decision.

Example:
    >>> s = Structure({"blocks": Repeat({"kernel": Choice([3, 5])}, depth=Choice([1, 2]))})
    >>> [d.name for d in s.decisions]
    ['blocks.depth', 'blocks.0.kernel', 'blocks.1.kernel']
    >>> s.size  # depth 1: 2 archs, depth 2: 4 archs
    6
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem

_VALUE_TYPES = (str, int, float, bool)


def value_key(value: object) -> tuple[str, object]:
    """A strict identity key: ``1``, ``1.0`` and ``True`` are different options."""
    return (type(value).__name__, value)


def options_problem(options: object) -> str | None:
    """Why ``options`` is not a valid list of choice options, or ``None`` if it is."""
    if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        return f"expected a list of options; got {options!r}"
    items = list(options)
    if not items:
        return "expected a non-empty list of options; got []"
    bad = [o for o in items if not isinstance(o, _VALUE_TYPES)]
    if bad:
        return f"options must be str, int, float or bool; got {bad[0]!r} ({type(bad[0]).__name__})"
    nonfinite = [o for o in items if isinstance(o, float) and not math.isfinite(o)]
    if nonfinite:
        return f"options must be finite; got {nonfinite[0]!r}"
    seen: set[tuple[str, object]] = set()
    for o in items:
        if value_key(o) in seen:
            return f"options must be distinct; {o!r} appears twice in {items!r}"
        seen.add(value_key(o))
    return None


@dataclass(frozen=True, init=False)
class Choice:
    """A categorical decision between ``options`` (str, int, float or bool values).

    Example:
        >>> Choice([16, 32]).options
        (16, 32)
    """

    options: tuple[Value, ...]

    def __init__(self, options: Iterable[Value]) -> None:
        problem = options_problem(options)
        if problem:
            raise ConfigError([Problem("Choice.options", problem, "e.g. Choice([16, 32])")])
        object.__setattr__(self, "options", tuple(options))


@dataclass(frozen=True, init=False)
class Repeat:
    """``body`` repeated ``depth`` times; a ``Choice`` of depths makes the depth a decision.

    Each position has its own copy of the body's decisions, named ``<name>.<position>.<...>``;
    the depth decision is ``<name>.depth``.

    Args:
        body: the declaration repeated at each position (in a declared space: a list of layers).
        depth: a fixed depth (int >= 0), or a ``Choice``/list of depths.
    """

    body: Any
    depth: Choice | int

    def __init__(self, body: Any, depth: Choice | int | Sequence[int] = 1) -> None:
        if isinstance(depth, Sequence) and not isinstance(depth, str):
            depth = Choice(depth)
        options = depth.options if isinstance(depth, Choice) else (depth,)
        for d in options:
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise ConfigError(
                    [Problem("Repeat.depth", f"depths must be ints >= 0; got {d!r}",
                             "e.g. depth=Choice([1, 2, 3])")]
                )
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "depth", depth)

    @property
    def depths(self) -> tuple[int, ...]:
        """The possible depths."""
        if isinstance(self.depth, Choice):
            return tuple(int(d) for d in self.depth.options)
        return (self.depth,)


@dataclass(frozen=True, init=False)
class Cell:
    """A DAG of ``n_nodes`` nodes with one operation per edge ``j <- i`` (``i < j``).

    Node 0 is the input and node ``n_nodes - 1`` the output; each node sums its incoming edges.
    The edge decisions are named ``edge_<j>_<i>`` in the order (1,0), (2,0), (2,1), (3,0), ...
    which is NAS-Bench-201's order.

    Args:
        n_nodes: number of nodes, >= 2.
        ops: the operation names each edge chooses from.
    """

    n_nodes: int
    ops: tuple[str, ...]

    def __init__(self, *, ops: Sequence[str], n_nodes: int = 4) -> None:
        if not isinstance(n_nodes, int) or isinstance(n_nodes, bool) or n_nodes < 2:
            raise ConfigError(
                [Problem("Cell.n_nodes", f"expected an int >= 2; got {n_nodes!r}", "use 4")]
            )
        problem = options_problem(ops)
        if problem is None and not all(isinstance(o, str) for o in ops):
            problem = f"ops must be operation names (str); got {list(ops)!r}"
        if problem:
            raise ConfigError([Problem("Cell.ops", problem, "e.g. ops=['skip_connect', ...]")])
        object.__setattr__(self, "n_nodes", n_nodes)
        object.__setattr__(self, "ops", tuple(ops))

    @property
    def edges(self) -> list[tuple[int, int]]:
        """The edges ``(j, i)`` (to node j from node i) in decision order."""
        return [(j, i) for j in range(1, self.n_nodes) for i in range(j)]

    @staticmethod
    def edge_name(j: int, i: int) -> str:
        return f"edge_{j}_{i}"


@dataclass(frozen=True)
class Decision:
    """One named decision of a compiled declaration.

    Attributes:
        name: dotted name, e.g. ``stage0.blocks.2.kernel``.
        options: the allowed values, in declaration order.
        conditions: ``(earlier decision, allowed values)`` pairs; the decision is active only
            when each such decision is active and has one of its allowed values (a repeat's
            position ``k`` is active for the depths above ``k``).
        previous: ``(depth decision, name)`` pairs: the same decision one position earlier in
            that depth decision's repeat, copied when the depth grows.
    """

    name: str
    options: tuple[Value, ...]
    conditions: tuple[tuple[str, tuple[Value, ...]], ...] = ()
    previous: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))

    def index(self, value: object) -> int | None:
        """Position of ``value`` among the options (strictly typed), or ``None``."""
        key = value_key(value)
        for i, option in enumerate(self.options):
            if value_key(option) == key:
                return i
        return None

    def describe_condition(self) -> str:
        """When the decision is asked, e.g. ``depth in [2, 3] and deep=true``."""
        if not self.conditions:
            return "always"
        return " and ".join(
            f"{name}={_format(allowed[0])}" if len(allowed) == 1 else f"{name} in {list(allowed)!r}"
            for name, allowed in self.conditions
        )


def _format(value: Value) -> str:
    return "true" if value is True else "false" if value is False else repr(value)


def _holds(condition: tuple[str, tuple[Value, ...]], values: Mapping[str, Value]) -> bool:
    name, allowed = condition
    if name not in values:
        return False
    key = value_key(values[name])
    return any(value_key(v) == key for v in allowed)


@dataclass
class _Walker:
    decisions: list[Decision] = field(default_factory=list)

    def walk(
        self,
        node: Any,
        prefix: tuple[str, ...],
        conditions: tuple[tuple[str, tuple[Value, ...]], ...],
        alts: tuple[tuple[str, tuple[str, ...]], ...],
    ) -> None:
        if isinstance(node, Choice):
            if len(node.options) > 1:
                self._add(prefix, node.options, conditions, alts, ())
        elif isinstance(node, Cell):
            for j, i in node.edges:
                self._add(prefix, node.ops, conditions, alts, (Cell.edge_name(j, i),))
        elif isinstance(node, Repeat):
            depth_name: str | None = None
            if isinstance(node.depth, Choice) and len(node.depth.options) > 1:
                self._add(prefix, node.depth.options, conditions, alts, ("depth",))
                depth_name = ".".join((*prefix, "depth"))
            for k in range(max(node.depths)):
                pos = str(k)
                sub_alts = tuple((d, (*alt, pos)) for d, alt in alts)
                sub_conditions = conditions
                if depth_name is not None:
                    deeper = tuple(d for d in node.depths if d > k)
                    sub_conditions = (*conditions, (depth_name, deeper))
                    if k > 0:
                        sub_alts = (*sub_alts, (depth_name, (*prefix, str(k - 1))))
                self.walk(node.body, (*prefix, pos), sub_conditions, sub_alts)
        elif isinstance(node, Mapping):
            for key, child in node.items():
                if not isinstance(key, str) or not key or "." in key:
                    raise ConfigError(
                        [Problem(".".join(prefix) or "declaration",
                                 f"names must be non-empty strings without dots; got {key!r}",
                                 "rename the entry")]
                    )
                self.walk(child, (*prefix, key), conditions,
                          tuple((d, (*alt, key)) for d, alt in alts))
        elif isinstance(node, (list, tuple)):
            for k, child in enumerate(node):
                self.walk(child, (*prefix, str(k)), conditions,
                          tuple((d, (*alt, str(k))) for d, alt in alts))
        elif node is not None and not isinstance(node, _VALUE_TYPES):
            raise ConfigError(
                [Problem(".".join(prefix) or "declaration",
                         f"unsupported declaration node {type(node).__name__} {node!r}",
                         "use Choice, Repeat, Cell, a mapping, a list or a fixed value")]
            )

    def _add(
        self,
        prefix: tuple[str, ...],
        options: tuple[Value, ...],
        conditions: tuple[tuple[str, tuple[Value, ...]], ...],
        alts: tuple[tuple[str, tuple[str, ...]], ...],
        suffix: tuple[str, ...],
    ) -> None:
        name = ".".join((*prefix, *suffix))
        if not name:
            raise ConfigError([Problem("declaration", "a bare Choice has no name",
                                       "put it in a mapping, e.g. {'op': Choice([...])}")])
        previous = tuple((d, ".".join((*alt, *suffix))) for d, alt in alts)
        self.decisions.append(Decision(name, options, conditions, previous))


def resolve(node: Any, values: Mapping[str, Value], prefix: tuple[str, ...] = ()) -> Any:
    """The concrete value of a declaration under an architecture.

    Choices become their chosen value, a ``Repeat`` a list with one resolved body per active
    position, a ``Cell`` a dict ``{"edge_j_i": op}``; mappings and lists resolve element-wise.
    """
    if isinstance(node, Choice):
        if len(node.options) == 1:
            return node.options[0]
        return values[".".join(prefix)]
    if isinstance(node, Cell):
        return {
            Cell.edge_name(j, i): values[".".join((*prefix, Cell.edge_name(j, i)))]
            for j, i in node.edges
        }
    if isinstance(node, Repeat):
        if isinstance(node.depth, Choice) and len(node.depth.options) > 1:
            depth = int(values[".".join((*prefix, "depth"))])
        else:
            depth = node.depths[0]
        return [resolve(node.body, values, (*prefix, str(k))) for k in range(depth)]
    if isinstance(node, Mapping):
        return {k: resolve(v, values, (*prefix, k)) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [resolve(v, values, (*prefix, str(k))) for k, v in enumerate(node)]
    return node


def count(node: Any) -> int:
    """The exact number of distinct architectures a declaration describes."""
    if isinstance(node, Choice):
        return len(node.options)
    if isinstance(node, Cell):
        return len(node.ops) ** len(node.edges)
    if isinstance(node, Repeat):
        body = count(node.body)
        return sum(body**d for d in node.depths)
    if isinstance(node, Mapping):
        return math.prod(count(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return math.prod(count(v) for v in node)
    return 1


class DecisionTable:
    """An ordered table of conditionally active decisions and every operation over it.

    A decision's conditions name only decisions before it, so one pass in table order decides
    which decisions are active. :class:`Structure` builds the table from a declaration; a
    define-by-run space (:mod:`nasforge.space._function`) from what its function asked.
    """

    size: int
    """The exact number of architectures (set by each kind of table)."""

    def __init__(self, decisions: Iterable[Decision]) -> None:
        self.decisions: tuple[Decision, ...] = tuple(decisions)
        self._by_name = {d.name: d for d in self.decisions}
        if len(self._by_name) != len(self.decisions):
            names = [d.name for d in self.decisions]
            dup = next(n for n in names if names.count(n) > 1)
            raise ConfigError([Problem(dup, "two decisions have the same name",
                                       "rename one of the entries")])
        self._offsets: dict[str, int] = {}
        offset = 0
        for i, d in enumerate(self.decisions):
            earlier = {e.name for e in self.decisions[:i]}
            if any(name not in earlier for name, _ in d.conditions):  # an internal invariant
                raise AssertionError(f"decision {d.name!r} is conditioned on a later decision")
            self._offsets[d.name] = offset
            offset += len(d.options)
        self.n_features = offset

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.decisions]

    def decision(self, name: str) -> Decision:
        return self._by_name[name]

    @staticmethod
    def is_active(decision: Decision, values: Mapping[str, Value]) -> bool:
        return all(_holds(c, values) for c in decision.conditions)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Each active decision uniformly at random, in table order."""
        values: dict[str, Value] = {}
        for d in self.decisions:
            if self.is_active(d, values):
                values[d.name] = d.options[int(rng.integers(len(d.options)))]
        return Architecture(values)

    def complete(self, values: Mapping[str, Value], changed: str | None = None) -> Architecture:
        """Drop inactive decisions and fill missing active ones.

        A missing decision copies the same decision one position earlier in the repeat whose
        depth ``changed`` (so a deeper network repeats its last block), else takes its first option.
        """
        out = dict(values)
        for d in self.decisions:
            if not self.is_active(d, out):
                out.pop(d.name, None)
            elif d.name not in out:
                source = dict(d.previous).get(changed) if changed else None
                if source is not None and source in out:
                    out[d.name] = out[source]
                else:
                    out[d.name] = d.options[0]
        return Architecture(out)

    def _mutable(self, arch: Mapping[str, Value]) -> list[Decision]:
        return [d for d in self.decisions if d.name in arch and len(d.options) > 1]

    def mutate(self, arch: Mapping[str, Value], rng: np.random.Generator) -> Architecture:
        """Change one active decision (chosen uniformly) to a different option (uniformly)."""
        self.validate(arch)
        candidates = self._mutable(arch)
        if not candidates:
            raise ConfigError([Problem("space", "the space has a single architecture, so no "
                                       "mutation exists", "declare a Choice with 2+ options")])
        d = candidates[int(rng.integers(len(candidates)))]
        current = d.index(arch[d.name])
        others = [o for i, o in enumerate(d.options) if i != current]
        new = others[int(rng.integers(len(others)))]
        return self.complete({**arch, d.name: new}, d.name)

    def neighbours(self, arch: Mapping[str, Value]) -> list[Architecture]:
        """Every architecture one decision away, in table then option order, without repeats."""
        self.validate(arch)
        here = Architecture(arch)
        seen = {here}
        out: list[Architecture] = []
        for d in self._mutable(arch):
            current = d.index(arch[d.name])
            for i, option in enumerate(d.options):
                if i == current:
                    continue
                n = self.complete({**arch, d.name: option}, d.name)
                if n not in seen:
                    seen.add(n)
                    out.append(n)
        return out

    def encode(self, arch: Mapping[str, Value]) -> np.ndarray:
        """One-hot per decision over the maximal structure; inactive decisions are all zero."""
        self.validate(arch)
        vec = np.zeros(self.n_features, dtype=np.float32)
        for name, value in arch.items():
            d = self._by_name[name]
            index = d.index(value)
            assert index is not None  # guaranteed by validate
            vec[self._offsets[name] + index] = 1.0
        return vec

    def validate(self, arch: object) -> None:
        """Raise :class:`InvalidArchitectureError` naming the first bad, unknown or missing key."""
        if not isinstance(arch, Mapping):
            raise InvalidArchitectureError(
                f"expected an Architecture (a mapping of decision name to choice); "
                f"got {type(arch).__name__} {arch!r}"
            )
        for name in arch:
            if name not in self._by_name:
                known = [d.name for d in self.decisions]
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                listing = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", ..."
                raise InvalidArchitectureError(
                    f"unknown decision {name!r}; {hint}the space's decisions are: "
                    f"{listing or 'none'}",
                    path=tuple(str(name).split(".")),
                )
        for d in self.decisions:
            active = self.is_active(d, arch)
            if d.name not in arch:
                if active:
                    raise InvalidArchitectureError(
                        f"missing decision {d.name!r}; add it with one of {list(d.options)!r}",
                        path=d.path,
                    )
                continue
            if not active:
                parent = next(n for n, allowed in d.conditions if not _holds((n, allowed), arch))
                raise InvalidArchitectureError(
                    f"decision {d.name!r} is inactive because {parent}={arch.get(parent)!r} "
                    f"(it is asked only when {d.describe_condition()}); remove it",
                    path=d.path,
                )
            value = arch[d.name]
            if d.index(value) is None:
                raise InvalidArchitectureError(
                    f"decision {d.name!r} must be one of {list(d.options)!r}; "
                    f"got {value!r} ({type(value).__name__})",
                    path=d.path,
                )

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture, lexicographically in table order and option order."""
        values: dict[str, Value] = {}

        def rec(i: int) -> Iterator[Architecture]:
            if i == len(self.decisions):
                yield Architecture(values)
                return
            d = self.decisions[i]
            if not self.is_active(d, values):
                yield from rec(i + 1)
                return
            for option in d.options:
                values[d.name] = option
                yield from rec(i + 1)
            del values[d.name]

        yield from rec(0)

    def count(self) -> int:
        """The exact number of architectures, memoised on what later conditions look at."""
        n = len(self.decisions)
        needed: list[tuple[str, ...]] = [()] * (n + 1)
        later: set[str] = set()
        for i in range(n - 1, -1, -1):
            later |= {name for name, _ in self.decisions[i].conditions}
            needed[i] = tuple(sorted(later))
        memo: dict[tuple[Any, ...], int] = {}
        values: dict[str, Value] = {}

        def rec(i: int) -> int:
            if i == n:
                return 1
            key = (i, *(value_key(values[k]) if k in values else None for k in needed[i]))
            if key in memo:
                return memo[key]
            d = self.decisions[i]
            if not self.is_active(d, values):
                total = rec(i + 1)
            else:
                total = 0
                for option in d.options:
                    values[d.name] = option
                    total += rec(i + 1)
                del values[d.name]
            memo[key] = total
            return total

        return rec(0)


class Structure(DecisionTable):
    """A compiled declaration: its table of decisions (see :class:`DecisionTable`) and the
    declaration resolved under an architecture.

    Depth decisions always come before the decisions they govern.
    """

    def __init__(self, declaration: Any) -> None:
        self.declaration = declaration
        walker = _Walker()
        walker.walk(declaration, (), (), ())
        super().__init__(walker.decisions)
        self.size = count(declaration)

    def resolve(self, arch: Mapping[str, Value]) -> Any:
        """The declaration with every decision replaced by its value in ``arch``."""
        self.validate(arch)
        return resolve(self.declaration, arch)
