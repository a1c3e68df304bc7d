"""The function evaluator: the user's own training loop, by reference, with reports."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
import nasforge.testing.toys
from nasforge.errors import ConfigError
from nasforge.evaluate.base import EVALUATORS, EvalContext, run_evaluation
from nasforge.evaluate.function import FunctionEvaluator, function_path, resolve_path
from nasforge.space.base import SPACES
from nasforge.tasks.base import TASKS
from nasforge.trial import Candidate, Status, TrialState
from tests.evaluate import own_loops

SEARCH: dict[str, Any] = {"task": "toy", "space": "mlp", "strategy": "random",
                          "executor": "inline", "budget": {"trials": 3}, "in_memory": True,
                          "export_best": False}


def _evaluate(fn: Any, **ctx: Any) -> Any:
    space = SPACES.create("mlp", {})
    task = TASKS.create("toy", {})
    evaluator = FunctionEvaluator(path=fn)
    arch = space.sample(__import__("numpy").random.default_rng(0))
    context = EvalContext(space=space, task=task, seed=5, **ctx)
    return run_evaluation(evaluator, Candidate(arch, 2), context)


def test_a_function_is_stored_by_reference_and_pickles() -> None:
    evaluator = FunctionEvaluator(path=own_loops.fit)
    assert evaluator.get_params()["path"] == "tests.evaluate.own_loops:fit"
    again = pickle.loads(pickle.dumps(evaluator))
    assert again == evaluator and again.function is own_loops.fit
    assert EVALUATORS.create("function", evaluator.get_params()) == evaluator


def test_the_same_seed_gives_the_same_result() -> None:
    first, second = _evaluate(own_loops.fit), _evaluate(own_loops.fit)
    assert first.ok and first.metrics == second.metrics
    assert set(first.metrics) == {"val_accuracy", "first_weight"}  # a tensor taken by value


def test_outcomes() -> None:
    diverged = _evaluate(own_loops.diverges)
    assert diverged.status is Status.FAILED
    assert "val_accuracy at step 1 is nan" in (diverged.reason or "")
    text = _evaluate(own_loops.returns_text)
    assert text.status is Status.FAILED and "'val_accuracy': str; every metric must be a number" \
        in (text.reason or "")
    listed = _evaluate(own_loops.returns_list)
    assert "returned list, expected a dict" in (listed.reason or "")
    assert _evaluate(own_loops.gives_up).status is Status.PRUNED


def test_the_handle_says_what_the_trial_is() -> None:
    result = _evaluate(own_loops.handle_fields, number=7, time_limit_s=100.0)
    assert result.metrics["val_accuracy"] == 5.0 and result.metrics["number"] == 7.0
    assert 0 < result.metrics["time_left"] <= 100.0 and result.metrics["n_classes"] == 2.0


def test_functions_that_cannot_be_referred_to_are_refused() -> None:
    def local(model: Any, task: Any, trial: Any) -> dict[str, float]:
        return {}

    with pytest.raises(ConfigError, match=r"evaluator.path: local, a function defined "
                                          r"inside another function,.*top level"):
        FunctionEvaluator(path=local)
    with pytest.raises(ConfigError, match=r"cannot import module 'no_such_module'.*PYTHONPATH"):
        resolve_path("no_such_module:fit")
    with pytest.raises(ConfigError,
                       match=r"'tests.evaluate.own_loops' has no attribute 'fitt'.*fit"):
        resolve_path("tests.evaluate.own_loops:fitt")
    with pytest.raises(ConfigError, match="expected 'module:function'"):
        resolve_path("fit")


def test_a_file_path_works(tmp_path: Path) -> None:
    file = tmp_path / "my_loop.py"
    file.write_text("def fit(model, task, trial):\n    return {'val_accuracy': 1.5}\n")
    fn = resolve_path(f"{file}:fit")
    assert fn(None, None, None) == {"val_accuracy": 1.5}
    assert function_path(fn) == f"{file.resolve()}:fit"  # not importable by name: by its file


def test_search_with_a_function_and_pruner() -> None:
    study = nf.search(evaluator=own_loops.fit, pruner={"name": "median", "n_startup_trials": 1},
                      **SEARCH)
    assert study.spec.evaluator.params["path"] == "tests.evaluate.own_loops:fit"
    assert study.spec.pruner.name == "median"
    assert [len(study.store.curve(study.record.id, t.number)) > 0 for t in study.trials()] == \
        [True] * 3
    assert study.trials()[0].state is TrialState.COMPLETE


def test_declared_metrics_are_checked_before_running() -> None:
    with pytest.raises(ConfigError, match=r"objectives.0.metric: 'val_accuracy' is not reported"):
        nf.search(evaluator={"name": "function", "path": "tests.evaluate.own_loops:fit",
                             "metrics": ["loss"]}, **SEARCH)
    with pytest.raises(ConfigError, match=r"pruner: .*does not report it per step"):
        nf.search(evaluator={"name": "function", "path": "tests.evaluate.own_loops:fit",
                             "curve": ["loss"]}, pruner="median", **SEARCH)
    with pytest.raises(ConfigError, match=r"evaluator.path: cannot import module 'nowhere'"):
        nf.search(evaluator={"name": "function", "path": "nowhere:fit"}, **SEARCH)
