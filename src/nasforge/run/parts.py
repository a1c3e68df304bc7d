"""Turning a :class:`RunSpec` into live components (and components back into a spec)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nasforge.config import Component
from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.energy import METRICS as ENERGY
from nasforge.execute.base import Executor
from nasforge.registry import Registry
from nasforge.run.pruners import Pruner
from nasforge.run.spec import ComponentSpec, RunSpec
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Strategy
from nasforge.tasks.base import Task


@dataclass
class Parts:
    """The live components of a study."""

    task: Task
    space: SearchSpace
    strategy: Strategy
    evaluator: Evaluator
    executor: Executor
    pruner: Pruner


def registries() -> dict[str, Registry[Any]]:
    """The registry behind each component field of a run spec.

    Imports the built-ins and, once per process, the plugins (entry points and
    ``NASFORGE_PLUGINS``), so the CLI and the Python API see the same components.
    """
    import nasforge.evaluate
    import nasforge.execute
    import nasforge.space
    import nasforge.strategy
    import nasforge.tasks
    import nasforge.testing.faulty  # noqa: F401  (registration happens on import)
    from nasforge.evaluate.base import EVALUATORS
    from nasforge.execute.base import EXECUTORS
    from nasforge.plugins import load_plugins_once
    from nasforge.run.pruners import PRUNERS
    from nasforge.space.base import SPACES
    from nasforge.strategy.base import STRATEGIES
    from nasforge.tasks.base import TASKS

    load_plugins_once()
    return {"task": TASKS, "space": SPACES, "strategy": STRATEGIES, "evaluator": EVALUATORS,
            "executor": EXECUTORS, "pruner": PRUNERS}


def build_parts(spec: RunSpec, given: Mapping[str, Component | None] | None = None) -> Parts:
    """Create every component named in ``spec``, except those ``given`` as live objects.

    All sections are checked before raising, so one :class:`ConfigError` lists every problem.
    """
    built: dict[str, Any] = {}
    problems: list[Problem] = []
    for field, registry in registries().items():
        obj = (given or {}).get(field)
        if obj is not None:
            built[field] = obj
            continue
        section: ComponentSpec | None = getattr(spec, field)
        if section is None:
            continue  # the task, chosen below once the evaluator is known
        try:
            built[field] = registry.create(section.name, section.params, field=field)
        except ConfigError as exc:
            problems.extend(exc.problems)
    evaluator = built.get("evaluator")
    if "task" not in built and evaluator is not None:
        built["task"] = default_task(evaluator)
    provides = evaluator.declared_metrics() if isinstance(evaluator, Evaluator) else ()
    for i, objective in enumerate(spec.objectives):
        # energy metrics come from the study's energy tracking (pre-flight checks it is on)
        if provides and objective.metric not in provides and objective.metric not in ENERGY:
            problems.append(Problem(
                f"objectives.{i}.metric",
                f"{objective.metric!r} is not reported by evaluator {spec.evaluator.name!r}",
                f"use one of: {', '.join(provides)}"))
    if problems:
        raise ConfigError(problems)
    return Parts(**built)


DEFAULT_TASK = "mnist1d"
"""The task of a study that names none, unless its evaluator brings its own."""


def default_task(evaluator: Evaluator) -> Task:
    """The task of a spec that leaves ``task`` out: the evaluator's own (a lookup benchmark
    looks up its own dataset), else :data:`DEFAULT_TASK`."""
    own = evaluator.default_task()
    if own is not None:
        return own
    return registries()["task"].create(DEFAULT_TASK, {}, field="task")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "shape"):
        return f"<{type(value).__name__} shape={tuple(value.shape)}>"
    return repr(value)


_REGISTRY_NAMES = {
    "task": "tasks.TASKS",
    "space": "space.SPACES",
    "strategy": "strategy.STRATEGIES",
    "evaluator": "evaluate.EVALUATORS",
    "executor": "execute.EXECUTORS",
    "pruner": "run.pruners.PRUNERS",
}


def component_spec(component: Component, field: str) -> ComponentSpec:
    """The spec section describing ``component`` as the run spec's ``field`` (non-JSON
    parameters are summarised).

    Raises:
        ConfigError: the component's class is not registered for ``field``, so a stored study
            could not build it again; the message names the decorator to use.
    """
    registry = registries()[field]
    cls = type(component)
    if not cls.name or cls.name not in registry or registry.get(cls.name) is not cls:
        raise ConfigError(
            [
                Problem(
                    field,
                    f"{cls.__name__} is not a registered {registry.kind}, so the study could "
                    "not be stored and resumed",
                    f"decorate the class with @nasforge.{_REGISTRY_NAMES[field]}"
                    f".register('my_{registry.kind}') in an importable module",
                )
            ]
        )
    return ComponentSpec(name=component.name, params=_jsonable(component.get_params()))
