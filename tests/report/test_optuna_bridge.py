"""The Optuna bridge: a study written into an Optuna storage reads back with Optuna's tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.errors import ConfigError
from nasforge.report.optuna_bridge import export_optuna
from nasforge.run.study import Study
from nasforge.trial import TrialState

optuna = pytest.importorskip("optuna")


def test_export_reads_back_with_one_categorical_per_decision(
    failing_study: Study, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    export_optuna(failing_study, url)
    loaded = optuna.load_study(study_name="fails", storage=url)
    ours = failing_study.trials()
    assert len(loaded.trials) == len(ours)
    states = {TrialState.COMPLETE: "COMPLETE", TrialState.FAILED: "FAIL",
              TrialState.PRUNED: "PRUNED"}
    for mine, theirs in zip(ours, loaded.trials, strict=True):
        assert theirs.params == dict(mine.arch)
        assert set(theirs.distributions) == {"d0", "d1"}
        assert isinstance(theirs.distributions["d0"], optuna.distributions.CategoricalDistribution)
        assert theirs.user_attrs["nasforge_number"] == mine.number
        assert theirs.state.name == states[mine.state]
        if mine.state is TrialState.COMPLETE:
            assert theirs.value == mine.metrics["val_accuracy"]
            assert theirs.user_attrs["metric.val_accuracy"] == mine.metrics["val_accuracy"]
            curve = {p.step: p.value for p in failing_study.curves(mine.number)
                     if p.metric == "val_accuracy"}
            assert theirs.intermediate_values == curve
        if mine.violation:
            assert theirs.user_attrs["violation"] == mine.violation
        if mine.state is TrialState.FAILED:
            assert "diverged" in theirs.user_attrs["reason"]
    # Optuna's own tools run on it.
    assert optuna.importance.get_param_importances(loaded)
    optuna.visualization.plot_optimization_history(loaded)
    optuna.visualization.plot_param_importances(loaded)


def test_a_multi_objective_study_keeps_its_directions(multi_study: Study, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    export_optuna(multi_study, url)
    loaded = optuna.load_study(study_name="mo", storage=url)
    assert [d.name for d in loaded.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert {t.number for t in loaded.best_trials} == {
        t.number for t in multi_study.best_trials()}  # numbers match: both count from 0


def test_an_existing_name_and_a_bad_url_are_clear_errors(
    multi_study: Study, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    export_optuna(multi_study, url)
    with pytest.raises(ConfigError, match=r"study_name: .* already holds a study 'mo'"):
        export_optuna(multi_study, url)
    export_optuna(multi_study, url, overwrite=True)
    assert len(optuna.load_study(study_name="mo", storage=url).trials) == 30
    with pytest.raises(ConfigError, match=r"storage: 'x\.db' is not a storage URL"):
        export_optuna(multi_study, "x.db")
    with pytest.raises(ConfigError, match="storage: cannot open Optuna storage"):
        export_optuna(multi_study, "nosuchdialect://nowhere")
