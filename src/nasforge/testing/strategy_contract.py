"""`StrategyContract`: the tests every black-box strategy must pass, reusable by plugins.

Subclass it in a test module named ``test_*.py`` as ``Test…`` and provide a ``strategy_factory``
fixture returning a callable that makes a fresh, un-set-up strategy::

    import pytest
    from nasforge.testing.strategy_contract import StrategyContract

    class TestMyStrategy(StrategyContract):
        @pytest.fixture
        def strategy_factory(self):
            return lambda: MyStrategy(alpha=0.5)

Optional fixtures to override: ``beats_random`` (whether the strategy must find the toy optimum
far sooner than random search; default ``True``: set it ``False`` only for strategies that do not
optimise, such as random search itself), ``optimum_budget`` (the trials it has for that; default
:data:`DEFAULT_OPTIMUM_BUDGET`, at most :data:`MAX_OPTIMUM_BUDGET`) and ``unique_asks`` (whether
the strategy promises never to ask an architecture twice; default ``True``) and
``multi_objective`` (whether the strategy searches for a Pareto front, so that it must find part of
the front of a two-objective toy problem; default ``False``) and ``constraint_aware`` (whether the
strategy steers away from candidates the study's feasibility check rejects; default ``True``: set
it ``False`` for a strategy that can only leave them to the study's filter, such as the Optuna
wrapper).

Constraint-aware sampling is checked on :data:`CONSTRAINED_SPACE` under the constraint
:data:`COST_CONSTRAINT` (``params <= 24`` on :func:`toy_cost`, which
:data:`CONSTRAINED_INFEASIBLE_FRACTION`, 73%, of the space breaks): with the check
(:class:`ToyCostCheck`) a strategy may ask at most :data:`MAX_INFEASIBLE_ASKS` infeasible
candidates in :data:`CONSTRAINED_BUDGET` trials, asks the same with the same seed, and a replay
reproduces its asks; with its setting ``constraint_aware: false`` it asks markedly more.

Everything runs on :class:`~nasforge.testing.toys.ToySpace` with the toy score, in step (no
threads, no clocks), with the study loop's asynchronous interleaving simulated by
:class:`AsyncDriver`. :class:`RuledToySpace` adds a validity rule and isomorphic architectures,
to check that a strategy never asks an architecture that breaks a rule, nor (when it promises
unique asks) one isomorphic to an architecture it asked before.

Every strategy must also work in a study with two objectives (:data:`TWO_OBJECTIVES`:
the toy accuracy against :func:`toy_cost`, a cost that the toy optimum does not minimise): valid,
seeded asks that a replay reproduces. Single-objective strategies rank by the first objective.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pytest
from pydantic import Field

from nasforge import metrics
from nasforge.architecture import Architecture
from nasforge.objective import Constraint, Objective
from nasforge.pareto import pareto_set
from nasforge.space.rules import Rules
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.testing.toys import ToySpace, toy_optimum, toy_result, toy_score
from nasforge.trial import Candidate, Result, Status, Trial, TrialState

StrategyFactory = Callable[[], Strategy]

OBJECTIVES = [Objective(metric=metrics.VAL_ACCURACY, direction="max")]
"""The objective the contract optimises: the toy evaluator's ``val_accuracy``."""

OPTIMUM_SPACE = ToySpace(n_decisions=7, n_options=3)
"""The space of :meth:`StrategyContract.test_finds_toy_optimum`: ``3**7 = 2187`` architectures."""
OPTIMUM_SEEDS = (0, 1, 2)
"""The seeds of that test: the optimum must be found with each of them."""
DEFAULT_OPTIMUM_BUDGET = 128
"""Trials within which the optimum must be found, unless the ``optimum_budget`` fixture says more.

Random search (no repeats) asks the optimum within ``B`` trials with probability ``B / N``: its
asks are a uniformly random order of the ``N`` architectures. At 128 of 2187 that is 5.9% per
seed and ``(128 / 2187) ** 3 = 2e-4`` for all three seeds. The guided built-in strategies need
10-90 trials (BOHB, up to about 250, is given more); random search about 500-2100.
"""
MAX_RANDOM_PASS = 0.01
"""The highest probability with which random search may meet the bar (the optimum within the
budget, with every seed of :data:`OPTIMUM_SEEDS`); with a larger budget a strategy that does not
optimise would pass too often for the test to show anything."""
MAX_OPTIMUM_BUDGET = int(OPTIMUM_SPACE.size * MAX_RANDOM_PASS ** (1 / len(OPTIMUM_SEEDS)))
"""The largest ``optimum_budget`` the contract accepts (471 trials)."""


