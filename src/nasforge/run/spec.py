"""`RunSpec`: the one validated description of a study, behind YAML, the CLI and the Python API.

A component section is a mapping with ``name`` plus that component's constructor parameters::

    space: {name: nb201, dims: 1, channels: 16}

A bare string is a component with default parameters (``task: mnist1d``). Sections are checked
against the registries, so a typo anywhere is reported with its dotted field, what was expected,
what was given and the fix; all problems of a file are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from nasforge.config import problems_from
from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.energy import (
    DEFAULT_COUNTRY,
    EnergySettings,
    country_fix,
    country_problem,
)
from nasforge.objective import Constraint, Objective

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ComponentSpec(BaseModel):
    """A registered component by name, with its constructor parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value, "params": {}}
        if isinstance(value, Mapping) and "params" not in value:
            data = dict(value)
            name = data.pop("name", None)
            return {"name": name, "params": data} if name is not None else {"params": data}
        return value

    def to_yaml_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


class Budget(BaseModel):
    """When a study stops: after ``trials`` trials, ``minutes`` of wall time, or ``cost_s`` seconds
    of evaluation cost (real or simulated), whichever comes first. Resumed studies count what
    earlier sessions used. Every trial counts against ``trials``, INFEASIBLE ones included
    (candidates that broke a constraint before training; they cost no evaluation time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int | None = Field(default=None, ge=1)
    minutes: float | None = Field(default=None, gt=0)
    cost_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.trials is None and self.minutes is None and self.cost_s is None:
            raise ValueError("give at least one of trials, minutes or cost_s (e.g. {trials: 50})")
        return self

    def exhausted(self, n_trials: int, elapsed_s: float, cost_s: float) -> str | None:
        """Why the budget is spent, or ``None`` while it lasts."""
        if self.trials is not None and n_trials >= self.trials:
            return f"trial budget of {self.trials} reached"
        if self.minutes is not None and elapsed_s >= self.minutes * 60:
            return f"time budget of {self.minutes:g} min reached"
        if self.cost_s is not None and cost_s >= self.cost_s:
            return f"cost budget of {self.cost_s:g} s reached"
        return None


class WarmStart(BaseModel):
    """Transfer: start from the best trials of an earlier study (possibly on another task)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str = Field(min_length=1, description="folder of the earlier study (holds study.db)")
    top: int = Field(default=10, ge=1, description="how many of its best trials to pass on")


