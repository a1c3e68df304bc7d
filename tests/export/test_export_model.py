"""export_model: artifacts, metadata, round trips through load(), model.py and ONNX."""

from __future__ import annotations

import ast
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.export import (
    ExportError,
    ExportInfo,
    export_model,
    load,
    load_onnx_session,
    read_metadata,
)
from nasforge.export import _export as export_impl
from nasforge.export._onnx import OnnxCheck
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import TaskInfo

Trained = Callable[..., nn.Module]
SIGNAL = TaskInfo(name="toy_signal", input_shape=(1, 12), n_classes=3, kind="signal")


def _batch(task: TaskInfo, n: int, seed: int = 123) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((n, *task.input_shape)).astype(np.float32))


def test_export_writes_metadata_and_load_gives_identical_outputs(
    tmp_path: Path, space: SearchSpace, arch: Architecture, trained: Trained
) -> None:
    net = trained(space, arch, SIGNAL)
    info = export_model(
        tmp_path / "best",
        space=space,
        arch=arch,
        task=SIGNAL,
        model=net,
        metrics={"val_accuracy": 91.5, "params": 123.0},
        trial=7,
        study="demo",
        onnx=False,
    )

    assert isinstance(info, ExportInfo)
    assert info.out_dir == (tmp_path / "best").absolute()
    for path in (info.metadata, info.weights, info.readme, info.standalone):
        assert path is not None and path.is_file()
    assert info.standalone_format == "fx"
    assert info.standalone_max_abs_diff == 0.0
    assert info.onnx is None and info.onnx_max_abs_diff is None
    assert not (tmp_path / "best" / "model.onnx").exists()
    # nothing but the export itself is left in the parent directory
    assert [p.name for p in tmp_path.iterdir()] == ["best"]

    meta = json.loads(info.metadata.read_text())
    assert meta["format"] == 1
    assert meta["space"] == {"name": "export_toy", "params": {"width": 4, "use_bn": True}}
    assert meta["arch"] == {"head": "plain", "kernel": 3}
    assert meta["arch_string"] == "k3-plain"
    assert meta["task"] == SIGNAL.to_dict()
    assert meta["metrics"] == {"val_accuracy": 91.5, "params": 123.0}
    assert (meta["trial"], meta["study"]) == (7, "demo")
    assert meta["weights"]["source"] == "model"
    assert meta["standalone"]["format"] == "fx"
    assert meta["onnx"] is None and meta["onnx_check"] is None
    assert read_metadata(info.metadata) == meta  # the json path works as well as the directory

    loaded = load(tmp_path / "best")
    assert not loaded.training
    x = _batch(SIGNAL, 5)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))

    # the given model is copied, not changed
    net.train()
    export_model(tmp_path / "again", space=space, arch=arch, task=SIGNAL, model=net, onnx=False)
    assert net.training


def test_weights_file_loads_with_weights_only(
    tmp_path: Path, space: SearchSpace, arch: Architecture, trained: Trained
) -> None:
    net = trained(space, arch, SIGNAL)
    info = export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net, onnx=False)
    state = torch.load(info.weights, weights_only=True)
    assert state.keys() == net.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_state_dict_alone_is_exported(
    tmp_path: Path, space: SearchSpace, arch: Architecture, trained: Trained
) -> None:
    net = trained(space, arch, SIGNAL)
    info = export_model(
        tmp_path / "e", space=space, arch=arch, task=SIGNAL, state_dict=net.state_dict(), onnx=False
    )
    assert json.loads(info.metadata.read_text())["weights"]["source"] == "state_dict"
    x = _batch(SIGNAL, 2)
    with torch.no_grad():
        assert torch.equal(load(info.out_dir)(x), net(x))


