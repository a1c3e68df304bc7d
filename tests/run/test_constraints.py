"""Constraints in a study: INFEASIBLE before training, infeasible after it, the Pareto set."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
import nasforge.testing.fixed
import nasforge.testing.toys
from nasforge.architecture import Architecture
from nasforge.cli.main import main
from nasforge.evaluate.base import EVALUATORS
from nasforge.evaluate.costs import count_flops, count_params
from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study, StudyFailedError
from nasforge.testing.fixed import FixedStrategy
from nasforge.testing.toys import ToySpace, ToyTask
from nasforge.trial import VIOLATED, TrialState

BASE: dict[str, Any] = {
    "name": "c",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 2, "n_options": 4},
    "strategy": "random",
    "evaluator": "toy",
    "executor": "inline",
    "budget": {"trials": 12},
    "export_best": False,
}


def make(tmp_path: Path | None = None, **changes: Any) -> Study:
    data = {**BASE, **changes}
    if tmp_path is not None:
        data["root"] = str(tmp_path)
    return Study.create(parse_spec(data), in_memory=tmp_path is None)


def toy_params(d0: int) -> float:
    """The params of the toy network for ``d0`` (its hidden width grows with d0)."""
    space = ToySpace(n_decisions=2, n_options=4)
    return float(count_params(space.build(Architecture({"d0": d0, "d1": 0}), ToyTask().info())))


def fixed(*d0s: int) -> dict[str, Any]:
    return {"name": "fixed", "archs": [{"d0": d, "d1": 1} for d in d0s]}


def test_the_default_cheap_metrics_count_the_built_network() -> None:
    space, task = ToySpace(n_decisions=2, n_options=4), ToyTask()
    arch = Architecture({"d0": 2, "d1": 3})
    model = space.build(arch, task.info())
    cheap = EVALUATORS.create("toy", {}).cheap_metrics(space, arch, task)
    flops = count_flops(model, task.info().input_shape)
    assert cheap == {"params": count_params(model), "flops": flops} and flops > 0
    assert toy_params(0) < toy_params(1) < toy_params(2) < toy_params(3)


def test_the_table_evaluator_answers_cheap_metrics_from_its_table(tmp_path: Path) -> None:
    cell = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
            "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    table = write_dummy_nb201_table(tmp_path / "t.csv.gz", archs=[cell])
    evaluator = EVALUATORS.create("nb201_table", {"path": str(table), "require_complete": False})
    space = nf.space.NB201Space()
    arch = space.parse(cell)
    looked_up = evaluator.table.lookup(cell, "cifar10", 200)
    cheap = evaluator.cheap_metrics(space, arch, evaluator.default_task())
    assert cheap == {"params": looked_up["params"], "flops": looked_up["flops"]}


def test_a_candidate_breaking_a_cheap_constraint_is_infeasible_and_never_trained() -> None:
    # Every trained trial fails, so a trial that is INFEASIBLE was not trained.
    limit = (toy_params(1) + toy_params(2)) / 2
    study = make(strategy=fixed(0, 3, 1, 2), constraints=[f"params <= {limit}"],
                 evaluator={"name": "toy", "fail": ["*"], "fail_mode": "result"}).run()
    trials = study.trials()
    assert [t.state for t in trials] == [TrialState.FAILED, TrialState.INFEASIBLE,
                                         TrialState.FAILED, TrialState.INFEASIBLE]
    infeasible = trials[1]
    assert infeasible.violation == f"params = {toy_params(3):g} breaks params <= {limit:g}"
    assert infeasible.metrics["params"] == toy_params(3) and "flops" in infeasible.metrics
    assert infeasible.result is not None and infeasible.result.cost_s == 0.0
    # the strategy was told every trial, the INFEASIBLE ones like failures
    strategy = study.parts.strategy
    assert isinstance(strategy, FixedStrategy)
    assert [t.state for t in strategy.told] == [t.state for t in trials]
    assert strategy.score(infeasible) == float("-inf")


def test_a_trained_trial_breaking_a_constraint_is_complete_but_never_best() -> None:
    study = make(strategy=fixed(0, 1, 2, 3), constraints=["test_accuracy <= 60"]).run()
    trials = study.trials()
    assert all(t.state is TrialState.COMPLETE for t in trials)
    broken = [t for t in trials if t.metrics["test_accuracy"] > 60]
    kept = [t for t in trials if t.metrics["test_accuracy"] <= 60]
    assert broken and kept
    for t in broken:
        assert t.result is not None and t.violation == t.result.info[VIOLATED]
        assert t.violation.endswith("breaks test_accuracy <= 60")
        assert study.parts.strategy.score(t) == float("-inf") == study.score(t)
    best = max(kept, key=lambda t: (t.metrics["val_accuracy"], -t.number))
    assert study.best().number == best.number
    assert {t.number for t in study.ranked()} == {t.number for t in kept}
    # the cheap metrics were not needed (no constraint on them), so none were computed
    assert all("params" not in t.metrics for t in trials)


def test_cheap_metrics_join_the_result_when_a_constraint_needs_them() -> None:
    study = make(strategy=fixed(0, 1), constraints=["params <= 1e9"]).run()
    assert [t.metrics["params"] for t in study.trials()] == [toy_params(0), toy_params(1)]


def test_a_study_where_nothing_is_feasible_stops_naming_the_constraints() -> None:
    with pytest.raises(StudyFailedError) as info:
        nf.search(task="toy", space={"name": "toy", "n_decisions": 2, "n_options": 4},
                  strategy="random", evaluator="toy", executor="inline", in_memory=True,
                  budget={"trials": 20}, max_consecutive_failures=3,
                  constraints=["params <= 1", {"metric": "flops", "max": 1e9}])
    message = str(info.value)
    assert "stopped after 3 infeasible trials and no feasible one" in message
    assert "params <= 1, flops <= 1e+09" in message and "3× params <= 1" in message
    trials = info.value.study.trials()
    assert [t.state for t in trials] == [TrialState.INFEASIBLE] * 3  # they count as trials


def test_a_short_study_with_no_feasible_trial_fails_naming_the_bounds(tmp_path: Path) -> None:
    study = make(tmp_path, strategy=fixed(2, 3), constraints=["params <= 1"])
    study.run()
    finished = study.finish()
    assert finished.failure is not None
    assert "no candidate met the constraints (2 of 2 finished trials infeasible)" in (
        finished.failure)
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["states"] == {"INFEASIBLE": 2}
    assert summary["best"] is None and summary["pareto_front"] == []
    assert summary["constraints"] == ["params <= 1"]


def test_infeasible_trials_survive_a_resume_exactly(tmp_path: Path) -> None:
    spec = {"constraints": [f"params <= {toy_params(2)}"], "seed": 5}
    straight = make(**spec, budget={"trials": 14}).run()
    first = make(tmp_path, **spec, budget={"trials": 6}).run()
    first.close()
    again = Study.open(tmp_path / "c")
    again.spec = again.spec.model_copy(update={"budget": again.spec.budget.model_copy(
        update={"trials": 14})})
    again.run()
    assert [(str(t.arch), t.state, dict(t.metrics)) for t in again.trials()] == [
        (str(t.arch), t.state, dict(t.metrics)) for t in straight.trials()]
    assert any(t.state is TrialState.INFEASIBLE for t in again.trials())


def _front(trials: list[Any]) -> set[int]:
    """Brute force: COMPLETE trials no other dominates on (val_accuracy max, params min)."""
    done = [t for t in trials if t.state is TrialState.COMPLETE]

    def dominates(a: Any, b: Any) -> bool:
        x = (a.metrics["val_accuracy"], -a.metrics["params"])
        y = (b.metrics["val_accuracy"], -b.metrics["params"])
        return x != y and all(p >= q for p, q in zip(x, y, strict=True))

    return {t.number for t in done if not any(dominates(u, t) for u in done)}


def test_two_objectives_give_a_pareto_set_a_best_and_a_hypervolume(tmp_path: Path) -> None:
    objectives = [{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}]
    study = make(tmp_path, objectives=objectives, constraints=["params <= 1e9"],
                 budget={"trials": 16}, seed=2)
    study.run()
    trials = study.trials()
    front = study.best_trials()
    assert {t.number for t in front} == _front(trials) and len(front) >= 2
    values = [(-t.metrics["val_accuracy"], t.metrics["params"], t.number) for t in front]
    assert values == sorted(values)  # best first by the first objective, then the second
    assert study.best().number == front[0].number
    assert front[0].metrics["val_accuracy"] == max(t.metrics["val_accuracy"] for t in trials)
    hv = study.hypervolume()
    assert hv is not None
    value, reference = hv
    assert reference == {"val_accuracy": min(t.metrics["val_accuracy"] for t in trials),
                         "params": 1e9}
    assert value > 0
    study.finish()
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert [row["number"] for row in summary["pareto_front"]] == [t.number for t in front]
    assert summary["hypervolume"]["value"] == pytest.approx(value)
    assert summary["hypervolume"]["reference_from"] == {
        "val_accuracy": "worst feasible trial", "params": "constraint"}
    report = (tmp_path / "c" / "report.html").read_text()
    assert "<h3>Pareto front</h3>" in report and "Hypervolume" in report


def test_a_stated_reference_point_is_used(tmp_path: Path) -> None:
    objectives = [{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}]
    reference = {"val_accuracy": 0.0, "params": 1000.0}
    study = make(objectives=objectives, hypervolume_reference=reference, budget={"trials": 6})
    study.run()
    hv = study.hypervolume()
    assert hv is not None and hv[1] == reference
    # params comes from the cheap metrics (the toy evaluator does not report it)
    assert all("params" in t.metrics for t in study.trials())
    brute = 0.0  # the dominated area of a 2-D front, slab by slab: accuracy rises with params
    last = 0.0
    for t in sorted(study.best_trials(), key=lambda t: t.metrics["params"]):
        brute += (t.metrics["val_accuracy"] - last) * (1000.0 - t.metrics["params"])
        last = t.metrics["val_accuracy"]
    assert hv[0] == pytest.approx(brute) and brute > 0


# -- refused before anything runs ---------------------------------------------------------------

def search(tmp_path: Path, **kwargs: Any) -> None:
    settings = {"task": "toy", "space": {"name": "toy", "n_decisions": 2, "n_options": 4},
                "strategy": "random", "executor": "inline", "budget": {"trials": 2},
                "root": tmp_path / "runs", "name": "p", "evaluator": "toy", **kwargs}
    nf.search(**settings)


def test_a_constraint_on_a_metric_the_evaluator_does_not_produce_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(nf.ConfigError, match=r"constraints\.1\.metric: 'val_acuracy' is not "
                                             r"produced by evaluator 'train'") as info:
        search(tmp_path, evaluator={"name": "train", "epochs": 1},
               constraints=["params <= 1e6", "val_acuracy >= 50"])
    assert "did you mean 'val_accuracy'?" in str(info.value)
    assert "before training: params, flops" in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_an_unknown_metric_of_an_undeclared_evaluator_gets_a_warning(tmp_path: Path) -> None:
    warned = pytest.warns(UserWarning, match=r"constraints\.0: 'latency' is not a nasforge metric")
    with warned, pytest.raises(StudyFailedError, match="latency is not reported"):
        search(tmp_path, constraints=["latency <= 3"], max_consecutive_failures=2, in_memory=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known metric: no warning
        search(tmp_path, constraints=["val_accuracy >= 0"], in_memory=True)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"constraints": ["params <= 10", "params >= 100"]},
         r"constraints\.0: nothing can be feasible: constraints\.1 needs params >= 100 but "
         r"constraints\.0 needs params <= 10"),
        ({"constraints": ["val_accuracy >= 120"]},
         r"constraints\.0: nothing can be feasible: .* above its largest value 100"),
        ({"constraints": ["params < 10"]}, r"constraints\.0: .*use <= or >="),
        ({"constraints": [{"metric": "params", "most": 3}]},
         r"constraints\.0\.most: unknown parameter"),
        ({"hypervolume_reference": {"val_accuracy": 50, "params": 3}},
         r"hypervolume_reference: gives one value per objective metric but names params, "
         r"which is not an objective"),
        ({"objectives": [{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}],
          "hypervolume_reference": {"val_accuracy": 50}},
         r"misses params .*write hypervolume_reference: \{val_accuracy: \.\.\., params: \.\.\.\}"),
    ],
)
def test_bad_constraints_are_refused_before_anything_is_written(
    tmp_path: Path, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(nf.ConfigError, match=match):
        search(tmp_path, **changes)
    assert not (tmp_path / "runs").exists()


def test_the_cli_takes_constraints_from_set_and_refuses_contradictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"name: p\nroot: {tmp_path / 'runs'}\ntask: toy\n"
                      "space: {name: toy, n_decisions: 2, n_options: 4}\nevaluator: toy\n"
                      "strategy: random\nexecutor: inline\nbudget: {trials: 2}\n")
    code = main(["search", str(config), "--set", "constraints=[params <= 10, params >= 20]"])
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(r"constraints\.0: nothing can be feasible", err)
    assert not (tmp_path / "runs").exists()
    limit = toy_params(1)
    assert main(["search", str(config), "--set", f"constraints=[params <= {limit}]",
                 "--set", "export_best=false"]) == 0
    out = capsys.readouterr().out
    assert f"constraints: params <= {limit:g}; " in out and "infeasible before training" in out
    study = nf.open_study(tmp_path / "runs" / "p")
    assert [str(c) for c in study.spec.constraints] == [f"params <= {limit:g}"]
    assert all(t.metrics["params"] <= limit for t in study.trials()
               if t.state is TrialState.COMPLETE)


def test_the_dataframe_marks_violations_and_the_front() -> None:
    pytest.importorskip("pandas")
    objectives = [{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}]
    # constraint_aware off: the study, not the strategy, must meet infeasible candidates here
    study = make(objectives=objectives, constraints=[f"params <= {toy_params(2)}"],
                 strategy={"name": "random", "constraint_aware": False},
                 budget={"trials": 10}, seed=4).run()
    frame = study.to_dataframe()
    trials = study.trials()
    shown = [v if isinstance(v, str) else None for v in frame["violation"]]  # pandas: NaN
    assert shown == [t.violation for t in trials] and any(shown)
    front = {t.number for t in study.best_trials()}
    assert [n for n, on in zip(frame["number"], frame["pareto"], strict=True) if on] == sorted(
        front)
    assert (frame["state"] == "INFEASIBLE").sum() == sum(
        t.state is TrialState.INFEASIBLE for t in trials)


class Unbuildable(ToySpace):
    """A toy space whose networks cannot be built (a lookup-only space, say)."""

    def build(self, arch: Any, task: Any) -> Any:
        raise NotImplementedError("this space only looks architectures up")


def test_cheap_constraints_on_a_space_that_cannot_build_are_refused(tmp_path: Path) -> None:
    from nasforge.space.base import SPACES

    SPACES.register("constraints_unbuildable")(Unbuildable)
    try:
        with pytest.raises(nf.ConfigError, match=r"constraints\.1: constrains params, flops "
                                                 r"before training, but computing them .* "
                                                 r"NotImplementedError: this space only"):
            search(tmp_path, space="constraints_unbuildable",
                   constraints=["val_accuracy >= 0", "flops <= 1e9"])
        search(tmp_path, space="constraints_unbuildable", constraints=["val_accuracy >= 0"],
               in_memory=True)  # a constraint after training needs no network
    finally:
        del SPACES._entries["constraints_unbuildable"]
    assert not (tmp_path / "runs").exists()
