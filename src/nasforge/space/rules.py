"""Validity rules: which architectures of a space are invalid, and sampling that respects them.

A space's ``rules`` parameter is a list of rules; an architecture that breaks any of them is not
in the space: ``validate`` raises :class:`~nasforge.errors.InvalidArchitectureError` naming the
rule, and ``sample``, ``mutate``, ``neighbours``, ``enumerate`` and ``size`` skip it, so no
strategy ever proposes it. Each rule is a mapping with one key:

- ``forbid: {decision: value, ...}``: the combination is invalid: an architecture breaks the rule
  when *every* listed decision takes its listed value (a list of values means any of them). A
  decision the architecture does not have (inactive) does not match.
- ``not_all: {decisions: <pattern or list>, equal: <value or list>}``: not every matched
  decision may take one of the values. Patterns are shell-style (``cell.edge_*``) and match
  decision names; only the decisions an architecture has are counted.
- ``count: {decisions: ..., equal: ..., min: <int>, max: <int>}``: the number of matched
  decisions taking one of the values must lie in ``[min, max]`` (give one or both).
- ``valid: "module:function"``: a predicate, by reference so that the space still pickles and
  its ``get_params()`` stays JSON: ``function(arch)`` returns ``True`` for valid architectures.
  In Python the function itself may be given; it is stored as its reference and must be defined
  at the top level of an importable module.

Example (YAML)::

    space:
      name: nb201
      rules:
        - {not_all: {decisions: "cell.edge_*", equal: skip_connect}}
        - {forbid: {cell.edge_1_0: none, cell.edge_2_0: none}}
        - {valid: "mymodule:is_valid"}

Every decision and option a rule names is checked against the space when it is made; a mistake
is a :class:`~nasforge.errors.ConfigError` naming ``space.rules.<i>`` and the fix.

Sampling is by rejection, with :data:`MAX_SAMPLE_TRIES` draws; if they all break a rule, a finite
space of up to :data:`ENUMERATE_LIMIT` architectures draws uniformly among its valid ones instead,
and any other space raises a ConfigError saying the rules leave (almost) nothing. ``mutate`` tries
up to :data:`MAX_MUTATE_TRIES` mutations, then the valid neighbours, then a fresh valid draw.
``size`` is exact (by enumeration) for finite spaces of up to :data:`COUNT_LIMIT` architectures;
for larger ones it is a Monte-Carlo estimate, a ``float``: the size without rules times the
valid share of :data:`N_SIZE_DRAWS` draws of a fixed seed, each draw weighted by its inverse
sampling probability (self-normalised importance sampling, so the share is that of
architectures even where sampling is not uniform over them, e.g. per-decision uniform depths).

For space authors: :class:`StructuredSpace` (and so every declared space) does all of this from
its ``rules`` parameter. Any other space compiles its rules once with :meth:`Rules.compile` from
its decision table (``{name: options}``) and routes its operations through :class:`Rules`::

    self._rules = Rules.compile(rules, {"width": [16, 32], "kernel": [3, 5]})
    def sample(self, rng):    return self._rules.sample(self._raw_sample, rng, self._raw_all)
    def mutate(self, a, rng): return self._rules.mutate(self._raw_mutate, a, rng,
                                                        self._raw_neighbours, self.sample,
                                                        self._raw_all)
    def neighbours(self, a):  return self._rules.filter(self._raw_neighbours(a))
    def enumerate(self):      return self._rules.enumerate(self._raw_enumerate())
    def validate(self, a):    self._raw_validate(a); self._rules.check(a)
    size = self._rules.size(raw_size, self._raw_enumerate, self._raw_sample)

where ``_raw_*`` are the operations without rules (``_raw_all`` returns every architecture, or
``None`` when the space cannot be enumerated).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge import references
from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem

MAX_SAMPLE_TRIES = 1000
"""Draws tried before a finite space falls back to its list of valid architectures."""
MAX_MUTATE_TRIES = 100
"""Mutations tried before the valid neighbours are used instead."""
ENUMERATE_LIMIT = 200_000
"""Finite spaces up to this size may be enumerated to sample among their valid architectures."""
COUNT_LIMIT = 200_000
"""Finite spaces up to this size count their valid architectures exactly."""
N_SIZE_DRAWS = 4000
"""Draws of the Monte-Carlo size estimate of bigger spaces."""
SIZE_SEED = 0
"""Seed of those draws, so the estimate is the same every time."""

RULE_KINDS = ("forbid", "not_all", "count", "valid")
"""The keys a rule may have (one per rule)."""

Predicate = Callable[[Architecture], bool]
Draw = Callable[[np.random.Generator], Architecture]

_EXAMPLES = {
    "forbid": "{forbid: {cell.edge_1_0: none, cell.edge_2_0: none}}",
    "not_all": '{not_all: {decisions: "cell.edge_*", equal: skip_connect}}',
    "count": '{count: {decisions: "cell.edge_*", equal: none, max: 4}}',
    "valid": '{valid: "mymodule:is_valid"}',
}


def _key(value: object) -> tuple[str, object]:
    return (type(value).__name__, value)


# -- references to functions ----------------------------------------------------------------------


def reference_of(function: Callable[..., Any], field: str = "valid") -> str:
    """The reference (``module:qualname`` or ``file.py:qualname``) of a predicate, checked to
    resolve back to it (see :mod:`nasforge.references`)."""
    text = references.reference_of(function, field=field)
    if resolve_reference(text, field) is not function:
        raise ConfigError([Problem(
            field, f"{text!r} does not name {function!r} when imported",
            "define the function at the top level of an importable module")])
    return text


def resolve_reference(text: str, field: str = "valid") -> Callable[..., Any]:
    """Import the predicate a reference names (see :func:`nasforge.references.resolve`)."""
    function: Callable[..., Any] = references.resolve_callable(
        text, field=field, example="mymodule:is_valid", what="a function of an architecture")
    return function


# -- compiled rules -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    """One compiled rule: ``breaks(arch)`` says whether ``arch`` breaks it.

    Attributes:
        field: where it was declared, e.g. ``space.rules.0``.
        text: a short description for messages, e.g. ``not_all cell.edge_* = skip_connect``.
    """

    field: str
    text: str
    _breaks: Callable[[Mapping[str, Value]], bool] = dataclasses.field(repr=False, compare=False)

    def breaks(self, arch: Mapping[str, Value]) -> bool:
        return self._breaks(arch)


def _match_values(
    values: Mapping[str, frozenset[tuple[str, object]]], arch: Mapping[str, Value]
) -> bool:
    return all(name in arch and _key(arch[name]) in keys for name, keys in values.items())


def _forbid(values: Mapping[str, frozenset[tuple[str, object]]]) -> Callable[..., bool]:
    return lambda arch: _match_values(values, arch)


def _counted(
    names: Sequence[str], keys: frozenset[tuple[str, object]], arch: Mapping[str, Value]
) -> tuple[int, int]:
    present = [arch[n] for n in names if n in arch]
    return len(present), sum(_key(v) in keys for v in present)


def _not_all(names: Sequence[str], keys: frozenset[tuple[str, object]]) -> Callable[..., bool]:
    def breaks(arch: Mapping[str, Value]) -> bool:
        n_present, n_equal = _counted(names, keys, arch)
        return n_present > 0 and n_equal == n_present

    return breaks


def _count(
    names: Sequence[str], keys: frozenset[tuple[str, object]], low: int, high: float
) -> Callable[..., bool]:
    def breaks(arch: Mapping[str, Value]) -> bool:
        n_equal = _counted(names, keys, arch)[1]
        return not low <= n_equal <= high

    return breaks


def _predicate(function: Callable[..., Any], where: str, text: str) -> Callable[..., bool]:
    def breaks(arch: Mapping[str, Value]) -> bool:
        try:
            result = function(arch if isinstance(arch, Architecture) else Architecture(arch))
        except Exception as exc:
            raise ConfigError([Problem(where, f"the predicate {text} raised "
                                       f"{type(exc).__name__}: {exc}",
                                       "make it return True or False for every architecture")]
                              ) from exc
        if not isinstance(result, bool | np.bool_):
            raise ConfigError([Problem(where, f"the predicate {text} returned "
                                       f"{type(result).__name__} {result!r}",
                                       "return True (valid) or False (invalid)")])
        return not bool(result)

    return breaks


class _Compiler:
    """Checks rule specs against a decision table and compiles them, collecting problems."""

    def __init__(self, decisions: Mapping[str, Sequence[Value]], where: str) -> None:
        self.decisions = {name: tuple(options) for name, options in decisions.items()}
        self.where = where
        self.problems: list[Problem] = []

    def problem(self, field: str, message: str, fix: str) -> None:
        self.problems.append(Problem(field, message, fix))

    def _listing(self) -> str:
        names = list(self.decisions)
        return ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", ..."

    def names(self, pattern: object, field: str) -> list[str]:
        """The decisions a name, shell pattern or list of them matches (in table order)."""
        patterns = [pattern] if isinstance(pattern, str) else pattern
        if not isinstance(patterns, list | tuple) or not patterns or not all(
            isinstance(p, str) for p in patterns
        ):
            self.problem(field, f"expected a decision name, a pattern or a list of them; got "
                         f"{pattern!r}", 'e.g. decisions: "cell.edge_*"')
            return []
        matched: list[str] = []
        for p in patterns:
            hits = [n for n in self.decisions if fnmatch.fnmatchcase(n, p)]
            if not hits:
                close = difflib.get_close_matches(p, list(self.decisions), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.problem(field, f"{p!r} matches no decision of the space",
                             f"{hint}the decisions are: {self._listing() or 'none'}")
            matched += [n for n in hits if n not in matched]
        return matched

    def values(self, given: object, names: Sequence[str], field: str) -> frozenset[Any]:
        """The keys of the options ``given`` names (one value or a list), each an option of at
        least one of ``names``; a number matches an equal option of another numeric type."""
        items = list(given) if isinstance(given, list | tuple) else [given]
        if not items:
            self.problem(field, "expected a value or a non-empty list of values; got []",
                         "name at least one option")
        options = [o for n in names for o in self.decisions[n]]
        keys = set()
        for item in items:
            found = [o for o in options if _key(o) == _key(item)]
            if not found and isinstance(item, int | float) and not isinstance(item, bool):
                found = [o for o in options if isinstance(o, int | float)
                         and not isinstance(o, bool) and o == item]
            if not found:
                shown = list(dict.fromkeys(options))
                self.problem(field, f"{item!r} is not an option of {', '.join(names)}",
                             f"use one of {shown!r}")
                continue
            keys.add(_key(found[0]))
        return frozenset(keys)

    def compile(self, index: int, spec: object) -> Rule | None:
        field = f"{self.where}.rules.{index}"
        if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in RULE_KINDS:
            kinds = ", ".join(RULE_KINDS)
            keys = list(spec) if isinstance(spec, Mapping) else None
            close = (difflib.get_close_matches(str(keys[0]), RULE_KINDS, n=1)
                     if keys and len(keys) == 1 else [])
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.problem(field, f"expected a mapping with one key among {kinds}; got {spec!r}",
                         f"{hint}e.g. {_EXAMPLES['not_all']}")
            return None
        kind, body = next(iter(spec.items()))
        field = f"{field}.{kind}"
        return getattr(self, f"_{kind}")(body, field)

    def _forbid(self, body: object, field: str) -> Rule | None:
        if not isinstance(body, Mapping) or not body:
            self.problem(field, f"expected a mapping of decision to value; got {body!r}",
                         f"e.g. {_EXAMPLES['forbid']}")
            return None
        values: dict[str, frozenset[Any]] = {}
        for name, given in body.items():
            if name not in self.decisions:
                close = difflib.get_close_matches(str(name), list(self.decisions), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.problem(f"{field}.{name}", f"{name!r} is not a decision of the space",
                             f"{hint}the decisions are: {self._listing() or 'none'}")
                continue
            values[name] = self.values(given, [name], f"{field}.{name}")
        text = "forbid " + " ".join(f"{n}={body[n]!r}" for n in values)
        return Rule(field.rsplit(".", 1)[0], text, _forbid(values))

    def _selection(
        self, body: object, field: str, kind: str, extra: Sequence[str] = ()
    ) -> tuple[list[str], frozenset[Any]] | None:
        allowed = ("decisions", "equal", *extra)
        if not isinstance(body, Mapping) or "decisions" not in body or "equal" not in body:
            self.problem(field, f"expected a mapping with 'decisions' and 'equal'; got {body!r}",
                         f"e.g. {_EXAMPLES[kind]}")
            return None
        unknown = [k for k in body if k not in allowed]
        if unknown:
            self.problem(f"{field}.{unknown[0]}", "unknown key",
                         f"{kind} takes {', '.join(allowed)}")
        names = self.names(body["decisions"], f"{field}.decisions")
        values = self.values(body["equal"], names, f"{field}.equal") if names else frozenset()
        return names, values

    def _not_all(self, body: object, field: str) -> Rule | None:
        selection = self._selection(body, field, "not_all")
        if selection is None:
            return None
        assert isinstance(body, Mapping)
        names, values = selection
        text = f"not_all {body['decisions']} = {body['equal']!r}"
        return Rule(field.rsplit(".", 1)[0], text, _not_all(names, values))

    def _count(self, body: object, field: str) -> Rule | None:
        selection = self._selection(body, field, "count", ("min", "max"))
        if selection is None:
            return None
        assert isinstance(body, Mapping)
        names, values = selection
        bounds: dict[str, int] = {}
        for end in ("min", "max"):
            if end not in body:
                continue
            value = body[end]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.problem(f"{field}.{end}", f"expected an int >= 0; got {value!r}",
                             f"e.g. {end}: 1")
            else:
                bounds[end] = value
        if "min" not in body and "max" not in body:
            self.problem(field, "gives neither min nor max", f"e.g. {_EXAMPLES['count']}")
        low, high = bounds.get("min", 0), bounds.get("max", math.inf)
        if low > high:
            self.problem(f"{field}.min", f"must be <= max ({high}); got {low}",
                         "lower min or raise max")
        if names and high != math.inf and high > len(names):
            self.problem(f"{field}.max", f"{high} is more than the {len(names)} matched "
                         "decisions, so the rule never applies", f"use max <= {len(names)}")
        shown = " ".join(f"{k}={v}" for k, v in bounds.items())
        text = f"count {body['decisions']} = {body['equal']!r} {shown}"
        return Rule(field.rsplit(".", 1)[0], text, _count(names, values, low, high))

    def _valid(self, body: object, field: str) -> Rule | None:
        if callable(body):
            try:
                body = reference_of(body, field)
            except ConfigError as exc:
                self.problems.extend(exc.problems)
                return None
        if not isinstance(body, str):
            self.problem(field, f"expected 'module:function'; got {body!r}",
                         f"e.g. {_EXAMPLES['valid']}")
            return None
        try:
            function = resolve_reference(body, field)
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return None
        rule_field = field.rsplit(".", 1)[0]
        return Rule(rule_field, f"valid {body}", _predicate(function, rule_field, body))


def normalize_rules(rules: object, where: str = "space") -> list[dict[str, Any]]:
    """The rules as JSON-able dicts: a predicate function becomes its ``module:function`` name.

    Raises:
        ConfigError: ``rules`` is not a list, or a predicate cannot be named by reference.
    """
    if rules is None:
        return []
    if isinstance(rules, Mapping | str) or not isinstance(rules, Iterable):
        raise ConfigError([Problem(f"{where}.rules", f"expected a list of rules; got {rules!r}",
                                   f"e.g. rules: [{_EXAMPLES['not_all']}]")])
    out: list[Any] = []
    for i, rule in enumerate(rules):
        if isinstance(rule, Mapping) and len(rule) == 1 and callable(rule.get("valid")):
            rule = {"valid": reference_of(rule["valid"], f"{where}.rules.{i}.valid")}
        try:
            # JSON values only (tuples become lists), so get_params() survives a database.
            out.append(json.loads(json.dumps(rule)))
        except (TypeError, ValueError) as exc:
            raise ConfigError([Problem(f"{where}.rules.{i}", f"holds a value that is not "
                                       f"JSON ({exc})", "use strings, numbers, booleans, lists "
                                       "and mappings")]) from None
    return out


class Rules:
    """Compiled validity rules and the rule-respecting forms of the space operations.

    Empty rules are falsy and every method then passes through at no cost. Derived state (the
    valid architectures of a small space, the exact size) is cached on the object; spaces keep
    it out of their pickles and compile again.
    """

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.rules = tuple(rules)
        self._valid: list[Architecture] | None = None
        self._size: float | None = None

    @classmethod
    def compile(
        cls,
        specs: object,
        decisions: Mapping[str, Sequence[Value]],
        *,
        where: str = "space",
    ) -> Rules:
        """Check ``specs`` against the decision table ``{name: options}`` and compile them.

        Raises:
            ConfigError: listing every problem (unknown decisions or options, bad rule kinds,
                predicates that cannot be imported), each named ``<where>.rules.<i>...``.
        """
        specs = normalize_rules(specs, where)
        compiler = _Compiler(decisions, where)
        compiled = [compiler.compile(i, spec) for i, spec in enumerate(specs)]
        if compiler.problems:
            raise ConfigError(compiler.problems, source="rules")
        return cls([r for r in compiled if r is not None])

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    # -- checks ---------------------------------------------------------------------------------
    def broken(self, arch: Mapping[str, Value]) -> Rule | None:
        """The first rule ``arch`` breaks, or ``None``."""
        for rule in self.rules:
            if rule.breaks(arch):
                return rule
        return None

    def allows(self, arch: Mapping[str, Value]) -> bool:
        return self.broken(arch) is None

    def check(self, arch: Mapping[str, Value]) -> None:
        """Raise :class:`InvalidArchitectureError` naming the first rule ``arch`` breaks."""
        rule = self.broken(arch)
        if rule is not None:
            raise InvalidArchitectureError(
                f"the architecture breaks {rule.field} ({rule.text}); pick another architecture "
                "or change the rule", path=tuple(rule.field.split(".")))

    def filter(self, archs: Iterable[Architecture]) -> list[Architecture]:
        """The architectures that keep every rule, in their order."""
        return [a for a in archs if self.allows(a)] if self.rules else list(archs)

    def enumerate(self, archs: Iterable[Architecture]) -> Iterator[Architecture]:
        """The architectures that keep every rule, lazily."""
        return (a for a in archs if self.allows(a)) if self.rules else iter(archs)

    # -- sampling -------------------------------------------------------------------------------
    def valid_list(
        self, everything: Callable[[], Iterable[Architecture] | None]
    ) -> list[Architecture] | None:
        """Every valid architecture (cached), or ``None`` when ``everything()`` is ``None``."""
        if self._valid is None:
            archs = everything()
            if archs is None:
                return None
            self._valid = self.filter(archs)
        return self._valid

    def sample(
        self,
        draw: Draw,
        rng: np.random.Generator,
        everything: Callable[[], Iterable[Architecture] | None] | None = None,
        *,
        max_tries: int = MAX_SAMPLE_TRIES,
    ) -> Architecture:
        """A draw that keeps every rule: rejection, then the valid list of a small space.

        Args:
            draw: the space's sampler without rules.
            rng: the generator all draws use.
            everything: every architecture of the space, or ``None`` when it is too big to list
                (see :data:`ENUMERATE_LIMIT`); used only when ``max_tries`` draws all fail.

        Raises:
            ConfigError: the rules leave no architecture, or (for a space that cannot be
                listed) none of ``max_tries`` draws kept them.
        """
        if not self.rules:
            return draw(rng)
        for _ in range(max_tries):
            arch = draw(rng)
            if self.allows(arch):
                return arch
        valid = self.valid_list(everything) if everything is not None else None
        texts = "; ".join(f"{r.field} ({r.text})" for r in self.rules)
        if valid is None:
            raise ConfigError([Problem("space.rules", f"none of {max_tries} sampled "
                                       f"architectures keeps the rules, which leave (almost) "
                                       f"nothing of the space: {texts}",
                                       "loosen or remove a rule")])
        if not valid:
            raise ConfigError([Problem("space.rules", f"no architecture of the space keeps the "
                                       f"rules: {texts}", "loosen or remove a rule")])
        return valid[int(rng.integers(len(valid)))]

    def mutate(
        self,
        mutate: Callable[[Architecture, np.random.Generator], Architecture],
        arch: Architecture,
        rng: np.random.Generator,
        neighbours: Callable[[Architecture], list[Architecture]] | None = None,
        sample: Draw | None = None,
        everything: Callable[[], Iterable[Architecture] | None] | None = None,
        *,
        max_tries: int = MAX_MUTATE_TRIES,
    ) -> Architecture:
        """A mutation of ``arch`` that keeps every rule.

        Tries ``mutate`` up to ``max_tries`` times, then a uniform pick among the valid
        ``neighbours``, then (an architecture whose neighbours all break a rule) a uniform pick
        among the other valid architectures of a small space (``everything``, as for
        :meth:`sample`), else a valid ``sample`` that differs from ``arch``.

        Raises:
            ConfigError: nothing valid differs from ``arch``.
        """
        if not self.rules:
            return mutate(arch, rng)
        for _ in range(max_tries):
            child = mutate(arch, rng)
            if self.allows(child):
                return child
        if neighbours is not None:
            nearby = self.filter(neighbours(arch))
            if nearby:
                return nearby[int(rng.integers(len(nearby)))]
        valid = self.valid_list(everything) if everything is not None else None
        if valid is not None:
            others = [a for a in valid if a != arch]
            if others:
                return others[int(rng.integers(len(others)))]
        elif sample is not None:
            for _ in range(MAX_MUTATE_TRIES):
                child = sample(rng)
                if child != arch:
                    return child
        raise ConfigError([Problem("space.rules", f"no architecture other than {arch} keeps the "
                                   "rules, so no mutation exists", "loosen or remove a rule")])

    # -- size -----------------------------------------------------------------------------------
    def size(
        self,
        total: float,
        everything: Callable[[], Iterable[Architecture]],
        draw: Draw,
        inverse_probability: Callable[[Architecture], float] | None = None,
    ) -> float:
        """The number of valid architectures: exact for finite spaces up to :data:`COUNT_LIMIT`.

        Args:
            total: the size without rules.
            everything: every architecture (called only for small finite spaces).
            draw: the sampler without rules, for the estimate of bigger spaces.
            inverse_probability: ``1 / P(draw returns arch)``; default ``total`` (uniform).
        """
        if not self.rules:
            return total
        if self._size is None:
            if not math.isfinite(total):
                self._size = total
            elif total <= COUNT_LIMIT:
                self._size = sum(1 for a in everything() if self.allows(a))
            else:
                # Self-normalised importance sampling: the valid share of the draws, each
                # weighted by 1 / P(draw), times the total.
                rng = np.random.default_rng(SIZE_SEED)
                weight = inverse_probability or (lambda _: 1.0)
                draws = [draw(rng) for _ in range(N_SIZE_DRAWS)]
                weights = np.array([weight(a) for a in draws], dtype=np.float64)
                valid = np.array([self.allows(a) for a in draws], dtype=np.float64)
                self._size = float(total * (weights * valid).sum() / weights.sum())
        return self._size


__all__ = [
    "COUNT_LIMIT",
    "ENUMERATE_LIMIT",
    "MAX_MUTATE_TRIES",
    "MAX_SAMPLE_TRIES",
    "N_SIZE_DRAWS",
    "RULE_KINDS",
    "Rule",
    "Rules",
    "normalize_rules",
    "reference_of",
    "resolve_reference",
]
