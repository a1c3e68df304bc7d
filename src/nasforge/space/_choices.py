"""`ChoicesSpace`: a space of plain named decisions, for lookup benchmarks and your own builders.

Each entry of ``decisions`` is a list of options (one decision of that name) or ``{repeat: n,
options: [...]}`` (``n`` decisions ``<name>.0`` .. ``<name>.<n-1>`` with the same options)::

    space:
      name: choices
      decisions:
        link: [chain, skip, dense]
        ops: {repeat: 4, options: [conv, skip, pool]}
      builder: "mymodule:build_net"     # optional: build_net(arch, task) -> nn.Module

gives the decisions ``link``, ``ops.0`` .. ``ops.3``. The space is a declaration of
:class:`Choice`/:class:`Repeat`, so every operation of the space contract comes from
:class:`StructuredSpace`. Without a ``builder`` the space cannot build networks, which is fine
for lookup evaluators (a tabular benchmark scores an architecture without building it).

Example:
    >>> space = ChoicesSpace(decisions={"link": ["a", "b"], "ops": {"repeat": 2,
    ...                                                            "options": [1, 2, 3]}})
    >>> space.decisions, space.size
    (['link', 'ops.0', 'ops.1'], 18)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasforge import references
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem
from nasforge.space._primitives import Choice, Repeat, options_problem
from nasforge.space._structured import StructuredSpace
from nasforge.space.base import SPACES
from nasforge.space.rules import normalize_rules

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo

_EXAMPLE = "e.g. link: [a, b, c] or ops: {repeat: 4, options: [conv, skip, pool]}"


def decisions_problems(decisions: object, field: str = "space.decisions") -> list[Problem]:
    """Every problem of a ``decisions`` mapping, each naming ``<field>.<name>``."""
    if not isinstance(decisions, Mapping) or not decisions:
        return [Problem(field, f"expected a non-empty mapping of decision name to options; "
                        f"got {decisions!r}", _EXAMPLE)]
    problems: list[Problem] = []
    n_decisions = 0
    for name, entry in decisions.items():
        where = f"{field}.{name}"
        if not isinstance(name, str) or not name or "." in name or name.isspace():
            problems.append(Problem(where, f"decision names must be non-empty strings without "
                                    f"dots; got {name!r}", "rename the entry"))
            continue
        options: object = entry
        repeat = 1
        if isinstance(entry, Mapping):
            unknown = sorted(set(map(str, entry)) - {"repeat", "options"})
            if unknown:
                problems.append(Problem(f"{where}.{unknown[0]}", "unknown key",
                                        "use 'options' and optionally 'repeat'"))
                continue
            if "options" not in entry:
                problems.append(Problem(f"{where}.options", "missing", _EXAMPLE))
                continue
            options = entry["options"]
            repeat = entry.get("repeat", 1)
            if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
                problems.append(Problem(f"{where}.repeat", f"expected an int >= 1; got "
                                        f"{repeat!r}", "e.g. repeat: 4"))
                continue
        problem = options_problem(options)
        if problem:
            problems.append(Problem(where if options is entry else f"{where}.options", problem,
                                    _EXAMPLE))
            continue
        if len(list(options)) > 1:  # type: ignore[call-overload]
            n_decisions += repeat
    if not problems and n_decisions == 0:
        problems.append(Problem(field, "every entry has a single option, so there is nothing "
                                "to search", "give at least one decision two or more options"))
    return problems


@SPACES.register("choices")
class ChoicesSpace(StructuredSpace):
    """Named decisions, each a list of options, optionally repeated; see the module docstring.

    Args:
        decisions: decision name to a list of options (str, int, float or bool), or to
            ``{"repeat": n, "options": [...]}`` for ``n`` decisions ``<name>.<i>``. A single
            option is a fixed value, not a decision.
        builder: ``"module:function"`` of ``build(arch, task) -> nn.Module``, called by
            :meth:`build` (in Python the function itself, stored as its reference); ``None``
            for a space that is only looked up, never built.
        rules: validity rules over the decisions (see :mod:`nasforge.space.rules`), e.g.
            ``[{not_all: {decisions: "ops.*", equal: skip}}]``.
    """

    _builder: Callable[..., Any] | None = None

    def __init__(
        self,
        *,
        decisions: dict[str, Any],
        builder: str | Callable[..., Any] | None = None,
        rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        problems = decisions_problems(decisions)
        if problems:
            raise ConfigError(problems)
        self.decisions_spec = decisions
        if callable(builder):
            self._builder = builder
            builder = references.reference_of(builder, field="space.builder")
        self.builder = builder
        self.rules = normalize_rules(rules)
        if builder is not None and self._builder is None:
            self._builder = references.resolve_callable(builder, field="space.builder",
                                                         example="mymodule:build_net")
        self.structure  # noqa: B018 - compile eagerly
        self.space_rules  # noqa: B018 - and the rules

    def get_params(self) -> dict[str, Any]:
        return {"decisions": self.decisions_spec, "builder": self.builder, "rules": self.rules}

    def declaration(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, entry in self.decisions_spec.items():
            if isinstance(entry, Mapping):
                out[name] = Repeat(Choice(entry["options"]), depth=int(entry.get("repeat", 1)))
            else:
                out[name] = Choice(entry)
        return out

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        """``builder(arch, task)``; a :class:`ConfigError` when the space has no builder.

        Raises:
            InvalidArchitectureError: ``arch`` is not in the space.
            ConfigError: no ``builder`` was given, or it returned something other than a
                ``torch.nn.Module``.
        """
        from torch import nn

        self.validate(arch)
        if self.builder is None:
            raise ConfigError([Problem(
                "space.builder", "this choices space has no builder, so it cannot build a "
                "network (a lookup evaluator, such as a tabular benchmark, needs none)",
                "set builder: 'mymodule:build_net' to a function build_net(arch, task) that "
                "returns an nn.Module, or use a lookup evaluator")])
        if self._builder is None:
            self._builder = references.resolve_callable(
                self.builder, field="space.builder", example="mymodule:build_net")
        model = self._builder(arch, task)
        if not isinstance(model, nn.Module):
            raise ConfigError([Problem(
                "space.builder", f"{self.builder} returned {type(model).__name__} for "
                f"{self.format(arch)}, expected a torch.nn.Module", "return the network")])
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_builder", None)  # pickled by its path, imported again where it is used
        return state
