"""Multi-fidelity search: asynchronous successive halving, Hyperband and a BOHB-style variant.

The fidelity is the candidate's ``fidelity``: epochs, or a fraction of the training data in
(0, 1] with an evaluator that declares ``fidelity_kind == "data_fraction"`` (``train`` with
``fidelity: data_fraction``; give ``min_fidelity: 0.1, max_fidelity: 1.0`` or ``rungs: [0.1,
0.3, 1.0]``). A *rung* is one fidelity; an architecture
is first evaluated at the lowest rung of its bracket and *promoted* (asked again, same
architecture, next rung) when it ranks in the top ``1/eta`` of the results told at its rung. With
real training the evaluator continues a promoted architecture from its checkpoint, so a promotion
costs only the extra epochs; with a tabular benchmark it is one more lookup.

- :class:`SuccessiveHalving` (``successive_halving``) is ASHA, Li et al. 2020, "A System for
  Massively Parallel Hyperparameter Tuning", MLSys, https://arxiv.org/abs/1810.05934. Each ask
  promotes an architecture when one is eligible (the highest rung first, the best first);
  otherwise it starts a new, uniformly drawn architecture at the lowest rung. No worker ever waits
  for a rung to fill.
- :class:`Hyperband` (``hyperband``) is Hyperband, Li et al. 2018, "Hyperband: A Novel
  Bandit-Based Approach to Hyperparameter Optimization", JMLR, https://arxiv.org/abs/1603.06560,
  in the asynchronous form the ASHA paper describes: bracket ``b`` is an ASHA over the
  rungs from the ``b``-th on. New architectures go to the brackets in the order and proportions of
  one Hyperband iteration (``ceil(R / (R - b) * eta**(R - 1 - b))`` to bracket ``b``, with ``R``
  rungs), repeated; promotions are checked in every bracket first.
- :class:`BOHB` (``bohb``) is BOHB-style, Falkner, Klein & Hutter 2018, "BOHB: Robust and
  Efficient Hyperparameter Optimization at Scale", ICML, https://arxiv.org/abs/1807.01774: the
  asynchronous Hyperband above whose new architectures come from a TPE-like model instead of
  uniform draws, except a ``random_fraction`` of them. The model uses the highest rung with at
  least ``min_points`` results (pooled over brackets): the top ``top_fraction`` are "good", the
  rest "bad"; per decision, each gets a Laplace-smoothed categorical density. ``n_candidates``
  architectures are drawn from the good densities (widened by ``bandwidth``) and the unasked one
  with the largest good/bad ratio is asked.

Rules common to the three, and deviations:

- Rungs are given explicitly (``rungs=[12, 200]``: NAS-Bench-201's table has only those) or made
  geometric from the top: ``max_fidelity * eta**-k`` for ``k = s..0``, ``s = floor(log_eta(max /
  min))``, rounded to whole epochs, or for data fractions (a fractional ``min_fidelity``;
  ``max_fidelity`` then defaults to 1.0) to 4 decimals: ``0.1`` to ``1.0`` with ``eta=3`` gives
  0.1111, 0.3333, 1.0. The defaults (1 and 15) match ``TrainEvaluator``'s default
  ``epochs=15``: rungs 2, 5, 15. Pre-flight refuses rungs of the wrong kind for the evaluator
  (fractions with epochs, epochs with fractions) and rungs outside its declared range.
- A candidate is never asked twice at the same fidelity (the study would reuse the stored result
  at no cost, teaching nothing); new architectures are never asked before. Promotion marks an
  architecture at ask time, so with several workers it is not promoted twice.
- Failed, timed-out and pruned results score ``-inf``: they count in a rung's size but are never
  promoted.
- When a finite space has no unasked architecture left, the best unpromoted result of the highest
  rung below the top is promoted even if it is not in the top ``1/eta``; ``ask`` returns ``None``
  only when nothing is left to promote either.
- Warm start: the prior study's successful architectures (best first) are the first new
  architectures, each at the lowest rung of its bracket; BOHB also uses the prior results as its
  model until a rung of this study has ``min_points`` results.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.strategy._dedup import prior_archs
from nasforge.strategy._reinforce import decision_table, sample_table
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.evaluate.base import Evaluator
    from nasforge.space.base import SearchSpace
    from nasforge.trial import Trial

DEFAULT_MIN_FIDELITY = 1
DEFAULT_MAX_FIDELITY = 15
"""``TrainEvaluator``'s default ``epochs``: the top rung when neither rungs nor a maximum is set."""


