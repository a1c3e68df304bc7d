"""User-data tasks: ArrayTask from numpy arrays and CsvTask from CSV files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nasforge.errors import ConfigError, DataNotFoundError
from nasforge.tasks import ArrayTask, CsvTask, get_task


def _arrays(
    n: int = 90, shape: tuple[int, ...] = (5,), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)), np.array(["cat", "dog", "emu"])[np.arange(n) % 3]


@pytest.mark.parametrize(
    ("shape", "kind"), [((5,), "tabular"), ((2, 7), "signal"), ((1, 4, 4), "image")]
)
def test_array_task_kind_from_ndim_and_splits(shape: tuple[int, ...], kind: str) -> None:
    x, y = _arrays(shape=shape)
    task = ArrayTask(x=x, y=y, val_fraction=0.2, test_fraction=0.2)
    data = task.load()
    assert data.info.kind == kind
    assert data.info.input_shape == shape
    assert data.info.n_classes == 3
    assert task.classes() == ["cat", "dog", "emu"]
    assert (len(data.train), len(data.val), len(data.test)) == (58, 14, 18)
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert np.bincount(split.y, minlength=3).min() > 0
    rows = [{r.tobytes() for r in s.x} for s in (data.train, data.val, data.test)]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]
    channel_axes = (0,) if len(shape) == 1 else tuple(i for i in range(len(shape) + 1) if i != 1)
    np.testing.assert_allclose(data.train.x.mean(axis=channel_axes), 0, atol=1e-5)


def test_array_task_with_explicit_test_keeps_it_and_maps_labels_jointly() -> None:
    x, y = _arrays(60)
    x_test = np.ones((4, 5))
    y_test = np.array(["emu", "cat", "emu", "dog"])
    task = ArrayTask(x=x, y=y, x_test=x_test, y_test=y_test, standardize=False)
    data = task.load()
    assert len(data.test) == 4
    assert data.test.y.tolist() == [2, 0, 2, 1]
    assert len(data.train) + len(data.val) == 60
    np.testing.assert_array_equal(data.test.x, x_test.astype(np.float32))


def test_array_task_is_deterministic_pickles_and_compares_by_content() -> None:
    x, y = _arrays()
    a, b = ArrayTask(x=x, y=y, seed=1), ArrayTask(x=x.copy(), y=y.copy(), seed=1)
    assert a == b and hash(a) == hash(b)
    np.testing.assert_array_equal(a.load().val.x, b.load().val.x)
    assert a != ArrayTask(x=x, y=y, seed=2)
    x2 = x.copy()
    x2[45, 2] += 1.0  # a change numpy's abbreviated repr would hide
    assert a != ArrayTask(x=x2, y=y, seed=1)
    clone = pickle.loads(pickle.dumps(a))
    assert clone == a
    np.testing.assert_array_equal(clone.load().train.x, a.load().train.x)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"x": np.zeros(10), "y": np.zeros(10)}, "task.x"),
        ({"x": np.zeros((10, 2)), "y": np.zeros(9)}, "task.y"),
        ({"x": np.zeros((10, 2)), "y": np.zeros((10, 3))}, "task.y"),
        ({"x": [["a", "b"]] * 10, "y": np.zeros(10)}, "task.x"),
        ({"x": np.full((10, 2), np.nan), "y": np.zeros(10)}, "task.x"),
        ({"x": np.zeros((10, 2)), "y": np.zeros(10), "x_test": np.zeros((3, 2))}, "task.x_test"),
        (
            {
                "x": np.zeros((10, 2)),
                "y": np.zeros(10),
                "x_test": np.zeros((3, 4)),
                "y_test": np.zeros(3),
            },
            "task.x_test",
        ),
        ({"x": np.zeros((10, 2)), "y": np.zeros(10), "val_fraction": 0}, "ArrayTask.val_fraction"),
    ],
)
def test_array_task_rejects_bad_input_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ArrayTask(**kwargs)
    assert field in [p.field for p in info.value.problems]


def _write_csv(path: Path, rows: int = 60, with_text: bool = False) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a,b,colour,label" if with_text else "a,b,label"]
    for i in range(rows):
        extra = f",{['red', 'blue'][i % 2]}" if with_text else ""
        lines.append(f"{rng.normal():.4f},{rng.normal():.4f}{extra},{['yes', 'no'][i % 2]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_task_reads_features_and_maps_labels(tmp_path: Path) -> None:
    task = get_task({"name": "csv", "path": str(_write_csv(tmp_path / "d.csv")), "target": "label"})
    assert isinstance(task, CsvTask)
    data = task.load()
    assert data.info.input_shape == (2,)
    assert data.info.kind == "tabular"
    assert data.info.name == "d"
    assert task.classes() == ["no", "yes"]
    assert len(data.train) + len(data.val) + len(data.test) == 60
    assert data.train.y.dtype == np.int64


def test_csv_task_with_test_path(tmp_path: Path) -> None:
    train = _write_csv(tmp_path / "train.csv", 40)
    test = _write_csv(tmp_path / "test.csv", 10)
    data = CsvTask(path=str(train), target="label", test_path=str(test)).load()
    assert len(data.test) == 10
    assert len(data.train) + len(data.val) == 40


def test_csv_non_numeric_feature_names_the_column(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", with_text=True)
    with pytest.raises(ConfigError, match=r"non-numeric feature column\(s\).*'colour'") as info:
        CsvTask(path=str(path), target="label").load()
    assert info.value.problems[0].field == "task.features"
    assert "features" in info.value.problems[0].fix
    # Leaving the column out works.
    data = CsvTask(path=str(path), target="label", features=["a", "b"]).load()
    assert data.info.input_shape == (2,)


def test_csv_unknown_columns_and_missing_file(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv")
    with pytest.raises(ConfigError, match="column 'lable' not in") as info:
        CsvTask(path=str(path), target="lable").load()
    assert "a, b, label" in info.value.problems[0].fix
    with pytest.raises(ConfigError, match="'z'"):
        CsvTask(path=str(path), target="label", features=["a", "z"]).load()
    with pytest.raises(DataNotFoundError, match=r"task\.path"):
        CsvTask(path=str(tmp_path / "nope.csv"), target="label").load()


def test_csv_missing_values_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("a,b,label\n1,2,x\n3,,y\n5,6,x\n7,8,y\n1,1,x\n2,2,y\n3,3,x\n4,4,y\n")
    with pytest.raises(ConfigError, match="missing values in column\\(s\\) 'b'"):
        CsvTask(path=str(path), target="label").load()
