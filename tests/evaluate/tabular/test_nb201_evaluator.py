"""TabularNB201Evaluator (``nb201_table``), the ``nb201`` task and benchmark studies."""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nasforge
from nasforge.errors import ConfigError, DataNotFoundError
from nasforge.evaluate import EVALUATORS, EvalContext, run_evaluation
from nasforge.evaluate.tabular import NB201Table, NB201Task, TabularNB201Evaluator
from nasforge.evaluate.tabular._dummy import OPTIMUM
from nasforge.space import NB201Space
from nasforge.space._nb201 import nb201_to_arch
from nasforge.tasks.base import TASKS
from nasforge.trial import Candidate, Status, TrialState

OTHER = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
    "skip_connect~2|"
ABSENT = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _ctx(dataset: str = "cifar10") -> EvalContext:
    return EvalContext(space=NB201Space(), task=NB201Task(dataset=dataset), seed=0)  # type: ignore[arg-type]


@pytest.fixture
def small_evaluator(small_table: Callable[..., Path]) -> Callable[..., TabularNB201Evaluator]:
    path = small_table()

    def make(**params: Any) -> TabularNB201Evaluator:
        return TabularNB201Evaluator(path=str(path), require_complete=False, **params)

    return make


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16-120"])
@pytest.mark.parametrize("fidelity", [None, 12, 200])
def test_evaluate_returns_the_table_metrics_and_simulated_cost(
    small_evaluator: Callable[..., TabularNB201Evaluator], dataset: str, fidelity: int | None
) -> None:
    evaluator = small_evaluator(dataset=dataset)
    result = evaluator.evaluate(Candidate(nb201_to_arch(OTHER), fidelity), _ctx(dataset))
    assert result.ok
    expected = evaluator.table.lookup(OTHER, dataset, fidelity or 200)
    assert dict(result.metrics) == expected
    assert result.cost_s == expected["train_seconds"] > 0
    assert result.metrics["epochs"] == (fidelity or 200)
    assert set(result.metrics) == set(TabularNB201Evaluator.provides)
    assert result.info["nb201_index"] == evaluator.table.nb201_index(evaluator.table.row(OTHER))


