"""LocalSearch specifics: start, first/best improvement, restarts, asynchronous asks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.strategy import STRATEGIES, LocalSearch
from nasforge.testing.toys import ToySpace, toy_score

SPACE = ToySpace(n_decisions=2, n_options=3)


@pytest.fixture
def two_peaks(arch: Callable[..., Architecture]) -> dict[Architecture, float]:
    """(0,0) is a local optimum (all its neighbours score 0.1); (2,2) is the global one."""
    return {
        arch(0, 0): 0.5,
        arch(0, 1): 0.1,
        arch(0, 2): 0.1,
        arch(1, 0): 0.1,
        arch(2, 0): 0.1,
        arch(1, 1): 0.2,
        arch(1, 2): 0.3,
        arch(2, 1): 0.3,
        arch(2, 2): 1.0,
    }


def test_starts_from_best_of_initial_draws(stepper: Any) -> None:
    strategy = LocalSearch(n_initial=3)
    run = stepper(strategy, ToySpace(), toy_score)
    candidates = [run.ask() for _ in range(4)]  # one more than n_initial: still random
    for candidate in candidates[:2]:
        run.tell(candidate)
        assert strategy.current is None
    run.tell(candidates[2])
    first_three = [c.arch for c in candidates[:3]]
    assert strategy.current == max(first_three, key=toy_score)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_improvement_moves_on_each_better_neighbour(stepper: Any, seed: int) -> None:
    space = ToySpace()
    strategy = LocalSearch(n_initial=1, mode="first")
    run = stepper(strategy, space, toy_score, seed=seed)
    moves = 0
    for _ in range(80):
        before, restarts = strategy.current, strategy.n_restarts
        candidate = run.ask()
        assert candidate is not None
        is_neighbour = before is not None and candidate.arch in space.neighbours(before)
        run.tell(candidate)
        if before is None or strategy.n_restarts != restarts:
            continue
        if is_neighbour and toy_score(candidate.arch) > toy_score(before):
            # Moved there, or further on through already-evaluated better neighbours.
            assert strategy.current is not None
            assert toy_score(strategy.current) >= toy_score(candidate.arch)
            moves += 1
        else:
            assert strategy.current == before
    assert moves >= 2


def test_best_improvement_waits_for_whole_neighbourhood(
    stepper: Any, arch: Callable[..., Architecture]
) -> None:
    strategy = LocalSearch(n_initial=1, mode="best")
    run = stepper(strategy, SPACE, lambda a: toy_score(a, SPACE))
    run.start_at(arch(0, 0))  # score 0.5; optimum (1,1); neighbours score .75, .5, .75, .5
    assert strategy.current == arch(0, 0)
    for _ in range(3):
        run.step()
        assert strategy.current == arch(0, 0)
    run.step()
    # The best neighbours tie at 0.75; the first in the space's neighbour order wins.
    assert strategy.current == arch(1, 0)


def test_first_improvement_moves_at_once(stepper: Any, arch: Callable[..., Architecture]) -> None:
    strategy = LocalSearch(n_initial=1, mode="first")
    run = stepper(strategy, SPACE, lambda a: toy_score(a, SPACE))
    run.start_at(arch(0, 0))
    while strategy.current == arch(0, 0):
        told = run.step()
    assert told is not None and toy_score(told, SPACE) == 0.75
    assert strategy.current == told


@pytest.mark.parametrize("mode", ["first", "best"])
def test_restarts_at_local_optimum(
    stepper: Any,
    arch: Callable[..., Architecture],
    two_peaks: dict[Architecture, float],
    mode: Literal["first", "best"],
) -> None:
    strategy = LocalSearch(n_initial=1, mode=mode)
    run = stepper(strategy, SPACE, two_peaks)
    run.start_at(arch(0, 0))
    told = [run.step() for _ in range(4)]
    assert set(told) == set(SPACE.neighbours(arch(0, 0)))
    assert strategy.n_restarts == 1
    assert strategy.current is None
    restart = run.step()
    assert restart in {arch(1, 1), arch(1, 2), arch(2, 1), arch(2, 2)}
    assert strategy.current == restart
    while (a := run.step()) is not None:
        told.append(a)
    assert arch(2, 2) in [*told, restart]


def test_pending_neighbours_and_random_fillers(
    stepper: Any, arch: Callable[..., Architecture], two_peaks: dict[Architecture, float]
) -> None:
    """More workers than neighbours: extra asks are random, and seed the restart."""
    strategy = LocalSearch(n_initial=1)
    run = stepper(strategy, SPACE, two_peaks)
    run.start_at(arch(0, 0))
    candidates = [run.ask() for _ in range(6)]
    asked = [c.arch for c in candidates]
    assert set(asked[:4]) == set(SPACE.neighbours(arch(0, 0)))
    assert not set(asked[4:]) & {arch(0, 0), *asked[:4]}
    for candidate in candidates[4:] + candidates[:4]:  # fillers come back first
        run.tell(candidate)
    assert strategy.n_restarts == 1
    assert strategy.current == max(asked[4:], key=two_peaks.__getitem__)


def test_late_neighbour_that_beats_the_new_point_is_taken(
    stepper: Any, arch: Callable[..., Architecture]
) -> None:
    scores = {a: 0.1 for a in SPACE.enumerate()}
    scores.update({arch(0, 0): 0.5, arch(1, 0): 0.6, arch(0, 1): 0.9})
    strategy = LocalSearch(n_initial=1, mode="first")
    run = stepper(strategy, SPACE, scores)
    run.start_at(arch(0, 0))
    by_arch = {c.arch: c for c in (run.ask() for _ in range(4))}
    run.tell(by_arch[arch(1, 0)])
    assert strategy.current == arch(1, 0)
    run.tell(by_arch[arch(0, 1)])
    assert strategy.current == arch(0, 1)


def test_evaluated_neighbours_count_and_are_not_asked_again(
    stepper: Any, arch: Callable[..., Architecture]
) -> None:
    scores = {a: 0.1 for a in SPACE.enumerate()}
    scores.update({arch(0, 0): 0.5, arch(1, 0): 0.6, arch(2, 0): 0.55})
    strategy = LocalSearch(n_initial=1, mode="best")
    run = stepper(strategy, SPACE, scores)
    run.start_at(arch(0, 0))
    for _ in range(4):
        run.step()
    assert strategy.current == arch(1, 0)
    # (0,0) and (2,0) are neighbours of (1,0) too, already evaluated: only two are left.
    assert {run.step(), run.step()} == {arch(1, 1), arch(1, 2)}
    assert strategy.current is None and strategy.n_restarts == 1


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_initial": 0}, r"n_initial: .*greater than or equal to 1"),
        ({"mode": "worst"}, r"mode: .*'first' or 'best'"),
        ({"n_init": 3}, r"did you mean 'n_initial'"),
    ],
)
def test_config_errors(params: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.create("local_search", params)


def test_defaults() -> None:
    assert LocalSearch().get_params() == {
        "n_initial": 10, "mode": "first", "constraint_aware": True}
