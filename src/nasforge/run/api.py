"""The Python API: ``nasforge.search(...)`` and ``nasforge.resume(...)`` in a notebook.

The CLI's ``search`` and ``resume`` call the same functions (:func:`run_and_finish`,
:func:`open_for_resume`), so both front doors check, run, finish and export alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nasforge.config import Component
from nasforge.errors import ConfigError, Problem
from nasforge.objective import Constraint, Objective
from nasforge.run.finish import Finished
from nasforge.run.front import Front
from nasforge.run.parts import Parts, build_parts, component_spec, registries
from nasforge.run.preflight import check_before_first_trial
from nasforge.run.resume import resume_spec
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study, StudyFailedError

ComponentLike = Component | str | Mapping[str, Any] | Callable[..., Any]
_FUNCTIONS = ("space", "evaluator")  # fields that take a plain function (registered "function")


def _section(value: ComponentLike | None, field: str) -> tuple[Any, Component | None]:
    """A spec section for ``value`` and the live object when one was passed."""
    if value is None:
        return None, None
    if isinstance(value, Component) or (
        callable(value) and not isinstance(value, type) and field in _FUNCTIONS
    ):
        try:
            obj: Component = (
                value
                if isinstance(value, Component)
                # A plain function: the user's own training loop or model builder.
                else registries()[field].create("function", {"path": value}, field=field)
            )
            section = component_spec(obj, field)
        except ConfigError as exc:
            raise ConfigError(exc.problems, source="nasforge.search()") from None
        return section.model_dump(), obj
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
        ],
        source="nasforge.search()",
    )


def _check_callbacks(callbacks: Any) -> None:
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise ConfigError(
            [
                Problem(
                    "callbacks",
                    f"expected a list of callback objects, got {type(callbacks).__name__}",
                    "pass e.g. callbacks=[MyCallback()] (objects with on_start, "
                    "on_trial_finished or on_end methods)",
                )
            ]
        )


def _check_directory(directory: Any, function: str) -> None:
    if not isinstance(directory, (str, Path)):
        raise ConfigError(
            [
                Problem(
                    "directory",
                    f"expected the study folder as a str or Path, got "
                    f"{type(directory).__name__}",
                    f"e.g. nasforge.{function}('runs/demo')",
                )
            ]
        )


def run_and_finish(study: Study, callbacks: Sequence[Any] = ()) -> Finished:
    """Run ``study``, retrain its best architectures if its spec has ``finalize``, then write
    its summary and report and export the best model."""
    from nasforge.run.finalize import finalize

    study.run(callbacks)
    finalize(study, [c for c in callbacks if hasattr(c, "on_retrain_start")])
    return study.finish()


def search(
    *,
    task: ComponentLike | None = None,
    space: ComponentLike | None = None,
    strategy: ComponentLike | None = None,
    evaluator: ComponentLike | None = None,
    executor: ComponentLike | None = None,
    pruner: ComponentLike | None = None,
    budget: Mapping[str, Any] | Any = None,
    objectives: Sequence[Objective | Mapping[str, Any]] | None = None,
    constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = None,
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
    (``"nb201"``) or a mapping (``{"name": "nb201", "dims": 1}``); ``evaluator`` may also be a
    plain function ``fit(model, task, trial) -> dict`` (your own training loop, see
    :class:`nasforge.evaluate.FunctionEvaluator`), and ``pruner`` stops hopeless trials early
    (``{"name": "median", "n_startup_trials": 5}``). ``constraints`` are hard bounds that are
    not objectives (``constraints=["params <= 1e5", {"metric": "latency_ms", "max": 5}]``):
    a candidate breaking one on a metric known before training is stored INFEASIBLE untrained.
    Anything not given takes the
    :class:`RunSpec` default; other run-spec fields are keyword arguments
    (``trial_time_limit_s=60``, ``reproducible=True``, ``export_best=False``).
    ``in_memory=True`` keeps the store in memory (nothing written). As with ``nasforge
    search``, the study ends by writing ``summary.json`` and ``report.html`` and exporting the
    best model to ``root/name/best``.

    Raises:
        ConfigError: invalid settings, or a task/space/evaluator that cannot work together;
            nothing is written.
        StudyFailedError: no trial completed, or the failure guard stopped the study
            (``exc.study`` holds the stored trials).

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
        ("pruner", pruner),
    ):
        section, obj = _section(value, field)
        if section is not None:
            data[field] = section
        given[field] = obj
    if budget is not None:
        data["budget"] = budget.model_dump() if hasattr(budget, "model_dump") else budget
    if objectives is not None:
        if isinstance(objectives, (str, Mapping, Objective)):  # one objective, not a list
            objectives = [objectives]
        data["objectives"] = [o.model_dump() if isinstance(o, Objective) else o for o in objectives]
    if constraints is not None:
        if isinstance(constraints, (str, Mapping, Constraint)):  # one constraint, not a list
            constraints = [constraints]
        data["constraints"] = [
            c.model_dump() if isinstance(c, Constraint) else c for c in constraints
        ]
    _check_callbacks(callbacks)
    source = "nasforge.search()"
    spec = parse_spec(data, source=source, check=False)
    try:
        parts = build_parts(spec, given)
        study = Study.create(spec, parts, overwrite=overwrite, in_memory=in_memory)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from None
    return _raise_on_failure(study, _run_or_close(study, callbacks))


def _run_or_close(study: Study, callbacks: Sequence[Any]) -> Finished:
    """:func:`run_and_finish`, closing the study when that raises: the caller never gets it,
    so its store file would stay open (and its disk busy) until garbage collection."""
    try:
        return run_and_finish(study, callbacks)
    except BaseException:
        study.close()
        raise


def open_for_resume(
    directory: str | Path,
    changes: Mapping[str, Any] | None = None,
    *,
    overrides: Sequence[str] = (),
    parts: Parts | None = None,
    front: Front = Front.PYTHON,
) -> Study:
    """Open a stored study with the settings a resume may change changed, checked as before
    its first trial. The changes are stored when it runs."""
    study = Study.open(directory, parts)
    spec = resume_spec(study.spec, changes, overrides=overrides, front=front)
    if spec != study.spec:  # stored by Study.run once it holds the study lock
        study.spec = spec
        study.parts = parts or build_parts(spec)
    source = "nasforge resume" if front is Front.CLI else "nasforge.resume()"
    try:
        check_before_first_trial(
            study.parts,
            objectives=study.spec.objectives,
            constraints=study.spec.constraints,
            hypervolume_reference=study.spec.hypervolume_reference,
            energy=study.spec.energy,
        )
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from None
    return study


def resume(
    directory: str | Path,
    *,
    callbacks: Sequence[Any] = (),
    parts: Parts | None = None,
    **changes: Any,
) -> Study:
    """Resume a stored study where it stopped; no completed trial is lost or repeated.

    Keyword arguments change the settings a resume may change, as ``nasforge resume --set``
    does: ``budget`` (merged: ``budget={"trials": 60}`` keeps a stored ``minutes``),
    ``executor``, ``trial_time_limit_s``, ``trial_memory_limit_gb``, ``export_best``,
    ``reproducible``, ``max_consecutive_failures``, ``max_failure_rate`` and
    ``failure_rate_min_trials``. The study ends like :func:`search`.

    Example:
        >>> nasforge.resume("runs/demo", budget={"trials": 60})  # doctest: +SKIP
    """
    _check_directory(directory, "resume")
    _check_callbacks(callbacks)
    study = open_for_resume(directory, changes, parts=parts)
    return _raise_on_failure(study, _run_or_close(study, callbacks))


def _raise_on_failure(study: Study, finished: Finished) -> Study:
    if finished.failure is not None:
        raise StudyFailedError(f"study {study.name!r} failed: {finished.failure}", study)
    return study


def open_study(directory: str | Path) -> Study:
    """Open a stored study to read it (``best()``, ``trials()``, ``to_dataframe()``)."""
    _check_directory(directory, "open_study")
    return Study.open(directory)
