"""Built-in spaces build regression heads: the last layer has ``task.n_outputs`` units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasforge.space import SPACES
from nasforge.tasks.base import TaskInfo
from nasforge.testing.toys import ToySpace

REGRESSION = {
    "signal": TaskInfo("reg_signal", (1, 16), 0, "signal", problem="regression", n_targets=2),
    "tabular": TaskInfo("reg_tabular", (5,), 0, "tabular", problem="regression", n_targets=1),
}


@pytest.mark.parametrize("name", ["mlp", "chain"])
@pytest.mark.parametrize("kind", list(REGRESSION))
def test_regression_head(name: str, kind: str) -> None:
    task = REGRESSION[kind]
    space = SPACES.create(name, {})
    model = space.build(space.sample(np.random.default_rng(0)), task)
    out = model(torch.randn(3, *task.input_shape))
    assert out.shape == (3, task.n_targets)


def test_classification_head_unchanged() -> None:
    task = TaskInfo("cls", (5,), 4, "tabular")
    space = SPACES.create("mlp", {})
    out = space.build(space.sample(np.random.default_rng(0)), task)(torch.randn(2, 5))
    assert out.shape == (2, 4)


def test_toy_space_regression_head() -> None:
    space = ToySpace()
    task = REGRESSION["tabular"]
    out = space.build(space.sample(np.random.default_rng(0)), task)(torch.randn(2, 5))
    assert out.shape == (2, 1)