def is_fraction(value: float | None) -> bool:
    """Whether a fidelity bound is a data fraction: a float in (0, 1] (``1`` as an int is an
    epoch)."""
    return isinstance(value, float) and 0 < value <= 1


def geometric_rungs(
    min_fidelity: float, max_fidelity: float, eta: int
) -> list[int] | list[float]:
    """Rungs ``max * eta**-k`` (``k = s..0``, ``s = floor(log_eta(max/min))``), rounded, unique.

    Whole epochs (rounded half up) unless either bound is a data fraction (a float in (0, 1]):
    then fractions rounded to 4 decimals, the top one exactly ``max_fidelity``.

    Example:
        >>> geometric_rungs(1, 27, 3), geometric_rungs(1, 15, 3), geometric_rungs(12, 200, 3)
        ([1, 3, 9, 27], [2, 5, 15], [22, 67, 200])
        >>> geometric_rungs(0.1, 1.0, 3)
        [0.1111, 0.3333, 1.0]
    """
    s = math.floor(math.log(max_fidelity / min_fidelity) / math.log(eta) + 1e-9)
    if is_fraction(min_fidelity) or is_fraction(max_fidelity):
        fractions: list[float] = []
        for k in range(s, -1, -1):
            value = max(float(min_fidelity), round(max_fidelity / eta**k, 4))
            if not fractions or value > fractions[-1]:
                fractions.append(float(max_fidelity) if k == 0 else value)
        return fractions
    rungs: list[int] = []
    for k in range(s, -1, -1):
        value = max(min_fidelity, math.floor(max_fidelity / eta**k + 0.5))  # half up
        if not rungs or value > rungs[-1]:
            rungs.append(int(value))
    return rungs


def fidelity_problems(
    strategy: Strategy, evaluator: Evaluator, fidelities: Sequence[float | None] = ()
) -> list[Problem]:
    """A multi-fidelity strategy's fidelities that ``evaluator`` cannot train, as problems.

    An evaluator without a fidelity ignores the fidelity it is asked for, so every rung would be
    the same full evaluation and the schedule would only waste trials. Otherwise each of
    ``fidelities`` (``None``: the evaluator's full budget) must be of the evaluator's
    :attr:`~nasforge.evaluate.base.Evaluator.fidelity_kind` (whole epochs, or data fractions in
    (0, 1]) and, where it declares ``min_fidelity``, within ``[min_fidelity, max_fidelity]``.
    """
    evaluator_name = evaluator.name or type(evaluator).__name__
    strategy_name = strategy.name or type(strategy).__name__
    if evaluator.max_fidelity is not None:
        return _kind_problems(strategy_name, evaluator, evaluator_name, fidelities)
    return [Problem(
        "strategy.name",
        f"{strategy.name or type(strategy).__name__} asks for fidelities (epochs), but the "
        f"evaluator {evaluator_name!r} has no fidelity (its max_fidelity is None) and would "
        "ignore them",
        "use an evaluator with a fidelity (e.g. train, or a table with several epochs), or a "
        "single-fidelity strategy (e.g. regularized_evolution, local_search, bananas)")]


def _kind_problems(
    strategy_name: str, evaluator: Evaluator, evaluator_name: str,
    fidelities: Sequence[float | None],
) -> list[Problem]:
    asked = [f for f in fidelities if f is not None]
    kind = evaluator.fidelity_kind
    if kind == "data_fraction":
        wrong = [f for f in asked if not 0 < f <= 1]
        if wrong:
            return [Problem(
                "strategy.rungs",
                f"{strategy_name} asks for fidelities {list(asked)!r}, but the evaluator "
                f"{evaluator_name!r} takes data fractions in (0, 1] (fidelity: data_fraction); "
                f"{wrong[0]!r} is not one",
                "give fractions, e.g. min_fidelity: 0.1, max_fidelity: 1.0 (or rungs: [0.1, 0.3, "
                "1.0]; mf_local_search: low_fidelity: 0.1), or set evaluator.fidelity: epochs")]
    elif kind == "epochs":
        wrong = [f for f in asked if isinstance(f, float) and not f.is_integer()]
        if wrong:
            return [Problem(
                "strategy.rungs",
                f"{strategy_name} asks for fidelities {list(asked)!r}, but the evaluator "
                f"{evaluator_name!r} takes whole epochs; {wrong[0]!r} is not one",
                "give whole epochs, or set evaluator.fidelity: data_fraction (train) to use "
                "fractions of the training data")]
    low, high = evaluator.min_fidelity, evaluator.max_fidelity
    if low is None or high is None:
        return []
    outside = [f for f in asked if not low <= f <= high]
    if not outside:
        return []
    unit = "data fraction" if kind == "data_fraction" else "epochs"
    return [Problem(
        "strategy.rungs",
        f"{strategy_name} asks for fidelity {outside[0]!r}, outside what the evaluator "
        f"{evaluator_name!r} trains ({unit} up to {high!r})",
        f"keep the strategy's top fidelity (max_fidelity, rungs, high_fidelity) at most {high!r}"
        + (", or raise evaluator.epochs" if kind == "epochs" else ""))]