TWO_OBJECTIVES = [
    Objective(metric=metrics.VAL_ACCURACY, direction="max"),
    Objective(metric=metrics.PARAMS, direction="min"),
]
"""The objectives of the two-objective checks: the toy accuracy up, :func:`toy_cost` down."""

FRONT_SPACE = ToySpace(n_decisions=6, n_options=4)
"""The space of :meth:`StrategyContract.test_finds_part_of_a_two_objective_front`: ``4**6 = 4096``
architectures, 8 of them Pareto-optimal for :data:`TWO_OBJECTIVES`."""
FRONT_BUDGET = 120
"""Trials within which a multi-objective strategy must ask :data:`MIN_FRONT_FOUND` front cells."""
MIN_FRONT_FOUND = 2
"""Pareto-optimal architectures a multi-objective strategy must ask within :data:`FRONT_BUDGET`,
with every seed of :data:`OPTIMUM_SEEDS`. Random search does that with probability
:func:`random_front_probability` (about 1e-5); measured over seeds 0-9, ``nsga2`` asks 1-7 of the
8, ``pareto_local_search`` 5-8 and ``parego`` 6-8."""


CONSTRAINED_SPACE = ToySpace(n_decisions=6, n_options=4)
"""The space of the constraint-aware checks: ``4**6 = 4096`` architectures."""
COST_LIMIT = 24.0
"""The bound of :data:`COST_CONSTRAINT` on :func:`toy_cost` (the toy optimum costs 23)."""
COST_CONSTRAINT = Constraint(metric=metrics.PARAMS, max=COST_LIMIT)
"""``params <= 24``: a constraint known before training (the toy ``params`` is :func:`toy_cost`)."""
CONSTRAINED_INFEASIBLE_FRACTION = 3010 / 4096
"""The fraction of :data:`CONSTRAINED_SPACE` that breaks :data:`COST_CONSTRAINT` (73.5%)."""
CONSTRAINED_BUDGET = 60
"""Trials of each constraint-aware check."""
MAX_INFEASIBLE_ASKS = 3
"""Infeasible asks a constraint-aware strategy may make in :data:`CONSTRAINED_BUDGET` trials
(fallbacks, e.g. a proxy warm-up's or a fixed queue's pick); blind sampling makes about 44."""


class ToyCostCheck:
    """The study's feasibility check for :data:`COST_CONSTRAINT` (picklable, counts its calls)."""

    def __init__(self, limit: float = COST_LIMIT) -> None:
        self.limit = limit
        self.calls = 0

    def __call__(self, arch: Architecture) -> str | None:
        self.calls += 1
        cost = toy_cost(arch)
        return None if cost <= self.limit else f"params = {cost:g} breaks params <= {self.limit:g}"


def toy_constrained_result(arch: Architecture, space: ToySpace) -> Result:
    """What the study stores for ``arch`` under :data:`COST_CONSTRAINT`: INFEASIBLE untrained
    (its cost as ``params``) when it breaks the bound, else the two-objective toy result."""
    why = ToyCostCheck()(arch)
    if why is not None:
        return Result(metrics={metrics.PARAMS: toy_cost(arch)}, status=Status.INFEASIBLE,
                      reason=why)
    return toy_two_objective_result(arch, space)


def toy_cost(arch: Architecture) -> float:
    """A toy cost to minimise beside the toy accuracy: ``sum((i + 1) * d_i)``.

    All-zero architectures are the cheapest and the toy optimum is not, so the two objectives
    conflict; the unequal weights make the front a staircase rather than a line of ties.
    """
    return float(sum((i + 1) * int(value) for i, value in enumerate(arch.values())))


def toy_two_objective_result(arch: Architecture, space: ToySpace) -> Result:
    """The toy result with :func:`toy_cost` as ``params`` (see :data:`TWO_OBJECTIVES`)."""
    result = toy_result(arch, space)
    return Result(metrics={**result.metrics, metrics.PARAMS: toy_cost(arch)})


