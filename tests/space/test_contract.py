"""Every registered search space passes the shipped SearchSpaceContract."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from nasforge.space import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo
from nasforge.testing.space_contract import SearchSpaceContract

with contextlib.suppress(ImportError):  # registers the toy space, so the set is stable
    import nasforge.testing.toys  # noqa: F401

# Spaces whose constructor needs arguments get a small example here.
EXAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "function": {"path": "tests.space.function_spaces:conv_net"},
    "choices": {"decisions": {"width": [4, 8], "ops": {"repeat": 2,
                                                       "options": ["relu", "tanh", "skip"]}},
                "builder": "tests.space.function_spaces:build_choices"},
    "declared": {
        "layers": [
            {"type": "conv", "width": [4, 8], "kernel": [3, 5], "activation": ["relu", "gelu"]},
            {"type": "repeat", "depth": [0, 1, 2],
             "body": [{"type": "conv", "width": [8, 12], "skip": [True, False]}]},
            {"type": "pool"},
            {"type": "cell", "ops": ["none", "skip_connect", "nor_conv_3x3"], "channels": 6},
            {"type": "dense", "width": [8, 16], "dropout": [0.0, 0.2]},
        ]
    },
}

TASKS = {
    "signal": TaskInfo(name="tiny_signal", input_shape=(1, 16), n_classes=3, kind="signal"),
    "image": TaskInfo(name="tiny_image", input_shape=(3, 8, 8), n_classes=4, kind="image"),
    "tabular": TaskInfo(name="tiny_tabular", input_shape=(5,), n_classes=2, kind="tabular"),
}


class TestRegisteredSpaces(SearchSpaceContract):
    @pytest.fixture(params=SPACES.names(), ids=SPACES.names())
    def space(self, request: pytest.FixtureRequest) -> SearchSpace:
        return SPACES.create(request.param, EXAMPLE_PARAMS.get(request.param, {}))

    @pytest.fixture(params=list(TASKS), ids=list(TASKS))
    def task_info(self, request: pytest.FixtureRequest, space: SearchSpace) -> TaskInfo:
        kinds = getattr(space, "supported_kinds", tuple(TASKS))
        if request.param not in kinds:
            pytest.skip(f"{space.name} does not support {request.param} tasks")
        return TASKS[request.param]


def test_builtins_are_registered() -> None:
    assert {"nb201", "chain", "mlp", "declared"} <= set(SPACES.names())