class FinalizeSpec(BaseModel):
    """Retrain the search's best architectures at its end and pick by mean (the noise-aware
    final pick, :mod:`nasforge.run.finalize`): ``finalize: {top: 3, seeds: 3, epochs: 30}``.

    ``epochs`` left out keeps the evaluator's own schedule (more seeds, not a longer one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    top: int = Field(default=3, ge=1, description="how many distinct architectures to retrain")
    seeds: int = Field(default=3, ge=1, description="seeds per architecture")
    epochs: int | None = Field(default=None, ge=1, description="the longer training schedule")


class EnergySpec(BaseModel):
    """Track the energy and CO2 of every trial with codecarbon, offline (the ``green`` extra).

    Written ``energy: {country: FRA}``, or ``energy: true`` for the default country
    (:data:`~nasforge.evaluate.energy.DEFAULT_COUNTRY`, ``USA``); left out, nothing is tracked.
    Each trial's result then holds ``energy_kwh`` and ``co2_kg`` (failed and timed-out ones
    too, for what they used until they stopped), with how they were obtained in its
    ``info["energy"]``: an *estimate* from the CPU's TDP and the trial's share of CPU time on a
    machine without power counters (see :mod:`nasforge.evaluate.energy`). ``summary.json`` holds
    the study's total. Objectives and constraints may name ``energy_kwh`` and ``co2_kg`` only
    with tracking on.

    Attributes:
        country: the 3-letter ISO 3166-1 code of the country whose grid intensity turns energy
            into CO2 (codecarbon's table, e.g. ``FRA``, ``DEU``, ``USA``; case is ignored).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = DEFAULT_COUNTRY

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        problem = country_problem(value.strip())
        if problem is not None:
            raise PydanticCustomError(  # "expected" becomes the fix: "use one of ..."
                "country", "{problem}", {"problem": problem, "expected": country_fix(value)}
            )
        return value.strip().upper()

    def settings(self) -> EnergySettings:
        """What each evaluation receives (:attr:`~nasforge.evaluate.base.EvalContext.energy`)."""
        return EnergySettings(country=self.country)


class RunSpec(BaseModel):
    """Everything that defines a study. Stored with the study so every run can be replayed.

    Attributes:
        reproducible: tell results to the strategy in trial order, and ask trial ``n`` only after
            trials ``0 .. n - workers`` are told, so a from-scratch rerun with the same seed gives
            the same architectures even with several workers; a free worker may then wait for
            an earlier, longer trial. The default ``false`` tells results as they arrive and
            never keeps a worker waiting. A resume is exact either way.
        trial_time_limit_s: a trial running longer is stopped and recorded TIMEOUT.
        trial_memory_limit_gb: a trial whose process uses more resident memory (GiB) is
            stopped and recorded FAILED with the memory it used. The process executor watches
            each worker process (its children included) and kills it; Ray and inline check,
            from within the worker (the study process), what the trial adds to it and
            interrupt its Python code. ``null`` (the default): no limit.
        max_consecutive_failures: stop the study after this many FAILED or TIMEOUT trials in a
            row (a broken configuration, not bad luck); ``null`` never stops. The same number of
            infeasible trials before any feasible one also stops it (the constraints are named).
        max_failure_rate: stop the study once more than this fraction of its finished trials
            FAILED or TIMED OUT (infeasible ones not counted), checked from
            ``failure_rate_min_trials`` finished trials on; ``null`` never stops. The default
            0.9 leaves a study with a few failures alone and stops one that almost only fails.
        failure_rate_min_trials: how many finished trials ``max_failure_rate`` waits for.
        constraints: hard bounds that are not objectives, as strings or mappings:
            ``["params <= 1e5", {metric: latency_ms, max: 5}]`` (:class:`Constraint`). Bounds on
            metrics known before training (``params``, ``flops``) are checked before a candidate
            is trained: one that breaks them is stored INFEASIBLE untrained (it still counts as
            a trial of the budget). The others are checked on the trained result; a trial
            breaking one is COMPLETE but never ranks, reaches the Pareto set or is best.
        hypervolume_reference: the reference point of the study's hypervolume, one value per
            objective metric in its own units (``{val_accuracy: 85, flops: 2e8}``). Left out,
            each objective takes a bound of the study (a constraint or limit on that metric),
            else the worst value among its feasible trials (see
            :func:`nasforge.report.data.hypervolume_reference`); it is stated wherever the
            hypervolume is shown.
        task: the data; ``None`` (left out) means the evaluator's own task for a lookup
            benchmark (``nb201_table`` looks up its ``dataset``), else ``mnist1d``. A study stores
            the task it used.
        root: the folder holding study folders; the study lives in ``root/name``.
        export_best: when the study ends, export the best trained network to ``STUDY_DIR/best``.
        warm_start: pass the best trials of an earlier study to the strategy before it starts.
        finalize: end the search by retraining its ``top`` architectures ``seeds`` times at
            ``epochs`` and picking by mean validation score (:class:`FinalizeSpec`); ``null``
            (the default) ends with the search's own best.
        energy: track each trial's energy and CO2 with codecarbon (:class:`EnergySpec`):
            ``energy: {country: FRA}``, or ``energy: true`` for the default country;
            ``null`` (the default) tracks nothing.
        pruner: stops hopeless trials early from their learning curves
            (:mod:`nasforge.run.pruners`: ``none``, ``median``, ``successive_halving``); it
            judges the first objective's metric, which the evaluator must report per step.
        plugins: modules to import before the components are built (filled in automatically
            with the modules of components that are not built in, so ``show`` and ``resume``
            find them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "study"
    seed: int = Field(default=0, ge=0, lt=2**31)
    task: ComponentSpec | None = None
    space: ComponentSpec = ComponentSpec(name="nb201")
    strategy: ComponentSpec = ComponentSpec(name="regularized_evolution")
    evaluator: ComponentSpec = ComponentSpec(name="train")
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="val_accuracy", direction="max")], min_length=1
    )
    budget: Budget = Budget(trials=20)
    executor: ComponentSpec = ComponentSpec(name="process", params={"workers": 2})
    pruner: ComponentSpec = ComponentSpec(name="none")
    trial_time_limit_s: float | None = Field(default=None, gt=0)
    trial_memory_limit_gb: float | None = Field(default=None, gt=0)
    max_consecutive_failures: int | None = Field(default=10, ge=1)
    max_failure_rate: float | None = Field(default=0.9, gt=0, lt=1)
    failure_rate_min_trials: int = Field(default=20, ge=1)
    constraints: list[Constraint] = Field(default_factory=list)
    hypervolume_reference: dict[str, float] | None = None
    reproducible: bool = False
    root: str = "runs"
    export_best: bool = True
    warm_start: WarmStart | None = None
    energy: EnergySpec | None = None
    finalize: FinalizeSpec | None = None
    plugins: list[str] = Field(default_factory=list)

    @field_validator("energy", mode="before")
    @classmethod
    def _energy_switch(cls, value: Any) -> Any:
        if value is True:  # `energy: true`: the default country
            return {}
        if value is False:
            return None
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must start with a letter or digit and use only letters, digits, '.', '_' or '-' "
                "(it names the study folder)"
            )
        return value

    @property
    def study_dir(self) -> Path:
        return Path(self.root) / self.name

    def to_yaml_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for key in ("task", "space", "strategy", "evaluator", "executor", "pruner"):
            section = getattr(self, key)
            if section is not None:
                data[key] = section.to_yaml_dict()
            else:
                data.pop(key, None)
        return data


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML: ``20``, ``true``, ``[1, 2]``)."""
    problems = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            problems.append(
                Problem(
                    "--set",
                    f"expected KEY=VALUE, got {item!r}",
                    "write e.g. --set budget.trials=10",
                )
            )
            continue
        parts = key.strip().split(".")
        node: dict[str, Any] = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str):  # `task: mnist1d` becomes `task: {name: mnist1d}`
                child = {"name": child}
            if child is True:  # `energy: true` is a section with its defaults
                child = {}
            if child is None:
                child = {}
            if not isinstance(child, dict):
                problems.append(
                    Problem(
                        ".".join(parts[: i + 1]),
                        f"is {child!r}, not a section, so {key!r} cannot be set",
                        f"set {'.'.join(parts[: i + 1])} itself",
                    )
                )
                break
            node[part] = child
            node = child
        else:
            node[parts[-1]] = _parse_value(raw)
    if problems:
        raise ConfigError(problems, source="--set")
    return data


