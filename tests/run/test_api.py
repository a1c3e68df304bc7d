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
    first = nf.search(task="toy", space="toy", strategy="random", evaluator="toy",
                      executor="inline", budget={"trials": 4}, root=tmp_path, name="r")
    finished_at = [t.finished_at for t in first.trials()]
    first.close()
    same = nf.resume(tmp_path / "r")
    assert len(same.trials()) == 4  # budget already spent: nothing repeated
    same.close()
    more = nf.resume(tmp_path / "r", budget={"trials": 9})
    assert len(more.trials()) == 9
    assert [t.finished_at for t in more.trials()[:4]] == finished_at  # not evaluated again
    assert more.spec.budget.trials == 9
    assert nf.open_study(tmp_path / "r").spec.budget.trials == 9  # stored with the study


def test_resume_api_refuses_settings_that_made_the_trials(tmp_path: Path) -> None:
    nf.search(task="toy", space="toy", strategy="random", evaluator="toy", executor="inline",
              budget={"trials": 2}, root=tmp_path, name="r")
    with pytest.raises(nf.ConfigError, match=r"resume\(strategy=\.\.\.\): 'strategy' cannot"):
        nf.resume(tmp_path / "r", strategy="regularized_evolution")


def test_search_exports_the_best_like_the_cli(tmp_path: Path) -> None:
    study = nf.search(task="digits", space={"name": "mlp"}, strategy="random",
                      evaluator={"name": "train", "epochs": 1}, executor="inline",
                      budget={"trials": 2}, root=tmp_path, name="e")
    assert (tmp_path / "e" / "best" / "weights.pt").is_file()
    assert (tmp_path / "e" / "summary.json").is_file()
    assert (tmp_path / "e" / "report.html").is_file()
    assert study.best().number in (0, 1)


def test_an_unregistered_component_is_refused_with_how_to_register() -> None:
    class MySpace(ToySpace):
        def __init__(self) -> None:
            super().__init__(n_decisions=2, n_options=2)

    MySpace.name = ""  # as a subclass of a registered class would inherit "toy"
    with pytest.raises(nf.ConfigError, match=r"MySpace is not a registered space") as info:
        nf.search(task="toy", space=MySpace(), evaluator="toy", executor="inline",
                  budget={"trials": 1}, in_memory=True)
    assert "@nasforge.space.SPACES.register('my_space')" in str(info.value)
    assert "String should have at least 1 character" not in str(info.value)


def test_the_python_front_door_names_its_own_syntax(tmp_path: Path) -> None:
    kwargs = {"task": "toy", "space": "toy", "strategy": "random", "evaluator": "toy",
              "executor": "inline", "budget": {"trials": 1}, "root": tmp_path, "name": "x"}
    nf.search(**kwargs)
    with pytest.raises(nf.ConfigError, match="already exists") as info:
        nf.search(**kwargs)
    text = str(info.value)
    assert "overwrite=True" in text and "name=..." in text and "nasforge.resume(" in text
    assert "--set" not in text and "--overwrite" not in text
