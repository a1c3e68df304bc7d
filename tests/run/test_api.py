"""The Python API accepts objects, names and mappings, with the same validation as YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasforge as nf
from nasforge.run.lock import StudyLock
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


def _small(tmp_path: Path, **kwargs: object) -> nf.Study:
    settings = {"task": "toy", "space": "toy", "strategy": "random", "evaluator": "toy",
                "executor": "inline", "budget": {"trials": 3}, "root": tmp_path, "name": "s",
                **kwargs}
    return nf.search(**settings)  # type: ignore[arg-type]


def test_a_stop_asked_after_a_study_ended_does_not_stop_the_next_resume(tmp_path: Path) -> None:
    _small(tmp_path).request_stop()
    assert len(nf.resume(tmp_path / "s", budget={"trials": 5}).trials()) == 5


def test_a_refused_resume_changes_nothing_stored(tmp_path: Path) -> None:
    _small(tmp_path)
    with StudyLock(tmp_path / "s"), pytest.raises(nf.NasforgeError, match="already running"):
        nf.resume(tmp_path / "s", budget={"trials": 50})
    assert nf.open_study(tmp_path / "s").spec.budget.trials == 3
    assert "trials: 3" in (tmp_path / "s" / "spec.yaml").read_text()
    nf.resume(tmp_path / "s", budget={"trials": 4})
    assert "trials: 4" in (tmp_path / "s" / "spec.yaml").read_text()


def test_overwrite_never_deletes_a_running_study(tmp_path: Path) -> None:
    _small(tmp_path)
    with StudyLock(tmp_path / "s"), pytest.raises(nf.NasforgeError, match="already running"):
        _small(tmp_path, overwrite=True)
    assert len(nf.open_study(tmp_path / "s").trials()) == 3


def test_elapsed_time_adds_up_over_runs_of_one_study(tmp_path: Path) -> None:
    study = _small(tmp_path)
    first = study.store.get_study("s").elapsed_s  # type: ignore[union-attr]
    study.spec = study.spec.model_copy(update={"budget": nf.Budget(trials=6)})
    study.run()
    assert study.record.elapsed_s >= first and study.record.status == "finished"


def test_no_completed_trial_is_stored_as_failed(tmp_path: Path) -> None:
    with pytest.raises(nf.StudyFailedError):
        _small(tmp_path, evaluator={"name": "toy", "fail": ["*"]}, max_consecutive_failures=None)
    record = nf.open_study(tmp_path / "s").store.get_study("s")
    assert record is not None and record.status == "failed"


def test_python_inputs_of_the_wrong_type_are_named(tmp_path: Path) -> None:
    study = _small(tmp_path, objectives={"metric": "val_accuracy", "direction": "max"},
                   name="one")  # one objective, not a list
    assert [o.metric for o in study.spec.objectives] == ["val_accuracy"]
    with pytest.raises(nf.ConfigError, match="callbacks: expected a list"):
        _small(tmp_path, callbacks=5, name="cb")
    assert not (tmp_path / "cb").exists()
    with pytest.raises(nf.ConfigError, match="directory: expected the study folder"):
        nf.resume(5)  # type: ignore[arg-type]


def test_resume_takes_component_objects_like_search(tmp_path: Path) -> None:
    _small(tmp_path)
    study = nf.resume(tmp_path / "s", executor=nf.execute.InlineExecutor(),
                      budget={"trials": 4})
    assert len(study.trials()) == 4
    with pytest.raises(nf.ConfigError, match=r"resume\(bogus=\.\.\.\): unknown setting 'bogus'"):
        nf.resume(tmp_path / "s", bogus=3)


def test_resume_refuses_an_unregistered_component_like_search(tmp_path: Path) -> None:
    class MyInline(nf.execute.InlineExecutor):
        pass

    MyInline.name = ""
    _small(tmp_path)
    with pytest.raises(nf.ConfigError, match="MyInline is not a registered executor"):
        nf.resume(tmp_path / "s", executor=MyInline())
