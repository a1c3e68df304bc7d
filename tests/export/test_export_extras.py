"""The ``onnx`` extra: a missing package fails only ONNX export, before any work, and says so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.export import ExportError, ExportExistsError, export_model, load
from nasforge.imports import MissingDependencyError
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import TaskInfo

SIGNAL = TaskInfo(name="toy_signal", input_shape=(1, 12), n_classes=3, kind="signal")


@pytest.mark.parametrize("module", ["onnx", "onnxruntime", "onnxscript"])
def test_missing_onnx_package_names_the_extra(
    tmp_path: Path, space: SearchSpace, arch: Architecture, module: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(MissingDependencyError) as info:
        export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL)
    message = str(info.value)
    assert f"ONNX export needs the {module!r} package" in message
    assert "pip install 'nasforge[onnx]'" in message and "pass onnx=False" in message
    assert info.value.extra == "onnx"
    assert not (tmp_path / "e").exists()  # refused before anything was written
    # Without ONNX the export works and loads back.
    export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, onnx=False)
    load(tmp_path / "e")


def test_onnx_session_without_onnxruntime_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasforge.export import load_onnx_session

    (tmp_path / "model.onnx").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'nasforge\[onnx\]'"):
        load_onnx_session(tmp_path / "model.onnx")


def test_existing_export_error_carries_the_path(
    tmp_path: Path, space: SearchSpace, arch: Architecture
) -> None:
    out = tmp_path / "e"
    export_model(out, space=space, arch=arch, task=SIGNAL, onnx=False)
    with pytest.raises(ExportExistsError) as info:
        export_model(out, space=space, arch=arch, task=SIGNAL, onnx=False)
    assert info.value.path == out.absolute()
    assert isinstance(info.value, ExportError) and isinstance(info.value, FileExistsError)
    assert "pass overwrite=True" in str(info.value) and "--overwrite" not in str(info.value)
