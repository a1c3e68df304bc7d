"""Energy tracking through codecarbon: finite readings with their label, offline, every outcome."""

from __future__ import annotations

import math
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasforge import metrics as M
from nasforge.errors import TrialTimeout
from nasforge.evaluate.base import EvalContext, Evaluator, run_evaluation
from nasforge.evaluate.energy import (
    INFO_KEY,
    METHODS,
    EnergyMeter,
    EnergySettings,
    country_problem,
    require_codecarbon,
    total_energy,
)
from nasforge.imports import MissingDependencyError
from nasforge.testing.toys import ToySpace, ToyTask
from nasforge.trial import Candidate, Result, Status, Trial, TrialState

pytest.importorskip("codecarbon")


def _work() -> float:
    """A little CPU work, so the process uses CPU time while tracked."""
    return float(np.linalg.norm(np.random.default_rng(0).normal(size=(200, 200)) @ np.eye(200)))


def _check_reading(meter: EnergyMeter, country: str) -> None:
    reading = meter.reading
    assert reading is not None, meter.error
    assert math.isfinite(reading.energy_kwh) and reading.energy_kwh >= 0
    assert math.isfinite(reading.co2_kg) and reading.co2_kg >= 0
    labels = {label: estimate for label, estimate in METHODS.values()}
    assert reading.method in labels
    assert reading.estimate is labels[reading.method]
    assert reading.country == country
    assert reading.duration_s > 0
    assert set(reading.metrics()) == {M.ENERGY_KWH, M.CO2_KG}
    assert reading.info()["tracking_mode"] == "process"


def test_the_meter_gives_finite_non_negative_energy_and_co2_with_a_label() -> None:
    with EnergyMeter("fra") as meter:
        _work()
    _check_reading(meter, "FRA")
    # a tracker on the same process reuses codecarbon's hardware probe and gives a new reading
    with EnergyMeter("DEU") as again:
        _work()
    _check_reading(again, "DEU")


def test_a_block_that_raises_still_gets_its_reading() -> None:
    meter = EnergyMeter("FRA")
    with pytest.raises(RuntimeError, match="boom"), meter:
        _work()
        raise RuntimeError("boom")
    _check_reading(meter, "FRA")


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def refuse(self, name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{name}{args[1:2]}")
            raise OSError(f"network access attempted through {name}")

        return refused


def test_tracking_never_reaches_the_network_nor_writes_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # settings that would make codecarbon go online or write out, were they honoured
    monkeypatch.setenv("CODECARBON_ELECTRICITYMAPS_API_TOKEN", "secret")
    monkeypatch.setenv("CODECARBON_CO2_SIGNAL_API_TOKEN", "secret")
    monkeypatch.setenv("CODECARBON_SAVE_TO_API", "true")
    monkeypatch.setenv("CODECARBON_EMISSIONS_ENDPOINT", "http://example.invalid/emissions")
    monkeypatch.setenv("CODECARBON_OUTPUT_METHODS", "csv,api")
    monkeypatch.chdir(tmp_path)
    recorder = _Recorder()
    monkeypatch.setattr(socket.socket, "connect", recorder.refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", recorder.refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", recorder.refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", recorder.refuse("getaddrinfo"))
    requests = pytest.importorskip("requests")
    monkeypatch.setattr(requests.Session, "request", recorder.refuse("requests"))
    with EnergyMeter("FRA") as meter:
        _work()
    assert recorder.calls == []
    _check_reading(meter, "FRA")
    assert list(tmp_path.iterdir()) == []  # no emissions.csv or other output


def test_a_missing_codecarbon_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "codecarbon" or m.startswith("codecarbon.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # `import codecarbon` now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'nasforge\[green\]'"):
        EnergyMeter("FRA").__enter__()
    with pytest.raises(MissingDependencyError, match=r"'codecarbon' package"):
        require_codecarbon()


def test_countries_are_checked_against_codecarbons_table() -> None:
    assert country_problem("FRA") is None
    assert country_problem("fra") is None
    assert "3-letter" in (country_problem("France") or "")
    assert "no grid intensity" in (country_problem("FRN") or "")
    with pytest.raises(ValueError, match=r"'FRN'.*FRA \(France\)"):
        EnergyMeter("FRN")
    with pytest.raises(ValueError, match="measure_power_secs"):
        EnergyMeter("FRA", measure_power_secs=0)


class _Scripted(Evaluator):
    """Works a little, then returns a result or raises what it was given."""

    cheap = ()

    def __init__(self, *, outcome: str = "ok") -> None:
        self.outcome = outcome

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        _work()
        if self.outcome == "fail":
            raise RuntimeError("diverged")
        if self.outcome == "timeout":
            raise TrialTimeout("time limit of 1 s exceeded")
        return Result(metrics={M.VAL_ACCURACY: 50.0}, info={"kept": 1})


def _context(energy: EnergySettings | None) -> tuple[Candidate, EvalContext]:
    space = ToySpace(n_decisions=2, n_options=2)
    arch = space.sample(np.random.default_rng(0))
    return Candidate(arch), EvalContext(space=space, task=ToyTask(), seed=0, energy=energy)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("ok", Status.OK), ("fail", Status.FAILED), ("timeout", Status.TIMEOUT)],
)
def test_run_evaluation_adds_energy_to_every_outcome(outcome: str, status: Status) -> None:
    candidate, ctx = _context(EnergySettings(country="FRA"))
    result = run_evaluation(_Scripted(outcome=outcome), candidate, ctx)
    assert result.status is status
    assert result.metrics[M.ENERGY_KWH] >= 0 and result.metrics[M.CO2_KG] >= 0
    label = result.info[INFO_KEY]
    assert label["country"] == "FRA" and isinstance(label["estimate"], bool)
    if status is Status.OK:
        assert result.metrics[M.VAL_ACCURACY] == 50.0 and result.info["kept"] == 1


def test_without_energy_settings_nothing_is_tracked() -> None:
    candidate, ctx = _context(None)
    result = run_evaluation(_Scripted(), candidate, ctx)
    assert M.ENERGY_KWH not in result.metrics and INFO_KEY not in result.info


def test_the_total_sums_every_trial_that_carries_energy() -> None:
    space = ToySpace(n_decisions=2, n_options=2)
    arch = space.sample(np.random.default_rng(0))

    def trial(number: int, state: TrialState, metrics: dict[str, float], info: Any) -> Trial:
        status = Status.OK if state is TrialState.COMPLETE else Status.FAILED
        result = Result(metrics=metrics, status=status, info=info)
        return Trial(study_id=1, number=number, candidate=Candidate(arch), state=state,
                     result=result)

    label = {"method": "cpu_load_tdp_estimate", "estimate": True, "country": "FRA"}
    trials = [
        trial(0, TrialState.COMPLETE, {M.ENERGY_KWH: 1e-6, M.CO2_KG: 5e-8}, {INFO_KEY: label}),
        trial(1, TrialState.FAILED, {M.ENERGY_KWH: 2e-6, M.CO2_KG: 1e-7}, {INFO_KEY: label}),
        trial(2, TrialState.COMPLETE, {M.VAL_ACCURACY: 1.0}, {}),
    ]
    total = total_energy(trials)
    assert total is not None
    assert total.kwh == pytest.approx(3e-6) and total.co2_kg == pytest.approx(1.5e-7)
    assert (total.method, total.estimate, total.country, total.n_trials) == (
        "cpu_load_tdp_estimate", True, "FRA", 2)
    assert total_energy(trials[2:]) is None