def test_twelve_epochs_cost_less_than_two_hundred(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    evaluator = small_evaluator(fidelity=12)
    arch = nb201_to_arch(OTHER)
    low = evaluator.evaluate(Candidate(arch), _ctx())
    high = evaluator.evaluate(Candidate(arch, 200), _ctx())
    assert evaluator.max_fidelity == 12
    assert low.metrics["epochs"] == 12
    assert low.cost_s * 200 == pytest.approx(high.cost_s * 12)
    assert low.metrics["val_accuracy"] != high.metrics["val_accuracy"]


def test_bad_fidelity_fails_the_trial_with_the_reason(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    result = run_evaluation(small_evaluator(), Candidate(nb201_to_arch(OTHER), 50), _ctx())
    assert result.status is Status.FAILED
    assert "fidelity must be 12 or 200 for nb201_table; got 50" in (result.reason or "")


def test_cell_missing_from_a_partial_table_fails(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    result = small_evaluator().evaluate(Candidate(nb201_to_arch(ABSENT)), _ctx())
    assert result.status is Status.FAILED
    assert "is not in the benchmark" in (result.reason or "")


def test_not_an_nb201_architecture_fails(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    result = small_evaluator().evaluate(Candidate(nasforge.Architecture(depth=2)), _ctx())
    assert result.status is Status.FAILED
    assert "not a NAS-Bench-201 cell" in (result.reason or "")


def test_task_and_evaluator_datasets_must_agree(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    result = run_evaluation(small_evaluator(), Candidate(nb201_to_arch(OTHER)), _ctx("cifar100"))
    assert result.status is Status.FAILED
    assert "the task is nb201 'cifar100'" in (result.reason or "")


def test_params_round_trip_and_pickle_without_the_table(
    small_evaluator: Callable[..., TabularNB201Evaluator],
) -> None:
    evaluator = small_evaluator(dataset="cifar100", fidelity=12)
    rebuilt = EVALUATORS.create("nb201_table", evaluator.get_params())
    assert rebuilt == evaluator
    assert EVALUATORS.get("nb201_table") is TabularNB201Evaluator
    blob = pickle.dumps(evaluator)
    assert len(blob) < 2_000  # the table stays behind; workers reload it from their cache
    clone = pickle.loads(blob)
    arch = nb201_to_arch(OTHER)
    assert clone.evaluate(Candidate(arch), _ctx("cifar100")) == evaluator.evaluate(
        Candidate(arch), _ctx("cifar100")
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dataset": "imagenet"}, "evaluator.dataset"),
        ({"fidelity": 100}, "evaluator.fidelity"),
        ({"source": "nb101"}, "evaluator.source"),
    ],
)
def test_bad_params_name_the_field(
    small_table: Callable[..., Path], params: dict[str, Any], field: str
) -> None:
    params = {"path": str(small_table()), "require_complete": False, **params}
    with pytest.raises(ConfigError, match=field):
        EVALUATORS.create("nb201_table", params, field="evaluator")


def test_bad_table_fails_at_construction(small_table: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"evaluator.path: .* expected all 15,625 cells"):
        TabularNB201Evaluator(path=str(small_table()))
    with pytest.raises(DataNotFoundError, match=r"evaluator.path: NAS-Bench-201 table"):
        TabularNB201Evaluator(path=str(tmp_path / "missing.csv.gz"))


# -- NATS-Bench files -------------------------------------------------------------------------
def test_nats_source_without_the_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="pip install nats_bench"):
        TabularNB201Evaluator(source="nats")


class _FakeNATS:
    """Answers like nats_bench's topology API for one cell at index 7."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def query_index_by_arch(self, arch: str) -> int:
        return 7 if arch == OTHER else -1

    def get_more_info(self, index: int, dataset: str, hp: str, is_random: bool) -> dict[str, float]:
        self.calls.append((index, dataset, hp, is_random))
        base = {"cifar10-valid": 90.0, "cifar10": 93.0, "cifar100": 70.0, "ImageNet16-120": 40.0}
        return {"valid-accuracy": base[dataset] - 1, "test-accuracy": base[dataset],
                "train-per-time": 10.0 if hp == "200" else 11.0}

    def get_cost_info(self, index: int, dataset: str, hp: str) -> dict[str, float]:
        return {"params": 0.8, "flops": 113.9, "latency": 0.02}


def test_nats_source_maps_the_official_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = _FakeNATS()
    fake = types.ModuleType("nats_bench")
    fake.create = lambda path, space, fast_mode, verbose: api  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nats_bench", fake)
    evaluator = TabularNB201Evaluator(source="nats", path=str(tmp_path))
    result = evaluator.evaluate(Candidate(nb201_to_arch(OTHER), 12), _ctx())
    assert result.ok
    assert result.metrics["val_accuracy"] == 89.0  # cifar10-valid x-valid
    assert result.metrics["test_accuracy"] == 93.0  # cifar10 ori-test
    assert result.metrics["params"] == pytest.approx(0.8e6)
    assert result.metrics["latency_ms"] == pytest.approx(20.0)
    assert result.cost_s == pytest.approx(12 * 11.0)
    assert (7, "cifar10-valid", "12", False) in api.calls
    other = TabularNB201Evaluator(source="nats", path=str(tmp_path), dataset="imagenet16-120")
    got = other.evaluate(Candidate(nb201_to_arch(OTHER)), _ctx("imagenet16-120"))
    assert (got.metrics["val_accuracy"], got.metrics["test_accuracy"]) == (39.0, 40.0)
    missing = evaluator.evaluate(Candidate(nb201_to_arch(ABSENT)), _ctx())
    assert missing.status is Status.FAILED
    with pytest.raises(ConfigError, match="source: nats"):
        _ = evaluator.table


# -- the nb201 task ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dataset", "shape", "classes"),
    [("cifar10", (3, 32, 32), 10), ("cifar100", (3, 32, 32), 100),
     ("imagenet16-120", (3, 16, 16), 120)],
)
def test_task_describes_the_benchmark_without_data(
    dataset: str, shape: tuple[int, ...], classes: int
) -> None:
    task = TASKS.create("nb201", {"dataset": dataset})
    info = task.info()
    assert (info.input_shape, info.n_classes, info.kind) == (shape, classes, "image")
    assert info.name == f"nb201-{dataset}"
    assert pickle.loads(pickle.dumps(task)) == task == TASKS.create("nb201", task.get_params())
    with pytest.raises(ConfigError, match="has no data to train on"):
        task.load()
    # the space can still build the benchmark's network for the task
    assert NB201Space(cells_per_stage=1).build(nb201_to_arch(OTHER), info) is not None


# -- benchmark studies ------------------------------------------------------------------------
def test_study_with_a_simulated_seconds_budget(full_table_path: Path) -> None:
    budget = 5_000.0
    study = nasforge.search(
        task="nb201",
        space={"name": "nb201"},
        strategy="random",
        evaluator={"name": "nb201_table", "path": str(full_table_path)},
        executor="inline",
        budget={"cost_s": budget},
        in_memory=True,
    )
    trials = study.trials()
    assert all(t.state is TrialState.COMPLETE for t in trials)
    spent = [t.result.cost_s for t in trials if t.result is not None]
    assert sum(spent) >= budget > sum(spent[:-1])  # stops at the first trial past the budget
    assert "cost budget" in (study.stop_reason or "")
    table = NB201Table.load(full_table_path)
    for t in trials:
        arch = study.parts.space.format(t.arch)
        assert t.metrics["val_accuracy"] == table.lookup(arch)["val_accuracy"]
    best = study.best()
    assert best.metrics["val_accuracy"] == max(t.metrics["val_accuracy"] for t in trials)


def test_local_search_on_the_dummy_table_finds_its_optimum(full_table_path: Path) -> None:
    study = nasforge.search(
        task={"name": "nb201", "dataset": "cifar100"},
        space="nb201",
        strategy={"name": "local_search"},
        evaluator={"name": "nb201_table", "path": str(full_table_path), "dataset": "cifar100"},
        executor="inline",
        budget={"trials": 150},
        in_memory=True,
        seed=1,
    )
    assert study.best().arch_string == OPTIMUM


def test_invalid_benchmark_study_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, DataNotFoundError)):
        nasforge.search(
            task="nb201",
            space="nb201",
            strategy="random",
            evaluator={"name": "nb201_table", "path": str(tmp_path / "missing.csv.gz")},
            executor="inline",
            budget={"trials": 3},
            root=tmp_path / "runs",
        )
    assert not (tmp_path / "runs").exists()


def test_a_benchmark_spec_needs_no_task_and_records_the_evaluators_own(
    full_table_path: Path, tmp_path: Path
) -> None:
    study = nasforge.search(
        space="nb201",
        strategy="random",
        evaluator={"name": "nb201_table", "path": str(full_table_path), "dataset": "cifar100"},
        executor="inline",
        budget={"trials": 3},
        root=tmp_path / "runs",
        export_best=False,
    )
    assert study.spec.task is not None
    assert study.spec.task.to_yaml_dict() == {"name": "nb201", "dataset": "cifar100"}
    stored = (tmp_path / "runs" / "study" / "spec.yaml").read_text()
    assert "mnist1d" not in stored and "cifar100" in stored
    reopened = nasforge.open_study(tmp_path / "runs" / "study")
    assert reopened.parts.task.name == "nb201"
