"""Resume: rebuild a strategy from the stored history, and the settings a resume may change.

A strategy is a pure function of (seed, history), so nothing is pickled: :func:`replay` asks and
tells a fresh strategy in the order the store recorded (each trial's ``asked_after`` and
``tell_seq``). Trials left RUNNING by a killed process are re-run with their stored candidate;
finished trials are never evaluated again.

Only settings that do not change what the stored trials mean may change on resume
(:data:`RESUMABLE`); both front doors (``nasforge resume --set budget.trials=60`` and
``nf.resume(dir, budget={"trials": 60})``) go through :func:`resume_spec`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from nasforge.config import Component
from nasforge.errors import ConfigError, Problem
from nasforge.run.front import Front
from nasforge.run.parts import component_spec, registries
from nasforge.run.spec import RunSpec, apply_overrides, parse_spec
from nasforge.trial import Candidate, Trial, TrialState

log = logging.getLogger(__name__)

RESUMABLE = (
    "budget",
    "executor",
    "trial_time_limit_s",
    "trial_memory_limit_gb",
    "export_best",
    "reproducible",
    "max_consecutive_failures",
    "max_failure_rate",
    "failure_rate_min_trials",
    "finalize",
)
"""Run-spec fields a resume may change; the others made the stored trials what they are."""


@dataclass
class Replayed:
    """The loop's state after a replay: what was told, what waits to be told or re-run.

    ``n_other`` counts the stored trials the strategy did not ask (retrained seeds, one-shot
    proposals): they hold trial numbers but are neither replayed nor part of the search budget.
    """

    told: int = 0
    untold: dict[int, Trial | None] = field(default_factory=dict)
    rerun: list[Trial] = field(default_factory=list)
    next_number: int = 0
    cost_s: float = 0.0
    diverged_at: int | None = None
    n_other: int = 0


class AskTell(Protocol):
    """What :func:`replay` drives: a strategy, or the loop's steering in front of one."""

    def ask(self, number: int) -> Candidate | None: ...

    def tell(self, trial: Trial) -> None: ...


def replay(strategy: AskTell, trials: Sequence[Trial]) -> Replayed:
    """Ask and tell ``strategy`` the stored ``trials`` in their recorded interleaving.

    Only trials the strategy asked (:attr:`~nasforge.trial.Trial.is_search`) are replayed, told
    or re-run; the others keep their numbers, so the next trial is numbered after all of them.
    Returns where the loop carries on. If the strategy now proposes something else than was
    stored (its code or configuration changed), the stored trials are kept as they are and the
    first such trial is reported in ``diverged_at`` (and logged).
    """
    state = Replayed(next_number=len(trials))
    searched = [t for t in trials if t.is_search]
    state.n_other = len(trials) - len(searched)
    trials = searched
    told = sorted((t for t in trials if t.tell_seq is not None), key=lambda t: t.tell_seq or 0)
    i = 0
    for trial in trials:
        while i < len(told) and i < trial.asked_after:
            strategy.tell(told[i])
            i += 1
        proposal = strategy.ask(trial.number)
        if proposal != trial.candidate and state.diverged_at is None:
            state.diverged_at = trial.number
            log.warning(
                "replaying the strategy diverged at %s: the code or configuration changed since "
                "it ran; stored trials are kept as they are",
                trial.label,
            )
    for trial in told[i:]:
        strategy.tell(trial)
    state.told = len(told)
    for trial in trials:
        if trial.result is not None:
            state.cost_s += trial.result.cost_s
        if trial.tell_seq is None:
            state.untold[trial.number] = trial if trial.state.is_finished() else None
        if trial.state is TrialState.RUNNING:
            state.rerun.append(trial)
    return state


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated section by section; a component given a new ``name`` starts afresh."""
    out = dict(base)
    for key, value in changes.items():
        old = out.get(key)
        renamed = isinstance(value, Mapping) and isinstance(old, Mapping) and (
            "name" in value and value["name"] != old.get("name")
        )
        if isinstance(value, Mapping) and isinstance(old, Mapping) and not renamed:
            out[key] = _merge(dict(old), value)
        else:
            out[key] = value
    return out


def resume_spec(
    spec: RunSpec,
    changes: Mapping[str, Any] | None = None,
    *,
    overrides: Sequence[str] = (),
    front: Front | None = None,
) -> RunSpec:
    """``spec`` with the settings a resume may change changed.

    Args:
        changes: Python keyword form, merged section by section (``{"budget": {"trials": 60}}``
            keeps the stored ``budget.minutes``); a component may also be given as an object
            (``executor=ProcessExecutor(workers=4)``).
        overrides: CLI form, ``["budget.trials=60"]``.
        front: the front door whose syntax messages use (default: the CLI when ``overrides``
            are given).

    Raises:
        ConfigError: an unknown setting, one outside :data:`RESUMABLE`, or an invalid value;
            named in the syntax of the front door used.
    """
    cli = (front is Front.CLI) if front is not None else bool(overrides)
    requested: dict[str, Any] = apply_overrides({}, overrides) if overrides else {}
    for key, value in (changes or {}).items():
        requested[key] = _section(key, value)
    problems = []
    for key in requested:
        where = "--set" if cli else f"resume({key}=...)"
        if key not in RunSpec.model_fields:
            problems.append(Problem(where, f"unknown setting {key!r}", f"{_allowed(cli)} may "
                                    "change on resume"))
        elif key not in RESUMABLE:
            problems.append(Problem(
                where, f"{key!r} cannot change on resume (the stored trials were made with it)",
                f"only {_allowed(cli)} may change; start a new study to change the rest"))
    source = "nasforge resume" if cli else "nasforge.resume()"
    if problems:
        raise ConfigError(problems, source=source)
    if not requested:
        return spec
    data = _merge(spec.to_yaml_dict(), requested)
    # Checked against the registries once, when the caller builds the parts.
    return parse_spec(data, source="--set" if cli else "nasforge.resume()", check=False)


def _allowed(cli: bool) -> str:
    if cli:
        return ", ".join(f"{k}.*" if k in ("budget", "executor", "finalize") else k
                         for k in RESUMABLE)
    return ", ".join(f"{k}=" for k in RESUMABLE)


def _section(key: str, value: Any) -> Any:
    """A Python value as its spec section: a component object becomes ``{name, **params}``."""
    if isinstance(value, Component) and key in registries():
        return component_spec(value, key).to_yaml_dict()
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value