def _rungs_problem(rungs: Sequence[float]) -> str | None:
    if not rungs:
        return "must list at least one fidelity; got []"
    if any(isinstance(r, bool) or not isinstance(r, int | float) for r in rungs):
        return f"fidelities must be numbers; got {list(rungs)!r}"
    if any(isinstance(r, float) and not r.is_integer() for r in rungs):
        if not all(0 < r <= 1 for r in rungs):
            return (f"fidelities must be whole epochs >= 1 or data fractions in (0, 1], not "
                    f"both; got {list(rungs)!r}")
    elif any(r < 1 for r in rungs):
        return f"fidelities must be ints >= 1 (or data fractions in (0, 1]); got {list(rungs)!r}"
    if any(b <= a for a, b in itertools.pairwise(rungs)):
        return f"fidelities must be strictly increasing; got {list(rungs)!r}"
    return None


class _Rung:
    """The results told at one rung of one bracket, and which of them were promoted."""

    def __init__(self) -> None:
        self.results: list[tuple[Architecture, float]] = []  # in tell order
        self.promoted: set[Architecture] = set()  # membership only, never iterated

    def ranked(self) -> list[tuple[Architecture, float]]:
        """Finite results, best first; ties in tell order (``sorted`` is stable)."""
        finite = [r for r in self.results if math.isfinite(r[1])]
        return sorted(finite, key=lambda r: -r[1])


