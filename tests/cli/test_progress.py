"""The search's progress bar counts the search's trials only (the trial budget's), not a one-shot
search trial or retrained seeds beside them."""

from __future__ import annotations

from types import SimpleNamespace

from nasforge.cli.progress import ProgressBar
from nasforge.trial import TrialSource, TrialState


def _trial(source: TrialSource, state: TrialState = TrialState.COMPLETE) -> SimpleNamespace:
    return SimpleNamespace(source=source, state=state,
                           is_search=source in (TrialSource.STRATEGY, TrialSource.INJECT))


def test_only_search_trials_advance_the_bar() -> None:
    bar = ProgressBar()
    study = SimpleNamespace(score=lambda trial: 1.0,
                            spec=SimpleNamespace(objectives=[SimpleNamespace(metric="m")]))
    bar.task = bar.progress.add_task("s", total=2, status="")
    for source in (TrialSource.ONESHOT, TrialSource.RETRAIN, TrialSource.STRATEGY):
        bar.on_trial_finished(study, _trial(source))  # type: ignore[arg-type]
    assert bar.progress.tasks[0].completed == 1
    bar.on_trial_finished(study, _trial(TrialSource.RETRAIN, TrialState.FAILED))  # type: ignore[arg-type]
    assert bar.failed == 0
