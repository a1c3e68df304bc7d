"""Pre-flight checks of the data and the network's output (check_forward, check_splits)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from nasforge.evaluate import TrainEvaluator
from nasforge.evaluate._checks import check_forward
from nasforge.tasks import ArrayTask, DatasetTask
from tests.evaluate.conftest import TinySpace
from tests.evaluate.test_train_data import OutputsSpace


class Items(Dataset[Any]):
    """A Dataset that yields given items (good ones, except where ``bad`` says)."""

    def __init__(self, n: int, bad: dict[int, Any] | None = None, target: Any = 1) -> None:
        self.n, self.bad, self.target = n, bad or {}, target

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if i in self.bad:
            value = self.bad[i]
            if isinstance(value, Exception):
                raise value
            return value
        return torch.zeros(4), self.target if i % 2 else 0


def _problems(train: Any, **options: Any) -> list[str]:
    task = DatasetTask(train=train, val=Items(6), test=Items(6), **options)
    return [str(p) for p in check_forward(OutputsSpace(), task)]


def test_good_data_passes() -> None:
    assert _problems(Items(10)) == []
    assert _problems(Items(10, target=0.5), problem="regression") == []
    assert _problems(Items(10), problem="regression") == []  # int targets are fine in regression


@pytest.mark.parametrize(
    ("bad", "options", "text"),
    [
        ({3: (torch.zeros(5), 1)}, {}, "task.train: train example 3 has input shape (5,), "
                                       "expected (4,)"),
        ({2: ([0.0] * 4, 1)}, {}, "train example 2: the input is a list, expected a tensor"),
        ({1: torch.zeros(4)}, {}, "train example 1 is a Tensor, expected an (input, target)"),
        ({5: (torch.zeros(4), 0.5)}, {"n_classes": 2}, "train example 5 has target 0.5 (float64)"),
        ({4: (torch.zeros(4), 7)}, {"n_classes": 2}, "train example 4 has class id 7, outside "
                                                     "0..1"),
        ({9: (torch.zeros(4), torch.zeros(3))}, {"problem": "regression"},
         "train example 9 has 3 target value(s), expected n_targets = 1"),
        ({0: ValueError("corrupt file")}, {"input_shape": [4], "n_classes": 2},
         "reading train example 0 failed (ValueError: corrupt file)"),
    ],
)
def test_bad_examples_are_named(bad: dict[int, Any], options: dict[str, Any], text: str) -> None:
    found = _problems(Items(10, bad), **options)
    assert len(found) == 1 and text in found[0], found


def test_labels_out_of_range_found_without_reading_examples() -> None:
    train = TensorDataset(torch.zeros(20, 4), torch.arange(20) % 2)
    test = TensorDataset(torch.zeros(5, 4), torch.tensor([0, 1, 0, 5, 1]))
    task = DatasetTask(train=train, val=train, test=test, n_classes=2)
    (problem,) = check_forward(OutputsSpace(), task)
    assert problem.field == "task.test" and "test example 3 has class id 5" in problem.message


def test_output_that_does_not_match_the_task() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    regression = ArrayTask(x=x, y=rng.normal(size=(40, 3)), problem="regression")
    # TinySpace builds a head of n_classes outputs: 0 for regression
    (problem,) = TrainEvaluator().preflight(TinySpace(), regression)
    assert "expected (2, 3)" in problem.message
    assert "one output per regression target (n_targets = 3)" in problem.message
    assert "task.n_outputs" in problem.fix
    assert TrainEvaluator().preflight(OutputsSpace(), regression) == []
