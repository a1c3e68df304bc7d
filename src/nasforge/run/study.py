"""`Study`: the loop that joins a space, a strategy, an evaluator, an executor and a store.

One trial's path, and nothing else holds trial state::

    strategy.ask(n) -> store.create_trial (RUNNING) -> executor.submit(evaluate)
    -> Result -> store.finish_trial (COMPLETE/FAILED/TIMEOUT) -> strategy.tell(trial)

Each trial row records how many results had been told when it was asked (``asked_after``) and
when it was itself told (``tell_seq``). A resume replays that interleaving into a fresh strategy,
so its state is rebuilt exactly; trials left RUNNING by a killed process are evaluated again with
their stored candidate; completed trials are never lost nor repeated.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from nasforge.errors import (
    ConfigError,
    InvalidArchitectureError,
    NasforgeError,
    Problem,
    StudyNotFoundError,
    TrialTimeout,
)
from nasforge.evaluate.base import EvalContext, run_evaluation
from nasforge.objective import score
from nasforge.rng import derive_seed
from nasforge.run.lock import StudyLock
from nasforge.run.parts import Parts, build_parts
from nasforge.run.spec import RunSpec, parse_spec
from nasforge.store.sqlite import SQLiteStore
from nasforge.trial import Candidate, Result, Status, Trial, TrialState

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from nasforge.architecture import Architecture
    from nasforge.export import ExportInfo
    from nasforge.store.base import StudyRecord

log = logging.getLogger(__name__)

DB_NAME = "study.db"
SPEC_NAME = "spec.yaml"


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


class Study:
    """A search and its store. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(
        self,
        spec: RunSpec,
        parts: Parts,
        store: SQLiteStore,
        record: StudyRecord,
        directory: Path | None,
    ) -> None:
        self.spec = spec
        self.parts = parts
        self.store = store
        self.record = record
        self.directory = directory
        self.stop_reason: str | None = None

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        spec: RunSpec,
        parts: Parts | None = None,
        *,
        overwrite: bool = False,
        in_memory: bool = False,
    ) -> Study:
        """Start a new study in ``spec.root/spec.name`` (or in memory)."""
        if spec.warm_start is not None:
            prior_trials(spec)  # fail now, before anything is written, if the study is missing
        parts = parts or build_parts(spec)
        directory = None if in_memory else spec.study_dir
        if directory is not None:
            if (directory / DB_NAME).exists():
                if not overwrite:
                    raise ConfigError(
                        [
                            Problem(
                                "name",
                                f"a study already exists in {directory}",
                                f"resume it with `nasforge resume {directory}`, choose another "
                                "name (--set name=...), or pass --overwrite",
                            )
                        ]
                    )
                shutil.rmtree(directory)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / SPEC_NAME).write_text(yaml.safe_dump(spec.to_yaml_dict(), sort_keys=False))
        store = SQLiteStore(":memory:" if directory is None else directory / DB_NAME)
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
        store = SQLiteStore(db)
        studies = store.studies()
        if not studies:
            raise StudyNotFoundError(f"{db} holds no study")
        record = studies[0]
        spec = parse_spec(record.spec, source=str(db), check=parts is None)
        return cls(spec, parts or build_parts(spec), store, record, directory)

    # -- reading ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.record.name

    def trials(self, states: Iterable[TrialState] | None = None) -> list[Trial]:
        return self.store.trials(self.record.id, states=set(states) if states else None)

    def score(self, trial: Trial) -> float:
        if trial.state is not TrialState.COMPLETE:
            return -math.inf
        return score(trial.metrics, self.spec.objectives)

    def ranked(self) -> list[Trial]:
        """COMPLETE, feasible trials, best first (ties: earlier trial first)."""
        done = [t for t in self.trials([TrialState.COMPLETE]) if self.score(t) > -math.inf]
        return sorted(done, key=lambda t: (-self.score(t), t.number))

    def best(self) -> BestTrial:
        ranked = self.ranked()
        if not ranked:
            raise NasforgeError(f"study {self.name!r} has no completed, feasible trial yet")
        return BestTrial(ranked[0], self)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, architecture, fidelity, metrics, reason, cost."""
        import pandas as pd

        rows = []
        for t in self.trials():
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "arch": self.parts.space.format(t.arch),
                "arch_id": t.arch.arch_id,
                "fidelity": t.candidate.fidelity,
            }
            row.update(t.metrics)
            row["reason"] = t.result.reason if t.result else None
            row["cost_s"] = t.result.cost_s if t.result else None
            rows.append(row)
        return pd.DataFrame(rows)

    def workdir(self, candidate: Candidate) -> Path | None:
        """Where the evaluator keeps this architecture's checkpoints."""
        if self.directory is None:
            return None
        return self.directory / "checkpoints" / candidate.arch.arch_id

    def trial(self, number: int) -> Trial:
        for t in self.trials():
            if t.number == number:
                return t
        raise NasforgeError(
            f"study {self.name!r} has no Trial#{number} "
            f"(it has {len(self.trials())} trials, numbered from 0)"
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
    ) -> ExportInfo:
        """Export a trial's trained network (default: the best) as module file, weights, ONNX.

        Returns the :class:`nasforge.export.ExportInfo` describing what was written. The default
        folder (``STUDY_DIR/best``) is replaced when exporting again.
        """
        import torch

        from nasforge.export import export_model

        chosen = self.best().trial if trial is None else self.trial(trial)
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
        """Run (or resume) the search until the budget is spent or the strategy is done."""
        try:
            if self.directory is None:
                return _Loop(self, callbacks).run()
            with StudyLock(self.directory):
                return _Loop(self, callbacks).run()
        finally:
            # Workers do not outlive a run; a fresh, equal executor is ready for the next one.
            executor = self.parts.executor
            executor.shutdown(wait=False)
            self.parts.executor = type(executor)(**executor.get_params())

    def request_stop(self) -> None:
        """Ask a running study (possibly in another process) to stop after its running trials."""
        self.store.add_event(self.record.id, "stop")

    def close(self) -> None:
        self.parts.executor.shutdown()
        self.store.close()


