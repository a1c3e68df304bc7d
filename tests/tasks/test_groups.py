"""Sensitive-attribute groups: arrays, CSV and Datasets take a group that travels with its examples,
``TaskInfo`` serialises the groups (and older exports without them still read), bad groups are
named, and the built-in ``diabetes_fair`` task."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.errors import ConfigError
from nasforge.tasks import (
    TASKS,
    ArrayTask,
    CsvTask,
    Split,
    TaskData,
    check_splits,
    from_datasets,
    get_task,
)
from nasforge.tasks.base import TaskInfo


def _indexed(n: int = 90) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature 0 is the row's index, so a split's rows can be traced back (standardize off)."""
    rng = np.random.default_rng(0)
    x = np.column_stack([np.arange(n), rng.normal(size=n)])
    y = np.arange(n) % 3
    group = np.array(["old", "young", "young"])[rng.integers(0, 3, n)]
    return x, y, group


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_array_groups_travel_with_their_examples(problem: str) -> None:
    x, y, group = _indexed()
    target = y if problem == "classification" else y.astype(float) + x[:, 1]
    task = ArrayTask(x=x, y=target, group=group, standardize=False, problem=problem)  # type: ignore[arg-type]
    data = task.load()
    assert data.info.groups == ("old", "young") and data.info.has_groups
    for split in (data.train, data.val, data.test):
        assert split.group is not None and split.group.dtype == np.int64
        rows = split.x[:, 0].astype(int)
        assert [data.info.groups[c] for c in split.group] == list(group[rows])
    assert check_splits(data) == []


def test_array_test_groups_go_with_x_test() -> None:
    x, y, group = _indexed()
    task = ArrayTask(
        x=x[:60], y=y[:60], x_test=x[60:], y_test=y[60:], group=group[:60], group_test=group[60:],
        standardize=False,
    )  # fmt: skip
    data = task.load()
    assert data.test.group is not None
    assert [data.info.groups[c] for c in data.test.group] == list(group[60:])
    # Numbers sort as numbers and are named as strings.
    ints = ArrayTask(x=x, y=y, group=np.arange(90) % 3 * 10).load().info
    assert ints.groups == ("0", "10", "20")


def test_groups_change_equality_and_survive_pickling() -> None:
    x, y, group = _indexed()
    task = ArrayTask(x=x, y=y, group=group)
    assert task == ArrayTask(x=x, y=y, group=group.tolist())
    assert task != ArrayTask(x=x, y=y) and task != ArrayTask(x=x, y=y, group=group[::-1])
    back = pickle.loads(pickle.dumps(task))
    assert back == task and back.load().info.groups == ("old", "young")


@pytest.mark.parametrize(
    ("kwargs", "field", "match"),
    [
        ({"group": ["a", "b"]}, "task.group", "one group value per example"),
        ({"group": [None] + ["a", "b"] * 45}, "task.group", "have no group"),
        ({"group": [np.nan] + [1.0, 2.0] * 45}, "task.group", "have no group"),
        ({"group": ["a"] * 91}, "task.group", "single group"),
        ({"group_test": ["a"] * 91}, "task.group_test", "needs group"),
    ],
)
def test_bad_array_groups_name_the_field(kwargs: dict[str, object], field: str, match: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(91, 3)), np.arange(91) % 2
    with pytest.raises(ConfigError, match=match) as info:
        ArrayTask(x=x, y=y, **kwargs)  # type: ignore[arg-type]
    assert info.value.problems[0].field == field


def test_test_arrays_with_groups_need_test_groups() -> None:
    x, y, group = _indexed()
    with pytest.raises(ConfigError, match="give group_test"):
        ArrayTask(x=x[:60], y=y[:60], x_test=x[60:], y_test=y[60:], group=group[:60])