def toy_front(space: ToySpace) -> list[Architecture]:
    """The Pareto-optimal architectures of ``space`` for :data:`TWO_OBJECTIVES` (brute force,
    remembered per space shape)."""
    return list(_toy_front(space.n_decisions, space.n_options))


@functools.lru_cache(maxsize=8)
def _toy_front(n_decisions: int, n_options: int) -> tuple[Architecture, ...]:
    space = ToySpace(n_decisions=n_decisions, n_options=n_options)
    archs = list(space.enumerate())
    points = [(100.0 * toy_score(a, space), toy_cost(a)) for a in archs]
    return tuple(archs[i] for i in pareto_set(points, ["max", "min"]))


def random_front_probability(
    budget: int = FRONT_BUDGET, space: ToySpace = FRONT_SPACE, needed: int = MIN_FRONT_FOUND
) -> float:
    """The probability that random search (no repeats) asks at least ``needed`` front
    architectures within ``budget`` trials with every seed of :data:`OPTIMUM_SEEDS`."""
    from scipy.stats import hypergeom

    n_front = len(toy_front(space))
    per_seed = float(hypergeom(int(space.size), n_front, budget).sf(needed - 1))
    return per_seed ** len(OPTIMUM_SEEDS)


class RuledToySpace(ToySpace):
    """:class:`ToySpace` with a validity rule and isomorphic architectures.

    - The rule: at most ``max_zeros`` decisions may be 0 (``None``: no rule). It is a
      ``count`` rule of :mod:`nasforge.space.rules`, applied through :class:`Rules` the way any
      space that is not a ``StructuredSpace`` applies its rules.
    - Isomorphism: ``d0`` and ``d1`` are interchangeable, so ``canonical`` sorts their values
      (``{d0: 2, d1: 1, ...}`` and ``{d0: 1, d1: 2, ...}`` are one network).

    Not registered: it stands in for a user's space in :class:`StrategyContract`.

    Args:
        n_decisions: number of decisions (>= 2).
        n_options: choices per decision.
        max_zeros: most decisions equal to 0, or ``None`` for no rule.
    """

    def __init__(
        self,
        *,
        n_decisions: Annotated[int, Field(ge=2, le=32)] = 4,
        n_options: Annotated[int, Field(ge=2, le=64)] = 4,
        max_zeros: Annotated[int, Field(ge=0)] | None = 1,
    ) -> None:
        super().__init__(n_decisions=n_decisions, n_options=n_options)
        self.max_zeros = max_zeros

    @property
    def rules(self) -> Rules:
        if "_rules" not in self.__dict__:
            specs = [] if self.max_zeros is None else [
                {"count": {"decisions": "d*", "equal": 0, "max": self.max_zeros}}]
            table = {d: list(range(self.n_options)) for d in self.decisions}
            self.__dict__["_rules"] = Rules.compile(specs, table)
        rules: Rules = self.__dict__["_rules"]
        return rules

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_rules"}

    def breaks_rule(self, arch: Architecture) -> bool:
        """Whether ``arch`` breaks the rule, counted here independently of :class:`Rules`."""
        zeros = sum(1 for d in self.decisions if arch.get(d) == 0)
        return self.max_zeros is not None and zeros > self.max_zeros

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.rules.sample(super().sample, rng, super().enumerate)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        return self.rules.mutate(super().mutate, arch, rng, super().neighbours, self.sample,
                                 super().enumerate)

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return self.rules.filter(super().neighbours(arch))

    def enumerate(self) -> Iterator[Architecture]:
        return self.rules.enumerate(super().enumerate())

    def validate(self, arch: Architecture) -> None:
        super().validate(arch)
        self.rules.check(arch)

    @property
    def size(self) -> float:
        return self.rules.size(super().size, super().enumerate, super().sample)

    def canonical(self, arch: Architecture) -> Architecture:
        self.validate(arch)
        low, high = sorted((int(arch["d0"]), int(arch["d1"])))
        return arch.replace(d0=low, d1=high)


def random_pass_probability(budget: int, space: ToySpace = OPTIMUM_SPACE) -> float:
    """The probability that random search asks the toy optimum within ``budget`` trials with
    every seed of :data:`OPTIMUM_SEEDS` (seeds draw independently)."""
    return min(1.0, budget / space.size) ** len(OPTIMUM_SEEDS)


