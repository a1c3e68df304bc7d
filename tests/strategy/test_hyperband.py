"""Successive halving (ASHA), Hyperband and BOHB: contract, promotions, brackets, model, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.strategy._hyperband import BOHB, Hyperband, SuccessiveHalving, geometric_rungs
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.testing.strategy_contract import (
    OBJECTIVES,
    StrategyContract,
    StrategyFactory,
    run_async,
)
from nasforge.testing.toys import ToySpace, toy_optimum, toy_result
from nasforge.trial import Candidate, Result

# Promotions ask an architecture again at a higher fidelity, so archs repeat (candidates don't),
# and part of the budget goes to promotions. The second item is the budget within which the
# contract's toy optimum must be found (BOHB: 71-243 trials over seeds 0-9), ``None`` for the
# strategies whose new architectures are uniform draws: they do not beat random search there.
CASES: dict[str, tuple[Callable[[], Strategy], int | None]] = {
    "successive_halving": (lambda: SuccessiveHalving(), None),
    "successive_halving_2_rungs": (lambda: SuccessiveHalving(rungs=[12, 200]), None),
    "hyperband": (lambda: Hyperband(), None),
    "bohb": (lambda: BOHB(), 320),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestMultiFidelityContract(StrategyContract):
    @pytest.fixture
    def strategy_factory(self, case: str) -> StrategyFactory:
        return CASES[case][0]

    @pytest.fixture
    def beats_random(self, case: str) -> bool:
        return CASES[case][1] is not None

    @pytest.fixture
    def optimum_budget(self, case: str) -> int:
        return CASES[case][1] or 0

    @pytest.fixture
    def unique_asks(self) -> bool:
        return False


def _pairs(candidates: list[Candidate]) -> list[tuple[str, int | None]]:
    return [(str(c.arch), c.fidelity) for c in candidates]


@pytest.mark.parametrize("name", list(CASES))
def test_candidates_never_repeat_and_use_the_rungs(name: str) -> None:
    strategy = CASES[name][0]()
    space = ToySpace()
    strategy.setup(space, OBJECTIVES, seed=1)
    run = run_async(strategy, space, 300)
    pairs = _pairs(run.asked)
    assert len(set(pairs)) == len(pairs)
    rungs = strategy.fidelities  # type: ignore[attr-defined]
    assert {c.fidelity for c in run.asked} <= set(rungs)
    # Every promotion comes after its result at the rung below was told.
    told_at: dict[tuple[str, int | None], int] = {}
    for position, (kind, number) in enumerate(run.events):
        candidate = run.asked[number]
        if kind == "tell":
            told_at[(str(candidate.arch), candidate.fidelity)] = position
        elif candidate.fidelity != rungs[0] and rungs.index(candidate.fidelity) > 0:
            below = rungs[rungs.index(candidate.fidelity) - 1]
            if isinstance(strategy, SuccessiveHalving):
                assert told_at[(str(candidate.arch), below)] < position


def test_asha_promotes_the_top_third(stepper: Any, arch: Callable[..., Architecture]) -> None:
    strategy = SuccessiveHalving(rungs=[1, 3, 9], eta=3)
    scores = {}
    run = stepper(strategy, ToySpace(), lambda a: scores[a])
    first = [run.ask() for _ in range(3)]
    assert [c.fidelity for c in first] == [1, 1, 1]
    for value, candidate in zip((0.2, 0.9, 0.5), first, strict=True):
        scores[candidate.arch] = value
    run.tell(first[0])
    run.tell(first[2])
    nxt = run.ask()
    assert nxt.fidelity == 1  # two results: top floor(2/3) = 0, nothing to promote
    scores[nxt.arch] = 0.1
    run.tell(first[1])
    promoted = run.ask()
    assert promoted == Candidate(first[1].arch, 3)  # 3 results: the best one goes up
    assert run.ask().fidelity == 1  # and only once
    run.tell(nxt)  # 4 results: still floor(4/3) = 1 promoted
    assert run.ask().fidelity == 1
    assert [a for a, _ in strategy.rung_results(0)] == [first[0].arch, first[2].arch,
                                                         first[1].arch, nxt.arch]


def test_higher_rungs_are_promoted_first(stepper: Any) -> None:
    strategy = SuccessiveHalving(rungs=[1, 3, 9], eta=3)
    run = stepper(strategy, ToySpace(), lambda a: 0.5 + 0.1 * int(a["d0"]))
    for _ in range(9):
        run.step()  # rung 1 fills; promotions to 3 are asked and told as they come
    fidelities = []
    for _ in range(12):
        candidate = run.ask()
        fidelities.append(candidate.fidelity)
        run.tell(candidate)
    assert 9 in fidelities


def test_failed_results_are_never_promoted(stepper: Any) -> None:
    strategy = SuccessiveHalving(rungs=[1, 3], eta=2)
    run = stepper(strategy, ToySpace(), lambda a: 1.0)
    a, b = run.ask(), run.ask()
    run.tell(a, Result.failed("boom"))
    run.tell(b, Result.failed("boom"))
    assert run.ask().fidelity == 1


def test_exhausted_space_promotes_the_rest_then_stops() -> None:
    space = ToySpace(n_decisions=2, n_options=2)
    strategy = SuccessiveHalving(rungs=[1, 3])
    strategy.setup(space, OBJECTIVES, seed=0)
    run = run_async(strategy, space, 20)
    assert run.exhausted
    assert sorted(_pairs(run.asked)) == sorted(
        (str(a), f) for a in space.enumerate() for f in (1, 3)
    )


def test_hyperband_bracket_schedule() -> None:
    assert Hyperband(min_fidelity=1, max_fidelity=27).fidelities == [1, 3, 9, 27]
    counts = [Hyperband(min_fidelity=1, max_fidelity=27).bracket_schedule().count(b)
              for b in range(4)]
    assert counts == [27, 12, 6, 4]  # Hyperband's n for s = 3, 2, 1, 0 (Li et al. 2018)
    assert Hyperband(rungs=[12, 200]).bracket_schedule() == [0, 0, 0, 1, 1]
    assert Hyperband(rungs=[1, 3, 9], brackets=2).bracket_schedule() == [0] * 9 + [1] * 5
    assert SuccessiveHalving(rungs=[1, 3, 9]).bracket_schedule() == [0] * 9


def test_hyperband_new_archs_start_at_their_brackets_rung() -> None:
    strategy = Hyperband(min_fidelity=1, max_fidelity=9)
    strategy.setup(ToySpace(), OBJECTIVES, seed=0)
    fidelities = [strategy.ask(n).fidelity for n in range(17 + 9)]  # type: ignore[union-attr]
    assert fidelities == [1] * 9 + [3] * 5 + [9] * 3 + [1] * 9


def test_hyperband_promotes_within_each_bracket(stepper: Any) -> None:
    strategy = Hyperband(rungs=[1, 3, 9])
    run = stepper(strategy, ToySpace(), lambda a: 0.1 * int(a["d0"]) + 0.01 * int(a["d1"]))
    asked = [run.step() for _ in range(60)]
    assert all(a is not None for a in asked)
    # Results of bracket 1 (starting at 3 epochs) were promoted to 9 within bracket 1.
    bracket1 = strategy.rung_results(1, bracket=1)
    assert bracket1 and strategy.rung_results(2, bracket=1)
    assert not strategy.rung_results(0, bracket=1)


def test_bohb_model_steers_new_architectures(stepper: Any) -> None:
    def score(a: Architecture) -> float:
        return 1.0 if a["d0"] == 3 else 0.1 * int(a["d1"])

    strategy = BOHB(rungs=[1], random_fraction=0.0)
    run = stepper(strategy, ToySpace(), score, seed=2)
    archs = [run.step() for _ in range(40)]
    late = archs[20:]
    assert sum(a["d0"] == 3 for a in late) >= 12  # uniform draws would give ~5 of 20


def test_bohb_random_fraction_one_is_random_search(stepper: Any) -> None:
    strategy = BOHB(rungs=[1], random_fraction=1.0)
    run = stepper(strategy, ToySpace(), lambda a: 1.0 if a["d0"] == 3 else 0.0, seed=2)
    late = [run.step() for _ in range(40)][20:]
    assert sum(a["d0"] == 3 for a in late) < 12


def test_geometric_rungs() -> None:
    assert geometric_rungs(1, 27, 3) == [1, 3, 9, 27]
    assert geometric_rungs(1, 15, 3) == [2, 5, 15]
    assert geometric_rungs(4, 4, 3) == [4]
    assert geometric_rungs(1, 200, 4) == [3, 13, 50, 200]  # 200 / 4**3 = 3.1 >= 1
    assert SuccessiveHalving().fidelities == [2, 5, 15]


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("successive_halving", {"rungs": []}, "at least one fidelity"),
        ("successive_halving", {"rungs": [200, 12]}, "strictly increasing"),
        ("successive_halving", {"rungs": [0, 12]}, "ints >= 1"),
        ("successive_halving", {"rungs": [12, 200], "max_fidelity": 200}, "either rungs"),
        ("successive_halving", {"eta": 1}, "eta"),
        ("successive_halving", {"min_fidelity": 20, "max_fidelity": 10}, "min_fidelity"),
        ("successive_halving", {"min_fidelity": 0}, "min_fidelity"),
        ("hyperband", {"rungs": [12, 200], "brackets": 3}, "brackets"),
        ("bohb", {"eta": 1}, "eta"),
        ("bohb", {"random_fraction": 1.5}, "random_fraction"),
        ("bohb", {"top_fraction": 0}, "top_fraction"),
    ],
)
def test_bad_parameters(name: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.create(name, params)


def test_toy_optimum_found_at_a_low_rung_then_promoted() -> None:
    space = ToySpace()
    strategy = BOHB(rungs=[1, 3])
    strategy.setup(space, OBJECTIVES, seed=0)
    run = run_async(strategy, space, 256, outcome=lambda a: toy_result(a, space))
    assert Candidate(toy_optimum(space), 3) in run.asked


def test_study_loop_with_promotions(tmp_path: Any) -> None:
    """In the real loop, promotions are new trials (never answered from the cache)."""
    import nasforge

    study = nasforge.search(
        task="toy", space="toy", strategy=SuccessiveHalving(rungs=[2, 6], eta=2),
        evaluator={"name": "toy", "max_epochs": 6}, budget={"trials": 30}, executor="inline",
        in_memory=True, root=tmp_path,
    )
    trials = study.trials()
    assert len(trials) == 30
    assert {t.candidate.fidelity for t in trials} == {2, 6}
    assert not any("cached_from" in (t.result.info if t.result else {}) for t in trials)
    assert study.best().trial.candidate.fidelity == 6