class _MultiFidelity(Strategy):
    """Shared engine: brackets of asynchronous successive halving over ``rungs``."""

    learns_unasked = False  # a result joins the rung it was asked for

    rungs: list[int] | list[float] | None
    min_fidelity: int | float | None
    max_fidelity: int | float | None
    eta: int

    def _bounds(self) -> tuple[float, float]:
        """``(min_fidelity, max_fidelity)`` with defaults: 1 and 15 epochs, or a maximum of 1.0
        when ``min_fidelity`` is a data fraction."""
        low = DEFAULT_MIN_FIDELITY if self.min_fidelity is None else self.min_fidelity
        default_high = 1.0 if is_fraction(self.min_fidelity) else DEFAULT_MAX_FIDELITY
        high = default_high if self.max_fidelity is None else self.max_fidelity
        return low, high

    def _check_rungs(self) -> None:
        where = type(self).__name__
        if self.rungs is not None:
            if self.min_fidelity is not None or self.max_fidelity is not None:
                raise ConfigError(
                    [
                        Problem(
                            f"{where}.rungs",
                            "rungs and min_fidelity/max_fidelity were both given",
                            "give either rungs (e.g. [12, 200]) or min_fidelity and max_fidelity",
                        )
                    ]
                )
            problem = _rungs_problem(self.rungs)
            if problem:
                raise ConfigError([Problem(
                    f"{where}.rungs", problem,
                    "e.g. rungs: [12, 200] (epochs) or rungs: [0.1, 0.3, 1.0] (data fractions)",
                )])  # fmt: skip
            return
        low, high = self._bounds()
        if is_fraction(low) and high > 1:
            raise ConfigError([Problem(
                f"{where}.max_fidelity",
                f"min_fidelity {low!r} is a data fraction, so max_fidelity must be at most 1.0; "
                f"got {high!r}",
                "use max_fidelity: 1.0 (or leave it unset) with a fractional min_fidelity, or "
                "whole epochs for both",
            )])  # fmt: skip
        if low > high:
            raise ConfigError(
                [
                    Problem(
                        f"{where}.min_fidelity",
                        f"must be <= max_fidelity ({high}); got {low}",
                        f"use min_fidelity <= {high} or raise max_fidelity",
                    )
                ]
            )

    @property
    def fidelities(self) -> list[int] | list[float]:
        """The rungs in use, lowest first."""
        if self.rungs is not None:
            return list(self.rungs)
        low, high = self._bounds()
        return geometric_rungs(low, high, self.eta)

    def _n_brackets(self) -> int:
        return 1

    def preflight(self, space: SearchSpace, evaluator: Evaluator) -> list[Problem]:
        """Refuses an evaluator without a fidelity, and rungs of another kind than the
        evaluator's or outside its range (see :func:`fidelity_problems`)."""
        return fidelity_problems(self, evaluator, self.fidelities)

    def bracket_schedule(self) -> list[int]:
        """The bracket of each new architecture over one Hyperband iteration (then repeated)."""
        n_rungs = len(self.fidelities)
        schedule: list[int] = []
        for b in range(self._n_brackets()):
            n = math.ceil(n_rungs / (n_rungs - b) * self.eta ** (n_rungs - 1 - b))
            schedule.extend([b] * n)
        return schedule

    # -- state -----------------------------------------------------------------------------
    def _reset(self) -> None:
        self._rung_values = self.fidelities
        self._rung_of: dict[float | None, int] = {
            f: k for k, f in enumerate(self._rung_values)
        }
        self._schedule = self.bracket_schedule()
        n = len(self._rung_values)
        # _rungs[b][k]: bracket b (starting at rung b), rung k >= b.
        self._rungs = [[_Rung() for _ in range(n)] for _ in range(self._n_brackets())]
        self._bracket_of: dict[Architecture, int] = {}
        self._asked_pairs: set[tuple[Architecture, float]] = set()
        self._asked = self.asked_archs()
        self._n_new = 0
        self._prior: list[Architecture] = []

    def rung_results(self, rung: int, bracket: int = 0) -> list[tuple[Architecture, float]]:
        """The ``(architecture, score)`` results told at rung index ``rung`` of ``bracket``."""
        return list(self._rungs[bracket][rung].results)

    # -- ask -------------------------------------------------------------------------------
    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        promotion = self._promotion(strict=True)
        if promotion is not None:
            return promotion
        bracket = self._schedule[self._n_new % len(self._schedule)]
        arch = self._new_arch(rng, bracket)
        if arch is None:
            return self._promotion(strict=False)
        self._n_new += 1
        self._asked.add(arch)
        self._bracket_of[arch] = bracket
        return self._candidate(arch, bracket)

    def _candidate(self, arch: Architecture, rung: int) -> Candidate:
        fidelity = self._rung_values[rung]
        self._asked_pairs.add((arch, fidelity))
        return Candidate(arch, fidelity)

    def _promotion(self, *, strict: bool) -> Candidate | None:
        """Promote the best eligible result, highest rung first, then the lowest bracket.

        ``strict`` keeps ASHA's rule (top ``1/eta`` of the rung); otherwise any finite result.
        """
        top = len(self._rung_values) - 1
        for k in range(top - 1, -1, -1):
            for b in range(min(k, self._n_brackets() - 1) + 1):
                rung = self._rungs[b][k]
                ranked = rung.ranked()
                if strict:
                    ranked = ranked[: len(rung.results) // self.eta]
                for arch, _ in ranked:
                    if arch in rung.promoted:
                        continue
                    rung.promoted.add(arch)
                    if (arch, self._rung_values[k + 1]) in self._asked_pairs:
                        # Asked there already as a new architecture of a later bracket (a
                        # repeated draw, see AskedArchs.sample): nothing to ask.
                        continue
                    return self._candidate(arch, k + 1)
        return None

    def _new_arch(self, rng: np.random.Generator, bracket: int) -> Architecture | None:
        while self._prior:
            arch = self._prior.pop(0)
            if arch not in self._asked:
                return arch
        return self._asked.sample(rng)

    # -- tell ------------------------------------------------------------------------------
    def _tell(self, trial: Trial) -> None:
        arch = trial.arch
        k = self._rung_of[trial.candidate.fidelity]
        bracket = self._bracket_of[arch]
        if k < bracket:
            # A repeated draw (see AskedArchs.sample) moved the architecture to a later bracket
            # after this earlier ask: its result joins the first bracket.
            bracket = 0
        self._rungs[bracket][k].results.append((arch, self.score(trial)))

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """Ask the prior study's successful architectures first (best first, as scored here)."""
        self._prior = prior_archs(self.space, trials, self.score)


_ETA = Annotated[int, Field(ge=2)]
_FIDELITY = Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, le=1)] | None
"""Whole epochs >= 1, or a data fraction in (0, 1]."""
_RUNGS = list[int | float] | None
"""Whole epochs >= 1, or data fractions in (0, 1] (checked by ``_rungs_problem``)."""