def make_trial(
    number: int,
    candidate: Candidate,
    result: Result,
    *,
    asked_after: int = 0,
    tell_seq: int | None = None,
) -> Trial:
    """A finished :class:`Trial` as the study would tell it."""
    return Trial(
        study_id=0,
        number=number,
        candidate=candidate,
        state=TrialState.from_status(result.status),
        result=result,
        asked_after=asked_after,
        tell_seq=tell_seq,
    )


def toy_outcome(
    arch: Architecture,
    space: ToySpace,
    *,
    fail: Container[Architecture] = (),
    nan: Container[Architecture] = (),
) -> Result:
    """The toy evaluator's result for ``arch``, FAILED for ``fail`` and NaN for ``nan``."""
    if arch in fail:
        return Result.failed("scripted failure")
    result = toy_result(arch, space)
    if arch in nan:
        return Result(metrics={**result.metrics, metrics.VAL_ACCURACY: float("nan")})
    return result


@dataclass
class Run:
    """A recorded run: every asked candidate (index = trial number), the tells, the interleaving."""

    asked: list[Candidate] = field(default_factory=list)
    told: list[Trial] = field(default_factory=list)
    events: list[tuple[str, int]] = field(default_factory=list)
    exhausted: bool = False

    @property
    def archs(self) -> list[Architecture]:
        return [c.arch for c in self.asked]


class AsyncDriver:
    """Drives a strategy like the study loop with ``n_pending`` workers, in step (no threads).

    Keeps up to ``n_pending`` trials asked and not told. Results come back out of order, by a
    fixed rotation over the pending trials that depends only on how many were told, so two
    drivers in the same state continue identically. Once ``ask`` returns ``None`` no more asks
    are made.

    Args:
        strategy: a set-up strategy.
        space: the toy space it searches.
        n_pending: simulated workers.
        outcome: the result of an architecture (default: the toy evaluator's).
    """

    def __init__(
        self,
        strategy: Strategy,
        space: ToySpace,
        *,
        n_pending: int = 3,
        outcome: Callable[[Architecture], Result] | None = None,
    ) -> None:
        self.strategy = strategy
        self.space = space
        self.n_pending = n_pending
        self.outcome = outcome or (lambda arch: toy_result(arch, space))
        self.run = Run()
        self.pending: list[Trial] = []

    def fork(self, strategy: Strategy) -> AsyncDriver:
        """A driver in this one's state (same record and pending trials) for ``strategy``."""
        other = AsyncDriver(strategy, self.space, n_pending=self.n_pending, outcome=self.outcome)
        other.run = Run(
            list(self.run.asked), list(self.run.told), list(self.run.events), self.run.exhausted
        )
        other.pending = list(self.pending)
        return other

    def _ask(self) -> bool:
        number = len(self.run.asked)
        candidate = self.strategy.ask(number)
        if candidate is None:
            self.run.exhausted = True
            return False
        self.run.asked.append(candidate)
        self.run.events.append(("ask", number))
        self.pending.append(make_trial(number, candidate, Result(), asked_after=len(self.run.told)))
        return True

    def _tell(self) -> None:
        stub = self.pending.pop((len(self.run.told) * 2) % len(self.pending))
        trial = make_trial(
            stub.number,
            stub.candidate,
            self.outcome(stub.candidate.arch),
            asked_after=stub.asked_after,
            tell_seq=len(self.run.told),
        )
        self.strategy.tell(trial)
        self.run.told.append(trial)
        self.run.events.append(("tell", trial.number))

    def advance(self, n_asked: int) -> Run:
        """Ask and tell until ``n_asked`` trials are asked (or the strategy is exhausted).

        Stops right after the last ask, leaving trials pending, as a killed study would.
        """
        while len(self.run.asked) < n_asked and not self.run.exhausted:
            if len(self.pending) >= self.n_pending:
                self._tell()
            elif not self._ask():
                break
        return self.run

    def drain(self) -> Run:
        """Tell every pending trial."""
        while self.pending:
            self._tell()
        return self.run


def run_async(
    strategy: Strategy,
    space: ToySpace,
    n_trials: int,
    *,
    n_pending: int = 3,
    outcome: Callable[[Architecture], Result] | None = None,
) -> Run:
    """Ask ``n_trials`` trials (fewer if exhausted) through an :class:`AsyncDriver`, tell all."""
    driver = AsyncDriver(strategy, space, n_pending=n_pending, outcome=outcome)
    driver.advance(n_trials)
    return driver.drain()


