"""The study loop: one trial's step, and the scheduling that keeps every worker busy.

One trial's path, and nothing else holds trial state::

    strategy.ask(n) -> store.create_trial (RUNNING) -> cheap metrics and constraints
    -> executor.submit(evaluate) -> (reports -> store.add_curve_values, pruner) -> Result
    -> store.finish_trial (COMPLETE/FAILED/TIMEOUT/PRUNED/INFEASIBLE) -> strategy.tell(trial)

Constraints (:class:`~nasforge.objective.Constraint`) on metrics known before training
(:meth:`~nasforge.evaluate.Evaluator.cheap_metrics`: params, FLOPs) are checked on the driver
before a candidate is submitted: one that breaks a bound is finished INFEASIBLE at once, with the
broken bound as its reason and the cheap metrics as its metrics, and is never trained (the cheap
metrics are also computed, and added to results, when an objective names one that the evaluator
does not report). The other
constraints are checked on the trained result: a breaking trial is stored COMPLETE with the
broken bound in ``info["violated"]`` (strategies score it like a failure; it never ranks). An
infeasible trial counts as a trial of the budget. When ``max_consecutive_failures`` infeasible
trials finish before any feasible one, the study stops with the constraints named.

Strategies steer away from the infeasible region: ``strategy.setup`` gets the constraints and a
feasibility check (:meth:`Loop.cheap_violation`, the same check of the same cheap metrics, whose
values are remembered per architecture), so constraint-aware strategies rarely ask a candidate
that would be stored INFEASIBLE (see :mod:`nasforge.strategy.base`).

Each evaluation gets a reporter (:mod:`nasforge.run.reports`): its reports reach a thread of
this process, which stores them and asks the study's pruner (:mod:`nasforge.run.curves`).

Every turn of the scheduling loop reads steering events, checks the budget, fills the executor's
free slots and waits at most :data:`POLL_S` for a result, so a budget or a stop request is seen
within that time even while every worker is busy. A loop that can make no progress (no free
worker, nothing running) is an executor failure and stops the study with
:class:`ExecutorBrokenError`, never a spin. Steering events (:mod:`nasforge.run.steering`) are
applied there too: while paused no trial starts, and the strategy is asked through
:class:`~nasforge.run.steering.Steering`, which gives it the restricted space and puts injected
architectures first.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from nasforge.errors import InvalidArchitectureError, NasforgeError, TrialTimeout
from nasforge.evaluate.base import EvalContext, run_evaluation
from nasforge.execute.base import ExecutorShutdownError, WorkerCrashedError
from nasforge.execute.resources import requested_resources
from nasforge.objective import violation
from nasforge.rng import derive_seed
from nasforge.run.curves import CurveBook
from nasforge.run.reports import ReportServer
from nasforge.run.resume import replay
from nasforge.run.spec import Budget
from nasforge.run.steering import Steering
from nasforge.run.tell_policy import tell_policy
from nasforge.store.base import EventKind, StoreWriteError
from nasforge.trial import VIOLATED, Result, Status, Trial, TrialState

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.run.study import Study

log = logging.getLogger(__name__)

POLL_S = 0.5
"""The longest the loop waits for a result before it looks at the budget and events again."""

_FAILED = (TrialState.FAILED, TrialState.TIMEOUT)
_SESSION_KINDS = (EventKind.STOP, EventKind.PAUSE, EventKind.RESUME)
_ARCH_IN_REASON = re.compile(r"\{[^{}]*\}")


class ExecutorBrokenError(NasforgeError, RuntimeError):
    """The executor can run no more trials (its workers cannot start, or it was shut down).

    Trials it was running stay RUNNING in the store, so a resume runs them again.
    """


def call_hook(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    """Call ``hook`` on every callback that has it (callback methods are all optional)."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


def commonest_reasons(trials: Sequence[Trial], n: int = 3) -> str:
    """The ``n`` most frequent failure reasons among ``trials``, as ``"3× reason; 1× other"``.

    Architectures quoted in a reason (``{...}``) are elided, so failures that differ only in
    the architecture count as one reason.
    """
    counts = Counter(
        _ARCH_IN_REASON.sub("{…}", (t.result.reason if t.result else None) or t.state.value)
        for t in trials
        if t.state in _FAILED
    )
    return "; ".join(f"{count}× {reason}" for reason, count in counts.most_common(n))