@STRATEGIES.register("successive_halving")
class SuccessiveHalving(_MultiFidelity):
    """Asynchronous successive halving (ASHA) over epochs as the fidelity.

    Args:
        rungs: the fidelities (epochs or data fractions), increasing; e.g. ``[12, 200]`` for
            NAS-Bench-201's table, ``[0.1, 0.3, 1.0]`` with ``fidelity: data_fraction``.
        min_fidelity: the lowest rung when ``rungs`` is not given (default 1; a float in
            (0, 1] is a data fraction).
        max_fidelity: the top rung when ``rungs`` is not given (default 15, or 1.0 when
            ``min_fidelity`` is a data fraction).
        eta: reduction factor: the top ``1/eta`` of a rung is promoted.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.

    Example:
        >>> SuccessiveHalving(rungs=[12, 200]).fidelities
        [12, 200]
        >>> SuccessiveHalving(max_fidelity=27).fidelities
        [1, 3, 9, 27]
    """

    def __init__(
        self,
        *,
        rungs: _RUNGS = None,
        min_fidelity: _FIDELITY = None,
        max_fidelity: _FIDELITY = None,
        eta: _ETA = 3,
        constraint_aware: bool = True,
    ) -> None:
        self.rungs = rungs
        self.min_fidelity = min_fidelity
        self.max_fidelity = max_fidelity
        self.eta = eta
        self._check_rungs()
        self.constraint_aware = constraint_aware


def _check_brackets(where: str, brackets: int | None, n_rungs: int) -> None:
    if brackets is not None and brackets > n_rungs:
        raise ConfigError(
            [
                Problem(
                    f"{where}.brackets",
                    f"must be <= the number of rungs ({n_rungs}); got {brackets}",
                    f"use brackets <= {n_rungs} (or null for one per rung)",
                )
            ]
        )


@STRATEGIES.register("hyperband")
class Hyperband(_MultiFidelity):
    """Asynchronous Hyperband: ASHA brackets that start at successively higher rungs.

    Args:
        rungs: the fidelities (epochs or data fractions), increasing; e.g. ``[12, 200]`` for
            NAS-Bench-201's table, ``[0.1, 0.3, 1.0]`` with ``fidelity: data_fraction``.
        min_fidelity: the lowest rung when ``rungs`` is not given (default 1; a float in
            (0, 1] is a data fraction).
        max_fidelity: the top rung when ``rungs`` is not given (default 15, or 1.0 when
            ``min_fidelity`` is a data fraction).
        eta: reduction factor: the top ``1/eta`` of a rung is promoted.
        brackets: how many brackets (the first starts at the lowest rung); ``None``: one per rung.
            ``brackets=1`` is ASHA.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.

    Example:
        >>> Hyperband(min_fidelity=1, max_fidelity=9).bracket_schedule()
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]
    """

    def __init__(
        self,
        *,
        rungs: _RUNGS = None,
        min_fidelity: _FIDELITY = None,
        max_fidelity: _FIDELITY = None,
        eta: _ETA = 3,
        brackets: Annotated[int, Field(ge=1)] | None = None,
        constraint_aware: bool = True,
    ) -> None:
        self.rungs = rungs
        self.min_fidelity = min_fidelity
        self.max_fidelity = max_fidelity
        self.eta = eta
        self.brackets = brackets
        self._check_rungs()
        _check_brackets(type(self).__name__, brackets, len(self.fidelities))
        self.constraint_aware = constraint_aware

    def _n_brackets(self) -> int:
        return len(self.fidelities) if self.brackets is None else self.brackets


