"""Retraining and a noise-aware final pick: the chosen architectures trained again from scratch.

Training noise makes a search's ranking fluctuate (on MNIST-1D the rank agreement of candidates'
validation and test accuracy is only about 0.46), so the winner of one short run per architecture
is partly luck. :func:`retrain` trains each chosen architecture (``trial=N``, or the ``top`` K of
the search) from scratch with the study's task and evaluator but a longer schedule (``epochs``),
once per seed, and picks the winner by the **mean validation** score over its seeds (the
study's first objective; the test score is reported beside it and never used to pick, so it
stays an unbiased estimate). Each architecture gets its mean ± standard deviation and a 95 %
Student-t interval of the mean.

Each seed is a trial of its own (source ``retrain``, :class:`~nasforge.trial.TrialSource`),
recorded in the store before it runs and run by the study's executor, so a killed retrain
resumes like a search: completed seeds are never trained again, seeds left RUNNING are run
again, and asking for more seeds adds only the missing ones. Retrained seeds never reach the
strategy, the budget or ``best()``. The pick is written to ``retrain.json`` beside
``summary.json``.

A study whose evaluator looks results up (``nb201_table``) has nothing to train; its winners
can still be retrained on a real task with the ``task`` (and ``space``/``evaluator``)
overrides, e.g. ``nasforge retrain runs/nb201 --top 3 --task mnist1d --set space.dims=1``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, NasforgeError, Problem, TrialTimeout
from nasforge.evaluate.base import EvalContext, Evaluator, run_evaluation
from nasforge.execute.base import ExecutorShutdownError, WorkerCrashedError
from nasforge.rng import derive_seed
from nasforge.run.front import Front
from nasforge.run.lock import StudyLock
from nasforge.trial import Candidate, Result, Status, Trial, TrialSource, TrialState

if TYPE_CHECKING:
    from concurrent.futures import Future

    from nasforge.architecture import Architecture
    from nasforge.run.study import Study
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task

log = logging.getLogger(__name__)

RETRAIN_NAME = "retrain.json"
SETTINGS_NAME = "retrain_settings.json"
_POLL_S = 0.5
_SECTIONS = ("task", "space", "evaluator")


@dataclass(frozen=True)
class Spread:
    """One metric of one architecture over its seeds: mean ± std and a 95 % t interval.

    ``std`` (ddof 1) and the interval ``(low, high)`` are ``None`` with fewer than two seeds.
    With ``bounds`` (a percentage's 0 and 100) the interval is clipped to them: a t interval over
    few seeds is wide, and an accuracy above 100 % is not a possible value.
    """

    metric: str
    values: tuple[float, ...]
    mean: float
    std: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, metric: str, values: Sequence[float],
           bounds: tuple[float, float] | None = None) -> Spread:
        """The spread of ``values`` (at least one), its interval clipped to ``bounds``."""
        import numpy as np
        from scipy import stats

        arr = np.asarray(values, dtype=float)
        mean = float(arr.mean())
        if len(arr) < 2:
            return cls(metric, tuple(map(float, arr)), mean, None, None, None)
        std = float(arr.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(arr) - 1)) * std / math.sqrt(len(arr))
        low, high = mean - half, mean + half
        if bounds is not None:
            low, high = max(low, bounds[0]), min(high, bounds[1])
        return cls(metric, tuple(map(float, arr)), mean, std, low, high)

    def to_dict(self) -> dict[str, Any]:
        ci = None if self.low is None else [self.low, self.high]
        return {"mean": self.mean, "std": self.std, "ci95": ci, "n": len(self.values),
                "values": list(self.values)}


@dataclass(frozen=True)
class Retrained:
    """One retrained architecture: the search trial it came from and its seeds' trials."""

    arch: Architecture
    arch_string: str
    from_trial: int | None
    trials: tuple[int, ...]
    n_failed: int
    spreads: Mapping[str, Spread] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch.to_dict(), "arch_string": self.arch_string,
                "from_trial": self.from_trial, "trials": list(self.trials),
                "n_failed": self.n_failed,
                "metrics": {m: s.to_dict() for m, s in self.spreads.items()}}


