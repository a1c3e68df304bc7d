"""The ``proxy`` evaluator in a tiny study, and zero-cost strategies with a computed proxy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nasforge.evaluate
import nasforge.execute
import nasforge.space
import nasforge.strategy
import nasforge.tasks
from nasforge.errors import ConfigError
from nasforge.evaluate import EVALUATORS
from nasforge.evaluate.proxy import SynFlowProxy
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.space import NB201Space
from nasforge.strategy import BANANAS
from nasforge.tasks import MNIST1DTask
from nasforge.trial import Result, TrialState

SPACE = {"name": "nb201", "dims": 1, "cells_per_stage": 1, "channels": 4}


def study(strategy: Any, evaluator: Any, objective: str, trials: int) -> Study:
    spec = parse_spec({
        "name": "proxies", "task": "mnist1d", "space": SPACE, "strategy": strategy,
        "evaluator": evaluator, "objectives": [{"metric": objective}], "executor": "inline",
        "budget": {"trials": trials}, "export_best": False,
    })
    return Study.create(spec, in_memory=True).run()


def test_a_study_ranks_a_space_by_proxies_alone() -> None:
    run = study("random", {"name": "proxy", "proxy": [{"name": "synflow"}, {"name": "naswot"},
                                                        {"name": "params"}]}, "synflow", 3)
    trials = run.trials()
    assert len(trials) == 3
    space = NB201Space(dims=1, cells_per_stage=1, channels=4)
    expected = SynFlowProxy(task="mnist1d")
    for trial in trials:
        if trial.state is TrialState.COMPLETE:
            assert set(trial.metrics) >= {"synflow", "naswot", "params"}
            assert trial.metrics["synflow"] == expected.score(trial.arch, space)
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert complete and run.best().metrics["synflow"] == max(
        t.metrics["synflow"] for t in complete)


def test_bad_evaluator_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"evaluator\.proxy.*'name' key"):
        EVALUATORS.create("proxy", {"proxy": {"metric": "x"}})
    with pytest.raises(ConfigError, match="more than once"):
        EVALUATORS.create("proxy", {"proxy": [{"name": "synflow"}, {"name": "synflow"}]})
    with pytest.raises(ConfigError, match="empty"):
        EVALUATORS.create("proxy", {"proxy": []})
    with pytest.raises(ConfigError, match="objectives"):
        study("random", {"name": "proxy", "proxy": {"name": "synflow"}}, "val_accuracy", 1)


@pytest.mark.parametrize("name", ["zc_local_search", "mf_local_search"])
def test_a_strategy_guided_by_computed_synflow_gets_the_studys_task(name: str) -> None:
    strategy: dict[str, Any] = {"name": name, "proxy": {"name": "synflow"},
                                "max_proxy_scores": 12, "n_proxy_warmup": 8}
    if name == "mf_local_search":
        strategy |= {"low_fidelity": 1, "ratio": 2}
        evaluator: dict[str, Any] = {"name": "train", "epochs": 2, "batch_size": 256}
        objective = "val_accuracy"
    else:
        evaluator = {"name": "proxy", "proxy": {"name": "params"}}
        objective = "params"
    run = study(strategy, evaluator, objective, 3)
    used = run.parts.strategy
    assert 0 < used.n_proxy_scores <= 12  # type: ignore[attr-defined]
    scores = used._budget.scores  # type: ignore[attr-defined]
    warm = list(scores.items())[:8]
    assert run.trials()[0].arch == max(warm, key=lambda kv: kv[1])[0]  # the synflow favourite


def test_bananas_uses_a_computed_proxy_as_a_predictor_feature() -> None:
    space = NB201Space(dims=1, cells_per_stage=1, channels=4)
    strategy = BANANAS(n_initial=3, steps=5, proxy={"name": "synflow"}, max_proxy_scores=20,
                       n_proxy_warmup=6, proxy_per_ask=3, pool_size=10)
    strategy.setup(space, [nasforge.objective.Objective(metric="val_accuracy")], 0,
                   task=MNIST1DTask())
    from nasforge.testing.strategy_contract import run_async

    def outcome(arch: Any) -> Result:  # more convolutions, more accurate
        return Result(metrics={"val_accuracy": float(str(arch).count("conv"))})

    run_async(strategy, space, 5, n_pending=1, outcome=outcome)  # type: ignore[arg-type]
    told = list(strategy._budget.scores)[:5]
    column = strategy._proxy_column(told)
    assert column.shape == (5, 1) and np.std(column) > 0  # real, varying synflow scores
    assert strategy.n_proxy_scores > 6
