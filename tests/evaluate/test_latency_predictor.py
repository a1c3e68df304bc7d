"""The latency predictor: layer keys, the cached table (persisted, rebuilt, deterministic), the
cheap metric ``predicted_latency_ms`` as a constraint and as an objective of a study."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import nasforge.testing.fixed
import nasforge.testing.toys  # noqa: F401 - registers the toy parts
from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.evaluate import latency_predictor as lp
from nasforge.evaluate.base import EVALUATORS
from nasforge.evaluate.latency import measure_latency
from nasforge.run.loop import Loop
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.testing.toys import ToySpace, ToyTask
from nasforge.trial import TrialState

OBJECTIVES = [{"metric": M.VAL_ACCURACY}, {"metric": M.PREDICTED_LATENCY_MS}]
QUICK: dict[str, Any] = {"n_fit": 4, "n_cover": 4, "network_run_time": 0.02}
"""A calibration of a few seconds' fraction on the toy space."""


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache directory and no predictor kept from another test."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(lp.CACHE_ENV, str(directory))
    lp.forget_predictors()
    yield directory
    lp.forget_predictors()


def toy() -> tuple[ToySpace, Any]:
    return ToySpace(n_decisions=2, n_options=4), ToyTask().info()


def toy_model(d0: int, d1: int = 0) -> nn.Module:
    space, info = toy()
    return space.build(Architecture({"d0": d0, "d1": d1}), info)


def test_layer_keys_name_the_module_its_settings_the_input_shape_and_threads() -> None:
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Sequential(
        nn.Conv1d(4, 4, 3, padding=1), nn.ReLU()), nn.Flatten(), nn.Linear(40, 2))
    traced = lp.trace(model, (1, 10), batch_size=2, threads=1)
    keys = traced.keys
    assert len(keys) == 6 and traced.module_calls == 2  # two Sequentials around the leaves
    assert keys[0] == ("torch.nn.modules.conv.Conv1d|Conv1d(1, 4, kernel_size=(3,), stride=(1,), "
                       "padding=(1,))|float32[2, 1, 10]|t1")
    assert keys[1] == keys[3]  # the same ReLU on the same shape: one entry of the table
    assert keys[1] == "torch.nn.modules.activation.ReLU|ReLU()|float32[2, 4, 10]|t1"
    assert keys[5].endswith("|float32[2, 40]|t1") and "in_features=40" in keys[5]
    assert lp.trace(model, (1, 10), threads=2).keys[0].endswith("float32[1, 1, 10]|t2")
    assert model.training  # the mode is restored


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.attn(x, x, x, need_weights=False)[0]
        return out


def test_any_leaf_module_is_timed_alone_on_the_inputs_it_was_called_with() -> None:
    traced = lp.trace(_Attention(), (5, 8))  # three inputs and a keyword
    [call] = traced.calls
    assert call.key.endswith("|float32[1, 5, 8],float32[1, 5, 8],float32[1, 5, 8],"
                             "need_weights=False|t1")
    assert lp.time_layer(call, min_run_time=0.01) > 0


