"""Define-by-run spaces: a plain function that builds a network and asks for each decision.

The user writes the network in PyTorch and marks each choice where it is needed::

    @nf.space.define
    def net(a, task):
        width = a.choice("width", [16, 32, 64])
        layers = [nn.LazyConv1d(width, a.choice("kernel", [3, 5]), padding="same")]
        for i in range(a.choice("depth", [1, 2, 3])):
            layers += [Block(width, skip=a.choice(f"block{i}.skip", [True, False]))]
        return nn.Sequential(*layers, nn.Flatten(), nn.LazyLinear(task.n_outputs))

**Discovery.** The space is found by running the function with a recording answerer under
``torch.device("meta")`` (so no real weights are made; a function that fails there is run on the
CPU instead). The first run takes every decision's first option; then, for each run seen, every
decision it asked is flipped to each of its other options while the rest keeps that run's values,
until no new decision appears. The same flip runs tell when each decision is asked: a decision
``d`` first seen in run ``T`` is conditioned on an earlier decision ``e`` of ``T`` when flipping
``e`` to some option makes ``d`` unasked, and the condition is ``e in {options that keep d}``.
A decision is *active* when all its conditions hold (a conjunction). The learnt model is then
checked against seeded random runs; a function that asks a decision the model does not predict
(an ``or`` of conditions, randomness) gets a :class:`ConfigError` saying how to restructure it.

**Once learnt** everything but :meth:`FunctionSpace.build` works on the model, without running the
function: uniform sampling per active decision, mutation of one active decision (newly active
decisions take their first option), neighbours, one-hot encoding over every decision (inactive
ones all zero), validation, exact size and enumeration. ``build`` runs the function with the
architecture's values as the answers.

**Workers.** A space reaches process workers by reference: pickling stores ``module:qualname``
and unpickling imports it again, so the function must live at module level of an importable
module (not in ``__main__`` and not inside another function).

A choice with a single option is a fixed value, not a decision (as for :class:`Choice`); asking
the same name twice with the same options gives the same value both times (one shared decision).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge import references
from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem
from nasforge.space._primitives import Decision, DecisionTable, options_problem, value_key
from nasforge.space._table_space import TableSpace
from nasforge.space.base import SPACES, format_decisions
from nasforge.space.rules import normalize_rules
from nasforge.tasks.base import TaskInfo

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.supernet import Supernet

log = logging.getLogger(__name__)

FIELD = "space.path"
"""The run-spec field discovery problems are reported under."""

N_VERIFY = 48
"""Seeded random runs that check the learnt model after exploration."""

MAX_RUNS = 20_000
"""Discovery gives up (with an error) after this many runs of the function."""

DISCOVERY_TASKS = (
    TaskInfo(name="discovery_signal", input_shape=(1, 32), n_classes=2, kind="signal"),
    TaskInfo(name="discovery_image", input_shape=(3, 32, 32), n_classes=2, kind="image"),
    TaskInfo(name="discovery_tabular", input_shape=(8,), n_classes=2, kind="tabular"),
)
"""Stand-in tasks discovery runs the function with, first the first that works: the decisions a
function asks must not depend on the task (only the layers' shapes may)."""


# -- the learnt model ---------------------------------------------------------------------------


AskedDecision = Decision
"""One decision a define-by-run function asks: a :class:`Decision` whose conditions are
``(earlier decision, allowed values)`` pairs learnt by discovery (and no ``previous``)."""


class DecisionModel(DecisionTable):
    """The learnt table of a define-by-run space: every space operation comes from
    :class:`~nasforge.space._primitives.DecisionTable`, the size from its memoised count."""

    def __init__(self, decisions: Sequence[Decision]) -> None:
        super().__init__(decisions)
        self.size = self.count()


# -- running the function ----------------------------------------------------------------------


class Answers:
    """What a define-by-run function receives as ``a``: ``a.choice(name, options)``.

    During discovery the answers come from a recording sampler; in :meth:`FunctionSpace.build`
    they are the architecture's values.
    """

    def __init__(self, answers: Mapping[str, Value], *, strict: bool, where: str) -> None:
        self._answers = answers
        self._strict = strict
        self._where = where
        self.asked: dict[str, tuple[Value, ...]] = {}
        """Every name asked so far (single-option ones too), with its options, in ask order."""
        self.values: dict[str, Value] = {}
        """The value given for each name asked."""

    def choice(self, name: str, options: Iterable[Value]) -> Value:
        """The value of the decision ``name`` among ``options`` (str, int, float or bool).

        A single option is a fixed value, not a decision. Asking ``name`` again with the same
        options gives the same value.
        """
        if not isinstance(name, str) or not name:
            raise _AskError(f"{self._where}: a.choice needs a non-empty string name; got {name!r}",
                            "name each decision, e.g. a.choice('width', [16, 32])")
        problem = options_problem(options)
        if problem:
            raise _AskError(f"{self._where}: decision {name!r}: {problem}",
                            f"pass a list of distinct values, e.g. a.choice({name!r}, [16, 32])")
        opts = tuple(options)
        if name in self.asked:
            if [value_key(o) for o in self.asked[name]] != [value_key(o) for o in opts]:
                raise _AskError(
                    f"{self._where} asks decision {name!r} twice in one run with different "
                    f"options: {list(self.asked[name])!r}, then {list(opts)!r}",
                    "give each decision one list of options, or name the two apart "
                    f"(e.g. f'{name}.{{i}}')")
            return self.values[name]
        self.asked[name] = opts
        if len(opts) == 1:
            value = opts[0]
        elif name in self._answers and any(
            value_key(self._answers[name]) == value_key(o) for o in opts
        ):
            value = self._answers[name]
        elif name in self._answers and self._strict:
            raise InvalidArchitectureError(
                f"{self._where} asks {name!r} with options {list(opts)!r}, which do not "
                f"include the architecture's {self._answers[name]!r} (did the function change "
                "since the space was discovered?)", path=tuple(name.split(".")))
        elif self._strict and name not in self._answers:
            raise InvalidArchitectureError(
                f"{self._where} asks decision {name!r}, which the architecture does not have "
                f"(it has: {format_decisions(Architecture(self._answers))}); the architecture "
                "is not from this space, or the function changed since it was discovered",
                path=tuple(name.split(".")),
            )
        else:
            value = opts[0]
        self.values[name] = value
        return value

    @property
    def decisions(self) -> dict[str, Value]:
        """The real (multi-option) decisions asked, in ask order, with their values."""
        return {n: self.values[n] for n, o in self.asked.items() if len(o) > 1}


class _AskError(ConfigError):
    """A bad ``a.choice`` call: reported as a problem of ``space.path``."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__([Problem(FIELD, message, fix)])


@dataclass
class _Run:
    """One run of the function during discovery: the decisions it asked, in order."""

    decisions: dict[str, Value]
    options: dict[str, tuple[Value, ...]]

    def key(self) -> str:
        return str(Architecture(self.decisions))


@dataclass
class _Discovery:
    """Explores a function's decisions and learns when each is asked."""

    function: Callable[..., Any]
    label: str
    task: TaskInfo = DISCOVERY_TASKS[0]
    on_meta: bool = True
    n_runs: int = 0
    options: dict[str, tuple[Value, ...]] = field(default_factory=dict)  # every name seen
    first_seen: dict[str, str] = field(default_factory=dict)  # name -> key of its base run
    order: list[str] = field(default_factory=list)  # multi-option decisions, discovery order
    runs: dict[str, _Run] = field(default_factory=dict)  # base runs by key
    cache: dict[str, _Run] = field(default_factory=dict)  # answers key -> run
    explored: set[str] = field(default_factory=set)

    def model(self) -> DecisionModel:
        import torch

        with torch.random.fork_rng(devices=[]):
            self._first_run()
            for _ in range(10):
                self._explore()
                model = self._learn()
                if not self._verify(model):
                    return model
            raise ConfigError([Problem(FIELD, f"{self.label} kept asking new decisions in "
                                       "random runs after 10 rounds of discovery",
                                       "make the decisions a function asks depend only on "
                                       "earlier decisions")])

    # - running

    def _first_run(self) -> None:
        errors: list[str] = []
        for task in DISCOVERY_TASKS:
            self.task = task
            try:
                run = self.run({})
            except _FunctionFailed as exc:
                errors.append(f"{task.name} {tuple(task.input_shape)}: {exc.reason}")
                continue
            if not run.decisions:
                raise ConfigError([Problem(
                    FIELD, f"{self.label} asks no decision (a.choice with 2+ options), so the "
                    "space holds a single network and there is nothing to search",
                    "mark at least one choice with a.choice(name, [option1, option2, ...])")])
            self._base(run)
            return
        raise ConfigError([Problem(
            FIELD, f"{self.label} raised with every decision at its first option, on each "
            f"stand-in task: {'; '.join(errors)}",
            "make the function build a network for any task whose shape it reads from `task`")])

    def run(self, answers: Mapping[str, Value]) -> _Run:
        key = str(Architecture(answers))
        if key in self.cache:
            return self.cache[key]
        self.n_runs += 1
        if self.n_runs > MAX_RUNS:
            raise ConfigError([Problem(FIELD, f"{self.label} needs more than {MAX_RUNS} runs to "
                                       f"discover ({len(self.order)} decisions so far)",
                                       "ask fewer decisions, or declare the space with "
                                       "nf.space.Choices")])
        ans = Answers(answers, strict=False, where=self.label)
        result: Any = None
        if self.on_meta:
            try:
                result = self._call(ans, "meta")
            except _AskError:
                raise
            except Exception:
                self.on_meta = False  # e.g. .item() on a meta tensor: use real tensors
                log.debug("%s fails on the meta device; discovering on the CPU", self.label)
                ans = Answers(answers, strict=False, where=self.label)
        if not self.on_meta:
            try:
                result = self._call(ans, "cpu")
            except _AskError:
                raise
            except Exception as exc:
                after = format_decisions(Architecture(ans.decisions), list(ans.decisions))
                raise _FunctionFailed(
                    f"{type(exc).__name__}({str(exc)[:300]!r}) after "
                    f"{after if ans.decisions else 'no decision'}"
                ) from exc
        _check_module(result, self.label, ans.decisions)
        for name, opts in ans.asked.items():
            self._check_options(name, opts, ans)
        run = _Run(ans.decisions, {n: ans.asked[n] for n in ans.decisions})
        self.cache[key] = run
        return run

    def _call(self, ans: Answers, device: str) -> Any:
        import torch

        with torch.device(device):
            return self.function(ans, self.task)

    def _check_options(self, name: str, opts: tuple[Value, ...], ans: Answers) -> None:
        known = self.options.setdefault(name, opts)
        if [value_key(o) for o in known] != [value_key(o) for o in opts]:
            after = format_decisions(Architecture(ans.decisions), list(ans.decisions))
            raise ConfigError([Problem(
                FIELD, f"{self.label} asks decision {name!r} with options {list(opts)!r} "
                f"after {after}, but with {list(known)!r} in another run",
                "give each decision one list of options (options must not depend on other "
                f"decisions), or name the variants apart, e.g. f'{name}.{{variant}}'")])

    def _run_or_fail(self, answers: Mapping[str, Value]) -> _Run:
        try:
            return self.run(answers)
        except _FunctionFailed as exc:
            raise ConfigError([Problem(
                FIELD, f"{self.label} raised {exc.reason}",
                "make the function build a network for every combination of its options "
                "(discovery tries each option)")]) from exc.__cause__

    # - exploring and learning

    def _base(self, run: _Run) -> bool:
        """Record the new decisions ``run`` asks; whether it asked any."""
        new = False
        for name in run.decisions:
            if name not in self.first_seen:
                self.first_seen[name] = run.key()
                self.order.append(name)
                new = True
        if new:
            self.runs[run.key()] = run
        return new

    def _flips(self, base: _Run) -> Iterator[tuple[str, Value, _Run]]:
        for name in base.decisions:
            for option in base.options[name]:
                if value_key(option) != value_key(base.decisions[name]):
                    yield name, option, self._run_or_fail({**base.decisions, name: option})

    def _explore(self) -> None:
        while True:
            pending = [k for k in self.runs if k not in self.explored]
            if not pending:
                return
            for key in pending:
                self.explored.add(key)
                for _, _, run in self._flips(self.runs[key]):
                    self._base(run)

    def _learn(self) -> DecisionModel:
        conditions: dict[str, list[tuple[str, tuple[Value, ...]]]] = {n: [] for n in self.order}
        for key, base in self.runs.items():
            names = list(base.decisions)
            kept: dict[tuple[str, str], list[Value]] = {}
            for flipped, option, run in self._flips(base):
                for d in names[names.index(flipped) + 1:]:
                    if self.first_seen[d] == key and d in run.decisions:
                        kept.setdefault((d, flipped), []).append(option)
            for i, d in enumerate(names):
                if self.first_seen[d] != key:
                    continue
                for e in names[:i]:
                    allowed = {value_key(base.decisions[e])}
                    allowed |= {value_key(o) for o in kept.get((d, e), [])}
                    if len(allowed) < len(base.options[e]):
                        values = tuple(o for o in base.options[e] if value_key(o) in allowed)
                        conditions[d].append((e, values))
        return DecisionModel(
            [AskedDecision(n, self.options[n], tuple(conditions[n])) for n in self.order]
        )

    def _verify(self, model: DecisionModel) -> bool:
        """Check ``model`` on seeded random runs; whether a run found a new decision."""
        rng = np.random.default_rng(0)
        for _ in range(N_VERIFY):
            arch = model.sample(rng)
            run = self._run_or_fail(arch)
            if self._base(run):
                return True
            asked, predicted = set(run.decisions), set(arch)
            if asked == predicted:
                continue
            name = next(iter(sorted(asked ^ predicted, key=self.order.index)))
            d = model.decision(name)
            happened = "asks" if name in asked else "does not ask"
            raise ConfigError([Problem(
                FIELD, f"{self.label} {happened} decision {name!r} for "
                f"{format_decisions(arch, model.names)}, but nasforge learnt that it is asked "
                f"{'only when ' if d.conditions else ''}{d.describe_condition()}: whether a "
                "decision is asked must follow from earlier decisions' values, as an 'and' of "
                "conditions like `if depth > 1 and kind == 'conv'`",
                "restructure the function: ask the decision under one such condition (not "
                "an 'or' of two), give it a different name on each branch, and do not let "
                "anything but the answers (randomness, global state) decide what is asked")])
        return False


class _FunctionFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_module(result: object, label: str, decisions: Mapping[str, Value]) -> None:
    from torch import nn

    if not isinstance(result, nn.Module):
        after = format_decisions(Architecture(decisions), list(decisions))
        raise ConfigError([Problem(
            FIELD, f"{label} returned {type(result).__name__} {str(result)[:80]!r} for "
            f"{after}, expected a torch.nn.Module", "return the network you built")])


# -- the space ----------------------------------------------------------------------------------


def _path_of(function: Callable[..., Any]) -> str:
    """The function's reference (see :func:`nasforge.references.reference_of`); for a function
    no other process can import (a notebook's, a local one) its bare ``module:qualname``, which
    works in this process and is refused, with the fix, once it must cross a process."""
    try:
        return references.reference_of(function, field=FIELD)
    except ConfigError:
        return f"{function.__module__}:{function.__qualname__}"


def resolve_path(path: object, field: str, example: str = "mymodule:net") -> Callable[..., Any]:
    """The function a reference names (``module:qualname`` or ``file.py:qualname``, see
    :mod:`nasforge.references`), imported; a decorated space gives its function.

    Raises:
        ConfigError: under ``field``: the text is malformed, the module does not import, it
            lacks the attribute, or the attribute is not callable.
    """
    obj = references.resolve(path, field=field, example=example)
    if isinstance(obj, FunctionSpace):
        return obj.function
    if not callable(obj):
        raise ConfigError([Problem(
            field, f"{path!r} is not a function (it is {type(obj).__name__} {obj!r})",
            f"name a function, e.g. {example!r}")])
    function: Callable[..., Any] = obj
    return function


_DISCOVERED: dict[str, tuple[Callable[..., Any], DecisionModel]] = {}
"""Models discovered in this process, by path (reused while the function is the same object)."""


@SPACES.register("function")
class FunctionSpace(TableSpace):
    """A define-by-run space: the decisions a function asks while it builds a network.

    Make one with the :func:`define` decorator, or name the function (``space: {name:
    function, path: "mymodule:net"}``); see the module docstring for how discovery works.

    Args:
        path: ``module:function`` of the function ``net(a, task) -> nn.Module`` (a function
            decorated with :func:`define`, or a plain one).
        rules: validity rules over the decisions (see :mod:`nasforge.space.rules`); sampling,
            mutation, neighbours, enumeration and size keep them.

    Raises:
        ConfigError: the path does not import, or discovery finds the function raising,
            asking a decision with two option lists, asking nothing, or asking under a
            condition nasforge cannot model.
    """

    _function: Callable[..., Any] | None = None
    _model: DecisionModel | None = None

    def __init__(self, *, path: str, rules: Sequence[Mapping[str, Any]] = ()) -> None:
        self.path = path
        self.rules = normalize_rules(rules)
        self._function = resolve_path(path, FIELD)
        self.model  # noqa: B018 - discover eagerly, so problems surface before any trial
        self.space_rules  # noqa: B018 - and check the rules against what was discovered

    @classmethod
    def from_function(
        cls, function: Callable[..., Any], rules: Sequence[Mapping[str, Any]] = ()
    ) -> FunctionSpace:
        """The space of ``function``, discovered on first use (what :func:`define` returns)."""
        if isinstance(function, FunctionSpace):
            function = function.function
        if not callable(function):
            raise ConfigError([Problem(FIELD, f"define needs a function; got {function!r}",
                                       "decorate a function net(a, task)")])
        space = cls.__new__(cls)
        space.path = _path_of(function)
        space.rules = normalize_rules(rules)
        space._function = function
        return space

    @property
    def function(self) -> Callable[..., Any]:
        if self._function is None:
            self._function = resolve_path(self.path, FIELD)
        return self._function

    @property
    def label(self) -> str:
        return getattr(self.function, "__qualname__", self.path)

    @property
    def model(self) -> DecisionModel:
        """The learnt decision table (discovered once per process)."""
        if self._model is None:
            cached = _DISCOVERED.get(self.path)
            if cached is not None and cached[0] is self.function:
                self._model = cached[1]
            else:
                self._model = _Discovery(self.function, self.label).model()
                _DISCOVERED[self.path] = (self.function, self._model)
        return self._model

    @property
    def table(self) -> DecisionModel:
        return self.model

    def supernet(self, task: TaskInfo) -> Supernet:
        """Define-by-run spaces have no supernet: the function builds each network afresh.

        Raises:
            NoSupernetError: always, saying what works instead.
        """
        from nasforge.errors import NoSupernetError

        raise NoSupernetError(
            "function", f"{self.label} builds a fresh network for each architecture, so "
            "nasforge cannot tell which weights two architectures share",
            works="declare the network as layer specs (space: {name: declared, layers: [...]}) "
            "to share weights, or search this space with a black-box strategy (e.g. "
            "regularized_evolution) and the train evaluator")

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        """Run the function with ``arch``'s values as the answers, for ``task``.

        Lazy layers (``nn.LazyLinear`` ...) are materialised by one forward pass of a zero batch,
        so the network has its parameters (and they can be counted) before training.

        Raises:
            InvalidArchitectureError: ``arch`` is not in the space, or the function asks a
                decision ``arch`` lacks or leaves one of ``arch``'s decisions unasked.
        """
        import torch

        self.validate(arch)
        ans = Answers(arch, strict=True, where=self.label)
        model = self.function(ans, task)
        unasked = [n for n in arch if n not in ans.asked]
        if unasked:
            raise InvalidArchitectureError(
                f"{self.label} did not ask {unasked[0]!r} for {self.format(arch)}, so the "
                "architecture names a decision the function does not use (did the function "
                "change since the space was discovered?)", path=tuple(unasked[0].split(".")))
        for name in arch:
            known = self.model.decision(name).options
            if [value_key(o) for o in ans.asked[name]] != [value_key(o) for o in known]:
                raise InvalidArchitectureError(
                    f"{self.label} asks {name!r} with options {list(ans.asked[name])!r}, but the "
                    f"space was discovered with {list(known)!r} (did the function change?)",
                    path=tuple(name.split(".")))
        _check_module(model, self.label, arch)
        if any(isinstance(m, torch.nn.modules.lazy.LazyModuleMixin) for m in model.modules()):
            was_training = model.training
            model.eval()
            with torch.no_grad():
                model(torch.zeros(2, *task.input_shape))
            model.train(was_training)
        return model

    def get_params(self) -> dict[str, Any]:
        return {"path": self.path, "rules": self.rules}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by reference: unpickling imports the function's module (or file) again."""
        module, _, qualname = self.path.partition(":")
        if module == "__main__" or "<locals>" in qualname:
            references.reference_of(self.function, field=FIELD)  # raises, with the fix
        return (_load_space, (self.path, self.rules))


def _load_space(path: str, rules: list[dict[str, Any]] | None = None) -> FunctionSpace:
    """Unpickle a :class:`FunctionSpace`: the decorated object itself, or a new space."""
    obj = references.resolve(path, field=FIELD)
    if isinstance(obj, FunctionSpace) and obj.rules == (rules or []):
        return obj
    return FunctionSpace(path=path, rules=rules or ())


def define(
    function: Callable[..., Any] | None = None, *, rules: Sequence[Mapping[str, Any]] = ()
) -> Any:
    """Decorator: the define-by-run space of ``function(a, task) -> nn.Module``.

    ``@define`` alone, or ``@define(rules=[...])`` with validity rules (see
    :mod:`nasforge.space.rules`), e.g. ``rules=[{"not_all": {"decisions": "block*.skip",
    "equal": True}}]``.

    ``a.choice(name, options)`` marks each decision; ``task`` is a
    :class:`~nasforge.tasks.base.TaskInfo` (``input_shape``, ``n_outputs`` ...). The decorated
    name is a :class:`FunctionSpace`, usable wherever a space is (``nf.search(space=net)``); its
    function stays callable as ``net.function``. Discovery runs on first use.

    Example:
        >>> from torch import nn
        >>> @define
        ... def net(a, task):
        ...     width = a.choice("width", [8, 16])
        ...     layers = [nn.Flatten(), nn.LazyLinear(width), nn.ReLU()]
        ...     if a.choice("deep", [False, True]):
        ...         act = {"relu": nn.ReLU, "gelu": nn.GELU}[a.choice("act", ["relu", "gelu"])]
        ...         layers += [nn.Linear(width, width), act()]
        ...     return nn.Sequential(*layers, nn.LazyLinear(task.n_outputs))
        >>> net.decisions, net.size  # act is asked only when deep=true
        (['width', 'deep', 'act'], 6)
    """
    if function is None:
        return lambda fn: FunctionSpace.from_function(fn, rules)
    return FunctionSpace.from_function(function, rules)
