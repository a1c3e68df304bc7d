"""Built-in tasks: shapes, dtypes, splits, determinism, no overlap, parameter validation."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.tasks import (
    TASKS,
    DigitsTask,
    MNIST1DTask,
    Task,
    TaskData,
    WineTask,
    get_task,
)

# (spec, input_shape, n_classes, kind, total examples)
BUILTIN = [
    pytest.param("mnist1d", (1, 40), 10, "signal", 5000, id="mnist1d"),
    pytest.param("digits", (64,), 10, "tabular", 1797, id="digits"),
    pytest.param(
        {"name": "digits", "as_image": True}, (1, 8, 8), 10, "image", 1797, id="digits-img"
    ),
    pytest.param("breast_cancer", (30,), 2, "tabular", 569, id="breast_cancer"),
    pytest.param("wine", (13,), 3, "tabular", 178, id="wine"),
]


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


@pytest.mark.parametrize(("spec", "shape", "n_classes", "kind", "total"), BUILTIN)
def test_builtin_shapes_dtypes_and_splits(
    spec: object, shape: tuple[int, ...], n_classes: int, kind: str, total: int
) -> None:
    data = get_task(spec).load()  # type: ignore[arg-type]
    assert data.info.input_shape == shape
    assert data.info.n_classes == n_classes
    assert data.info.kind == kind
    assert len(data.train) + len(data.val) + len(data.test) == total
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == np.float32
        assert split.y.dtype == np.int64
        assert split.x.shape == (len(split), *shape)
        assert set(np.unique(split.y)) == set(range(n_classes))  # stratified: every class present
        assert np.isfinite(split.x).all()
    # Train, val and test never share an example.
    train, val, test = (_rows(s.x) for s in (data.train, data.val, data.test))
    assert not train & val and not train & test and not val & test


@pytest.mark.parametrize(("spec", "shape", "n_classes", "kind", "total"), BUILTIN)
def test_builtin_is_deterministic_and_seed_changes_split(
    spec: object, shape: tuple[int, ...], n_classes: int, kind: str, total: int
) -> None:
    params = {"name": spec} if isinstance(spec, str) else dict(spec)  # type: ignore[call-overload]
    a = get_task(params)._load()
    b = get_task(params)._load()  # bypasses the cache: really recomputed
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.val.y, b.val.y)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    other = get_task({**params, "seed": 7})._load()
    assert not np.array_equal(a.val.x, other.val.x)


def test_mnist1d_matches_package_split_and_restores_global_rng() -> None:
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state(), random.getstate()
    data = MNIST1DTask(val_fraction=0.25)._load()
    assert np.random.get_state()[1].tolist() == np_before[1].tolist()
    assert random.getstate() == py_before
    assert (len(data.train), len(data.val), len(data.test)) == (3000, 1000, 1000)
    # Class balance of the validation split follows the training part (stratified).
    assert np.bincount(data.val.y).min() >= 95


def test_sklearn_standardised_with_train_statistics() -> None:
    data = WineTask()._load()
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1, atol=1e-4)
    assert not np.allclose(data.test.x.mean(axis=0), 0, atol=1e-3)  # test stats not used


def test_digits_fractions_respected() -> None:
    data = DigitsTask(val_fraction=0.1, test_fraction=0.3)._load()
    assert abs(len(data.test) - 0.3 * 1797) <= 10
    assert abs(len(data.val) - 0.1 * (1797 - len(data.test))) <= 10


def test_load_is_cached_per_process() -> None:
    assert WineTask(seed=3).load() is WineTask(seed=3).load()


NEED_DATA = ("arrays", "csv", "toy", "dataset", "image_folder")  # no defaults for their data


@pytest.mark.parametrize("name", [n for n in TASKS.names() if n not in NEED_DATA])
def test_registered_tasks_round_trip_params_and_pickle(name: str) -> None:
    task = TASKS.create(name)
    assert isinstance(task, Task)
    rebuilt = TASKS.create(name, task.get_params())
    assert rebuilt == task
    assert pickle.loads(pickle.dumps(task)) == task


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"name": "mnist1d", "val_fraction": 0}, "task.val_fraction"),
        ({"name": "mnist1d", "val_fraction": 1.5}, "task.val_fraction"),
        ({"name": "wine", "seed": -1}, "task.seed"),
        ({"name": "wine", "val_fraction": 0.6, "test_fraction": 0.5}, "task.val_fraction"),
        ({"name": "digits", "as_imag": True}, "task.as_imag"),
        ({"name": "fashion_mnist", "limit_train": 0}, "task.limit_train"),
        ({"name": "mnist1dd"}, "task.name"),
        ({"seed": 1}, "task.name"),
    ],
)
def test_bad_params_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_task(spec)
    assert field in [p.field for p in info.value.problems]


def test_get_task_accepts_name_mapping_or_task_and_rejects_others() -> None:
    assert get_task("wine") == WineTask()
    assert get_task({"name": "wine", "seed": 2}) == WineTask(seed=2)
    task = WineTask(seed=5)
    assert get_task(task) is task
    with pytest.raises(ConfigError, match="task: expected a task name"):
        get_task(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="did you mean 'wine'"):
        get_task("wines")


def test_tiny_split_that_leaves_nothing_held_out_is_rejected() -> None:
    from nasforge.tasks._split import stratified_split

    with pytest.raises(ConfigError, match=r"task\.val_fraction"):
        stratified_split(np.array([0, 0, 1, 1]), 0.01, seed=0)


def test_task_data_is_frozen() -> None:
    data = WineTask().load()
    assert isinstance(data, TaskData)
    with pytest.raises(AttributeError):
        data.train = data.val  # type: ignore[misc]
