"""Regression tasks: arrays and CSV with float targets, and the built-in diabetes task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.tasks import ArrayTask, CsvTask, get_task


def _data(n: int = 60, targets: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    y = x @ rng.normal(size=(4, targets)) * 10 + 100
    return x, (y[:, 0] if targets == 1 else y)


@pytest.mark.parametrize("targets", [1, 3])
def test_array_regression_targets(targets: int) -> None:
    x, y = _data(targets=targets)
    task = ArrayTask(x=x, y=y, problem="regression", seed=2)
    data = task.load()
    info = data.info
    assert (info.problem, info.n_targets, info.n_classes, info.n_outputs) == (
        "regression", targets, 0, targets)
    assert (len(data.train), len(data.val), len(data.test)) == (38, 10, 12)
    for split in (data.train, data.val, data.test):
        assert split.y.dtype == np.float32 and split.y.shape == (len(split), targets)
    np.testing.assert_allclose(data.train.y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.y.std(axis=0), 1, atol=1e-4)
    assert task.classes() == []
    raw = ArrayTask(x=x, y=y, problem="regression", seed=2, standardize_targets=False).load()
    assert raw.train.y.mean() > 50  # in the targets' own units


def test_array_regression_bad_input_is_named() -> None:
    x, y = _data()
    with pytest.raises(ConfigError, match="set problem: regression"):
        ArrayTask(x=x, y=y)  # non-integer floats as class labels
    with pytest.raises(ConfigError, match=r"task\.y: regression targets must be"):
        ArrayTask(x=x, y=np.zeros((60, 2, 2)), problem="regression")
    with pytest.raises(ConfigError, match=r"task\.y: contains NaN"):
        ArrayTask(x=x, y=np.full(60, np.nan), problem="regression")
    with pytest.raises(ConfigError, match=r"task\.y_test"):
        ArrayTask(x=x, y=y, x_test=x[:5], y_test=np.zeros((5, 2)), problem="regression")


def test_csv_regression_one_or_several_targets(tmp_path: Path) -> None:
    x, y = _data(targets=2)
    path = tmp_path / "houses.csv"
    lines = [",".join(map(str, [*r, *t])) for r, t in zip(x, y, strict=True)]
    rows = ["a,b,c,d,price,rent", *lines]
    path.write_text("\n".join(rows) + "\n")
    one = CsvTask(path=str(path), target="price", problem="regression", features=["a", "b"])
    info = one.info()
    assert info.input_shape == (2,) and info.n_targets == 1 and info.problem == "regression"
    both = get_task({"name": "csv", "path": str(path), "targets": ["price", "rent"],
                     "problem": "regression"})
    data = both.load()
    assert data.info.input_shape == (4,) and data.train.y.shape[1] == 2
    with pytest.raises(ConfigError, match="need problem: regression"):
        CsvTask(path=str(path), targets=["price", "rent"])
    with pytest.raises(ConfigError, match="not neither"):
        CsvTask(path=str(path), problem="regression")
    with pytest.raises(ConfigError, match="non-integer numbers"):
        CsvTask(path=str(path), target="price").load()
    with pytest.raises(ConfigError, match="'nope' not in"):
        CsvTask(path=str(path), targets=["price", "nope"], problem="regression").load()


def test_diabetes_is_standardised_with_training_statistics() -> None:
    data = get_task("diabetes").load()
    info = data.info
    assert (info.problem, info.n_targets, info.input_shape, info.kind) == (
        "regression", 1, (10,), "tabular")
    assert len(data.train) + len(data.val) + len(data.test) == 442
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.y.mean(), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.y.std(), 1, atol=1e-4)
    assert abs(float(data.test.y.mean())) > 1e-4  # not standardised with its own statistics
    other = get_task({"name": "diabetes", "seed": 1}).load()
    assert not np.array_equal(other.test.y, data.test.y)