@dataclass(frozen=True)
class RetrainReport:
    """What :func:`retrain` found: every architecture's spread and the pick.

    Attributes:
        metric: what the winner is picked by (the study's first objective, a validation
            metric), by its mean over seeds; ``direction`` says which way is better.
        test_metric: the test counterpart reported beside it (``None`` when there is none).
        winner: the architecture with the best mean ``metric``; ``None`` when no seed completed.
        path: where ``retrain.json`` was written (``None`` for an in-memory study).
    """

    epochs: int
    seeds: int
    metric: str
    direction: str
    test_metric: str | None
    settings: Mapping[str, Any]
    architectures: tuple[Retrained, ...]
    winner: Retrained | None
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "seeds": self.seeds,
            "picked_by": f"mean {self.metric} over seeds ({self.direction}); "
                         f"{self.test_metric or 'the test score'} is reported, never used to pick",
            "metric": self.metric,
            "direction": self.direction,
            "test_metric": self.test_metric,
            "settings": dict(self.settings),
            "winner": None if self.winner is None else self.winner.to_dict(),
            "architectures": [a.to_dict() for a in self.architectures],
        }


# -- checks ---------------------------------------------------------------------------------
def _name(front: Front, name: str) -> str:
    return f"--{name}" if front is Front.CLI else name


def _count_problem(front: Front, name: str, value: Any) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        example = f"{_name(front, name)} 3" if front is Front.CLI else f"{name}=3"
        return Problem(_name(front, name), f"must be a whole number >= 1; got {value!r}",
                       f"e.g. {example}")
    return None


def _chosen(study: Study, trial: int | None, top: int | None, front: Front) -> list[Trial]:
    """The search trials to retrain: ``trial`` alone, or the ``top`` distinct architectures."""
    if trial is not None and top is not None:
        raise ConfigError([Problem(_name(front, "trial"), "give either a trial or top, not both",
                                   f"drop {_name(front, 'trial')} or {_name(front, 'top')}")])
    if trial is not None:
        trials = study.trials()
        found = next((t for t in trials if t.number == trial), None)
        if found is None:
            raise ConfigError([Problem(_name(front, "trial"), f"study {study.name!r} has no "
                                       f"Trial#{trial} (it has {len(trials)} trials, numbered "
                                       "from 0)", "pick a number `nasforge show` lists")])
        if found.state is not TrialState.COMPLETE:
            why = f": {found.result.reason}" if found.result and found.result.reason else ""
            raise ConfigError([Problem(_name(front, "trial"), f"{found.label} is "
                                       f"{found.state.value}{why}; only a completed trial has an "
                                       "architecture worth retraining",
                                       "pick a COMPLETE trial (`nasforge show` lists them)")])
        return [found]
    count = 3 if top is None else top
    chosen: dict[Architecture, Trial] = {}
    for t in study.ranked():
        chosen.setdefault(t.arch, t)
        if len(chosen) == count:
            break
    if not chosen:
        raise NasforgeError(f"study {study.name!r} has no completed, feasible trial to retrain; "
                            "run the search first (`nasforge resume` continues it)")
    return list(chosen.values())


# -- the retrain setting --------------------------------------------------------------------
@dataclass
class _Setting:
    """The task, space and evaluator the seeds are trained with, live and as spec sections."""

    sections: dict[str, Any]
    task: Task
    space: SearchSpace
    evaluator: Evaluator


def _lookup_problem(study: Study, evaluator: Evaluator, front: Front) -> Problem:
    name = study.spec.evaluator.name
    task = study.spec.task.name if study.spec.task is not None else "its own"
    if front is Front.CLI:
        how = ("retrain on a real task instead: --task mnist1d (the evaluator becomes 'train'; "
               "add --set space.dims=1 for a 1-D task), or --task/--evaluator of your own")
    else:
        how = ("retrain on a real task instead: task='mnist1d' (the evaluator becomes 'train'; "
               "add space={'dims': 1} for a 1-D task), or task=/evaluator= of your own")
    if evaluator.default_task() is not None:
        what = (f"the study's evaluator {name!r} looks results up in a table (task {task!r} "
                "holds no training data), so there is nothing to train")
    else:
        what = (f"the study's evaluator {name!r} has no 'epochs' parameter, so retrain cannot "
                "give it a longer schedule")
    return Problem(_name(front, "evaluator"), what, how)


