"""The Python API accepts objects, names and mappings, with the same validation as YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasforge as nf
from nasforge.testing.toys import ToyEvaluator, ToySpace, ToyTask


def test_search_with_objects_returns_a_study(tmp_path: Path) -> None:
    study = nf.search(task=ToyTask(), space=ToySpace(n_decisions=3, n_options=3),
                      strategy=nf.strategy.STRATEGIES.create("random"),
                      evaluator=ToyEvaluator(), executor="inline",
                      budget=nf.Budget(trials=6), seed=2, root=tmp_path, name="api")
    assert len(study.trials()) == 6
    best = study.best()
    assert best.metrics["val_accuracy"] == max(t.metrics["val_accuracy"] for t in study.trials())
    frame = study.to_dataframe()
    assert list(frame["number"]) == list(range(6))
    assert {"arch", "state", "val_accuracy", "test_accuracy"} <= set(frame.columns)
    assert best.build() is not None
    # The stored spec names the objects' parameters, so the study reopens from disk.
    again = nf.open_study(tmp_path / "api")
    assert again.spec.space.params == {"n_decisions": 3, "n_options": 3}
    assert [t.arch for t in again.trials()] == [t.arch for t in study.trials()]


def test_search_with_names_and_mappings_in_memory() -> None:
    study = nf.search(task="toy", space={"name": "toy", "n_decisions": 2}, strategy="random",
                      evaluator="toy", executor="inline", budget={"trials": 3}, in_memory=True)
    assert len(study.trials()) == 3


def test_search_validates_like_yaml() -> None:
    with pytest.raises(nf.ConfigError, match=r"space\.n_decisons: unknown parameter"):
        nf.search(task="toy", space={"name": "toy", "n_decisons": 2}, evaluator="toy",
                  executor="inline", budget={"trials": 3}, in_memory=True)
    with pytest.raises(nf.ConfigError, match="budget"):
        nf.search(task="toy", space="toy", evaluator="toy", executor="inline", budget={},
                  in_memory=True)
    with pytest.raises(nf.ConfigError, match="strategy"):
        nf.search(task="toy", space="toy", evaluator="toy", strategy=42,  # type: ignore[arg-type]
                  executor="inline", budget={"trials": 1}, in_memory=True)


def test_resume_api_extends_a_study(tmp_path: Path) -> None:
    nf.search(task="toy", space="toy", strategy="random", evaluator="toy", executor="inline",
              budget={"trials": 4}, root=tmp_path, name="r")
    study = nf.resume(tmp_path / "r")
    assert len(study.trials()) == 4  # budget already spent: nothing repeated
