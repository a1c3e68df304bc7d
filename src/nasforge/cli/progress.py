"""A Rich progress bar that follows a running study (a study callback)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nasforge.trial import Trial, TrialState

if TYPE_CHECKING:
    from nasforge.run.study import Study


class ProgressBar:
    """Trials done out of the budget, the best score so far and the failure count."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task: TaskID | None = None
        self.best = -math.inf
        self.failed = 0

    def _status(self, study: Study) -> str:
        objective = study.spec.objectives[0]
        best = "—" if self.best == -math.inf else f"{abs(self.best):.4g}"
        failed = f" · [red]{self.failed} failed[/]" if self.failed else ""
        return f"best {objective.metric} {best}{failed}"

    def on_start(self, study: Study) -> None:
        done = [t for t in study.trials() if t.state.is_finished() and t.is_search]
        for t in done:
            self._count(study, t)
        total = study.spec.budget.trials
        self.progress.start()
        self.task = self.progress.add_task(
            study.name, total=total, completed=len(done), status=self._status(study)
        )

    def _count(self, study: Study, trial: Trial) -> None:
        if trial.state is TrialState.COMPLETE:
            self.best = max(self.best, study.score(trial))
        else:
            self.failed += 1

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        if not trial.is_search:  # a one-shot search or a retrained seed: not in the trial budget
            return
        self._count(study, trial)
        if self.task is not None:
            self.progress.update(self.task, advance=1, status=self._status(study))

    def on_end(self, study: Study, reason: str) -> None:
        self.progress.stop()
        self.console.print(f"[dim]search ended: {escape(reason)}[/]")