def _setting(
    study: Study,
    epochs: int | None,
    changes: Mapping[str, Any],
    front: Front,
) -> tuple[_Setting, int]:
    """The retrain's task, space and evaluator (the study's, with ``changes``), and its epochs."""
    from nasforge.run.parts import registries
    from nasforge.run.spec import ComponentSpec

    spec = study.spec
    sections: dict[str, Any] = {}
    for key in _SECTIONS:
        section = getattr(spec, key)
        sections[key] = None if section is None else section.to_yaml_dict()
    evaluator_given = changes.get("evaluator") is not None
    for key in _SECTIONS:
        value = changes.get(key)
        if value is None:
            continue
        if key == "space" and isinstance(value, Mapping) and "name" not in value:
            value = {**(sections["space"] or {}), **value}  # new parameters of the same space
        sections[key] = ComponentSpec.model_validate(value).to_yaml_dict()
    built: dict[str, Any] = {}
    problems: list[Problem] = []
    reg = registries()
    for key in ("space", "evaluator"):
        section = ComponentSpec.model_validate(sections[key])
        try:
            built[key] = reg[key].create(section.name, section.params, field=key)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    evaluator: Evaluator = built["evaluator"]
    if "epochs" not in evaluator.get_params():
        if changes.get("task") is None or evaluator_given:
            raise ConfigError([_lookup_problem(study, evaluator, front)])
        # a table study retrained on a real task: train there, with the default settings
        sections["evaluator"] = {"name": "train"}
        evaluator = reg["evaluator"].create("train", {}, field="evaluator")
    params = dict(evaluator.get_params())
    chosen_epochs = int(params["epochs"]) if epochs is None else epochs
    params["epochs"] = chosen_epochs
    if "fidelity" in params:
        params["fidelity"] = "epochs"  # every seed trains on the whole training split
    sections["evaluator"] = {"name": evaluator.name, **params}
    evaluator = reg["evaluator"].create(evaluator.name, params, field="evaluator")
    task: Task = study.parts.task
    if changes.get("task") is not None:
        section = ComponentSpec.model_validate(sections["task"])
        task = reg["task"].create(section.name, section.params, field="task")
    problems = evaluator.preflight(built["space"], task)
    if problems:
        raise ConfigError(problems)
    return _Setting(sections, task, built["space"], evaluator), chosen_epochs


def _settings_key(sections: Mapping[str, Any]) -> dict[str, Any]:
    """The sections that make seeds comparable: all but the number of epochs (the fidelity)."""
    evaluator = {k: v for k, v in (sections["evaluator"] or {}).items() if k != "epochs"}
    return json.loads(json.dumps({**sections, "evaluator": evaluator}, sort_keys=True,
                                 default=str))


_IN_MEMORY: dict[int, dict[str, Any]] = {}  # id(store) -> settings of an in-memory study


def _check_same_setting(study: Study, sections: Mapping[str, Any], front: Front) -> None:
    """Refuse a retrain whose task, space or evaluator differ from the study's earlier retrains
    (their seeds would be pooled with these); remember the setting of the first one."""
    key = _settings_key(sections)
    path = None if study.directory is None else study.directory / SETTINGS_NAME
    if path is not None and path.is_file():
        earlier = json.loads(path.read_text())
    else:
        earlier = _IN_MEMORY.get(id(study.store))
    has_seeds = any(t.source is TrialSource.RETRAIN for t in study.trials())
    if earlier is not None and has_seeds and earlier != key:
        changed = [s for s in _SECTIONS if earlier.get(s) != key.get(s)]
        raise ConfigError([Problem(
            ", ".join(_name(front, s) for s in changed),
            f"this study's retrained seeds used "
            f"{', '.join(f'{s} {earlier.get(s)}' for s in changed)}; seeds trained with other "
            "settings would be pooled with them",
            "retrain with the same settings, or copy the study folder and retrain the copy",
        )])
    if path is not None:
        path.write_text(json.dumps(key, indent=2))
    else:
        _IN_MEMORY[id(study.store)] = key


# -- running the seeds ----------------------------------------------------------------------
def _seed_trials(
    study: Study, archs: Sequence[Architecture], epochs: int, seeds: int
) -> tuple[dict[Architecture, list[Trial]], set[int]]:
    """Every architecture's first ``seeds`` retrain trials at ``epochs``, creating the missing
    ones (RUNNING) in the store before anything runs, and the numbers of those created. A
    trial's seed index is its position among the retrain trials of its architecture and
    epochs, in number order."""
    sid = study.record.id
    existing: dict[Architecture, list[Trial]] = {a: [] for a in archs}
    trials = study.trials()
    for t in trials:
        same = t.candidate.fidelity == epochs and t.arch in existing
        if t.source is TrialSource.RETRAIN and same:
            existing[t.arch].append(t)
    number = len(trials)
    created: set[int] = set()
    for arch in archs:
        while len(existing[arch]) < seeds:
            made = study.store.create_trial(sid, number, Candidate(arch, epochs),
                                            asked_after=0, source=TrialSource.RETRAIN)
            existing[arch].append(made)
            created.add(number)
            number += 1
    return {a: ts[:seeds] for a, ts in existing.items()}, created