def _csv(path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(1)
    sex = np.array(["f", "m"])[rng.integers(0, 2, n)]
    lines = ["a,sex,b,label"] + [
        f"{i},{sex[i]},{rng.normal():.4f},{i % 2}" for i in range(n)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_group_column_is_a_group_not_a_feature(tmp_path: Path) -> None:
    path = _csv(tmp_path / "people.csv")
    task = get_task({"name": "csv", "path": str(path), "target": "label", "group": "sex",
                     "standardize": False})  # fmt: skip
    data = task.load()
    assert data.info.input_shape == (2,)  # a and b; sex is not a feature
    assert data.info.groups == ("f", "m")
    sex = [line.split(",")[1] for line in path.read_text().splitlines()[1:]]
    for split in (data.train, data.val, data.test):
        assert split.group is not None
        rows = split.x[:, 0].astype(int)
        assert [data.info.groups[c] for c in split.group] == [sex[r] for r in rows]
    # Listed among the features, a numeric group column is a feature as well.
    numeric = tmp_path / "numeric.csv"
    numeric.write_text(path.read_text().replace(",f,", ",0,").replace(",m,", ",1,"))
    both = CsvTask(path=str(numeric), target="label", group="sex", features=["a", "sex", "b"])
    assert both.load().info.input_shape == (3,) and both.load().info.groups == ("0", "1")


def test_csv_test_file_groups(tmp_path: Path) -> None:
    train, test = _csv(tmp_path / "train.csv"), _csv(tmp_path / "test.csv", n=20)
    data = CsvTask(path=str(train), test_path=str(test), target="label", group="sex").load()
    assert data.test.group is not None and len(data.test.group) == 20


@pytest.mark.parametrize(
    ("group", "field", "match"),
    [("age", "task.group", "column 'age' not in"), ("label", "task.group", "also the target")],
)
def test_bad_csv_group_names_the_field(
    tmp_path: Path, group: str, field: str, match: str
) -> None:
    path = _csv(tmp_path / "people.csv")
    with pytest.raises(ConfigError, match=match) as info:
        CsvTask(path=str(path), target="label", group=group).load()
    assert info.value.problems[0].field == field


def test_task_info_round_trips_groups_and_reads_exports_without_them() -> None:
    info = TaskInfo("t", (3,), 2, "tabular", groups=("f", "m"))
    assert info.to_dict()["groups"] == ["f", "m"]
    assert TaskInfo.from_dict(info.to_dict()) == info
    plain = TaskInfo("t", (3,), 2, "tabular")
    assert "groups" not in plain.to_dict()  # an export without groups is unchanged
    old = {"name": "t", "input_shape": [3], "n_classes": 2, "kind": "tabular"}
    assert TaskInfo.from_dict(old) == plain and not plain.has_groups


def test_split_refuses_misshapen_groups() -> None:
    x, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="one code per example"):
        Split(x, y, group=np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="int codes"):
        Split(x, y, group=np.array(["a"] * 4))


def test_check_splits_finds_missing_and_out_of_range_groups() -> None:
    x, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)
    info = TaskInfo("t", (2,), 2, "tabular", groups=("a", "b"))
    good = Split(x, y, group=np.array([0, 1, 0, 1]))
    data = TaskData(info, good, Split(x, y), Split(x, y, group=np.array([0, 1, 2, 0])))
    val, test = check_splits(data)
    assert val.field == "task.val" and "carries none" in val.message
    assert test.field == "task.test" and "group code 2, outside 0..1" in test.message


def test_diabetes_fair_cuts_at_the_training_median_with_sex_as_the_group() -> None:
    assert "diabetes_fair" in TASKS.names()
    data = get_task("diabetes_fair").load()
    info = data.info
    assert (info.n_classes, info.problem, info.input_shape) == (2, "classification", (10,))
    assert info.groups == ("sex=1", "sex=2")
    assert (len(data.train), len(data.val), len(data.test)) == (283, 71, 88)
    # Cut at its median: about half each (ties with the median go to class 0).
    assert abs(int(data.train.y.sum()) - len(data.train) / 2) <= 2
    # The same patients, in the same order, as the regression task with the same seed.
    regression = get_task("diabetes").load()
    for fair, plain in ((data.train, regression.train), (data.test, regression.test)):
        np.testing.assert_array_equal(fair.x, plain.x)
        assert fair.group is not None
        # Standardised sex takes two values, one per group.
        pairs = zip(fair.group, fair.x[:, 1], strict=True)
        assert len({(c, round(float(v), 4)) for c, v in pairs}) == 2
    above = regression.train.y[:, 0] > np.median(regression.train.y[:, 0])
    np.testing.assert_array_equal(data.train.y, above.astype(np.int64))
    assert check_splits(data) == []


def test_diabetes_fair_can_leave_the_group_out_and_is_deterministic() -> None:
    blind = get_task({"name": "diabetes_fair", "group_as_feature": False}).load()
    assert blind.info.input_shape == (9,) and blind.info.has_groups
    again = get_task({"name": "diabetes_fair", "seed": 0}).load()
    other = get_task({"name": "diabetes_fair", "seed": 1}).load()
    assert again.test.group is not None and other.test.group is not None
    np.testing.assert_array_equal(get_task("diabetes_fair").load().test.x, again.test.x)
    assert not np.array_equal(again.test.x, other.test.x)


class _GroupedDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """``(input, class id)`` examples with a ``groups`` attribute, as ``targets`` is given."""

    def __init__(self, n: int, seed: int, groups: bool = True) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, generator=gen)
        self.y = (self.x[:, 0] > 0).long()
        if groups:
            self.groups = ["f" if v > 0 else "m" for v in self.x[:, 1].tolist()]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def test_datasets_with_a_groups_attribute_give_groups_also_to_a_held_out_val() -> None:
    train, test = _GroupedDataset(40, 0), _GroupedDataset(20, 1)
    data = from_datasets(train, test).load()  # val carved out of train as a Subset
    assert data.info.groups == ("f", "m")
    assert data.train.group is not None and data.val.group is not None
    assert data.test.group is not None
    assert [data.info.groups[c] for c in data.test.group] == test.groups
    indices = data.val.dataset.indices  # type: ignore[union-attr]
    assert [data.info.groups[c] for c in data.val.group] == [train.groups[i] for i in indices]
    assert check_splits(data) == []
    assert not from_datasets(_GroupedDataset(40, 0, False), _GroupedDataset(9, 1, False)).info(
    ).has_groups


def test_a_dataset_split_without_groups_beside_one_with_is_refused() -> None:
    task = from_datasets(_GroupedDataset(40, 0), _GroupedDataset(20, 1, groups=False))
    with pytest.raises(ConfigError, match="the test Dataset has no groups attribute") as info:
        task.load()
    assert info.value.problems[0].field == "task.test"
