"""The toy space, score, evaluator and task that strategy (and loop) tests rely on.

(These would live in tests/testing/; they sit here because this folder is the strategy owner's.)
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.evaluate.base import EVALUATORS, EvalContext, run_evaluation
from nasforge.space.base import SPACES
from nasforge.tasks.base import TASKS
from nasforge.testing.toys import ToyEvaluator, ToySpace, ToyTask, toy_optimum, toy_score
from nasforge.trial import Candidate, Status


def test_space_is_finite_and_enumerable() -> None:
    space = ToySpace(n_decisions=3, n_options=3)
    archs = list(space.enumerate())
    assert space.size == 27 == len(archs) == len(set(archs))
    for a in archs:
        space.validate(a)


def test_sample_is_seeded_and_covers_the_space() -> None:
    space = ToySpace(n_decisions=2, n_options=2)
    draws = [space.sample(np.random.default_rng(s)) for s in range(40)]
    assert draws == [space.sample(np.random.default_rng(s)) for s in range(40)]
    assert len(set(draws)) == 4


def test_mutate_changes_exactly_one_decision() -> None:
    space = ToySpace()
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = space.sample(rng)
        b = space.mutate(a, rng)
        assert sum(a[k] != b[k] for k in a) == 1
        space.validate(b)


def test_neighbours_are_every_one_step_change_in_order(arch: Callable[..., Architecture]) -> None:
    space = ToySpace(n_decisions=2, n_options=3)
    assert space.neighbours(arch(0, 0)) == [arch(1, 0), arch(2, 0), arch(0, 1), arch(0, 2)]


def test_encode_is_one_hot(arch: Callable[..., Architecture]) -> None:
    space = ToySpace(n_decisions=2, n_options=3)
    np.testing.assert_array_equal(space.encode(arch(2, 0)), [0, 0, 1, 1, 0, 0])


@pytest.mark.parametrize(
    ("decisions", "match"),
    [
        ({"d0": 0}, "d1: missing decision"),
        ({"d0": 0, "d1": 0, "x": 1}, "x: unknown decision 'x'"),
        ({"d0": 0, "d1": 4}, r"d1: expected an int in 0..3, got 4"),
        ({"d0": True, "d1": 0}, r"d0: expected an int in 0..3, got True"),
        ({"d0": "a", "d1": 0}, r"d0: expected an int"),
    ],
)
def test_validate_names_the_bad_decision(decisions: dict[str, object], match: str) -> None:
    space = ToySpace(n_decisions=2)
    with pytest.raises(InvalidArchitectureError, match=match):
        space.validate(Architecture(decisions))
    assert not space.contains(Architecture(decisions))


def test_build_gives_a_module_of_the_task_shape(arch: Callable[..., Architecture]) -> None:
    space = ToySpace(n_decisions=2)
    info = ToyTask(n_features=5, n_classes=3).info()
    small, big = space.build(arch(0, 1), info), space.build(arch(3, 1), info)
    assert small(torch.zeros(2, 5)).shape == (2, 3)
    assert sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in small.parameters())


def test_space_params_round_trip_and_config_errors() -> None:
    space = ToySpace(n_decisions=3, n_options=5)
    assert SPACES.create("toy", space.get_params()) == space
    assert pickle.loads(pickle.dumps(space)) == space
    with pytest.raises(ConfigError, match="n_options"):
        SPACES.create("toy", {"n_options": 1})


@pytest.mark.parametrize(("n_decisions", "n_options"), [(1, 2), (2, 3), (4, 4), (3, 5)])
def test_score_has_a_unique_optimum_of_one(n_decisions: int, n_options: int) -> None:
    space = ToySpace(n_decisions=n_decisions, n_options=n_options)
    scores = {a: toy_score(a, space) for a in space.enumerate()}
    best = [a for a, s in scores.items() if s == 1.0]
    assert best == [toy_optimum(space)]
    assert min(scores.values()) >= 0.0
    assert toy_optimum(space) != next(space.enumerate())


def _ctx(space: ToySpace | None = None) -> EvalContext:
    return EvalContext(space=space or ToySpace(), task=ToyTask(), seed=0)


def test_evaluator_reports_percent_accuracies() -> None:
    space = ToySpace()
    result = ToyEvaluator().evaluate(Candidate(toy_optimum(space)), _ctx(space))
    assert result.ok
    assert result.metrics["val_accuracy"] == 100.0
    assert 0 < result.metrics["test_accuracy"] < 100.0


def test_evaluator_lower_fidelity_scores_lower() -> None:
    space = ToySpace()
    optimum = toy_optimum(space)
    evaluator = ToyEvaluator(max_epochs=10)
    low = evaluator.evaluate(Candidate(optimum, fidelity=2), _ctx(space))
    assert evaluator.max_fidelity == 10
    assert low.metrics["val_accuracy"] == pytest.approx(60.0)
    assert low.cost_s == pytest.approx(0.2)


def test_evaluator_scripted_failures() -> None:
    space = ToySpace()
    a, b, c = list(space.enumerate())[:3]
    raising = ToyEvaluator(fail=[str(a)], nan=[b.arch_id])
    failed = run_evaluation(raising, Candidate(a), _ctx(space))
    assert failed.status is Status.FAILED and "RuntimeError" in (failed.reason or "")
    nan = run_evaluation(raising, Candidate(b), _ctx(space))
    assert nan.status is Status.FAILED and "val_accuracy" in (nan.reason or "")
    assert run_evaluation(raising, Candidate(c), _ctx(space)).ok
    as_result = ToyEvaluator(fail=["*"], fail_mode="result").evaluate(Candidate(c), _ctx(space))
    assert as_result.status is Status.FAILED


def test_evaluator_sleeps_only_for_chosen_archs(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    space = ToySpace()
    a, b = list(space.enumerate())[:2]
    evaluator = ToyEvaluator(sleep=[str(a)], sleep_s=0.5)
    evaluator.evaluate(Candidate(a), _ctx(space))
    evaluator.evaluate(Candidate(b), _ctx(space))
    assert slept == [0.5]


def test_evaluator_rejects_other_spaces() -> None:
    with pytest.raises(ConfigError, match="ToySpace architectures only"):
        ToyEvaluator().evaluate(Candidate(Architecture(d0=0)), _ctx(object()))  # type: ignore[arg-type]


def test_evaluator_and_task_round_trip() -> None:
    evaluator = ToyEvaluator(fail=["*"], sleep_s=1.0)
    assert EVALUATORS.create("toy", evaluator.get_params()) == evaluator
    assert pickle.loads(pickle.dumps(evaluator)) == evaluator
    task = ToyTask(n_features=3)
    assert TASKS.create("toy", task.get_params()) == task


def test_task_data_is_deterministic_and_shaped() -> None:
    data = ToyTask(n_features=3, n_classes=4, n_examples=10, seed=1)._load()
    again = ToyTask(n_features=3, n_classes=4, n_examples=10, seed=1)._load()
    assert data.info.input_shape == (3,) and data.info.n_classes == 4
    assert data.train.x.shape == (10, 3) and data.train.x.dtype == np.float32
    assert data.val.y.dtype == np.int64 and len(data.test) == 10
    np.testing.assert_array_equal(data.train.x, again.train.x)
    assert data.train.y.max() < 4
