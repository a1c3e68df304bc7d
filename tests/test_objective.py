"""Ranking finished trials by the study's objectives."""

from __future__ import annotations

from nasforge.architecture import Architecture
from nasforge.objective import Objective, rank
from nasforge.trial import Candidate, Result, Status, Trial, TrialState


def trial(number: int, state: TrialState = TrialState.COMPLETE, **metrics: float) -> Trial:
    status = Status.OK if state is TrialState.COMPLETE else Status.FAILED
    result = Result(metrics=metrics, status=status, reason=None if status is Status.OK else "x")
    return Trial(0, number, Candidate(Architecture({"d": number})), state, result)


def test_rank_puts_the_best_first_and_ties_to_the_earlier_trial() -> None:
    trials = [trial(0, acc=90), trial(1, acc=95), trial(2, acc=95), trial(3, acc=80)]
    ranked = rank(trials, [Objective(metric="acc", direction="max")])
    assert [t.number for t in ranked] == [1, 2, 0, 3]


def test_rank_minimises_and_leaves_out_failed_and_infeasible_trials() -> None:
    objectives = [Objective(metric="loss", direction="min"),
                  Objective(metric="params", direction="min", limit=100)]
    trials = [trial(0, loss=0.5, params=50), trial(1, loss=0.1, params=500),
              trial(2, TrialState.FAILED), trial(3, loss=0.3, params=90)]
    assert [t.number for t in rank(trials, objectives)] == [3, 0]