def replay(strategy: Strategy, run: Run) -> None:
    """Feed a fresh ``strategy`` a recorded ``run``, checking every ask reproduces the record.

    This is what a resume does: the stored trials are replayed in their original interleaving.
    """
    told = {t.number: t for t in run.told}
    for kind, number in run.events:
        if kind == "ask":
            candidate = strategy.ask(number)
            assert candidate == run.asked[number], (
                f"replayed ask #{number} gave {candidate}, the record has {run.asked[number]}"
            )
        else:
            strategy.tell(told[number])


def best_score(run: Run, space: ToySpace) -> float:
    return max((toy_score(a, space) for a in run.archs), default=0.0)


def asks_until_optimum(strategy: Strategy, space: ToySpace, budget: int) -> Run:
    """Drive ``strategy`` (set up) like :func:`run_async` until it asks the toy optimum.

    Stops right after that ask, after ``budget`` asks, or when the strategy is exhausted. The
    asks are those of ``run_async(strategy, space, budget)`` up to there: the driver's next step
    does not depend on how far it will go.
    """
    driver = AsyncDriver(strategy, space)
    optimum = toy_optimum(space)
    for n_asked in range(1, budget + 1):
        run = driver.advance(n_asked)
        if len(run.asked) < n_asked or run.asked[-1].arch == optimum:
            break
    return driver.run


_CHILD = """
import pickle, sys
sys.path[:0] = pickle.loads(bytes.fromhex(sys.argv[1]))
from nasforge.testing.strategy_contract import OBJECTIVES, ToySpace, run_async
strategy = pickle.loads(sys.stdin.buffer.read())
space = ToySpace()
strategy.setup(space, OBJECTIVES, seed=7)
print("\\n".join(str(a) for a in run_async(strategy, space, 20).archs))
"""