def check_components(spec: RunSpec) -> None:
    """Check every component section against its registry and constructor, all at once."""
    from nasforge.run.parts import build_parts

    build_parts(spec)


def upgrade_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    """A spec written by an older nasforge, in today's field names (``ordered`` became
    ``reproducible``)."""
    data = dict(data)
    if "ordered" in data and "reproducible" not in data:
        data["reproducible"] = data.pop("ordered")
    return data


def parse_spec(
    data: Any, *, source: str = "", overrides: Sequence[str] = (), check: bool = True
) -> RunSpec:
    """Validate a spec given as a mapping (e.g. loaded YAML)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            [
                Problem(
                    "",
                    f"expected a mapping of settings, got {type(data).__name__}",
                    "see examples/demo.yaml for the layout",
                )
            ],
            source=source,
        )
    data = apply_overrides(upgrade_spec(data), overrides)
    try:
        spec = RunSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = problems_from(exc, known=list(RunSpec.model_fields))
        if check:
            problems.extend(_section_problems(data, {p.field.split(".")[0] for p in problems}))
        raise ConfigError(problems, source=source) from None
    if check:
        try:
            check_components(spec)
        except ConfigError as exc:
            raise ConfigError(exc.problems, source=source) from None
    return spec


def _section_problems(data: Mapping[str, Any], skip: set[str]) -> list[Problem]:
    """Problems in the component sections that parsed, found while other fields were invalid."""
    from nasforge.run.parts import registries

    problems: list[Problem] = []
    for field, registry in registries().items():
        if field in skip or field not in data:
            continue
        try:
            section = ComponentSpec.model_validate(data[field])
            registry.create(section.name, section.params, field=field)
        except pydantic.ValidationError:
            continue
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


def load_spec(path: str | Path, overrides: Sequence[str] = (), *, check: bool = True) -> RunSpec:
    """Read a YAML (or JSON) run spec file, apply overrides and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            [
                Problem(
                    "CONFIG",
                    f"no such file: {path}",
                    "pass the path of a YAML run spec, e.g. examples/demo.yaml",
                )
            ]
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            [
                Problem(
                    "",
                    f"not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                    "fix the YAML syntax",
                )
            ],
            source=str(path),
        ) from None
    return parse_spec(data, source=str(path), overrides=overrides, check=check)