def test_fresh_init_is_seeded_and_keeps_the_global_rng(
    tmp_path: Path, space: SearchSpace, arch: Architecture
) -> None:
    torch.manual_seed(99)
    before = torch.get_rng_state()
    a = export_model(tmp_path / "a", space=space, arch=arch, task=SIGNAL, onnx=False, seed=3)
    b = export_model(tmp_path / "b", space=space, arch=arch, task=SIGNAL, onnx=False, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    wa, wb = (torch.load(i.weights, weights_only=True) for i in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert json.loads(a.metadata.read_text())["weights"]["source"] == "init"


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("kind", ["signal", "image", "tabular"])
def test_standalone_module_runs_without_nasforge_in_a_subprocess(
    run_standalone: Callable[[Path, torch.Tensor], torch.Tensor],
    tmp_path: Path,
    space: SearchSpace,
    kind: str,
    tasks: dict[str, TaskInfo],
    trained: Trained,
) -> None:
    task = tasks[kind]
    arch = Architecture(kernel=5, head="plain")
    net = trained(space, arch, task)
    # the export is moved after writing: model.py must not depend on where it was written
    export_model(tmp_path / "written", space=space, arch=arch, task=task, model=net, onnx=False)
    moved = tmp_path / "moved"
    (tmp_path / "written").rename(moved)
    source = (moved / "model.py").read_text()
    assert _imports(source) <= {"math", "pathlib", "torch"}
    assert "nasforge" not in source.replace("found by nasforge", "")
    assert str(tmp_path) not in source

    x = _batch(task, 4)
    with torch.no_grad():
        assert torch.equal(run_standalone(moved, x), net(x))


@pytest.mark.parametrize("kind", ["signal", "image"])
def test_onnx_matches_pytorch_with_a_dynamic_batch(
    tmp_path: Path, space: SearchSpace, kind: str, tasks: dict[str, TaskInfo], trained: Trained
) -> None:
    task = tasks[kind]
    arch = Architecture(kernel=3, head="plain")
    net = trained(space, arch, task)
    info = export_model(tmp_path / "e", space=space, arch=arch, task=task, model=net)
    assert info.onnx is not None and info.onnx.is_file()
    assert info.onnx_exporter in ("dynamo", "torchscript")
    assert info.onnx_max_abs_diff is not None and info.onnx_max_abs_diff < 1e-4
    check = json.loads(info.metadata.read_text())["onnx_check"]
    assert check["passed"] is True and check["max_abs_diff"] == info.onnx_max_abs_diff

    session = load_onnx_session(info.out_dir)
    for n in (1, 5):  # batch sizes other than the traced (2) and checked (3) ones
        x = _batch(task, n, seed=n)
        (got,) = session.run(["logits"], {"input": x.numpy()})
        with torch.no_grad():
            expected = net(x).numpy()
        assert got.shape == expected.shape == (n, task.n_classes)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert "onnxruntime" in info.readme.read_text()


def test_torchscript_exporter_can_be_chosen(
    tmp_path: Path, space: SearchSpace, arch: Architecture, trained: Trained
) -> None:
    net = trained(space, arch, SIGNAL)
    info = export_model(
        tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net, exporter="torchscript"
    )
    assert info.onnx_exporter == "torchscript"
    x = _batch(SIGNAL, 4)
    (got,) = load_onnx_session(info.onnx or "").run(None, {"input": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, net(x).numpy(), rtol=1e-4, atol=1e-5)


def test_onnx_disagreement_raises_and_leaves_nothing(
    tmp_path: Path, space: SearchSpace, arch: Architecture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_check(*args: object, **kwargs: object) -> OnnxCheck:
        return OnnxCheck("torchscript", 18, 3, 0.5, 0.25, 1e-4, 1e-5, passed=False)

    monkeypatch.setattr(export_impl, "check_onnx", bad_check)
    with pytest.raises(ExportError, match=r"disagrees with PyTorch: max abs difference 0\.5"):
        export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, exporter="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_untraceable_model_falls_back_to_torch_export(
    tmp_path: Path, space: SearchSpace, trained: Trained
) -> None:
    arch = Architecture(kernel=3, head="guarded")
    net = trained(space, arch, SIGNAL)
    info = export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net, onnx=False)
    assert info.standalone_format == "torch_export"
    assert info.standalone == info.out_dir / "model.pt2"
    assert not (info.out_dir / "model.py").exists()
    meta = json.loads(info.metadata.read_text())
    assert meta["standalone"]["format"] == "torch_export"
    assert "torch.fx could not trace" in meta["standalone"]["fx_error"]
    assert "torch.export.load" in info.readme.read_text()

    program = torch.export.load(info.standalone).module()
    x = _batch(SIGNAL, 4)
    with torch.no_grad():
        torch.testing.assert_close(program(x), net(x), rtol=1e-6, atol=1e-7)
        assert torch.equal(load(info.out_dir)(x), net(x))


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_model_neither_exporter_traces_still_exports_weights(
    tmp_path: Path, space: SearchSpace, trained: Trained
) -> None:
    arch = Architecture(kernel=1, head="data_dependent")
    net = trained(space, arch, SIGNAL)
    with pytest.warns(UserWarning, match="no standalone module"):
        info = export_model(
            tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net, onnx=False
        )
    assert info.standalone is None and info.standalone_format is None
    meta = json.loads(info.metadata.read_text())
    assert meta["standalone"]["torch_export_error"]
    x = _batch(SIGNAL, 2)
    with torch.no_grad():
        assert torch.equal(load(info.out_dir)(x), net(x))


def test_invalid_arch_is_rejected(tmp_path: Path, space: SearchSpace) -> None:
    with pytest.raises(InvalidArchitectureError, match="kernel"):
        export_model(
            tmp_path / "e",
            space=space,
            arch=Architecture(kernel=4, head="plain"),
            task=SIGNAL,
            onnx=False,
        )


def test_weights_that_do_not_fit_the_space_are_rejected(
    tmp_path: Path, space: SearchSpace, arch: Architecture, trained: Trained
) -> None:
    other = trained(type(space)(width=6), arch, SIGNAL)
    with pytest.raises(
        ExportError,
        match=r"model exported to .* shape mismatches 0\.bias: expected \(4,\), got \(6,\)",
    ):
        export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=other, onnx=False)
    state = dict(trained(space, arch, SIGNAL).state_dict())
    del state["4.bias"]
    state["extra"] = torch.zeros(1)
    with pytest.raises(ExportError, match=r"missing keys 4\.bias; unexpected keys extra"):
        export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, state_dict=state)
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_needs_overwrite(
    tmp_path: Path, space: SearchSpace, arch: Architecture
) -> None:
    out = tmp_path / "e"
    out.mkdir()  # an empty directory is fine
    export_model(out, space=space, arch=arch, task=SIGNAL, onnx=False, metrics={"params": 1.0})
    with pytest.raises(ExportError, match="overwrite=True"):
        export_model(out, space=space, arch=arch, task=SIGNAL, onnx=False)
    export_model(out, space=space, arch=arch, task=SIGNAL, onnx=False, overwrite=True)
    assert read_metadata(out)["metrics"] == {}

    other = tmp_path / "not_an_export"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not a nasforge export"):
        export_model(other, space=space, arch=arch, task=SIGNAL, onnx=False, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"


def test_unregistered_space_warns(tmp_path: Path, arch: Architecture, space: SearchSpace) -> None:
    class Unregistered(type(space)):  # type: ignore[misc]
        name = ""

    with pytest.warns(UserWarning, match="not registered"):
        export_model(
            tmp_path / "e", space=Unregistered(width=4), arch=arch, task=SIGNAL, onnx=False
        )


def test_export_directory_imports_as_a_package(
    tmp_path: Path,
    space: SearchSpace,
    arch: Architecture,
    trained: Trained,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = trained(space, arch, SIGNAL)
    info = export_model(
        tmp_path / "toy_export_pkg",
        space=space,
        arch=arch,
        task=SIGNAL,
        model=net,
        onnx=False,
        trial=4,
        study="s1",
    )
    readme = info.readme.read_text()
    assert "found in trial 4 of study `s1`" in readme
    assert "import toy_export_pkg" in readme
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        package = importlib.import_module("toy_export_pkg")
        x = _batch(SIGNAL, 3)
        with torch.no_grad():
            assert torch.equal(package.load_model()(x), net(x))
            assert isinstance(package.ExportedModel(load_weights=False), nn.Module)
    finally:
        for name in ("toy_export_pkg", "toy_export_pkg.model"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"exporter": "tflite"},
            "exporter must be 'auto', 'dynamo' or 'torchscript', got 'tflite'",
        ),
        ({"rtol": -1.0}, "rtol must be a finite number >= 0, got -1.0"),
        ({"atol": float("nan")}, "atol must be a finite number >= 0, got nan"),
    ],
)
def test_invalid_options_are_rejected(
    tmp_path: Path, space: SearchSpace, arch: Architecture, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ExportError, match=match):
        export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, **kwargs)
    assert list(tmp_path.iterdir()) == []
