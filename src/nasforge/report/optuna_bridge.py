"""A nasforge study as Optuna trials, so Optuna's own tools work on it.

Each decision becomes one categorical parameter (its options from the space, see
:func:`~nasforge.report.data.decision_options`), each objective one of Optuna's values, and the
first objective's learning curve the intermediate values. Everything else a trial holds goes in
``user_attrs``: every metric, the architecture's human form, the nasforge trial number, state,
reason, cost and source. States map as COMPLETE → COMPLETE (a trained trial that broke a
constraint also gets ``user_attrs["violation"]``), PRUNED → PRUNED, RUNNING → RUNNING and every
other state (FAILED, TIMEOUT, INFEASIBLE) → FAIL with its reason.

:func:`export_optuna` writes them into any Optuna storage URL (``sqlite:///x.db``), where
``optuna.load_study``, ``optuna.visualization`` and optuna-dashboard read them;
:func:`optuna_study` makes an in-memory study for the importance evaluators
(:mod:`nasforge.report.importance`). Needs the ``optuna`` extra.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, Problem
from nasforge.imports import try_import
from nasforge.report.data import curves_by_trial, decision_options, trial_source
from nasforge.trial import Trial, TrialState

if TYPE_CHECKING:
    import optuna

    from nasforge.run.study import Study

_SCALARS = (str, int, float, bool, type(None))


def _optuna() -> Any:
    with try_import("optuna", "The Optuna bridge (export-optuna, importance)") as imports:
        import optuna
    imports.check()
    return optuna


def _choice(value: object) -> Any:
    """An Optuna categorical choice: scalars as they are, anything else as its text."""
    return value if isinstance(value, _SCALARS) else str(value)


def _when(seconds: float | None) -> datetime.datetime | None:
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds)


def frozen_trials(study: Study, trials: Sequence[Trial] | None = None) -> list[Any]:
    """The study's trials as Optuna ``FrozenTrial`` objects (see the module docstring)."""
    optuna = _optuna()
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState as OptunaState

    trials = study.trials() if trials is None else trials
    space = study.parts.space
    options = decision_options(space, trials)
    distributions = {name: CategoricalDistribution([_choice(o) for o in values])
                     for name, values in options.items()}
    objectives = study.spec.objectives
    curves = curves_by_trial(study.curves(), objectives[0].metric)
    out = []
    for t in trials:
        attrs: dict[str, Any] = {"nasforge_number": t.number, "nasforge_state": t.state.value,
                                 "arch": space.format(t.arch), "source": trial_source(t),
                                 "fidelity": t.candidate.fidelity}
        attrs.update({f"metric.{k}": v for k, v in t.metrics.items()})
        if t.result is not None:
            attrs["cost_s"] = t.result.cost_s
            if t.result.reason:
                attrs["reason"] = t.result.reason
        if t.violation is not None:
            attrs["violation"] = t.violation
        values = None
        if t.state is TrialState.COMPLETE and all(o.metric in t.metrics for o in objectives):
            state = OptunaState.COMPLETE
            values = [t.metrics[o.metric] for o in objectives]
        elif t.state is TrialState.PRUNED:
            state = OptunaState.PRUNED
        elif t.state is TrialState.RUNNING:
            state = OptunaState.RUNNING
        else:
            state = OptunaState.FAIL
        finished = None if state is OptunaState.RUNNING else _when(t.finished_at)
        out.append(optuna.trial.create_trial(
            state=state,
            values=values,
            params={k: _choice(v) for k, v in t.arch.items()},
            distributions={k: distributions[k] for k in t.arch},
            user_attrs=attrs,
            intermediate_values=dict(curves.get(t.number, [])),
        ))
        # create_trial stamps "now"; keep the stored times so timelines stay true.
        out[-1].datetime_start = _when(t.started_at) or out[-1].datetime_start
        out[-1].datetime_complete = finished if finished is not None else (
            out[-1].datetime_complete if state is not OptunaState.RUNNING else None)
    return out


def _directions(study: Study) -> list[str]:
    return ["maximize" if o.direction == "max" else "minimize" for o in study.spec.objectives]


def _create(optuna: Any, **kwargs: Any) -> Any:
    """``optuna.create_study`` without its "A new study created" log line."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(**kwargs)
    finally:
        optuna.logging.set_verbosity(verbosity)


def optuna_study(study: Study, trials: Sequence[Trial] | None = None) -> optuna.Study:
    """An in-memory Optuna study holding the nasforge study's trials."""
    optuna = _optuna()
    target = _create(optuna, directions=_directions(study), study_name=study.name)
    target.add_trials(frozen_trials(study, trials))
    return target


def export_optuna(
    study: Study, storage: str, *, study_name: str | None = None, overwrite: bool = False
) -> optuna.Study:
    """Write ``study``'s trials into the Optuna ``storage`` (a URL such as ``sqlite:///x.db``).

    Args:
        study: the nasforge study.
        storage: an Optuna storage URL.
        study_name: the Optuna study's name (default: the nasforge study's).
        overwrite: replace an Optuna study of that name; otherwise one is an error.

    Raises:
        ConfigError: the storage URL is malformed or cannot be opened (``storage``), or the
            study name is taken and ``overwrite`` is off (``study_name``).
        MissingDependencyError: optuna is not installed.
    """
    optuna = _optuna()
    name = study_name or study.name
    try:
        backend = optuna.storages.RDBStorage(storage) if "://" in storage else None
    except Exception as exc:  # SQLAlchemy raises many kinds for a bad URL
        raise ConfigError([Problem("storage", f"cannot open Optuna storage {storage!r}: {exc}",
                                   "give a URL such as sqlite:///optuna.db")]) from None
    if backend is None:
        raise ConfigError([Problem("storage", f"{storage!r} is not a storage URL",
                                   "give a URL such as sqlite:///optuna.db")])
    if name in {s.study_name for s in optuna.get_all_study_summaries(backend)}:
        if not overwrite:
            raise ConfigError([Problem("study_name", f"{storage} already holds a study {name!r}",
                                       "pass overwrite=True to replace it, or another name")])
        optuna.delete_study(study_name=name, storage=backend)
    target = _create(optuna, storage=backend, study_name=name, directions=_directions(study))
    target.set_user_attr("nasforge_study", study.name)
    target.set_user_attr("objectives", [str(o) for o in study.spec.objectives])
    target.add_trials(frozen_trials(study))
    return target
