"""A study that tracks energy: per-trial energy_kwh and co2_kg, the total in summary.json, and
the settings refused before the first trial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
import nasforge.testing.toys  # registers the toy parts
from nasforge import metrics as M
from nasforge.evaluate.energy import INFO_KEY
from nasforge.run import preflight
from nasforge.run.spec import parse_spec

pytest.importorskip("codecarbon")


def _toy(tmp_path: Path, **kwargs: Any) -> nf.Study:
    settings: dict[str, Any] = {
        "task": "toy", "space": {"name": "toy", "n_decisions": 2, "n_options": 2},
        "evaluator": "toy", "strategy": "random", "executor": "inline",
        "budget": {"trials": 2}, "root": tmp_path / "runs", "name": "e", **kwargs}
    return nf.search(**settings)


def test_a_mnist1d_study_stores_each_trials_energy_and_the_total(tmp_path: Path) -> None:
    study = nf.search(
        task={"name": "mnist1d", "num_samples": 200},
        space={"name": "mlp", "depths": [1], "widths": [4, 8], "activations": ["relu"],
               "dropouts": [0.0]},
        strategy="random", evaluator={"name": "train", "epochs": 1}, executor="inline",
        budget={"trials": 2}, energy={"country": "FRA"}, export_best=False,
        root=tmp_path / "runs", name="green")
    trials = study.trials()
    assert len(trials) == 2
    for trial in trials:
        assert trial.metrics[M.ENERGY_KWH] >= 0 and trial.metrics[M.CO2_KG] >= 0
        assert trial.result is not None and trial.result.info[INFO_KEY]["country"] == "FRA"
    summary = json.loads((tmp_path / "runs" / "green" / "summary.json").read_text())
    energy = summary["energy"]
    assert energy["kwh"] == pytest.approx(sum(t.metrics[M.ENERGY_KWH] for t in trials))
    assert energy["co2_kg"] == pytest.approx(sum(t.metrics[M.CO2_KG] for t in trials))
    assert energy["country"] == "FRA" and energy["n_trials"] == 2
    assert energy["method"] == trials[0].result.info[INFO_KEY]["method"]
    assert isinstance(energy["estimate"], bool)
    assert "energy" in (tmp_path / "runs" / "green" / "report.html").read_text().lower()


def test_energy_may_be_an_objective_and_a_constraint_when_tracked(tmp_path: Path) -> None:
    study = _toy(tmp_path, energy=True,
                 objectives=[{"metric": "val_accuracy"}, {"metric": "energy_kwh"}],
                 constraints=["co2_kg <= 1"])
    assert all(M.ENERGY_KWH in t.metrics for t in study.trials())
    assert study.spec.energy is not None and study.spec.energy.country == "USA"
    summary = json.loads((tmp_path / "runs" / "e" / "summary.json").read_text())
    assert summary["energy"]["n_trials"] == 2


def test_a_study_without_energy_has_none_in_its_summary(tmp_path: Path) -> None:
    study = _toy(tmp_path)
    assert all(M.ENERGY_KWH not in t.metrics for t in study.trials())
    summary = json.loads((tmp_path / "runs" / "e" / "summary.json").read_text())
    assert summary["energy"] is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"objectives": [{"metric": "val_accuracy"}, {"metric": "energy_kwh"}]},
         "objectives.1.metric"),
        ({"constraints": ["co2_kg <= 1"]}, "constraints.0.metric"),
    ],
)
def test_energy_metrics_without_tracking_are_refused(
    tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(nf.ConfigError, match=rf"{field}: .*measured only when the study tracks "
                                             r"energy.*fix: turn tracking on with energy: "):
        _toy(tmp_path, **kwargs)
    assert not (tmp_path / "runs" / "e").exists()


def test_tracking_without_codecarbon_is_refused_with_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "missing_modules", lambda extra: ["codecarbon"])
    with pytest.raises(nf.ConfigError, match=r"energy: .*'codecarbon' package.*"
                                             r"fix: pip install 'nasforge\[green\]'"):
        _toy(tmp_path, energy={"country": "FRA"})


def test_the_energy_setting_is_validated_in_each_front_doors_syntax() -> None:
    assert parse_spec({"energy": {"country": "fra"}}, check=False).energy.country == "FRA"
    assert parse_spec({"energy": True}, check=False).energy.country == "USA"
    assert parse_spec({"energy": False}, check=False).energy is None
    cli = parse_spec({}, overrides=["energy.country=DEU"], check=False)
    assert cli.energy is not None and cli.energy.country == "DEU"
    switched = parse_spec({"energy": True}, overrides=["energy.country=deu"], check=False)
    assert switched.energy is not None and switched.energy.country == "DEU"
    with pytest.raises(nf.ConfigError, match=r"energy\.country: codecarbon has no grid "
                                             r"intensity for country code 'FRN'.*FRA \(France\)"):
        parse_spec({"energy": {"country": "FRN"}}, check=False)
    with pytest.raises(nf.ConfigError, match=r"energy\.country: expected a 3-letter"):
        parse_spec({}, overrides=["energy.country=France"], check=False)
    with pytest.raises(nf.ConfigError, match=r"energy\.region: unknown parameter"):
        parse_spec({"energy": {"region": "x"}}, check=False)


def test_the_end_of_search_message_states_the_estimated_energy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasforge.cli.finish import print_finished

    study = _toy(tmp_path, energy={"country": "FRA"})
    print_finished(study, study.finish())
    out = " ".join(capsys.readouterr().out.split())
    assert "Energy of 2 trials:" in out and "kg CO2-eq" in out and "grid of FRA" in out