@STRATEGIES.register("bohb")
class BOHB(Hyperband):
    """BOHB-style: asynchronous Hyperband with new architectures from a TPE-like model.

    Args:
        rungs: the fidelities (epochs or data fractions), increasing; e.g. ``[12, 200]`` for
            NAS-Bench-201's table, ``[0.1, 0.3, 1.0]`` with ``fidelity: data_fraction``.
        min_fidelity: the lowest rung when ``rungs`` is not given (default 1; a float in
            (0, 1] is a data fraction).
        max_fidelity: the top rung when ``rungs`` is not given (default 15, or 1.0 when
            ``min_fidelity`` is a data fraction).
        eta: reduction factor: the top ``1/eta`` of a rung is promoted.
        brackets: how many brackets; ``None``: one per rung; ``1``: ASHA with the model.
        random_fraction: share of new architectures drawn uniformly (BOHB's default 1/3).
        top_fraction: share of a rung's results that make the "good" density.
        min_points: results a rung needs before the model uses it (``None``: decisions + 1).
        n_candidates: draws from the good density per new architecture.
        bandwidth: mixing weight of the uniform distribution into the good density when drawing
            candidates (BOHB's ``bandwidth_factor`` widens its kernels the same way).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        rungs: _RUNGS = None,
        min_fidelity: _FIDELITY = None,
        max_fidelity: _FIDELITY = None,
        eta: _ETA = 3,
        brackets: Annotated[int, Field(ge=1)] | None = None,
        random_fraction: Annotated[float, Field(ge=0, le=1)] = 1 / 3,
        top_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.15,
        min_points: Annotated[int, Field(ge=2)] | None = None,
        n_candidates: Annotated[int, Field(ge=1)] = 64,
        bandwidth: Annotated[float, Field(ge=0, le=1)] = 0.2,
        constraint_aware: bool = True,
    ) -> None:
        super().__init__(
            rungs=rungs, min_fidelity=min_fidelity, max_fidelity=max_fidelity, eta=eta,
            brackets=brackets,
            constraint_aware=constraint_aware,
        )
        self.random_fraction = random_fraction
        self.top_fraction = top_fraction
        self.min_points = min_points
        self.n_candidates = n_candidates
        self.bandwidth = bandwidth

    def _reset(self) -> None:
        super()._reset()
        self._table = decision_table(self.space)
        self._prior_results: list[tuple[Architecture, float]] = []

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """Ask the prior architectures first, and model on the prior results until rungs fill."""
        super().warm_start(trials)
        self._prior_results = [
            (t.arch, self.score(t))
            for t in trials
            if t.result is not None and t.result.ok and self.space.contains(t.arch)
        ]

    def _model_data(self) -> list[tuple[Architecture, float]] | None:
        """Finite results of the highest rung with ``min_points`` of them (pooled over brackets)."""
        need = len(self._table) + 1 if self.min_points is None else self.min_points
        for k in range(len(self._rung_values) - 1, -1, -1):
            data = [
                r
                for bracket in self._rungs
                for r in bracket[k].results
                if math.isfinite(r[1])
            ]
            if len(data) >= need:
                return data
        prior = [r for r in self._prior_results if math.isfinite(r[1])]
        return prior if len(prior) >= need else None

    def _densities(self, archs: Sequence[Architecture]) -> list[np.ndarray]:
        """Laplace-smoothed categorical densities per decision (inactive choices not counted)."""
        out = []
        for decision in self._table:
            counts = np.ones(len(decision.options))
            for arch in archs:
                if decision.name in arch:
                    index = decision.index(arch[decision.name])
                    if index is not None:
                        counts[index] += 1.0
            out.append(counts / counts.sum())
        return out

    def _new_arch(self, rng: np.random.Generator, bracket: int) -> Architecture | None:
        if self._prior and any(a not in self._asked for a in self._prior):
            return super()._new_arch(rng, bracket)
        data = self._model_data()
        if data is None or rng.random() < self.random_fraction:
            return super()._new_arch(rng, bracket)
        ranked = sorted(data, key=lambda r: -r[1])  # stable: ties in tell order
        n_good = max(1, math.ceil(self.top_fraction * len(ranked)))
        good = self._densities([a for a, _ in ranked[:n_good]])
        bad = self._densities([a for a, _ in ranked[n_good:]])
        wide = [
            (1.0 - self.bandwidth) * g + self.bandwidth / len(g) for g in good
        ]
        best: Architecture | None = None
        best_ratio = -math.inf
        for _ in range(self.n_candidates):
            arch = sample_table(self._table, wide, rng)
            if arch in self._asked or not self.space.contains(arch) or not self.is_feasible(arch):
                continue
            ratio = self._log_ratio(arch, good, bad)
            if ratio > best_ratio:
                best, best_ratio = arch, ratio
        return best if best is not None else super()._new_arch(rng, bracket)

    def _log_ratio(
        self, arch: Architecture, good: Sequence[np.ndarray], bad: Sequence[np.ndarray]
    ) -> float:
        total = 0.0
        for decision, g, b in zip(self._table, good, bad, strict=True):
            if decision.name in arch:  # the architecture holds its active decisions only
                index = decision.index(arch[decision.name])
                if index is not None:
                    total += math.log(g[index]) - math.log(b[index])
        return total


__all__ = ["BOHB", "Hyperband", "SuccessiveHalving", "fidelity_problems", "geometric_rungs"]