def _call(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is not None:
            method(*args)


class _Loop:
    """The state of one session of a study's loop (rebuilt from the store on resume)."""

    def __init__(self, study: Study, callbacks: Sequence[Any]) -> None:
        self.study = study
        self.callbacks = list(callbacks)
        self.spec = study.spec
        self.parts = study.parts
        self.store = study.store
        self.sid = study.record.id
        self.told = 0
        self.untold: dict[int, Trial | None] = {}  # number -> finished trial or None (running)
        self.pending: dict[Future[Result], Trial] = {}
        self.requeue: list[Trial] = []
        self.next_number = 0
        self.cost_s = 0.0
        self.elapsed_before = study.record.elapsed_s
        self.started = time.monotonic()
        self.workers = max(1, self.parts.executor.n_workers)

    # -- resume -----------------------------------------------------------------------------
    def _replay(self) -> None:
        """Rebuild the strategy from the stored asks and tells, and re-queue RUNNING trials."""
        trials = self.store.trials(self.sid)
        sources = self.store.trial_sources(self.sid)
        told = sorted((t for t in trials if t.tell_seq is not None), key=lambda t: t.tell_seq or 0)
        strategy = self.parts.strategy
        i = 0
        diverged = False
        for t in trials:
            if sources.get(t.number) != "strategy":
                continue
            while i < len(told) and i < t.asked_after:
                strategy.tell(told[i])
                i += 1
            proposal = strategy.ask(t.number)
            if proposal != t.candidate and not diverged:
                diverged = True
                log.warning(
                    "replaying the strategy diverged at %s: the code or configuration "
                    "changed since it ran; stored trials are kept as they are",
                    t.label,
                )
        for t in told[i:]:
            strategy.tell(t)
        self.told = len(told)
        self.next_number = len(trials)
        for t in trials:
            if t.result is not None:
                self.cost_s += t.result.cost_s
            if t.tell_seq is None:
                self.untold[t.number] = t if t.state.is_finished() else None
            if t.state is TrialState.RUNNING:
                self.requeue.append(t)
        if trials:
            log.info(
                "resumed %s: %d trials stored, %d to re-run",
                self.study.name,
                len(trials),
                len(self.requeue),
            )

    # -- telling ----------------------------------------------------------------------------
    def _tell(self, trial: Trial) -> None:
        self.parts.strategy.tell(trial)
        self.store.mark_told(self.sid, trial.number, self.told)
        self.told += 1
        del self.untold[trial.number]

    def _tell_ready(self, until: int | None = None) -> None:
        """Tell finished trials: in trial order when ordered (up to ``until`` tells)."""
        if not self.spec.ordered:
            for number in sorted(n for n, t in self.untold.items() if t is not None):
                trial = self.untold[number]
                if trial is not None:
                    self._tell(trial)
            return
        while self.untold and (until is None or self.told < until):
            first = min(self.untold)
            trial = self.untold[first]
            if trial is None:
                return
            self._tell(trial)

    def _may_ask(self, number: int) -> bool:
        if not self.spec.ordered:
            self._tell_ready()
            return True
        need = max(0, number - self.workers + 1)
        self._tell_ready(until=need)
        return self.told >= need

    # -- trials -----------------------------------------------------------------------------
    def _context(self, candidate: Candidate) -> EvalContext:
        workdir = self.study.workdir(candidate)
        return EvalContext(
            space=self.parts.space,
            task=self.parts.task,
            seed=derive_seed(self.spec.seed, candidate.arch.arch_id, candidate.fidelity or 0),
            time_limit_s=self.spec.trial_time_limit_s,
            workdir=str(workdir) if workdir else None,
        )

    def _submit(self, trial: Trial) -> None:
        limit = self.spec.trial_time_limit_s
        hard_limit = None if limit is None else limit * 1.1 + 2.0
        try:
            future = self.parts.executor.submit(
                run_evaluation,
                self.parts.evaluator,
                trial.candidate,
                self._context(trial.candidate),
                time_limit_s=hard_limit,
            )
        except Exception as exc:  # e.g. an unpicklable evaluator: fail this trial, go on
            self._finish(trial, Result.failed(f"could not start: {type(exc).__name__}: {exc}"))
            return
        self.pending[future] = trial

    def _finish(self, trial: Trial, result: Result) -> None:
        finished = self.store.finish_trial(self.sid, trial.number, result)
        self.cost_s += result.cost_s
        self.untold[trial.number] = finished
        self.store.update_study(self.sid, elapsed_s=self._elapsed())
        if finished.state is not TrialState.COMPLETE:
            log.info("%s %s: %s", finished.label, finished.state.value, result.reason)
        _call(self.callbacks, "on_trial_finished", self.study, finished)

    def _collect(self, future: Future[Result]) -> None:
        trial = self.pending.pop(future)
        try:
            result = future.result()
        except TrialTimeout as exc:
            result = Result.failed(str(exc), status=Status.TIMEOUT)
        except Exception as exc:
            result = Result.failed(f"{type(exc).__name__}: {exc}")
        self._finish(trial, result)

    def _new_trial(self) -> bool:
        """Ask for and start one new trial; False when no trial could be started now."""
        number = self.next_number
        if not self._may_ask(number):
            return False
        candidate = self.parts.strategy.ask(number)
        if candidate is None:
            self.study.stop_reason = "the strategy has nothing more to propose"
            return False
        trial = self.store.create_trial(self.sid, number, candidate, asked_after=self.told)
        self.next_number += 1
        self.untold[number] = None
        try:
            self.parts.space.validate(candidate.arch)
        except InvalidArchitectureError as exc:
            self._finish(trial, Result.failed(f"strategy proposed an invalid architecture: {exc}"))
            return True
        cached = self.store.find_complete(self.sid, candidate)
        if cached is not None and cached.result is not None and cached.number != number:
            reused = Result(
                metrics=cached.result.metrics,
                status=Status.OK,
                cost_s=0.0,
                info={"cached_from": cached.number},
            )
            self._finish(trial, reused)
            return True
        self._submit(trial)
        return True

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def _handle_events(self) -> None:
        for event in self.store.pending_events(self.sid):
            if event.kind == "stop":
                self.study.stop_reason = "stopped on request"
            self.store.mark_event_handled(event.id)

    def run(self) -> Study:
        self.parts.strategy.setup(self.parts.space, self.spec.objectives, self.spec.seed)
        if self.spec.warm_start is not None:
            self.parts.strategy.warm_start(prior_trials(self.spec))
        self._replay()
        self.study.stop_reason = None
        executor = self.parts.executor
        self.store.update_study(self.sid, status="running")
        _call(self.callbacks, "on_start", self.study)
        status = "interrupted"
        try:
            for trial in self.requeue:
                self.store.restart_trial(self.sid, trial.number)
            while True:
                self._handle_events()
                while self.requeue and executor.free_slots() > 0:
                    self._submit(self.requeue.pop(0))
                while (
                    self.study.stop_reason is None
                    and not self.requeue
                    and executor.free_slots() > 0
                ):
                    reason = self.spec.budget.exhausted(
                        self.next_number, self._elapsed(), self.cost_s
                    )
                    if reason:
                        self.study.stop_reason = reason
                    elif not self._new_trial():
                        break
                if not self.pending and not self.requeue:
                    if self.study.stop_reason is not None or not self._may_ask(self.next_number):
                        break
                    continue
                for future in executor.wait(list(self.pending), timeout=0.5):
                    self._collect(future)
            self._tell_ready()
            status = "finished"
        finally:
            # Study.run shuts the executor down, on success and failure alike.
            self.store.update_study(self.sid, status=status, elapsed_s=self._elapsed())
        _call(self.callbacks, "on_end", self.study, self.study.stop_reason or "done")
        return self.study


def prior_trials(spec: RunSpec) -> list[Trial]:
    """The best COMPLETE trials of ``spec.warm_start.study``, ranked by this study's objectives."""
    if spec.warm_start is None:
        return []
    db = Path(spec.warm_start.study) / DB_NAME
    if not db.is_file():
        raise ConfigError([Problem("warm_start.study", f"no study in {spec.warm_start.study} "
                                   f"(expected {db})", "give the folder of a finished study")])
    store = SQLiteStore(db)
    try:
        records = store.studies()
        trials = store.trials(records[0].id, states={TrialState.COMPLETE}) if records else []
    finally:
        store.close()
    feasible = [t for t in trials if score(t.metrics, spec.objectives) > -math.inf]
    feasible.sort(key=lambda t: (-score(t.metrics, spec.objectives), t.number))
    return feasible[: spec.warm_start.top]


def summary(study: Study) -> dict[str, Any]:
    """A JSON-able summary of a study: counts, the best trial and its metrics."""
    trials = study.trials()
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    record = study.store.get_study(study.name)
    data: dict[str, Any] = {
        "name": study.name,
        "trials": len(trials),
        "states": counts,
        "elapsed_s": record.elapsed_s if record else None,
        "objectives": [str(o) for o in study.spec.objectives],
    }
    try:
        best = study.best()
        data["best"] = {
            "number": best.number,
            "arch": best.arch.to_dict(),
            "arch_string": best.arch_string,
            "metrics": best.metrics,
        }
    except NasforgeError:
        data["best"] = None
    return json.loads(json.dumps(data))