def _broken_bound(reason: str) -> str:
    """The bound in a violation ("params = 2e5 breaks params <= 1e5" -> "params <= 1e5")."""
    return reason.rpartition(" breaks ")[2] if " breaks " in reason else reason


def commonest_violations(trials: Sequence[Trial], n: int = 3) -> str:
    """The ``n`` constraints ``trials`` broke most often, as ``"7× params <= 1e+05; 3× ..."``."""
    counts = Counter(_broken_bound(t.violation) for t in trials if t.violation is not None)
    return "; ".join(f"{count}× {bound}" for bound, count in counts.most_common(n))


class Loop:
    """One session of a study's loop; its state is rebuilt from the store on resume."""

    def __init__(self, study: Study, callbacks: Sequence[Any]) -> None:
        self.study = study
        self.callbacks = list(callbacks)
        self.spec = study.spec
        self.parts = study.parts
        self.store = study.store
        self.sid = study.record.id
        self.policy = tell_policy(
            reproducible=self.spec.reproducible, n_workers=self.parts.executor.n_workers
        )
        self.told = 0
        self.untold: dict[int, Trial | None] = {}  # number -> finished trial, None while running
        self.pending: dict[Future[Result], Trial] = {}
        self.rerun: list[Trial] = []
        self.next_number = 0
        self.n_other = 0  # stored trials the strategy did not ask (retrained seeds): not budget
        self.cost_s = 0.0
        self.failure_streak = 0
        self.n_judged = 0  # finished trials the failure-rate guard counts (not infeasible)
        self.n_failed = 0  # of those, FAILED or TIMEOUT
        self.constraints = list(self.spec.constraints)
        evaluator = self.parts.evaluator
        cheap = set(evaluator.cheap_metric_names())
        self.cheap_constraints = [c for c in self.constraints if c.metric in cheap]
        # Objectives on a cheap metric the evaluator does not report itself (params of a
        # user's own loop, predicted_latency_ms) take it from the cheap metrics too.
        reported = set(evaluator.metrics_for(self.parts.task))
        self.cheap_names = evaluator.cheap_metrics_wanted(
            [*(c.metric for c in self.cheap_constraints),
             *(o.metric for o in self.spec.objectives if o.metric not in reported)])
        self.needs_cheap = bool(self.cheap_names)
        self.cheap_values: dict[int, dict[str, float]] = {}  # number -> cheap metrics
        # arch -> its cheap metrics: deterministic, shared by the strategy's feasibility check
        # and the check before training
        self.cheap_cache: dict[Architecture, dict[str, float]] = {}
        self.has_feasible = False
        self.n_infeasible = 0  # infeasible trials while none was feasible
        self.curves = CurveBook(
            study.store,
            self.sid,
            self.parts.pruner,
            self.spec.objectives[0],
            reproducible=self.spec.reproducible,
        )
        self.reports: ReportServer | None = None
        # pause/resume/stop, forbids and pins, injections, budget changes (between trials)
        self.steering = Steering(study.store, self.sid, self.parts.space, self.parts.strategy,
                                 self.spec.seed)
        record = study.store.get_study(study.name)  # not study.record: an earlier run moved on
        self.elapsed_before = record.elapsed_s if record is not None else 0.0
        # The executor's clock: real time, or the simulated executor's virtual clock.
        self.started = self.parts.executor.now()
        self.started_wall = time.time()

    # -- telling ----------------------------------------------------------------------------
    def _tell(self, trial: Trial) -> None:
        self.steering.tell(trial)
        self.store.mark_told(self.sid, trial.number, self.told)
        self.curves.told(trial.number, self.told)
        self.told += 1
        del self.untold[trial.number]

    def _tell_stored(self, quota: int | None) -> None:
        """Tell stored results: every one (``quota=None``), or in trial order up to ``quota``."""
        if quota is None:
            finished = [t for t in self.untold.values() if t is not None]
            for trial in sorted(finished, key=lambda t: t.number):
                self._tell(trial)
            return
        while self.told < quota and self.untold:
            first = self.untold[min(self.untold)]
            if first is None:
                return
            self._tell(first)

    def _tell_before_ask(self, number: int) -> bool:
        """Tell what trial ``number`` must be asked after; False while that is still running."""
        quota = self.policy.quota(number - self.n_other)  # its place among the search's trials
        self._tell_stored(quota)
        return quota is None or self.told >= quota

    # -- one trial --------------------------------------------------------------------------
    def _context(self, trial: Trial) -> EvalContext:
        candidate = trial.candidate
        workdir = self.study.workdir(candidate)
        return EvalContext(
            space=self.parts.space,
            task=self.parts.task,
            # One seed per architecture whatever its fidelity, so a promotion continues from
            # the lower rung's checkpoint (its key holds the seed); the 0 keeps the seeds that
            # trials without a fidelity always had.
            seed=derive_seed(self.spec.seed, candidate.arch.arch_id, 0),
            time_limit_s=self.spec.trial_time_limit_s,
            workdir=str(workdir) if workdir else None,
            reporter=None if self.reports is None else self.reports.reporter(trial.number),
            number=trial.number,
            energy=None if self.spec.energy is None else self.spec.energy.settings(),
        )

    def _submit(self, trial: Trial) -> None:
        limit = self.spec.trial_time_limit_s
        hard_limit = None if limit is None else limit * 1.1 + 2.0
        memory = self.spec.trial_memory_limit_gb  # passed only when set: executors of plugins
        limits = {} if memory is None else {"memory_limit_gb": memory}  # may not know it
        executor = self.parts.executor
        try:
            future = executor.submit(
                run_evaluation,
                self.parts.evaluator,
                trial.candidate,
                self._context(trial),
                time_limit_s=hard_limit,
                **limits,
            )
        except (ExecutorShutdownError, WorkerCrashedError) as exc:
            # The trial never ran: it stays RUNNING, and a resume runs it.
            raise ExecutorBrokenError(
                f"the {executor.name} executor cannot start {trial.label}: {exc}"
            ) from None
        except Exception as exc:  # e.g. an unpicklable evaluator: fail this trial, go on
            self._finish(trial, Result.failed(f"could not start: {type(exc).__name__}: {exc}"))
            return
        self.pending[future] = trial

    def _checked(self, number: int, result: Result) -> Result:
        """An OK result with the cheap metrics it lacks added and, when it breaks a
        constraint, the broken bound in ``info["violated"]``."""
        cheap = self.cheap_values.pop(number, {})
        if not result.ok or not (self.constraints or cheap):
            return result
        metrics = {**cheap, **result.metrics}
        why = violation(metrics, self.constraints)
        if why is None and len(metrics) == len(result.metrics):
            return result
        info = dict(result.info) if why is None else {**result.info, VIOLATED: why}
        return Result(metrics=metrics, status=result.status, reason=result.reason,
                      cost_s=result.cost_s, info=info)

    def _finish(self, trial: Trial, result: Result) -> None:
        result = self._checked(trial.number, self.curves.pruned_result(trial.number, result))
        finished = self.store.finish_trial(self.sid, trial.number, result)
        self.curves.finished(finished)
        self.cost_s += result.cost_s
        self.untold[trial.number] = finished
        self.store.update_study(self.sid, elapsed_s=self._elapsed())
        if finished.state is not TrialState.COMPLETE:
            log.info("%s %s: %s", finished.label, finished.state.value, result.reason)
        elif finished.violation is not None:
            log.info("%s is infeasible: %s", finished.label, finished.violation)
        self._count_failure(finished)
        self._count_infeasible(finished)
        if self.policy.tells_on_arrival:
            self._tell(finished)
        call_hook(self.callbacks, "on_trial_finished", self.study, finished)

    def _count_failure(self, trial: Trial) -> None:
        if trial.state is TrialState.INFEASIBLE:
            return  # neither a failure nor a success: the infeasibility guard counts it
        self.failure_streak = self.failure_streak + 1 if trial.state in _FAILED else 0
        self.n_judged += 1
        self.n_failed += trial.state in _FAILED
        self._check_failure_rate()
        limit = self.spec.max_consecutive_failures
        if limit is not None and self.failure_streak >= limit and self.study.failure is None:
            recent = self.store.trials(self.sid, states=set(_FAILED))[-limit:]
            self.study.failure = (
                f"stopped after {self.failure_streak} failed trials in a row "
                f"(max_consecutive_failures={limit}); commonest reasons: "
                f"{commonest_reasons(recent)}"
            )
            self.study.stop_reason = self.study.failure

    def _check_failure_rate(self) -> None:
        """Stop the study when more than ``max_failure_rate`` of its finished trials failed,
        once ``failure_rate_min_trials`` have finished: almost nothing works, so more trials
        would only repeat the failures."""
        rate, least = self.spec.max_failure_rate, self.spec.failure_rate_min_trials
        if rate is None or self.n_judged < least or self.study.failure is not None:
            return
        if self.n_failed <= rate * self.n_judged:
            return
        failed = self.store.trials(self.sid, states=set(_FAILED))
        self.study.failure = (
            f"stopped: {self.n_failed} of {self.n_judged} trials failed "
            f"({100 * self.n_failed / self.n_judged:.0f} % > max_failure_rate "
            f"{100 * rate:.0f} %); commonest reasons: {commonest_reasons(failed)}"
        )
        self.study.stop_reason = self.study.failure

    def _count_infeasible(self, trial: Trial) -> None:
        """Stop the study when ``max_consecutive_failures`` trials broke the constraints and
        none met them: the bounds, not the search, are wrong."""
        if trial.state is TrialState.COMPLETE and trial.violation is None:
            self.has_feasible = True
        if self.has_feasible or trial.violation is None:
            return
        self.n_infeasible += 1
        limit = self.spec.max_consecutive_failures
        if limit is not None and self.n_infeasible >= limit and self.study.failure is None:
            broken = [t for t in self.store.trials(self.sid) if t.violation is not None]
            bounds = ", ".join(str(c) for c in self.constraints)
            self.study.failure = (
                f"stopped after {self.n_infeasible} infeasible trials and no feasible one "
                f"(max_consecutive_failures={limit}); no candidate met the constraints "
                f"{bounds}: {commonest_violations(broken)}; widen or remove the bounds "
                "that were broken"
            )
            self.study.stop_reason = self.study.failure

    def _cheap_metrics(self, arch: Architecture) -> dict[str, float]:
        """The evaluator's metrics of ``arch`` known before training (remembered)."""
        cached = self.cheap_cache.get(arch)
        if cached is None:
            parts = self.parts
            cached = dict(parts.evaluator.cheap_metrics(parts.space, arch, parts.task,
                                                        names=self.cheap_names))
            self.cheap_cache[arch] = cached
        return cached

    def cheap_violation(self, arch: Architecture) -> str | None:
        """The strategies' feasibility check: the constraint known before training that
        ``arch`` breaks, ``None`` when it meets them all. Raises when the metrics cannot be
        computed (the strategy then counts ``arch`` as feasible, and this loop records the
        failure if it is asked)."""
        cheap = self._cheap_metrics(arch)
        return violation(cheap, [c for c in self.cheap_constraints if c.metric in cheap])

    def _infeasible_before_training(self, trial: Trial) -> Result | None:
        """The INFEASIBLE (or FAILED) result of a candidate whose cheap metrics break a
        constraint (or cannot be computed); ``None`` when it may be trained."""
        if not self.needs_cheap:
            return None
        try:
            cheap = self._cheap_metrics(trial.arch)
        except Exception as exc:
            return Result.failed(
                f"could not compute the metrics known before training: {type(exc).__name__}: "
                f"{exc}"
            )
        known = [c for c in self.cheap_constraints if c.metric in cheap]
        why = violation(cheap, known)
        if why is None:
            self.cheap_values[trial.number] = dict(cheap)
            return None
        return Result(metrics=dict(cheap), status=Status.INFEASIBLE, reason=why)

    def _collect(self, future: Future[Result]) -> None:
        trial = self.pending.pop(future)
        try:
            result = future.result()
        except TrialTimeout as exc:
            result = Result.failed(str(exc), status=Status.TIMEOUT)
        except (ExecutorShutdownError, WorkerCrashedError) as exc:
            broken = self.parts.executor.health()
            if broken is not None:
                self.pending[future] = trial  # left RUNNING for a resume to run again
                raise ExecutorBrokenError(
                    f"the {self.parts.executor.name} executor stopped working: {broken}"
                ) from None
            result = Result.failed(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            result = Result.failed(f"{type(exc).__name__}: {exc}")
        self._finish(trial, result)

    def _start_new_trial(self) -> bool:
        """Ask for one new trial and start it; False when none may be asked now."""
        number = self.next_number
        if not self._tell_before_ask(number):
            return False
        candidate = self.steering.ask(number)  # an injected one, or the strategy's
        if candidate is None:
            self.study.stop_reason = "the strategy has nothing more to propose"
            return False
        trial = self.store.create_trial(self.sid, number, candidate, asked_after=self.told,
                                        source=self.steering.source(number))
        self.curves.started(trial)
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
        infeasible = self._infeasible_before_training(trial)
        if infeasible is not None:
            self._finish(trial, infeasible)
            return True
        self._submit(trial)
        return True

    # -- scheduling -------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return self.elapsed_before + (self.parts.executor.now() - self.started)

    def _drop_stale_events(self) -> None:
        """Stops, pauses and resumes written while no session ran (a stop after the study
        ended, or one the killed process never read) were meant for a run that is over: they
        do not stop this one. Forbids, pins, injections and budget changes still apply."""
        for event in self.store.pending_events(self.sid):
            if event.created_at < self.started_wall and event.kind in _SESSION_KINDS:
                log.info("ignored a %s event written while the study was not running",
                         event.kind.value)
                self.store.mark_event_handled(event.id)

    def _read_events(self) -> None:
        self.steering.read(self.next_number)
        if self.steering.stop_requested:
            self.study.stop_reason = self.study.stop_reason or "stopped on request"
        budget = self.steering.take_budget()
        if budget is not None:
            # totals, as in the run spec; stored, so a resume keeps them
            new = Budget(**{**self.spec.budget.model_dump(), **budget})
            self.spec = self.spec.model_copy(update={"budget": new})
            self.study.spec = self.spec
            self.study._store_spec()
            log.info("budget changed by steering: %s", new)

    def _check_stop(self) -> None:
        """Read steering events and the budget: both are checked before every ask."""
        self._read_events()
        if self.study.stop_reason is None:
            self.study.stop_reason = self.spec.budget.exhausted(
                self.next_number - self.n_other, self._elapsed(), self.cost_s
            )

    def _collect_done(self) -> None:
        self._collect_all([f for f in self.pending if f.done()])

    def _collect_all(self, futures: Iterable[Future[Result]]) -> None:
        """Store every finished result; an executor failure is raised after the others are
        stored, so no finished trial has to run again on resume."""
        broken: ExecutorBrokenError | None = None
        for future in futures:
            try:
                self._collect(future)
            except ExecutorBrokenError as exc:
                broken = broken or exc
        if broken is not None:
            raise broken

    def _fill_free_slots(self) -> None:
        """Start trials while a worker is free (re-runs first), the budget lasts and the tell
        policy allows the next ask."""
        executor = self.parts.executor
        while executor.free_slots() > 0:
            self._collect_done()  # an inline executor's results are ready at once
            if self.rerun:
                self._submit(self.rerun.pop(0))
                continue
            self._check_stop()
            if self.study.stop_reason is not None or self.steering.paused:
                return
            if not self._start_new_trial():
                return

    def _restore(self) -> None:
        trials = self.store.trials(self.sid)
        self.steering.restore()  # the same restrictions and injections at the same trials
        state = replay(self.steering, trials)
        self.told, self.untold = state.told, state.untold
        self.next_number, self.cost_s = state.next_number, state.cost_s
        self.n_other = state.n_other
        trials = [t for t in trials if t.is_search]  # retrained seeds are not the search's
        if trials:
            self.curves.load(trials, self.store.curves(self.sid))
        self.has_feasible = any(
            t.state is TrialState.COMPLETE and t.violation is None for t in trials
        )
        self.n_infeasible = 0 if self.has_feasible else sum(
            t.violation is not None for t in trials
        )
        judged = [t for t in trials if t.state not in (TrialState.RUNNING, TrialState.INFEASIBLE)]
        self.n_judged = len(judged)
        self.n_failed = sum(t.state in _FAILED for t in judged)
        self.rerun = [self.store.restart_trial(self.sid, t.number) for t in state.rerun]
        for trial in self.rerun:
            self.curves.started(trial)
            # it passed the cheap constraints when first asked; its result still gets the
            # cheap metrics, which are deterministic
            self._infeasible_before_training(trial)
            log.info("re-running %s (attempt %d): it was running when the study stopped",
                     trial.label, trial.attempts)

    def run(self) -> None:
        """Run until the budget is spent, the strategy is done, a stop is asked, or the failure
        guard trips. Raises :class:`ExecutorBrokenError` when the executor stops working."""
        from nasforge.run.oneshot import restore_search, run_search
        from nasforge.run.study import prior_trials

        strategy = self.parts.strategy
        strategy.setup(self.parts.space, self.spec.objectives, self.spec.seed,
                       constraints=self.constraints,
                       feasible=self.cheap_violation if self.cheap_constraints else None,
                       task=self.parts.task)
        if self.spec.warm_start is not None:
            strategy.warm_start(prior_trials(self.spec))
        restore_search(self)  # one-shot: a finished search decides what is proposed
        self._restore()
        self.study.stop_reason = None
        self.study.failure = None
        # an unreachable cluster or resources no node has: a clear error before any trial runs
        self.parts.executor.prepare(self.study.directory,
                                    resources=requested_resources(self.parts.evaluator))
        self.store.update_study(self.sid, status="running")
        self._drop_stale_events()
        call_hook(self.callbacks, "on_start", self.study)
        status, ended = "interrupted", "interrupted"
        ended_cleanly = False
        try:
            self.reports = ReportServer(self.curves.report)
            # work every trial shares, once per run (the supernet evaluator trains its supernet)
            directory = self.study.directory
            self.parts.evaluator.prepare(self.parts.space, self.parts.task,
                                         None if directory is None else str(directory))
            run_search(self)  # one-shot: the search trial runs before the first ask
            while True:
                self._check_stop()
                self._fill_free_slots()
                if not self.pending:
                    if self.study.stop_reason is not None and not self.rerun:
                        break
                    if self.steering.paused:  # nothing runs; wait for resume or stop
                        time.sleep(POLL_S)
                        continue
                    executor = self.parts.executor
                    if executor.free_slots() == 0:
                        why = executor.health() or "it has no free worker and runs nothing"
                        raise ExecutorBrokenError(
                            f"the {executor.name} executor can run no trial: {why}"
                        )
                    # A free worker, nothing running, no stop: _fill_free_slots would have
                    # started a trial, so reaching here is a bug; never spin on it.
                    raise RuntimeError(f"the study loop made no progress (next ask "
                                       f"Trial#{self.next_number}, policy {self.policy})")
                self._collect_all(self.parts.executor.wait(list(self.pending), timeout=POLL_S))
            self._tell_stored(None)
            status = "failed" if self.study.failure else "finished"
            ended = self.study.stop_reason or "done"
            ended_cleanly = True
        except (ExecutorBrokenError, StoreWriteError) as exc:
            # StoreWriteError: the disk is full or read-only; the failed write was rolled back,
            # so the store is as before it and a resume carries on once the cause is gone
            status, ended = "failed", str(exc)
            raise
        finally:
            if self.reports is not None:
                self.reports.close()
                self.reports = None
            unwritten: StoreWriteError | None = None
            try:
                self.store.update_study(self.sid, status=status, elapsed_s=self._elapsed())
                self.study.record = self.store.get_study(self.study.name) or self.study.record
            except StoreWriteError as exc:  # the stored status stays 'running'; resume fixes it
                unwritten = exc
            # Progress bars and dashboards close whatever the ending, Ctrl-C included.
            call_hook(self.callbacks, "on_end", self.study, ended)
            if unwritten is not None:
                if ended_cleanly:
                    raise unwritten
                log.info("the study's final status was not stored: %s", unwritten)