def test_a_calibrated_table_persists_and_a_reload_predicts_the_same(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space, info = toy()
    predictor = lp.latency_predictor(space, info, **QUICK)
    path = lp.table_path(1)
    assert path.parent.parent == cache and path.exists()
    data = json.loads(path.read_text())
    assert data["machine"] == lp.machine_key(1) and data["layers"]
    [fit] = data["fits"].values()
    assert fit["n"] == QUICK["n_fit"] and all(c >= 0 for c in fit["coef"])
    models = [toy_model(d0, d1) for d0, d1 in ((0, 0), (3, 1), (1, 2))]
    first = [predictor.predict(m) for m in models]  # may time layers not yet met, and save them
    assert all(p > 0 for p in first)
    # another process (no predictor kept) reads the file, and times nothing
    lp.forget_predictors()

    def no_timing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a layer in the table was timed again")

    monkeypatch.setattr(lp, "measure_latency", no_timing)
    again = lp.latency_predictor(space, info, **QUICK)
    assert again is not predictor and again.fit == predictor.fit
    assert [again.predict(m) for m in models] == first
    assert lp.latency_predictor(space, info) is again  # one per file and space in a process


def test_a_corrupt_or_foreign_table_is_rebuilt(cache: Path) -> None:
    space, info = toy()
    path = lp.table_path(1)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    lp.latency_predictor(space, info, **QUICK)
    assert json.loads(path.read_text())["fits"]  # rebuilt
    lp.forget_predictors()
    foreign = {"format": lp.FORMAT, "machine": {**lp.machine_key(1), "cpu": "another CPU"},
               "layers": {"planted": 123.0}, "fits": {}}
    path.write_text(json.dumps(foreign))
    lp.latency_predictor(space, info, **QUICK)
    assert "planted" not in json.loads(path.read_text())["layers"]


def test_bad_settings_are_refused_naming_them() -> None:
    space, info = toy()
    with pytest.raises(ValueError, match="n_fit must be >= 1; got 0"):
        lp.latency_predictor(space, info, n_fit=0)
    with pytest.raises(ValueError, match="network_run_time must be > 0"):
        lp.latency_predictor(space, info, network_run_time=0)


def test_the_fit_predicts_measured_latency_within_a_loose_factor() -> None:
    # no tight timing claim: a shared machine is noisy; the benchmark reports the real error
    space, info = toy()
    predictor = lp.latency_predictor(space, info, n_fit=6, n_cover=4, network_run_time=0.05)
    ratios = []
    for d0, d1 in ((0, 3), (3, 0), (2, 2), (1, 1), (3, 3)):
        model = toy_model(d0, d1)
        measured = measure_latency(model, info.input_shape, min_run_time=0.05).median_ms
        ratios.append(predictor.predict(model) / measured)
    assert 1 / 5 < float(np.median(ratios)) < 5, ratios  # the median resists one noisy timing


def test_cheap_metrics_give_predicted_latency_only_when_asked() -> None:
    space, info = toy()
    predictor = lp.latency_predictor(space, info, **QUICK)
    evaluator = EVALUATORS.create("toy", {})
    arch = Architecture({"d0": 2, "d1": 1})
    assert M.PREDICTED_LATENCY_MS not in evaluator.cheap_metrics(space, arch, ToyTask())
    assert evaluator.cheap_metrics_wanted([M.VAL_ACCURACY]) == ()
    wanted = evaluator.cheap_metrics_wanted([M.PREDICTED_LATENCY_MS])
    assert wanted == (M.PARAMS, M.FLOPS, M.PREDICTED_LATENCY_MS)
    cheap = evaluator.cheap_metrics(space, arch, ToyTask(), names=wanted)
    with torch.random.fork_rng():
        assert cheap[M.PREDICTED_LATENCY_MS] == predictor.predict(space.build(arch, info))
    assert M.PREDICTED_LATENCY_MS not in EVALUATORS.get("nb201_table").cheap  # builds nothing


def _study(**changes: Any) -> Study:
    data = {"name": "lat", "task": "toy", "space": {"name": "toy", "n_decisions": 2,
            "n_options": 4}, "executor": "inline", "export_best": False, **changes}
    return Study.create(parse_spec(data), in_memory=True)


def _predictions(archs: list[dict[str, int]], *, layer_sum: bool = False) -> list[float]:
    """The predictions of the toy networks (``layer_sum``: the study's predictor is made to
    predict the plain layer sum, which differs between networks whatever a noisy fit found)."""
    space, info = toy()
    predictor = lp.latency_predictor(space, info, **QUICK)
    if layer_sum:
        predictor.fit = lp.LatencyFit((1.0, 0.0, 0.0, 0.0), n=0, mape=0.0, calibration_s=0.0)
    return [predictor.predict(space.build(Architecture(a), info)) for a in archs]


def test_a_predicted_latency_constraint_stores_infeasible_trials_untrained() -> None:
    archs = [{"d0": d, "d1": d} for d in range(4)]
    predicted = _predictions(archs, layer_sum=True)
    order = sorted(predicted)
    assert order[0] < order[-1]
    bound = (order[1] + order[2]) / 2
    # every trained trial fails, so an INFEASIBLE one was not trained
    study = _study(strategy={"name": "fixed", "archs": archs},
                   evaluator={"name": "toy", "fail": ["*"], "fail_mode": "result"},
                   constraints=[f"predicted_latency_ms <= {bound}"],
                   budget={"trials": 4}).run()
    trials = study.trials()
    expected = [TrialState.FAILED if p <= bound else TrialState.INFEASIBLE for p in predicted]
    assert [t.state for t in trials] == expected
    for trial, p in zip(trials, predicted, strict=True):
        if trial.state is TrialState.INFEASIBLE:
            assert trial.metrics[M.PREDICTED_LATENCY_MS] == p
            assert trial.violation is not None and "predicted_latency_ms" in trial.violation


def test_an_objective_on_predicted_latency_is_stored_with_each_trial() -> None:
    archs = [{"d0": d, "d1": 3 - d} for d in range(4)]
    predicted = _predictions(archs)
    study = _study(strategy={"name": "fixed", "archs": archs}, evaluator="toy",
                   objectives=OBJECTIVES, budget={"trials": 4}).run()
    trials = study.trials()
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.metrics[M.PREDICTED_LATENCY_MS] for t in trials] == predicted
    assert study.best_trials()


def test_the_train_evaluator_accepts_predicted_latency_as_an_objective() -> None:
    # refused neither by the spec nor by the pre-flight check; the loop then adds it
    spec = parse_spec({"name": "t", "task": "mnist1d", "space": {"name": "mlp"},
                       "evaluator": {"name": "train", "epochs": 1},
                       "objectives": OBJECTIVES,
                       "executor": "inline", "export_best": False})
    study = Study.create(spec, in_memory=True)
    assert [o.metric for o in study.spec.objectives] == [M.VAL_ACCURACY, M.PREDICTED_LATENCY_MS]
    assert M.PREDICTED_LATENCY_MS in Loop(study, []).cheap_names
