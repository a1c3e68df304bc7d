"""Exporting networks of the registered built-in spaces (nb201, chain, mlp, ...)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import nasforge.space  # noqa: F401  (registers the built-in spaces)
from nasforge.errors import ConfigError
from nasforge.export import export_model, load, load_onnx_session
from nasforge.space.base import SPACES
from nasforge.tasks.base import TaskInfo

# Smaller than the defaults where the defaults are slow to build and trace on a CPU.
_SMALL: dict[str, dict[str, Any]] = {
    "nb201": {"channels": 4, "cells_per_stage": 1},
    "function": {"path": "tests.space.function_spaces:conv_net"},
    "choices": {"decisions": {"width": [4, 8], "ops": {"repeat": 2, "options": ["relu", "skip"]}},
                "builder": "tests.space.function_spaces:build_choices"},
}
_TOY = {"export_toy"}  # the export tests' own space, tested elsewhere

TASKS = {
    "signal": TaskInfo(name="t", input_shape=(1, 40), n_classes=10, kind="signal"),
    "image": TaskInfo(name="img", input_shape=(3, 8, 8), n_classes=10, kind="image"),
    "tabular": TaskInfo(name="tab", input_shape=(6,), n_classes=3, kind="tabular"),
}


def _batch(task: TaskInfo, n: int, seed: int = 5) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((n, *task.input_shape)).astype(np.float32))


@pytest.mark.parametrize("kind", list(TASKS))
@pytest.mark.parametrize("name", [n for n in SPACES.names() if n not in _TOY])
def test_registered_space_exports_and_loads_back(tmp_path: Path, name: str, kind: str) -> None:
    try:
        space = SPACES.create(name, _SMALL.get(name, {}))
    except ConfigError:
        pytest.skip(f"space {name!r} needs parameters to be created")
    task = TASKS[kind]
    arch = space.sample(np.random.default_rng(0))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = space.build(arch, task).eval()
    except Exception as exc:  # a space may not support every kind of task
        pytest.skip(f"space {name!r} does not build for {kind} tasks: {exc}")

    info = export_model(tmp_path / "e", space=space, arch=arch, task=task, model=net, onnx=False)
    assert info.standalone_format == "fx", json.loads(info.metadata.read_text())["standalone"]
    x = _batch(task, 3)
    with torch.no_grad():
        assert torch.equal(load(info.out_dir)(x), net(x))


needs_nb201 = pytest.mark.skipif("nb201" not in SPACES, reason="nb201 space not registered")


@needs_nb201
@pytest.mark.slow
@pytest.mark.parametrize(
    ("dims", "task"),
    [
        (1, TASKS["signal"]),
        (2, TaskInfo(name="img", input_shape=(3, 16, 16), n_classes=10, kind="image")),
    ],
    ids=["1d", "2d"],
)
def test_nb201_export_onnx_and_standalone(
    tmp_path: Path,
    dims: int,
    task: TaskInfo,
    run_standalone: Callable[[Path, torch.Tensor], torch.Tensor],
) -> None:
    space = SPACES.create("nb201", {"dims": dims, "channels": 8, "cells_per_stage": 1})
    arch = space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "skip_connect~2|"
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = space.build(arch, task).eval()
    info = export_model(
        tmp_path / "e",
        space=space,
        arch=arch,
        task=task,
        model=net,
        metrics={"val_accuracy": 50.0},
        trial=3,
        study="nb201-test",
    )
    meta = json.loads(info.metadata.read_text())
    assert meta["arch_string"] == space.format(arch)
    assert meta["space"]["name"] == "nb201"
    assert meta["onnx_check"]["passed"]
    assert info.standalone_format == "fx"

    x = _batch(task, 4)
    with torch.no_grad():
        expected = net(x)
    assert torch.equal(load(info.out_dir)(x), expected)
    assert torch.equal(run_standalone(info.out_dir, x), expected)
    (got,) = load_onnx_session(info.out_dir).run(["logits"], {"input": x.numpy()})
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)


@needs_nb201
def test_nb201_standalone_without_onnx(tmp_path: Path) -> None:
    """The quick variant of the slow test above: fx module and load(), no ONNX."""
    task = TASKS["signal"]
    space = SPACES.create("nb201", {"dims": 1, "channels": 4, "cells_per_stage": 1})
    arch = space.sample(np.random.default_rng(1))
    info = export_model(tmp_path / "e", space=space, arch=arch, task=task, onnx=False)
    assert info.standalone_format == "fx"
    assert "nasforge" not in (info.out_dir / "model.py").read_text().replace("by nasforge", "")
    spec = importlib.util.spec_from_file_location("_nb201_export_model", info.out_dir / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = _batch(task, 2)
    with torch.no_grad():
        assert torch.equal(load(info.out_dir)(x), module.load_model()(x))
