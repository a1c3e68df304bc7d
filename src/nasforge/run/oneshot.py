"""One-shot strategies in the study loop: the search trial, then the proposals as ordinary trials.

A study whose strategy is a :class:`~nasforge.strategy.oneshot.OneShotStrategy` first runs the
strategy's search as one trial of source ``oneshot`` (:class:`SearchEvaluator` on the study's
executor, like any evaluation: its workdir holds the search checkpoint, its reports, the
architecture weights of every epoch, are stored as its learning curve, its cost is the search's
CPU seconds and counts against a cost budget). Then the strategy proposes the architectures the
search derived, which the loop scores with the study's evaluator as ordinary trials: they rank,
show, report and export like those of a black-box search. The search trial never ranks and does
not count against a trial budget.

Resume: a COMPLETE search trial is handed to the strategy before the replay (so its proposals
replay exactly); a RUNNING one (the process was killed) is started again and continues from its
last checkpoint; a FAILED one (e.g. the training diverged) ends the study with its reason.

The loop calls :func:`restore_search` before it replays the stored trials and
:func:`run_search` before its first ask; both do nothing for other strategies.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar

from nasforge.errors import TrialTimeout
from nasforge.evaluate.base import EvalContext, Evaluator, run_evaluation
from nasforge.execute.base import ExecutorShutdownError, WorkerCrashedError
from nasforge.strategy.base import STRATEGIES
from nasforge.strategy.oneshot import SEARCH_METRICS, OneShotStrategy
from nasforge.trial import Candidate, Result, Status, Trial, TrialSource, TrialState

if TYPE_CHECKING:
    from nasforge.run.loop import Loop

log = logging.getLogger(__name__)


class SearchEvaluator(Evaluator):
    """The "evaluation" of a one-shot study's search trial: the strategy's whole search.

    It holds the strategy's name and settings (not the study's strategy object, which is bound
    to the loop), so it pickles to a worker process, where it rebuilds the strategy and runs
    :meth:`~nasforge.strategy.oneshot.OneShotStrategy.search` with the study's seed.
    """

    provides: ClassVar[tuple[str, ...]] = SEARCH_METRICS
    cheap: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, strategy: str, params: dict[str, Any], seed: int) -> None:
        self.strategy = strategy
        self.params = params
        self.seed = seed

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        built = STRATEGIES.create(self.strategy, self.params)
        assert isinstance(built, OneShotStrategy)  # only one-shot strategies get here
        return built.search(ctx, self.seed)


def search_trial(trials: list[Trial]) -> Trial | None:
    """The study's search trial (source ``oneshot``), if it has one."""
    return next((t for t in trials if t.source is TrialSource.ONESHOT), None)


def restore_search(loop: Loop) -> None:
    """Before the replay: hand a finished search trial to the strategy."""
    strategy = loop.parts.strategy
    if not isinstance(strategy, OneShotStrategy):
        return
    found = search_trial(loop.store.trials(loop.sid))
    if found is not None and found.state.is_finished():
        strategy.use_search(found)


def run_search(loop: Loop) -> None:
    """Before the first ask: run (or continue) the search trial unless it has finished, hand it
    to the strategy, and stop the study with the reason when the search failed."""
    strategy = loop.parts.strategy
    if not isinstance(strategy, OneShotStrategy):
        return
    if not strategy.has_searched:
        trials = loop.store.trials(loop.sid)
        found = search_trial(trials)
        if found is None:
            found = loop.store.create_trial(loop.sid, loop.next_number,
                                            strategy.search_candidate(), asked_after=0,
                                            source=TrialSource.ONESHOT)
            loop.next_number += 1
            loop.n_other += 1
        else:
            found = loop.store.restart_trial(loop.sid, found.number)
            log.info("continuing the one-shot search %s from its last checkpoint (attempt %d)",
                     found.label, found.attempts)
        strategy.use_search(_run(loop, found, strategy))
    if strategy.failure is not None and loop.study.failure is None:
        loop.study.failure = (f"{strategy.failure}; nothing was proposed (the search trial keeps "
                              "its reason and, where one was written, its last good checkpoint)")
        loop.study.stop_reason = loop.study.failure


def _run(loop: Loop, trial: Trial, strategy: OneShotStrategy) -> Trial:
    """Run the search trial on the executor, wait for it, store its result."""
    from nasforge.run.loop import POLL_S, ExecutorBrokenError

    loop.curves.started(trial)
    evaluator = SearchEvaluator(strategy=strategy.name, params=strategy.get_params(),
                                seed=loop.spec.seed)
    executor = loop.parts.executor
    limit = loop.spec.trial_time_limit_s
    try:
        future: Future[Result] = executor.submit(
            run_evaluation, evaluator, trial.candidate, loop._context(trial),
            time_limit_s=None if limit is None else limit * 1.1 + 2.0)
    except (ExecutorShutdownError, WorkerCrashedError) as exc:
        raise ExecutorBrokenError(
            f"the {executor.name} executor cannot start the one-shot search {trial.label}: {exc}"
        ) from None
    while not future.done():
        executor.wait([future], timeout=POLL_S)
    try:
        result = future.result()
    except TrialTimeout as exc:
        result = Result.failed(str(exc), status=Status.TIMEOUT)
    except (ExecutorShutdownError, WorkerCrashedError) as exc:
        broken = executor.health()
        if broken is not None:  # left RUNNING: a resume continues from the checkpoint
            raise ExecutorBrokenError(
                f"the {executor.name} executor stopped working: {broken}") from None
        result = Result.failed(f"{type(exc).__name__}: {exc}")
    finished = loop.store.finish_trial(loop.sid, trial.number, result)
    loop.curves.finished(finished)
    loop.cost_s += result.cost_s
    loop.store.update_study(loop.sid, elapsed_s=loop._elapsed())
    if finished.state is TrialState.COMPLETE:
        log.info("one-shot search %s done: %s", finished.label,
                 ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items())))
        if result.metrics.get("collapsed"):
            log.warning("the cell the one-shot search %s found has collapsed (no parametric "
                        "operation on any input-to-output path, or mostly skip/none); keep "
                        "strategy.collapse_guard on, or lower strategy.arch_lr", finished.label)
    else:
        log.warning("one-shot search %s %s: %s", finished.label, finished.state.value,
                    result.reason)
    from nasforge.run.loop import call_hook

    call_hook(loop.callbacks, "on_trial_finished", loop.study, finished)
    return finished
