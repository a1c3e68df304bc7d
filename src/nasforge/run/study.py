"""`Study`: the facade users touch: create or open a study, run it, read and export its results.

The loop itself lives in :mod:`nasforge.run.loop`, the replay and the settings a resume may change
in :mod:`nasforge.run.resume`, the checks before the first trial in :mod:`nasforge.run.preflight`
and what happens when a study ends in :mod:`nasforge.run.finish`. The CLI and the Python API both
call these, with the same checks and messages.
"""

from __future__ import annotations

import importlib
import logging
import math
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from nasforge import references
from nasforge.errors import ConfigError, NasforgeError, Problem, StudyNotFoundError
from nasforge.objective import (
    hypervolume_reference,
    pareto_trials,
    rank,
    score,
    trials_hypervolume,
    violation,
)
from nasforge.run.front import Front
from nasforge.run.lock import StudyLock
from nasforge.run.parts import Parts, build_parts, component_spec, registries
from nasforge.run.preflight import check_before_first_trial, default_objectives
from nasforge.run.spec import RunSpec, parse_spec
from nasforge.store.base import CurvePoint, EventKind, Store, is_write_failure, write_failure
from nasforge.trial import Candidate, Trial, TrialState

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from nasforge.architecture import Architecture
    from nasforge.export import ExportInfo
    from nasforge.run.finish import Finished
    from nasforge.run.retrain import RetrainReport
    from nasforge.store.base import StudyRecord

log = logging.getLogger(__name__)

DB_NAME = "study.db"
SPEC_NAME = "spec.yaml"

_BUILT_IN = ("nasforge.space", "nasforge.strategy", "nasforge.evaluate", "nasforge.tasks",
             "nasforge.execute", "nasforge.run")


class StudyFailedError(NasforgeError, RuntimeError):
    """A study ended without a usable result: no trial completed, or the failure guard stopped
    it. Everything is stored; ``study`` is the study, to inspect its trials."""

    def __init__(self, message: str, study: Study) -> None:
        super().__init__(message)
        self.study = study


class Callback(Protocol):
    """Observes a running study (progress bars, dashboards). Every method is optional."""

    def on_start(self, study: Study) -> None: ...
    def on_trial_finished(self, study: Study, trial: Trial) -> None: ...
    def on_end(self, study: Study, reason: str) -> None: ...


@dataclass(frozen=True)
class BestTrial:
    """The best finished trial of a study, with helpers to build and load its network."""

    trial: Trial
    study: Study

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def arch(self) -> Architecture:
        return self.trial.arch

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.trial.metrics)

    @property
    def arch_string(self) -> str:
        return self.study.parts.space.format(self.trial.arch)

    def build(self) -> nn.Module:
        """A fresh, untrained ``torch.nn.Module`` of this architecture for the study's task."""
        return self.study.parts.space.build(self.arch, self.study.parts.task.info())

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(self.metrics.items()))
        return f"{self.trial.label} {self.arch_string}: {shown}"


def plugin_modules(spec: RunSpec) -> list[str]:
    """The modules, besides nasforge's own, that registered the components ``spec`` names.

    Stored in the spec so that ``show``, ``resume`` and ``export`` import them again without
    ``NASFORGE_PLUGINS``. Components defined in ``__main__`` cannot be imported by another
    process, so they are left out (and a warning says so).
    """
    found = list(spec.plugins)
    for field, registry in registries().items():
        name = getattr(spec, field).name
        if name not in registry:
            continue
        module = registry.get(name).__module__
        if module.startswith(_BUILT_IN) or module in found:
            continue
        if module == "__main__":
            log.warning(
                "%s %r is defined in the main script, so the stored study cannot import it "
                "again: move it into a module to show, resume or export the study later",
                field,
                name,
            )
            continue
        found.append(module)
    return found


def import_plugins(modules: Iterable[str], *, where: str) -> None:
    """Import the plugin modules a stored study needs; a clear error when one is missing."""
    for module in modules:
        try:
            if module not in sys.modules:
                references.refuse_if_deferred(f"plugin {module!r}")
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                [
                    Problem(
                        "plugins",
                        f"the study in {where} uses components from module {module!r}, which "
                        f"cannot be imported ({exc})",
                        "install that module or put it on PYTHONPATH",
                    )
                ]
            ) from None


