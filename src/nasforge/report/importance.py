"""Which choices matter: a functional-ANOVA importance ranking and per-choice marginal effects.

:func:`importances` is Optuna's fANOVA evaluator (Hutter et al., "An Efficient Approach for
Assessing Hyperparameter Importance", ICML 2014, https://proceedings.mlr.press/v32/hutter14.html;
``optuna.importance.FanovaImportanceEvaluator``, a random forest fitted to the trials) run on
the study as Optuna sees it (:mod:`nasforge.report.optuna_bridge`): the share of the first
objective's variance each decision explains, summing to 1.

:func:`marginal_effects` is the plain view beside it: for each option of each decision, the
mean objective of the feasible trials that used it, with its standard error and a normal 95 %
interval. Strategies sample good options more often, so these means are observational (an
option tried only with good cells looks good); fANOVA's forest accounts for the other decisions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nasforge.architecture import Value
from nasforge.objective import Objective, is_feasible_trial
from nasforge.report.data import decision_options
from nasforge.trial import Trial

if TYPE_CHECKING:
    from nasforge.run.study import Study

MIN_TRIALS = 4
"""Fewer feasible trials than this give no importance ranking (a forest of 3 points says
nothing)."""

MAX_TRIALS = 250
"""fANOVA is fitted on at most this many feasible trials, a seeded uniform sample of them:
Optuna's marginalisation grows much faster than the trials. On 12 decisions of 6 options and two
cores under a load of 12, 5,000 trials took 11 minutes, 400 took 29 s and 200 took 6 s."""


@dataclass(frozen=True)
class Importance:
    """One decision's fANOVA importance (a share of the objective's variance, 0-1)."""

    decision: str
    importance: float


@dataclass(frozen=True)
class MarginalEffect:
    """The first objective's mean over the feasible trials that chose ``option`` for
    ``decision``, with the standard error (``nan`` for one trial) and a 95 % interval."""

    decision: str
    option: Value
    n: int
    mean: float
    sem: float

    @property
    def low(self) -> float:
        return self.mean - 1.96 * self.sem if math.isfinite(self.sem) else self.mean

    @property
    def high(self) -> float:
        return self.mean + 1.96 * self.sem if math.isfinite(self.sem) else self.mean


def _usable(study: Study, trials: Sequence[Trial]) -> list[Trial]:
    spec = study.spec
    return [t for t in trials if t.is_search
            and is_feasible_trial(t, spec.objectives, spec.constraints)]


def marginal_effects(
    study: Study, trials: Sequence[Trial], objective: Objective | None = None
) -> list[MarginalEffect]:
    """Per decision (space order) and option (declaration order), the objective's mean with
    its uncertainty over the feasible search trials; options never tried are left out."""
    objective = objective or study.spec.objectives[0]
    usable = _usable(study, trials)
    values: dict[tuple[str, str], list[float]] = {}  # one pass: 50,000 trials stay quick
    for t in usable:
        score = t.metrics[objective.metric]
        for decision, option in t.arch.items():
            values.setdefault((decision, repr(option)), []).append(score)
    effects = []
    for decision, options in decision_options(study.parts.space, usable).items():
        for option in options:
            found = values.get((decision, repr(option)))
            if not found:
                continue
            array = np.asarray(found, dtype=float)
            sem = float(array.std(ddof=1) / math.sqrt(array.size)) if array.size > 1 \
                else math.nan
            effects.append(MarginalEffect(decision, option, int(array.size),
                                          float(array.mean()), sem))
    return effects


def importances(
    study: Study, trials: Sequence[Trial], *, seed: int = 0, objective: int = 0,
    n_trees: int = 32,
) -> list[Importance]:
    """The decisions ranked by fANOVA importance for objective number ``objective``
    (most important first), fitted on at most :data:`MAX_TRIALS` of the feasible search trials;
    ``[]`` with fewer than :data:`MIN_TRIALS` of them or when no decision took two values.
    ``n_trees``: the forest's size (Optuna's default is 64; 32 ranks the same on our tests'
    studies in half the time, which the end-of-search report pays every time).

    Raises:
        MissingDependencyError: optuna (the ``optuna`` extra) is not installed.
    """
    from nasforge.report.optuna_bridge import optuna_study

    usable = _usable(study, trials)
    varied = {d for d, opts in decision_options(study.parts.space, usable).items()
              if len({str(t.arch.get(d)) for t in usable}) > 1 and opts}
    if len(usable) < MIN_TRIALS or not varied:
        return []
    if len(usable) > MAX_TRIALS:
        chosen = np.random.default_rng(seed).choice(len(usable), MAX_TRIALS, replace=False)
        usable = [usable[i] for i in sorted(chosen)]
    import optuna

    target_study = optuna_study(study, usable)
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=n_trees, seed=seed)
    found = optuna.importance.get_param_importances(
        target_study, evaluator=evaluator, params=sorted(varied),
        target=lambda t: t.values[objective], normalize=True)
    return [Importance(name, float(value)) for name, value in found.items()]
