"""Which choices matter: fANOVA ranking via Optuna, and marginal means with their error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasforge.report.importance import importances, marginal_effects
from nasforge.run.study import Study
from nasforge.trial import TrialState


def test_marginal_effects_are_the_mean_and_standard_error_per_choice(
    failing_study: Study,
) -> None:
    trials = failing_study.trials()
    effects = marginal_effects(failing_study, trials)
    usable = [t for t in trials if t.state is TrialState.COMPLETE and t.violation is None]
    for e in effects:
        values = np.array([t.metrics["val_accuracy"] for t in usable if t.arch[e.decision] ==
                           e.option])
        assert e.n == values.size and e.mean == pytest.approx(values.mean())
        if values.size > 1:
            assert e.sem == pytest.approx(values.std(ddof=1) / math.sqrt(values.size))
            assert e.low < e.mean < e.high or e.sem == 0
    # The loop scores 20 + 15*d0 + 5*d1: d0's means climb by 15 per option.
    d0 = {e.option: e.mean for e in effects if e.decision == "d0"}
    assert d0[3] - d0[2] == pytest.approx(15.0)


def test_fanova_ranks_the_decision_that_drives_the_objective_first(
    failing_study: Study,
) -> None:
    pytest.importorskip("optuna")
    found = importances(failing_study, failing_study.trials(), seed=0)
    assert found[0].decision == "d0"
    assert sum(i.importance for i in found) == pytest.approx(1.0)
    # Same seed, same ranking.
    assert found == importances(failing_study, failing_study.trials(), seed=0)


def test_too_few_trials_give_no_ranking(failing_study: Study) -> None:
    assert importances(failing_study, failing_study.trials()[:2]) == []