class _Runner:
    """Runs the seeds' trials on the study's executor, each stored when it ends."""

    def __init__(self, study: Study, setting: _Setting, callbacks: Sequence[Any]) -> None:
        self.study = study
        self.setting = setting
        self.callbacks = list(callbacks)
        self.pending: dict[Future[Result], tuple[Trial, int]] = {}

    def _context(self, trial: Trial, index: int) -> EvalContext:
        directory = self.study.directory
        workdir = None
        if directory is not None:
            workdir = directory / "retrain" / f"{trial.arch.arch_id}-e{trial.candidate.fidelity}"
            workdir = workdir / f"seed{index}"
        return EvalContext(
            space=self.setting.space,
            task=self.setting.task,
            seed=derive_seed(self.study.spec.seed, trial.arch.arch_id, "retrain", index),
            workdir=None if workdir is None else str(workdir),
            number=trial.number,
        )

    def _finish(self, trial: Trial, index: int, result: Result) -> None:
        info = {**result.info, "retrain": {"seed_index": index, "epochs": trial.candidate.fidelity}}
        result = Result(metrics=result.metrics, status=result.status, reason=result.reason,
                        cost_s=result.cost_s, info=info)
        finished = self.study.store.finish_trial(self.study.record.id, trial.number, result)
        if finished.state is not TrialState.COMPLETE:
            log.info("%s (retrain seed %d) %s: %s", finished.label, index,
                     finished.state.value, result.reason)
        _hook(self.callbacks, "on_trial_finished", self.study, finished)

    def _collect(self, future: Future[Result]) -> None:
        trial, index = self.pending.pop(future)
        try:
            result = future.result()
        except TrialTimeout as exc:
            result = Result.failed(str(exc), status=Status.TIMEOUT)
        except (ExecutorShutdownError, WorkerCrashedError) as exc:
            broken = self.study.parts.executor.health()
            if broken is not None:
                from nasforge.run.loop import ExecutorBrokenError

                raise ExecutorBrokenError(
                    f"the {self.study.parts.executor.name} executor stopped working: {broken}; "
                    "seeds it was running are kept and run again by the next retrain"
                ) from None
            result = Result.failed(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            result = Result.failed(f"{type(exc).__name__}: {exc}")
        self._finish(trial, index, result)

    def run(self, todo: list[tuple[Trial, int]]) -> None:
        executor = self.study.parts.executor
        queue = list(todo)
        while queue or self.pending:
            while queue and executor.free_slots() > 0:
                trial, index = queue.pop(0)
                try:
                    future = executor.submit(run_evaluation, self.setting.evaluator,
                                             trial.candidate, self._context(trial, index))
                except (ExecutorShutdownError, WorkerCrashedError) as exc:
                    from nasforge.run.loop import ExecutorBrokenError

                    raise ExecutorBrokenError(f"the {executor.name} executor cannot start "
                                              f"{trial.label}: {exc}") from None
                except Exception as exc:
                    self._finish(trial, index, Result.failed(
                        f"could not start: {type(exc).__name__}: {exc}"))
                    continue
                self.pending[future] = (trial, index)
                for done in [f for f in self.pending if f.done()]:  # inline: ready at once
                    self._collect(done)
            if self.pending:
                for done in executor.wait(list(self.pending), timeout=_POLL_S):
                    self._collect(done)


def _hook(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


# -- the report -----------------------------------------------------------------------------
def _test_metric(metric: str) -> str | None:
    return "test_" + metric[4:] if metric.startswith("val_") else None


def _report(
    study: Study,
    setting: _Setting,
    chosen: Sequence[Trial],
    seeded: Mapping[Architecture, Sequence[Trial]],
    epochs: int,
    seeds: int,
) -> RetrainReport:
    objective = study.spec.objectives[0]
    metric = objective.metric
    test = _test_metric(metric)
    by_number = {t.number: t for t in study.trials()}
    units = setting.evaluator.metric_units()
    rows = []
    for source in chosen:
        done = [by_number[t.number] for t in seeded[source.arch]]
        ok = [t for t in done if t.state is TrialState.COMPLETE and metric in t.metrics]
        spreads = {}
        for name in (metric, test):
            values = [t.metrics[name] for t in ok if name is not None and name in t.metrics]
            if name is not None and values:
                bounds = (0.0, 100.0) if units.get(name) == "%" else None
                spreads[name] = Spread.of(name, values, bounds)
        rows.append(Retrained(
            arch=source.arch,
            arch_string=setting.space.format(source.arch),
            from_trial=source.number if source.is_search else None,
            trials=tuple(t.number for t in done),
            n_failed=len(done) - len(ok),
            spreads=spreads,
        ))
    sign = 1.0 if objective.direction == "max" else -1.0
    scored = [r for r in rows if metric in r.spreads]
    winner = max(scored, key=lambda r: sign * r.spreads[metric].mean) if scored else None
    return RetrainReport(epochs=epochs, seeds=seeds, metric=metric,
                         direction=objective.direction, test_metric=test,
                         settings=setting.sections, architectures=tuple(rows), winner=winner)


def retrain(
    study: Study,
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
    """Retrain the chosen architectures from scratch, ``seeds`` times each, and pick by mean.

    Args:
        study: a stored (or in-memory) study with completed trials.
        trial: retrain this trial's architecture only.
        top: retrain the ``top`` best distinct architectures of the search (3 when neither
            ``trial`` nor ``top`` is given).
        epochs: the longer schedule (default: the study evaluator's own ``epochs``).
        seeds: how many seeds per architecture; seeds already trained are reused.
        task, space, evaluator: override the study's (a name or ``{name, **params}``; a
            ``space`` mapping without ``name`` changes parameters of the study's space, e.g.
            ``{"dims": 1}``). With a ``task`` override a lookup evaluator becomes ``train``.
        callbacks: objects with optional ``on_retrain_start(study, total, done)``,
            ``on_trial_finished(study, trial)`` and ``on_retrain_end(study)`` methods.
        front: the front door whose syntax messages use.

    Returns:
        The spreads and the pick (also written to ``STUDY_DIR/retrain.json``).

    Raises:
        ConfigError: a missing or unfinished ``trial``, ``top``/``seeds``/``epochs`` below 1,
            both ``trial`` and ``top``, a study with nothing to train, settings that differ from
            an earlier retrain of this study.
        StudyLockedError: another process runs the study.
    """
    problems = [p for p in (
        _count_problem(front, "seeds", seeds),
        None if top is None else _count_problem(front, "top", top),
        None if epochs is None else _count_problem(front, "epochs", epochs),
    ) if p is not None]
    if trial is not None and (isinstance(trial, bool) or not isinstance(trial, int)):
        problems.append(Problem(_name(front, "trial"), f"must be a trial number; got {trial!r}",
                                "pick a number `nasforge show` lists"))
    if problems:
        raise ConfigError(problems)
    chosen = _chosen(study, trial, top, front)
    changes = {"task": task, "space": space, "evaluator": evaluator}
    setting, n_epochs = _setting(study, epochs, changes, front)
    for t in chosen:
        setting.space.validate(t.arch)
    if study.directory is None:
        return _retrain_locked(study, setting, chosen, n_epochs, seeds, callbacks, front)
    with StudyLock(study.directory):
        return _retrain_locked(study, setting, chosen, n_epochs, seeds, callbacks, front)


def _retrain_locked(
    study: Study,
    setting: _Setting,
    chosen: Sequence[Trial],
    epochs: int,
    seeds: int,
    callbacks: Sequence[Any],
    front: Front,
) -> RetrainReport:
    _check_same_setting(study, setting.sections, front)
    seeded, created = _seed_trials(study, [t.arch for t in chosen], epochs, seeds)
    todo: list[tuple[Trial, int]] = []
    n_done = 0
    for trials in seeded.values():
        for index, t in enumerate(trials):
            if t.state is TrialState.RUNNING:
                if t.number not in created:  # left RUNNING by a retrain that was killed
                    t = study.store.restart_trial(study.record.id, t.number)
                    log.info("re-running %s (retrain seed %d, attempt %d)", t.label, index,
                             t.attempts)
                todo.append((t, index))
            else:
                n_done += 1
    _hook(callbacks, "on_retrain_start", study, n_done + len(todo), n_done)
    executor = study.parts.executor
    try:
        _Runner(study, setting, callbacks).run(todo)
    finally:
        executor.shutdown(wait=False)
        study.parts.executor = type(executor)(**executor.get_params())
        _hook(callbacks, "on_retrain_end", study)
    report = _report(study, setting, chosen, seeded, epochs, seeds)
    study.final_pick = report.to_dict()
    if study.directory is not None:
        path = study.directory / RETRAIN_NAME
        path.write_text(json.dumps(report.to_dict(), indent=2))
        report = RetrainReport(**{**report.__dict__, "path": path})
    return report


def final_pick(study: Study) -> dict[str, Any] | None:
    """The study's last retrain (``retrain.json``'s content), if it was retrained."""
    if study.final_pick is not None or study.directory is None:
        return study.final_pick
    path = study.directory / RETRAIN_NAME
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