class Study:
    """A search and its store. Create with :meth:`create`, reopen with :meth:`open`.

    Example:
        >>> study = Study.create(spec)          # doctest: +SKIP
        >>> study.run(); study.finish()         # doctest: +SKIP
        >>> study.best(), study.to_dataframe()  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: RunSpec,
        parts: Parts,
        store: Store,
        record: StudyRecord,
        directory: Path | None,
    ) -> None:
        self.spec = spec
        self.parts = parts
        self.store = store
        self.record = record
        self.directory = directory
        self.stop_reason: str | None = None
        self.failure: str | None = None
        self.final_pick: dict[str, Any] | None = None  # the last retrain's, as retrain.json

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        spec: RunSpec,
        parts: Parts | None = None,
        *,
        overwrite: bool = False,
        in_memory: bool = False,
        front: Front = Front.PYTHON,
    ) -> Study:
        """Start a new study in ``spec.root/spec.name`` (or in memory).

        Everything that would fail every trial is checked first (the warm-start study exists,
        the task loads, the evaluator can evaluate the space); nothing is written until then.
        """
        if spec.warm_start is not None:
            prior_trials(spec)  # fail now, before anything is written, if the study is missing
        parts = parts or build_parts(spec)
        if "objectives" not in spec.model_fields_set:  # the task's natural metric
            spec = spec.model_copy(update={"objectives": default_objectives(parts)})
        check_before_first_trial(parts, objectives=spec.objectives, constraints=spec.constraints,
                                 hypervolume_reference=spec.hypervolume_reference,
                                 energy=spec.energy)
        if spec.task is None:  # store the task used, so a resume rebuilds the same one
            spec = spec.model_copy(update={"task": component_spec(parts.task, "task")})
        spec = spec.model_copy(update={"plugins": plugin_modules(spec)})
        directory = None if in_memory else spec.study_dir
        with _clear_write_errors(directory, front):
            return cls._create_in(spec, parts, directory, overwrite=overwrite, front=front)

    @classmethod
    def _create_in(
        cls, spec: RunSpec, parts: Parts, directory: Path | None, *, overwrite: bool,
        front: Front,
    ) -> Study:
        if directory is not None:
            if (directory / DB_NAME).exists():
                if not overwrite and _holds_a_study(directory / DB_NAME):
                    raise ConfigError(
                        [
                            Problem(
                                "name",
                                f"a study already exists in {directory}",
                                f"resume it ({_resume_hint(front, directory)}), choose another "
                                f"name ({front.setting('name')}), or pass "
                                f"{front.flag('overwrite')}",
                            )
                        ]
                    )
                with StudyLock(directory):  # never delete a study another process runs
                    shutil.rmtree(directory)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / SPEC_NAME).write_text(yaml.safe_dump(spec.to_yaml_dict(), sort_keys=False))
        store = _memory_store() if directory is None else _sqlite_store(directory / DB_NAME)
        record = store.create_study(spec.name, spec.model_dump(mode="json"), spec.seed)
        return cls(spec, parts, store, record, directory)

    @classmethod
    def open(cls, directory: str | Path, parts: Parts | None = None) -> Study:
        """Reopen a stored study (to resume, show or export it)."""
        directory = Path(directory)
        db = directory / DB_NAME
        if not db.is_file():
            raise StudyNotFoundError(
                f"no study in {directory} (expected {db}); `nasforge ls` lists the studies under "
                "a folder"
            )
        store = _sqlite_store(db)
        studies = store.studies()
        if not studies:
            raise StudyNotFoundError(
                f"{db} holds no study: the search that made it was stopped before it stored its "
                "study; run the same search again"
            )
        record = studies[0]
        import_plugins(record.spec.get("plugins", ()), where=str(directory))
        spec = parse_spec(record.spec, source=str(db), check=False)
        return cls(spec, parts or build_parts(spec), store, record, directory)

    # -- reading ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.record.name

    def trials(self, states: Iterable[TrialState] | None = None) -> list[Trial]:
        """The stored trials in number order, optionally only those in ``states``."""
        return self.store.trials(self.record.id, states=set(states) if states else None)

    def score(self, trial: Trial) -> float:
        """Larger-is-better score of a trial under the study's first objective (-inf if
        unusable: not COMPLETE, or breaking a constraint or an objective's limit)."""
        if trial.state is not TrialState.COMPLETE:
            return -math.inf
        if violation(trial.metrics, self.spec.constraints) is not None:
            return -math.inf
        return score(trial.metrics, self.spec.objectives)

    def ranked(self) -> list[Trial]:
        """COMPLETE, feasible trials of the search, best first by the first objective (ties:
        earlier trial first)."""
        searched = [t for t in self.trials([TrialState.COMPLETE]) if t.is_search]
        return rank(searched, self.spec.objectives, self.spec.constraints)

    def best_trials(self, trials: Sequence[Trial] | None = None) -> list[Trial]:
        """The Pareto set: the feasible COMPLETE trials that no other feasible trial dominates
        over all objectives (:func:`nasforge.objective.pareto_trials`).

        Feasible means every objective is reported and within its limit and every constraint
        holds; INFEASIBLE trials and trained trials that broke a constraint are never in it.
        Ordered best first by the first objective, then the second, ..., then the earlier
        trial; trials with equal objective values all appear. With one objective it holds the
        trials tied for the best value. Only the search's trials (``source`` ``strategy``) rank:
        retrained seeds are summarised by :func:`nasforge.run.retrain.retrain` instead.

        Args:
            trials: use these (already read from the store) instead of reading them again.
        """
        trials = self.trials([TrialState.COMPLETE]) if trials is None else trials
        searched = [t for t in trials if t.is_search]
        return pareto_trials(searched, self.spec.objectives, self.spec.constraints)

    def best(self, trials: Sequence[Trial] | None = None) -> BestTrial:
        """The best feasible trial: the first of :meth:`best_trials`.

        With one objective, the trial with the best value (ties: the earlier trial). With
        several, the best trial of the *first* objective among the Pareto set (ties broken by
        the next objectives, then the earlier trial): it is always Pareto-optimal, so list the
        objectives in order of priority. Never an infeasible trial.

        Args:
            trials: rank these (already read from the store) instead of reading them again.

        Raises:
            NasforgeError: when no trial is COMPLETE and feasible.
        """
        front = self.best_trials(trials)
        if not front:
            raise NasforgeError(f"study {self.name!r} has no completed, feasible trial yet")
        return BestTrial(front[0], self)

    def hypervolume(
        self, trials: Sequence[Trial] | None = None
    ) -> tuple[float, dict[str, float]] | None:
        """The hypervolume of the Pareto set and its reference point, by metric.

        The reference point is the run spec's ``hypervolume_reference``, else a bound of the
        study on each objective, else its worst feasible value
        (:func:`nasforge.objective.hypervolume_reference`). ``None`` while no trial is feasible.
        Needs the ``mo`` extra (moocore).
        """
        trials = self.trials() if trials is None else trials
        spec = self.spec
        found = hypervolume_reference(trials, spec.objectives, spec.constraints,
                                      spec.hypervolume_reference)
        if found is None:
            return None
        reference = found[0]
        front = self.best_trials(trials)
        return trials_hypervolume(front, spec.objectives, reference), reference

    def curves(self, trial: int | None = None) -> list[CurvePoint]:
        """The learning curves the evaluations reported: one ``(trial, step, metric, value)``
        row per value, by trial, step and metric (``pd.DataFrame(study.curves())`` is a tidy
        frame). ``trial`` gives one trial's curve only. A pruned trial's curve ends at the step
        where it stopped."""
        if trial is not None:
            return self.store.curve(self.record.id, trial)
        return self.store.curves(self.record.id)

    def units(self) -> dict[str, str]:
        """Metric -> display unit (``"%"``) as the study's evaluator declares them."""
        return dict(self.parts.evaluator.metric_units())

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial, like Optuna's ``trials_dataframe``.

        Columns: ``number``, ``state``, ``source`` (who made the trial: ``strategy``,
        ``retrain``, ...), ``arch`` (the space's human form), ``arch_id``, one
        ``arch.DECISION`` column per decision (absent decisions are empty), ``fidelity``, the
        metrics, ``reason``, ``cost_s``, ``attempts``, ``datetime_start``,
        ``datetime_complete`` and ``duration_s``. A study with constraints adds ``violation``
        (the constraint a trial broke, see :attr:`Trial.violation`), and one with several
        objectives ``pareto`` (whether the trial is in :meth:`best_trials`). When evaluations
        reported learning curves,
        ``curve.steps`` (how many steps a trial reported) and one ``curve.METRIC`` column per
        reported metric with its value at the trial's last step follow; the whole curves are in
        :meth:`curves`.
        """
        from nasforge.imports import try_import

        with try_import("pandas", "Study.to_dataframe()") as imports:
            import pandas as pd
        imports.check()
        last: dict[int, dict[str, float]] = {}
        steps: dict[int, set[int]] = {}
        for point in self.curves():  # in step order: the last value of each metric wins
            last.setdefault(point.trial, {})[f"curve.{point.metric}"] = point.value
            steps.setdefault(point.trial, set()).add(point.step)
        rows = []
        trials = self.trials()
        on_front = ({t.number for t in self.best_trials(trials)}
                    if len(self.spec.objectives) > 1 else None)
        for t in trials:
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "source": t.source.value,
                "arch": self.parts.space.format(t.arch),
                "arch_id": t.arch.arch_id,
            }
            row.update({f"arch.{k}": v for k, v in t.arch.items()})
            row["fidelity"] = t.candidate.fidelity
            row.update(t.metrics)
            row["reason"] = t.result.reason if t.result else None
            if self.spec.constraints:
                row["violation"] = t.violation
            if on_front is not None:
                row["pareto"] = t.number in on_front
            row["cost_s"] = t.result.cost_s if t.result else None
            row["attempts"] = t.attempts
            row["datetime_start"] = _timestamp(pd, t.started_at)
            row["datetime_complete"] = _timestamp(pd, t.finished_at)
            row["duration_s"] = (
                t.finished_at - t.started_at
                if t.finished_at is not None and t.started_at is not None
                else None
            )
            if steps:
                row["curve.steps"] = len(steps.get(t.number, ()))
                row.update(last.get(t.number, {}))
            rows.append(row)
        return pd.DataFrame(rows)

    def workdir(self, candidate: Candidate) -> Path | None:
        """Where the evaluator keeps this architecture's checkpoints."""
        if self.directory is None:
            return None
        return self.directory / "checkpoints" / candidate.arch.arch_id

    def trial(self, number: int) -> Trial:
        """Trial ``number``; a clear error naming the valid range otherwise."""
        trials = self.trials()
        if 0 <= number < len(trials) and trials[number].number == number:
            return trials[number]
        raise NasforgeError(
            f"study {self.name!r} has no Trial#{number} "
            f"(it has {len(trials)} trials, numbered from 0)"
        )

    def weights_path(self, trial: Trial) -> Path | None:
        """Where the trained weights of ``trial`` were saved by its evaluator, if anywhere."""
        from nasforge.evaluate.base import WEIGHTS_FILE

        workdir = self.workdir(trial.candidate)
        path = None if workdir is None else workdir / WEIGHTS_FILE
        return path if path is not None and path.is_file() else None

    def export(
        self,
        out: str | Path | None = None,
        *,
        trial: int | None = None,
        onnx: bool = True,
        overwrite: bool = False,
        trials: Sequence[Trial] | None = None,
    ) -> ExportInfo:
        """Export a trial's trained network (default: the best) as module file, weights, ONNX.

        Returns the :class:`nasforge.export.ExportInfo` describing what was written. The default
        folder (``STUDY_DIR/best``, or ``STUDY_DIR/trial-N``) is replaced when exporting again.
        ``trials``, when given, are the study's trials already read (to pick the best).
        """
        import torch

        from nasforge.export import export_model

        chosen = self.best(trials).trial if trial is None else self.trial(trial)
        if chosen.state is not TrialState.COMPLETE:
            raise NasforgeError(
                f"{chosen.label} is {chosen.state.value}, not COMPLETE; only "
                "completed trials can be exported"
            )
        weights = self.weights_path(chosen)
        if weights is None:
            raise NasforgeError(
                f"{chosen.label} has no saved weights (its evaluator "
                f"{self.spec.evaluator.name!r} does not save trained models); export needs a "
                "study run with the 'train' evaluator"
            )
        if out is None:
            if self.directory is None:
                raise NasforgeError("an in-memory study needs an explicit export folder (out=...)")
            out = self.directory / ("best" if trial is None else f"trial-{chosen.number}")
            overwrite = True
        state = torch.load(weights, map_location="cpu", weights_only=True)
        return export_model(
            Path(out),
            space=self.parts.space,
            arch=chosen.arch,
            task=self.parts.task.info(),
            state_dict=state,
            metrics=dict(chosen.metrics),
            trial=chosen.number,
            study=self.name,
            onnx=onnx,
            overwrite=overwrite,
        )

    # -- running ----------------------------------------------------------------------------
    def run(self, callbacks: Sequence[Any] = ()) -> Study:
        """Run (or resume) the search until the budget is spent, the strategy is done, a stop
        is requested or the failure guard trips (:attr:`failure` then says why).

        Raises:
            ExecutorBrokenError: the executor stopped working; trials it was running stay
                RUNNING, so a resume runs them again.
            StudyLockedError: another process is running this study.
        """
        from nasforge.run.loop import Loop

        try:
            if self.directory is None:
                Loop(self, callbacks).run()
            else:
                with _clear_write_errors(self.directory), StudyLock(self.directory):
                    self._store_spec()
                    Loop(self, callbacks).run()
        finally:
            # Workers do not outlive a run; a fresh, equal executor is ready for the next one.
            executor = self.parts.executor
            executor.shutdown(wait=False)
            self.parts.executor = type(executor)(**executor.get_params())
        return self

    def _store_spec(self) -> None:
        """Store settings changed since the study was opened (a resume with a bigger budget);
        called with the study lock held, so a refused run changes nothing."""
        data = self.spec.model_dump(mode="json")
        record = self.store.get_study(self.name)
        if record is not None and dict(record.spec) != data:
            self.store.update_study(self.record.id, spec=data)
            if self.directory is not None:
                (self.directory / SPEC_NAME).write_text(
                    yaml.safe_dump(self.spec.to_yaml_dict(), sort_keys=False)
                )

    def finish(self) -> Finished:
        """Write ``summary.json`` and ``report.html`` and export the best model (if
        ``export_best``); returns what was written and, in :attr:`Finished.failure`, why the
        study counts as failed (no trial completed, or the failure guard stopped it)."""
        from nasforge.run.finish import finish_study

        with _clear_write_errors(self.directory):
            return finish_study(self)

    def retrain(
        self,
        *,
        trial: int | None = None,
        top: int | None = None,
        epochs: int | None = None,
        seeds: int = 3,
        task: Any = None,
        space: Any = None,
        evaluator: Any = None,
        callbacks: Sequence[Any] = (),
        front: Front = Front.PYTHON,
    ) -> RetrainReport:
        """Retrain ``trial`` or the ``top`` architectures from scratch, ``seeds`` times each at
        ``epochs``, and pick the winner by mean validation score; see
        :func:`nasforge.run.retrain.retrain` (the seeds are trials of source ``retrain``)."""
        from nasforge.run.retrain import retrain

        return retrain(self, trial=trial, top=top, epochs=epochs, seeds=seeds, task=task,
                       space=space, evaluator=evaluator, callbacks=callbacks, front=front)

    def request_stop(self) -> None:
        """Ask a running study (possibly in another process) to stop after its running trials.

        A request made while no process runs the study is dropped when it next runs.
        """
        self.store.add_event(self.record.id, EventKind.STOP)

    def steer(self, kind: EventKind | str, /, **payload: Any) -> int:
        """Steer this study, running now in any process or at its next resume: ``"pause"``,
        ``"resume"``, ``"stop"``, ``"forbid"``/``"pin"`` (``op=`` or ``decision=, value=``),
        ``"inject"`` (``arch=``), ``"budget"`` (``trials=``, ``minutes=``, ``cost_s=``). See
        :mod:`nasforge.run.steering`; returns the event's id.

        Raises:
            ConfigError: the choice or architecture is not in the space, or a forbid leaves a
                decision with no option (named); UnknownEventError, EventPayloadError: a bad
                kind or payload.
        """
        from nasforge.run.steering import add_steering_event

        return add_steering_event(self.store, self.record.id, self.parts.space, kind, payload)

    def close(self) -> None:
        """Stop the executor's workers and close the store."""
        self.parts.executor.shutdown()
        self.store.close()

    def __repr__(self) -> str:
        trials = self.trials()
        counts = ", ".join(
            f"{n} {s.lower()}" for s, n in sorted(Counter(t.state.value for t in trials).items())
        )
        front = self.best_trials(trials)
        best = ""
        if front:
            metric = self.spec.objectives[0].metric
            best = f", best=Trial#{front[0].number} {metric}={front[0].metrics[metric]:.4g}"
            if len(self.spec.objectives) > 1:
                best += f", {len(front)} on the Pareto front"
        where = "in memory" if self.directory is None else str(self.directory)
        return (
            f"<Study {self.name!r}: {len(trials)} trials{f' ({counts})' if counts else ''}"
            f"{best}, {where}>"
        )


def _timestamp(pd: Any, seconds: float | None) -> Any:
    return None if seconds is None else pd.Timestamp(seconds, unit="s", tz="UTC")


def _resume_hint(front: Front, directory: Path) -> str:
    if front is Front.CLI:
        return f"`nasforge resume {directory}`"
    return f"nasforge.resume({str(directory)!r})"


@contextmanager
def _clear_write_errors(directory: Path | None, front: Front | None = None) -> Iterator[None]:
    """Turn a file of the study that cannot be written (a full disk, a folder that became
    read-only: ``summary.json``, the lock, a report) into one clear
    :class:`~nasforge.store.base.StoreWriteError` saying how to go on, instead of a traceback.
    The store's own writes raise that error themselves."""
    try:
        yield
    except OSError as exc:
        if directory is None or not is_write_failure(exc):
            raise
        target = exc.filename if isinstance(exc.filename, str) else directory
        if front is None:
            hint = (f"resume the study (`nasforge resume {directory}` or "
                    f"nasforge.resume({str(directory)!r}))")
        else:
            hint = f"run the search again (or resume it: {_resume_hint(front, directory)})"
        raise write_failure(target, exc, resume=hint) from None


def _sqlite_store(path: Path) -> Store:
    from nasforge.store.sqlite import SQLiteStore

    return SQLiteStore(path)


def _holds_a_study(db: Path) -> bool:
    """Whether ``db`` holds a study. A search killed after it created the file and before it
    committed its study row leaves one without (empty, or the schema alone): nothing to keep."""
    try:
        store = _sqlite_store(db)
    except (NasforgeError, OSError):
        return True  # a damaged or foreign file: never deleted without --overwrite
    try:
        return bool(store.studies())
    finally:
        store.close()


def _memory_store() -> Store:
    from nasforge.store.memory import InMemoryStore

    return InMemoryStore()


def prior_trials(spec: RunSpec) -> list[Trial]:
    """The best COMPLETE trials of ``spec.warm_start.study``, ranked by this study's objectives."""
    if spec.warm_start is None:
        return []
    db = Path(spec.warm_start.study) / DB_NAME
    if not db.is_file():
        raise ConfigError([Problem("warm_start.study", f"no study in {spec.warm_start.study} "
                                   f"(expected {db})", "give the folder of a finished study")])
    store = _sqlite_store(db)
    try:
        records = store.studies()
        trials = store.trials(records[0].id, states={TrialState.COMPLETE}) if records else []
    finally:
        store.close()
    trials = [t for t in trials if t.is_search]
    return rank(trials, spec.objectives, spec.constraints)[: spec.warm_start.top]
