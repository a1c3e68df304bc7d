"""The Python API: ``nasforge.search(...)`` in a notebook, with the same validation as YAML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasforge.config import Component
from nasforge.errors import ConfigError, Problem
from nasforge.objective import Objective
from nasforge.run.parts import Parts, build_parts, component_spec
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study

ComponentLike = Component | str | Mapping[str, Any]


def _section(value: ComponentLike | None, field: str) -> tuple[Any, Component | None]:
    """A spec section for ``value`` and the live object when one was passed."""
    if value is None:
        return None, None
    if isinstance(value, Component):
        return component_spec(value).model_dump(), value
    if isinstance(value, (str, Mapping)):
        return value, None
    raise ConfigError(
        [
            Problem(
                field,
                f"expected a nasforge component, a registered name or a "
                f"mapping with 'name', got {type(value).__name__}",
                f"e.g. {field}='...' or {field}={{'name': ...}}",
            )
        ]
    )


def search(
    *,
    task: ComponentLike | None = None,
    space: ComponentLike | None = None,
    strategy: ComponentLike | None = None,
    evaluator: ComponentLike | None = None,
    executor: ComponentLike | None = None,
    budget: Mapping[str, Any] | Any = None,
    objectives: Sequence[Objective | Mapping[str, Any]] | None = None,
    seed: int = 0,
    name: str = "study",
    root: str | Path = "runs",
    in_memory: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Any] = (),
    **settings: Any,
) -> Study:
    """Run a search and return its :class:`Study` (``best()``, ``trials()``, ``to_dataframe()``).

    Each component may be an object (``nf.space.NB201Space(dims=1)``), a registered name
    (``"nb201"``) or a mapping (``{"name": "nb201", "dims": 1}``). Anything not given takes the
    :class:`RunSpec` default. ``in_memory=True`` keeps the store in memory (nothing written).

    Example:
        >>> study = nasforge.search(task="digits", space="mlp", strategy="random",
        ...                         evaluator={"name": "train", "epochs": 3},
        ...                         budget={"trials": 4}, executor="inline", in_memory=True)
        ... # doctest: +SKIP
    """
    data: dict[str, Any] = {"name": name, "seed": seed, "root": str(root), **settings}
    given: dict[str, Component | None] = {}
    for field, value in (
        ("task", task),
        ("space", space),
        ("strategy", strategy),
        ("evaluator", evaluator),
        ("executor", executor),
    ):
        section, obj = _section(value, field)
        if section is not None:
            data[field] = section
        given[field] = obj
    if budget is not None:
        data["budget"] = budget.model_dump() if hasattr(budget, "model_dump") else budget
    if objectives is not None:
        data["objectives"] = [o.model_dump() if isinstance(o, Objective) else o for o in objectives]
    spec = parse_spec(data, source="nasforge.search()", check=False)
    try:
        parts = build_parts(spec, given)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source="nasforge.search()") from None
    study = Study.create(spec, parts, overwrite=overwrite, in_memory=in_memory)
    return study.run(callbacks)


def resume(
    directory: str | Path, *, callbacks: Sequence[Any] = (), parts: Parts | None = None
) -> Study:
    """Resume a stored study where it stopped; no completed trial is lost or repeated."""
    return Study.open(directory, parts).run(callbacks)


def open_study(directory: str | Path) -> Study:
    """Open a stored study to read it (``best()``, ``trials()``, ``to_dataframe()``)."""
    return Study.open(directory)
