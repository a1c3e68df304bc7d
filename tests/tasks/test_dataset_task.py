"""DatasetTask (torch Datasets / DataLoaders, objects or a 'module:function' reference) and the
Split reading API (loader, tensors, batches)."""

from __future__ import annotations

import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from nasforge.errors import ConfigError
from nasforge.tasks import DatasetTask, Split, from_datasets, get_task


def _classes(n: int = 40, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 2, 8, generator=g), torch.arange(n) % 4)


class Pairs(Dataset[tuple[torch.Tensor, float]]):
    """A plain map-style Dataset of (float64 input, float target): no targets attribute."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, float]:
        return torch.full((3,), float(i), dtype=torch.float64), 0.5 * i


def test_info_is_inferred_from_the_data() -> None:
    task = from_datasets(_classes(), _classes(12, seed=1), val=_classes(8, seed=2))
    info = task.info()
    assert (info.input_shape, info.kind, info.problem, info.n_classes) == (
        (2, 8), "signal", "classification", 4)
    assert info.n_outputs == 4
    regression = DatasetTask(train=Pairs(30), test=Pairs(10)).info()
    assert (regression.problem, regression.n_targets, regression.n_classes) == ("regression", 1, 0)
    assert regression.input_shape == (3,) and regression.kind == "tabular"
    two = DatasetTask(train=TensorDataset(torch.randn(9, 4), torch.randn(9, 2)),
                      test=TensorDataset(torch.randn(3, 4), torch.randn(3, 2))).info()
    assert two.n_targets == 2 and two.n_outputs == 2


def test_overrides_win_over_inference() -> None:
    task = DatasetTask(train=_classes(), test=_classes(8), n_classes=10, kind="image",
                       input_shape=[2, 8, 1])
    info = task.info()
    assert (info.n_classes, info.kind, info.input_shape) == (10, "image", (2, 8, 1))
    as_regression = DatasetTask(train=_classes(), test=_classes(8), problem="regression").info()
    assert as_regression.problem == "regression" and as_regression.n_targets == 1


def test_missing_val_is_carved_out_of_train_seeded() -> None:
    data = DatasetTask(train=Pairs(50), test=Pairs(10), val_fraction=0.2, seed=3).load()
    assert (len(data.train), len(data.val), len(data.test)) == (40, 10, 10)
    train_ids = {int(data.train.dataset[i][0][0]) for i in range(40)}  # type: ignore[index]
    val_ids = {int(data.val.dataset[i][0][0]) for i in range(10)}  # type: ignore[index]
    assert not train_ids & val_ids and len(train_ids | val_ids) == 50
    again = DatasetTask(train=Pairs(50), test=Pairs(10), val_fraction=0.2, seed=3).load()
    assert [int(again.val.dataset[i][0][0]) for i in range(10)] == sorted(val_ids)  # type: ignore[index]


def test_a_dataloader_gives_its_dataset_and_collate_fn() -> None:
    calls: list[int] = []

    def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, ...]:
        calls.append(len(batch))
        return torch.stack([b[0] for b in batch]) * 0, torch.stack([b[1] for b in batch])

    loader = DataLoader(_classes(), batch_size=7, collate_fn=collate)
    data = DatasetTask(train=loader, test=_classes(8)).load()
    batches = list(data.train.loader(16))  # the evaluator's batch size, not the loader's 7
    assert [len(y) for _, y in batches] == [16, 16] and calls == [16, 16]  # 32 after val
    assert all(x.dtype == torch.float32 and not x.any() for x, _ in batches)


def test_split_loader_is_seeded_and_tensors_match_arrays() -> None:
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    split = Split(x, y)
    first = [b.tolist() for _, b in split.loader(4, shuffle=True, seed=5)]
    again = [b.tolist() for _, b in split.loader(4, shuffle=True, seed=5)]
    other = [b.tolist() for _, b in split.loader(4, shuffle=True, seed=6)]
    assert first == again and first != other
    assert sorted(i for b in first for i in b) == list(range(10))
    tx, ty = split.tensors()
    assert np.shares_memory(tx.numpy(), x) and ty.tolist() == list(range(10))
    ds = Split(dataset=TensorDataset(torch.from_numpy(x).double(), torch.from_numpy(y)))
    dx, dy = ds.tensors()
    assert dx.dtype == torch.float32 and torch.equal(dx, tx) and torch.equal(dy, ty)
    assert [b.tolist() for _, b in ds.batches([[3, 1], [0]])] == [[3, 1], [0]]
    with pytest.raises(TypeError, match=r"split\.loader"):
        ds.arrays()
    with pytest.raises(ValueError, match="either arrays"):
        Split(x, y, dataset=ds.dataset)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "nf_user_data.py").write_text(textwrap.dedent("""
        import torch
        from torch.utils.data import TensorDataset

        CALLS = []

        def make(n=30, seed=0):
            CALLS.append(n)
            g = torch.Generator().manual_seed(seed)
            def part(k):
                return TensorDataset(torch.randn(k, 5, generator=g), torch.arange(k) % 3)
            return {"train": part(n), "val": part(9), "test": part(9)}

        def pair():
            return make(12)["train"], make(6)["test"]

        NOT_A_FUNCTION = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "nf_user_data"
    sys.modules.pop("nf_user_data", None)


def test_path_form_from_yaml_pickles_by_reference(user_module: str) -> None:
    task = get_task({"name": "dataset", "path": f"{user_module}:make", "args": {"n": 24}})
    data = task.load()
    assert (len(data.train), len(data.val), len(data.test)) == (24, 9, 9)
    assert data.info.n_classes == 3 and data.info.name == "make"
    blob = pickle.dumps(task)
    assert len(blob) < 1000  # the reference, not the examples
    clone = pickle.loads(blob)
    assert clone == task and clone.get_params()["path"] == f"{user_module}:make"
    module = sys.modules[user_module]
    task.load()
    assert module.CALLS == [24]  # cached in the process: the function ran once
    two = get_task({"name": "dataset", "path": f"{user_module}:pair"}).load()
    assert (len(two.train), len(two.val), len(two.test)) == (10, 2, 9)


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({}, "task.path", "either path or the train and test"),
        ({"path": "no_colon"}, "task.path", "module:function"),
        ({"path": "nf_no_such_module:make"}, "task.path", "make 'nf_no_such_module' importable"),
        ({"path": "nf_user_data:nope"}, "task.path", "no attribute 'nope'"),
        ({"path": "nf_user_data:NOT_A_FUNCTION"}, "task.path", "not a function"),
        ({"path": "nf_user_data:make", "args": {"bogus": 1}}, "task.args", "bogus"),
        ({"args": {"n": 1}, "train": [1], "test": [1]}, "task.args", "no"),
    ],
)
def test_bad_references_name_the_field(
    user_module: str, params: dict[str, object], field: str, text: str
) -> None:
    with pytest.raises(ConfigError) as info:
        get_task({"name": "dataset", **params}).load()
    problem = info.value.problems[0]
    assert problem.field == field and text in str(problem), problem


def test_bad_objects_are_refused_at_once() -> None:
    with pytest.raises(ConfigError, match=r"task\.train: expected a torch Dataset"):
        DatasetTask(train=3, test=_classes())
    with pytest.raises(ConfigError, match="not both"):
        DatasetTask(path="m:f", train=_classes(), test=_classes())
    with pytest.raises(ConfigError, match="integer class ids"):
        DatasetTask(train=_classes(), test=TensorDataset(torch.randn(4, 2, 8), torch.rand(4)),
                    problem="classification").info()
