"""RandomSearch specifics: uniform, no repeats, exhaustion, big-space fallback."""

from __future__ import annotations

import logging
import math
from collections import Counter

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.strategy import STRATEGIES, RandomSearch
from nasforge.testing.strategy_contract import OBJECTIVES
from nasforge.testing.toys import ToySpace


def test_asks_each_arch_once_then_none_without_tells() -> None:
    space = ToySpace(n_decisions=2, n_options=3)
    strategy = RandomSearch()
    strategy.setup(space, OBJECTIVES, seed=0)
    asked = [strategy.ask(n) for n in range(9)]
    assert sorted(str(c.arch) for c in asked if c) == sorted(map(str, space.enumerate()))
    assert strategy.ask(9) is None
    assert strategy.ask(10) is None


def test_first_ask_is_uniform_over_seeds() -> None:
    space = ToySpace(n_decisions=2, n_options=2)
    counts: Counter[str] = Counter()
    for seed in range(400):
        strategy = RandomSearch()
        strategy.setup(space, OBJECTIVES, seed=seed)
        candidate = strategy.ask(0)
        assert candidate is not None
        counts[str(candidate.arch)] += 1
    assert len(counts) == 4
    # 100 expected per arch; a biased draw (e.g. always the first) falls far outside.
    assert all(60 <= c <= 140 for c in counts.values()), counts


def test_last_arch_found_by_enumeration() -> None:
    """Once random draws only hit asked archs, the remaining one is still found."""
    space = ToySpace(n_decisions=3, n_options=4)
    strategy = RandomSearch()
    strategy.setup(space, OBJECTIVES, seed=1)
    archs = [strategy.ask(n) for n in range(64)]
    assert len({c.arch for c in archs if c}) == 64


class _BigSpace(ToySpace):
    """A space too big to enumerate whose sampler always returns the same arch."""

    @property
    def size(self) -> float:
        return math.inf

    def sample(self, rng: np.random.Generator) -> Architecture:
        rng.integers(2)
        return Architecture({f"d{i}": 0 for i in range(self.n_decisions)})


def test_big_space_repeats_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    strategy = RandomSearch()
    strategy.setup(_BigSpace(), OBJECTIVES, seed=0)
    first, second = strategy.ask(0), strategy.ask(1)
    assert first is not None and second is not None
    assert first.arch == second.arch
    assert "no unasked architecture" in caplog.text
    assert caplog.records[-1].levelno == logging.WARNING


def test_takes_only_the_constraint_aware_setting() -> None:
    assert RandomSearch().get_params() == {"constraint_aware": True}
    with pytest.raises(ConfigError, match="unknown parameter"):
        STRATEGIES.create("random", {"population": 3})
