"""Multi-fidelity strategies over data fractions: rungs, pre-flight refusals and tiny MNIST-1D
studies in which promotions warm-start from the lower fraction's checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nasforge.errors import ConfigError
from nasforge.evaluate import TrainEvaluator
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.strategy._hyperband import BOHB, Hyperband, SuccessiveHalving
from nasforge.strategy._mf_local_search import MultiFidelityLocalSearch
from nasforge.testing.toys import ToySpace

SPACE = {"name": "nb201", "dims": 1, "channels": 4, "cells_per_stage": 1}
FRACTIONS: dict[str, dict[str, Any]] = {
    "successive_halving": {"min_fidelity": 0.25, "max_fidelity": 1.0, "eta": 2},
    "hyperband": {"rungs": [0.25, 1.0], "eta": 2},
    "bohb": {"min_fidelity": 0.25, "eta": 2, "min_points": 2, "random_fraction": 0.0},
    "mf_local_search": {"low_fidelity": 0.25, "ratio": 2},
}


def test_fraction_rungs_are_geometric_below_one() -> None:
    assert SuccessiveHalving(min_fidelity=0.1, max_fidelity=1.0).fidelities == [0.1111, 0.3333, 1.0]
    assert Hyperband(min_fidelity=0.1).fidelities == [0.1111, 0.3333, 1.0]  # max defaults to 1.0
    assert BOHB(rungs=[0.1, 0.3, 1]).fidelities == [0.1, 0.3, 1.0]
    assert SuccessiveHalving(rungs=[12, 200]).fidelities == [12, 200]  # epochs unchanged


@pytest.mark.parametrize(("make", "match"), [
    (lambda: SuccessiveHalving(min_fidelity=0.5, max_fidelity=0.2), r"min_fidelity.*<= max"),
    (lambda: SuccessiveHalving(min_fidelity=0.1, max_fidelity=9), r"max_fidelity.*at most 1.0"),
    (lambda: Hyperband(rungs=[0.5, 2.5]), r"rungs"),
    (lambda: SuccessiveHalving(max_fidelity=1.5), r"max_fidelity"),
    (lambda: MultiFidelityLocalSearch(low_fidelity=0.5, high_fidelity=0.2), r"above low"),
])
def test_nonsense_fractions_are_refused(make: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("name", list(FRACTIONS))
def test_preflight_refuses_a_kind_or_range_the_evaluator_cannot_train(name: str) -> None:
    from nasforge.strategy.base import STRATEGIES

    fractions = TrainEvaluator(fidelity="data_fraction", epochs=2)
    by_epochs = TrainEvaluator(epochs=4)
    fits = STRATEGIES.create(name, FRACTIONS[name])
    assert fits.preflight(ToySpace(), fractions) == []
    [problem] = fits.preflight(ToySpace(), by_epochs)
    assert "takes whole epochs" in problem.message and "data_fraction" in problem.fix
    epochs = STRATEGIES.create(name, ({"low_fidelity": 2} if name == "mf_local_search" else
                                        {"min_fidelity": 1, "max_fidelity": 4}))
    [problem] = epochs.preflight(ToySpace(), fractions)
    assert "takes data fractions in (0, 1]" in problem.message
    too_long = STRATEGIES.create(name, ({"low_fidelity": 2, "high_fidelity": 8}
                                          if name == "mf_local_search" else {"max_fidelity": 8}))
    [problem] = too_long.preflight(ToySpace(), by_epochs)
    assert "outside what the evaluator" in problem.message and "evaluator.epochs" in problem.fix


def _study(tmp_path: Path, name: str, trials: int) -> Study:
    spec = parse_spec({
        "name": f"fraction-{name}", "root": str(tmp_path), "seed": 0, "task": "mnist1d",
        "space": SPACE, "strategy": {"name": name, **FRACTIONS[name]},
        "evaluator": {"name": "train", "fidelity": "data_fraction", "epochs": 2,
                      "batch_size": 256, "measure_latency": False, "device": "cpu"},
        "executor": "inline", "budget": {"trials": trials}, "export_best": False,
    })
    return Study.create(spec).run()


@pytest.mark.parametrize("name", list(FRACTIONS))
def test_a_tiny_mnist1d_study_over_data_fractions(tmp_path: Path, name: str) -> None:
    study = _study(tmp_path, name, 5)
    trials = study.trials()
    assert len(trials) == 5 and all(t.result is not None and t.result.ok for t in trials)
    fractions = {t.candidate.fidelity for t in trials}
    assert 0.25 in fractions and fractions <= {0.25, 0.5, 1.0, None}
    promoted = [t for t in trials if t.candidate.fidelity != 0.25]
    assert promoted, "no architecture went past the lowest fraction"
    by_arch = {t.arch for t in trials if t.candidate.fidelity == 0.25}
    for trial in promoted:
        assert trial.result is not None
        examples = trial.result.info["train_examples"]
        assert examples > min(t.result.info["train_examples"] for t in trials
                              if t.result is not None and t.candidate.fidelity == 0.25)
        if trial.arch in by_arch:  # a promotion, not a new architecture at a higher rung
            assert trial.result.info["warm_started_from"] == 0.25
