"""The ``supernet`` evaluator: settings, pre-flight, scoring, and a search over a supernet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nasforge as nf
from nasforge.errors import ConfigError
from nasforge.evaluate import EVALUATORS, SupernetEvaluator
from nasforge.evaluate.base import EvalContext, run_evaluation
from nasforge.evaluate.supernet import _evaluator
from nasforge.space import ChoicesSpace, NB201Space
from nasforge.tasks import ArrayTask
from nasforge.trial import Candidate, Status, TrialState

SPACE = NB201Space(dims=1, channels=4, cells_per_stage=1)
SETTINGS: dict[str, Any] = {"epochs": 2, "batch_size": 32, "bn_batches": 2, "bn_batch_size": 32}


def _task(n: int = 160) -> ArrayTask:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = (rng.normal(size=(3, 1, 12)) * 2)[y] + rng.normal(size=(n, 1, 12))
    return ArrayTask(x=x.astype(np.float32), y=y, val_fraction=0.25, test_fraction=0.2, seed=0)


@pytest.mark.parametrize(("params", "field"), [
    ({"epochs": 0}, "evaluator.epochs"),
    ({"bn_batches": -1}, "evaluator.bn_batches"),
    ({"optimizer": "lamb"}, "evaluator.optimizer"),
    ({"epoch": 3}, "evaluator.epoch"),
])
def test_bad_settings_name_their_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        EVALUATORS.create("supernet", params, field="evaluator")


def test_preflight_refuses_a_space_without_a_supernet() -> None:
    evaluator = SupernetEvaluator(**SETTINGS)
    problems = evaluator.preflight(ChoicesSpace(decisions={"op": ["a", "b"]}), _task())
    assert len(problems) == 1 and problems[0].field == "space"
    assert "has no supernet" in problems[0].message
    assert "the supernet evaluator needs a space with a supernet" in problems[0].fix
    assert evaluator.preflight(SPACE, _task()) == []


def test_candidates_are_scored_with_inherited_weights_deterministically(tmp_path: Path) -> None:
    task = _task()
    evaluator = SupernetEvaluator(**SETTINGS)
    evaluator.prepare(SPACE, task, str(tmp_path))
    record = json.loads((tmp_path / "supernet" / "training.json").read_text())
    assert record["epochs"] == 2 and record["status"] == "ok" and record["train_seconds"] > 0
    arch = SPACE.sample(np.random.default_rng(1))
    ctx = EvalContext(space=SPACE, task=task, seed=0)
    first = run_evaluation(evaluator, Candidate(arch), ctx)
    assert first.status is Status.OK, first.reason
    assert set(first.metrics) == {"val_accuracy", "val_loss", "test_accuracy", "test_loss",
                                  "params", "flops"}
    assert 0 <= first.metrics["val_accuracy"] <= 100
    assert first.info["supernet"]["checkpoint"].endswith("supernet/supernet.pt")
    assert first.info["bn_batches"] == 2
    other = SPACE.sample(np.random.default_rng(2))
    run_evaluation(evaluator, Candidate(other), ctx)
    again = run_evaluation(evaluator, Candidate(arch), ctx)  # the other path ran in between
    assert again.metrics == first.metrics


def test_an_unprepared_evaluator_trains_on_first_use_in_memory() -> None:
    task = _task()
    evaluator = SupernetEvaluator(**SETTINGS)
    arch = SPACE.sample(np.random.default_rng(1))
    result = run_evaluation(evaluator, Candidate(arch), EvalContext(space=SPACE, task=task,
                                                                    seed=0))
    assert result.status is Status.OK, result.reason
    assert evaluator.training is not None and evaluator.training["checkpoint"] is None
    import pickle

    clone = pickle.loads(pickle.dumps(evaluator))  # the weights travel to workers
    assert run_evaluation(clone, Candidate(arch), EvalContext(space=SPACE, task=task, seed=0)
                          ).metrics == result.metrics


class Killed(BaseException):
    """Stands in for the study process being killed during the supernet's training."""


def test_a_search_over_the_supernet_trains_it_once_and_resumes_a_killed_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _evaluator.train_single_path

    def killed_after_first_epoch(*args: Any, **kwargs: Any) -> Any:
        def kill(epoch: int, loss: float) -> None:
            raise Killed

        return real(*args, **kwargs, on_epoch=kill)

    monkeypatch.setattr(_evaluator, "train_single_path", killed_after_first_epoch)
    settings: dict[str, Any] = {
        "task": {"name": "mnist1d", "num_samples": 300}, "space": SPACE,
        "evaluator": {"name": "supernet", **SETTINGS},
        "strategy": {"name": "regularized_evolution", "population": 4, "sample": 2},
        "executor": "inline", "root": tmp_path, "name": "s", "export_best": False}
    with pytest.raises(Killed):
        nf.search(budget={"trials": 6}, **settings)
    saved = _evaluator.read_checkpoint(tmp_path / "s" / "supernet" / "supernet.pt")
    assert saved is not None and saved["epoch"] == 1
    monkeypatch.setattr(_evaluator, "train_single_path", real)

    study = nf.resume(tmp_path / "s")
    record = json.loads((tmp_path / "s" / "supernet" / "training.json").read_text())
    assert (record["resumed_from_epoch"], record["epochs"]) == (1, 2)
    trials = study.trials()
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.result.info["supernet"]["train_seconds"] == record["train_seconds"]
               for t in trials)

    more = nf.resume(tmp_path / "s", budget={"trials": 8})
    again = json.loads((tmp_path / "s" / "supernet" / "training.json").read_text())
    assert again["resumed_from_epoch"] == 2  # trained once: the resume only loads it
    assert again["train_seconds"] == record["train_seconds"]
    assert len(more.trials()) == 8


def test_a_diverged_supernet_fails_its_trials_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _evaluator.train_single_path

    def diverging(*args: Any, **kwargs: Any) -> Any:
        def poison(epoch: int, loss: float) -> None:
            import torch

            with torch.no_grad():
                args[0].head.weight.fill_(float("nan"))

        return real(*args, **kwargs, on_epoch=poison)

    monkeypatch.setattr(_evaluator, "train_single_path", diverging)
    evaluator = SupernetEvaluator(**{**SETTINGS, "epochs": 3})
    evaluator.prepare(SPACE, _task(), str(tmp_path))
    record = json.loads((tmp_path / "supernet" / "training.json").read_text())
    assert record["status"] == "diverged" and record["epochs"] == 1
    result = run_evaluation(evaluator, Candidate(SPACE.sample(np.random.default_rng(0))),
                            EvalContext(space=SPACE, task=_task(), seed=0))
    assert result.status is Status.FAILED
    assert "the supernet was not trained: non-finite training loss at epoch 2" in result.reason