class StrategyContract:
    """The behaviour every black-box strategy must have (see the module docstring)."""

    @pytest.fixture
    def strategy_factory(self) -> StrategyFactory:
        raise NotImplementedError("define a strategy_factory fixture returning a fresh strategy")

    @pytest.fixture
    def beats_random(self) -> bool:
        return True

    @pytest.fixture
    def optimum_budget(self) -> int:
        return DEFAULT_OPTIMUM_BUDGET

    @pytest.fixture
    def unique_asks(self) -> bool:
        return True

    @pytest.fixture
    def multi_objective(self) -> bool:
        return False

    @pytest.fixture
    def constraint_aware(self) -> bool:
        return True

    @staticmethod
    def _setup(
        factory: StrategyFactory,
        space: ToySpace | None = None,
        seed: int = 0,
        objectives: list[Objective] | None = None,
    ) -> Strategy:
        strategy = factory()
        strategy.setup(space or ToySpace(), objectives or OBJECTIVES, seed)
        return strategy

    @staticmethod
    def _constrained_run(
        strategy: Strategy, seed: int, check: ToyCostCheck | None = None
    ) -> Run:
        space = CONSTRAINED_SPACE
        strategy.setup(space, OBJECTIVES, seed, constraints=[COST_CONSTRAINT],
                       feasible=check if check is not None else ToyCostCheck())
        return run_async(strategy, space, CONSTRAINED_BUDGET,
                         outcome=lambda a: toy_constrained_result(a, space))

    @staticmethod
    def _n_infeasible(run: Run) -> int:
        return sum(toy_cost(a) > COST_LIMIT for a in run.archs)

    def test_constraint_aware_asks_are_feasible(
        self, strategy_factory: StrategyFactory, constraint_aware: bool
    ) -> None:
        """With the study's feasibility check, (almost) every ask meets the constraint."""
        if not constraint_aware:
            pytest.skip("the strategy leaves infeasible candidates to the study's filter")
        check = ToyCostCheck()
        strategy = strategy_factory()
        run = self._constrained_run(strategy, 0, check)
        assert len(run.asked) == CONSTRAINED_BUDGET
        assert strategy.is_constraint_aware and check.calls > 0
        n_infeasible = self._n_infeasible(run)
        assert n_infeasible <= MAX_INFEASIBLE_ASKS, (
            f"{n_infeasible} of {CONSTRAINED_BUDGET} asks break {COST_CONSTRAINT} although the "
            f"feasibility check rejects them ({CONSTRAINED_INFEASIBLE_FRACTION:.0%} of the "
            "space does)"
        )

    def test_constraint_aware_asks_are_reproducible(
        self, strategy_factory: StrategyFactory
    ) -> None:
        """The same seed gives the same asks with the check, and a replay reproduces them."""
        first = self._constrained_run(strategy_factory(), 5)
        second = self._constrained_run(strategy_factory(), 5)
        assert first.archs == second.archs
        fresh = strategy_factory()
        fresh.setup(CONSTRAINED_SPACE, OBJECTIVES, 5, constraints=[COST_CONSTRAINT],
                    feasible=ToyCostCheck())
        replay(fresh, first)

    def test_constraint_aware_setting_off_only_filters(
        self, strategy_factory: StrategyFactory, constraint_aware: bool
    ) -> None:
        """``constraint_aware=False`` ignores the check: the study's filter is left to act."""
        strategy = strategy_factory()
        if not constraint_aware or "constraint_aware" not in strategy.param_names():
            pytest.skip("the strategy has no constraint_aware setting")
        blind = type(strategy)(**{**strategy.get_params(), "constraint_aware": False})
        check = ToyCostCheck()
        run = self._constrained_run(blind, 0, check)
        assert not blind.is_constraint_aware and check.calls == 0
        assert self._n_infeasible(run) > 2 * MAX_INFEASIBLE_ASKS

    def test_is_registered_strategy(self, strategy_factory: StrategyFactory) -> None:
        strategy = strategy_factory()
        assert isinstance(strategy, Strategy)
        assert strategy.name in STRATEGIES, f"{type(strategy).__name__} is not registered"

    def test_asks_valid_candidates(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        run = run_async(self._setup(strategy_factory, space), space, 40)
        assert len(run.asked) == 40
        for candidate in run.asked:
            assert isinstance(candidate, Candidate)
            space.validate(candidate.arch)

    def test_same_seed_same_sequence(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        first = run_async(self._setup(strategy_factory, space, seed=3), space, 30)
        second = run_async(self._setup(strategy_factory, space, seed=3), space, 30)
        assert first.archs == second.archs

    def test_different_seed_different_sequence(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        first = run_async(self._setup(strategy_factory, space, seed=0), space, 10)
        second = run_async(self._setup(strategy_factory, space, seed=1), space, 10)
        assert first.archs != second.archs

    def test_same_sequence_in_another_process(self, strategy_factory: StrategyFactory) -> None:
        """Set or hash order must not leak into decisions: ``hash(str)`` is salted per process."""
        space = ToySpace()
        expected = [
            str(a) for a in run_async(self._setup(strategy_factory, space, 7), space, 20).archs
        ]
        hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, pickle.dumps(list(sys.path)).hex()],
            input=pickle.dumps(strategy_factory()),
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=False,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr.decode()
        assert out.stdout.decode().split() == expected

    def test_replay_reproduces_next_asks(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        original = AsyncDriver(self._setup(strategy_factory, space, seed=5), space)
        stored = original.advance(30)
        # A "killed" study: 30 trials asked, some still pending. Resume = replay the record.
        resumed_strategy = self._setup(strategy_factory, space, seed=5)
        replay(resumed_strategy, stored)
        resumed = original.fork(resumed_strategy)
        original.advance(40)
        resumed.advance(40)
        assert len(original.run.asked) == 40
        assert resumed.run.archs[30:] == original.run.archs[30:]

    def test_pickled_strategy_continues_identically(
        self, strategy_factory: StrategyFactory
    ) -> None:
        """Learnt state survives a pickle round trip (``==`` compares parameters only).

        At three points of a run (just set up; mid-run, with results pending; every result
        told), the unpickled strategy must ask exactly what the original asks next, while both
        are told the same results.
        """
        space = ToySpace()
        driver = AsyncDriver(self._setup(strategy_factory, space, seed=2), space)
        for n_asked, drain in [(0, False), (15, False), (30, True)]:
            driver.advance(n_asked)
            if drain:
                driver.drain()
            clone = driver.fork(pickle.loads(pickle.dumps(driver.strategy)))
            where = f"at {n_asked} asks with {len(driver.pending)} results pending"
            until = n_asked + 8
            expected = driver.advance(until).asked[n_asked:]
            assert clone.advance(until).asked[n_asked:] == expected, (
                f"after a pickle round trip {where}, the strategy asks differently"
            )

    def test_no_repeated_archs(self, strategy_factory: StrategyFactory, unique_asks: bool) -> None:
        if not unique_asks:
            pytest.skip("the strategy does not promise unique asks")
        space = ToySpace()
        run = run_async(self._setup(strategy_factory, space, seed=4), space, 120)
        assert len(set(run.archs)) == len(run.archs)

    def test_exhausts_tiny_space(
        self, strategy_factory: StrategyFactory, unique_asks: bool
    ) -> None:
        if not unique_asks:
            pytest.skip("the strategy does not promise unique asks")
        space = ToySpace(n_decisions=2, n_options=2)
        run = run_async(self._setup(strategy_factory, space), space, 10)
        assert run.exhausted, "ask must return None once a finite space is exhausted"
        assert sorted(map(str, run.archs)) == sorted(map(str, space.enumerate()))

    def test_never_asks_an_arch_that_breaks_a_rule(
        self, strategy_factory: StrategyFactory
    ) -> None:
        space = RuledToySpace()
        run = run_async(self._setup(strategy_factory, space, seed=6), space, 60)
        assert len(run.asked) == 60
        bad = [str(c.arch) for c in run.asked if space.breaks_rule(c.arch)]
        assert not bad, f"asked architectures that break the rule: {bad[:3]}"

    def test_never_asks_an_isomorphic_arch(
        self, strategy_factory: StrategyFactory, unique_asks: bool
    ) -> None:
        space = RuledToySpace(max_zeros=None)
        run = run_async(self._setup(strategy_factory, space, seed=8), space, 80)
        if not unique_asks:
            # Promotions ask an architecture again; a new one is still never isomorphic to
            # another architecture asked before.
            first: dict[Architecture, Architecture] = {}
            for arch in run.archs:
                assert first.setdefault(space.canonical(arch), arch) == arch, (
                    f"{arch} is isomorphic to {first[space.canonical(arch)]}, asked before")
            return
        classes = [space.canonical(a) for a in run.archs]
        assert len(set(classes)) == len(classes), "asked two isomorphic architectures"

    def test_exhausts_tiny_space_up_to_isomorphism(
        self, strategy_factory: StrategyFactory, unique_asks: bool
    ) -> None:
        if not unique_asks:
            pytest.skip("the strategy does not promise unique asks")
        # d0, d1 in 0..2 with d0 ~ d1 swapped and at most one zero: 5 distinct networks.
        space = RuledToySpace(n_decisions=2, n_options=3, max_zeros=1)
        run = run_async(self._setup(strategy_factory, space), space, 20)
        assert run.exhausted, "ask must return None once every distinct network was asked"
        classes = sorted(str(space.canonical(a)) for a in run.archs)
        assert classes == sorted({str(space.canonical(a)) for a in space.enumerate()})
        assert len(classes) == 5

    def test_tolerates_failed_and_nan_trials(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        archs = list(space.enumerate())
        fail, nan = set(archs[::3]), set(archs[1::3])

        def outcome(arch: Architecture) -> Result:
            return toy_outcome(arch, space, fail=fail, nan=nan)

        run = run_async(self._setup(strategy_factory, space), space, 60, outcome=outcome)
        assert len(run.asked) == 60
        assert any(t.state is TrialState.FAILED for t in run.told)
        for candidate in run.asked:
            space.validate(candidate.arch)

    def test_tolerates_every_unsuccessful_state(self, strategy_factory: StrategyFactory) -> None:
        space = ToySpace()
        strategy = self._setup(strategy_factory, space)
        results = [
            Result.failed("boom"),
            Result.failed("too slow", status=Status.TIMEOUT),
            Result.failed("stopped early", status=Status.PRUNED),
            Result(metrics={}),  # OK, but without the objective's metric
        ]
        for number in range(30):
            candidate = strategy.ask(number)
            assert candidate is not None
            strategy.tell(make_trial(number, candidate, results[number % len(results)]))

    def test_params_round_trip(self, strategy_factory: StrategyFactory) -> None:
        strategy = strategy_factory()
        params = strategy.get_params()
        json.dumps(params)
        rebuilt = STRATEGIES.create(strategy.name, params)
        assert type(rebuilt) is type(strategy)
        assert rebuilt == strategy

    def test_pickles_before_setup(self, strategy_factory: StrategyFactory) -> None:
        """An executor or a subprocess gets an equal strategy, which then searches the same."""
        strategy = strategy_factory()
        clone = pickle.loads(pickle.dumps(strategy))
        assert clone == strategy
        space = ToySpace()
        for each in (strategy, clone):
            each.setup(space, OBJECTIVES, 1)
        assert run_async(clone, space, 10).asked == run_async(strategy, space, 10).asked

    @pytest.mark.parametrize("seed", OPTIMUM_SEEDS)
    def test_finds_toy_optimum(
        self,
        strategy_factory: StrategyFactory,
        beats_random: bool,
        optimum_budget: int,
        seed: int,
    ) -> None:
        """Beats random search: the optimum of :data:`OPTIMUM_SPACE` within the budget.

        Random search meets this bar with every seed with probability
        :func:`random_pass_probability` (at most :data:`MAX_RANDOM_PASS`).
        """
        if not beats_random:
            pytest.skip("declared not to beat random search (beats_random is False)")
        space = OPTIMUM_SPACE
        if random_pass_probability(optimum_budget, space) > MAX_RANDOM_PASS:
            pytest.fail(
                f"optimum_budget={optimum_budget} lets random search pass with probability "
                f"{random_pass_probability(optimum_budget, space):.1%} on the "
                f"{space.size:.0f}-architecture toy space; use at most {MAX_OPTIMUM_BUDGET}, or "
                "set beats_random to False for a strategy that does not optimise"
            )
        run = asks_until_optimum(self._setup(strategy_factory, space, seed), space, optimum_budget)
        assert toy_optimum(space) in run.archs, (
            f"optimum not found in {optimum_budget} trials with seed {seed} (best score "
            f"{best_score(run, space):.3f}); random search does that well with probability "
            f"{optimum_budget / space.size:.1%}"
        )

    def test_two_objectives_seeded_and_replayed(self, strategy_factory: StrategyFactory) -> None:
        """A study with two objectives: valid asks, the same with the same seed, and a replay
        of a killed run asks what the run would have asked."""
        space = ToySpace()

        def outcome(arch: Architecture) -> Result:
            return toy_two_objective_result(arch, space)

        def driver(seed: int) -> AsyncDriver:
            strategy = self._setup(strategy_factory, space, seed, TWO_OBJECTIVES)
            return AsyncDriver(strategy, space, outcome=outcome)

        first, second = driver(5), driver(5)
        stored = first.advance(25)
        assert second.advance(25).archs == stored.archs
        for candidate in stored.asked:
            space.validate(candidate.arch)
        resumed_strategy = self._setup(strategy_factory, space, 5, TWO_OBJECTIVES)
        replay(resumed_strategy, stored)
        resumed = first.fork(resumed_strategy)
        first.advance(35)
        resumed.advance(35)
        assert len(first.run.asked) == 35
        assert resumed.run.archs[25:] == first.run.archs[25:]

    @pytest.mark.parametrize("seed", OPTIMUM_SEEDS)
    def test_finds_part_of_a_two_objective_front(
        self, strategy_factory: StrategyFactory, multi_objective: bool, seed: int
    ) -> None:
        """A multi-objective strategy asks :data:`MIN_FRONT_FOUND` of the 8 Pareto-optimal
        architectures of :data:`FRONT_SPACE` within :data:`FRONT_BUDGET` trials, which random
        search does with every seed with probability :func:`random_front_probability`."""
        if not multi_objective:
            pytest.skip("not a multi-objective strategy (multi_objective is False)")
        space = FRONT_SPACE
        strategy = self._setup(strategy_factory, space, seed, TWO_OBJECTIVES)
        run = run_async(strategy, space, FRONT_BUDGET,
                        outcome=lambda arch: toy_two_objective_result(arch, space))
        found = set(toy_front(space)) & set(run.archs)
        assert len(found) >= MIN_FRONT_FOUND, (
            f"asked {len(found)} of the {len(toy_front(space))} Pareto-optimal architectures in "
            f"{FRONT_BUDGET} trials with seed {seed}; at least {MIN_FRONT_FOUND} are required"
        )
