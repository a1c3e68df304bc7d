"""load / read_metadata / load_onnx_session: clear errors for missing or corrupt exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.export import (
    ExportError,
    ExportNotFoundError,
    export_model,
    load,
    load_onnx_session,
    read_metadata,
)
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import TaskInfo

SIGNAL = TaskInfo(name="toy_signal", input_shape=(1, 12), n_classes=3, kind="signal")


@pytest.fixture
def export_dir(
    tmp_path: Path,
    space: SearchSpace,
    arch: Architecture,
    trained: Callable[..., nn.Module],
) -> Path:
    net = trained(space, arch, SIGNAL)
    return export_model(
        tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net, onnx=False
    ).out_dir


def _edit_metadata(export_dir: Path, **changes: object) -> None:
    path = export_dir / "architecture.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ExportNotFoundError, match=r"nope does not exist \(fix: pass the directory"):
        load(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):  # also catchable as the builtin
        read_metadata(tmp_path / "nope")


def test_directory_without_metadata(tmp_path: Path) -> None:
    with pytest.raises(ExportNotFoundError, match=r"has no architecture\.json"):
        load(tmp_path)


def test_a_file_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "weights.pt").write_bytes(b"")
    with pytest.raises(ExportError, match="is a file, expected an export directory"):
        load(tmp_path / "weights.pt")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, got list"),
        ('{"format": 1}', "lacks the field.* space, arch, task"),
    ],
)
def test_corrupt_metadata(export_dir: Path, text: str, match: str) -> None:
    (export_dir / "architecture.json").write_text(text)
    with pytest.raises(ExportError, match=match):
        load(export_dir)


def test_other_format_version(export_dir: Path) -> None:
    _edit_metadata(export_dir, format=99)
    with pytest.raises(ExportError, match="export format 99, this nasforge reads format 1"):
        load(export_dir)


def test_unknown_space(export_dir: Path) -> None:
    _edit_metadata(export_dir, space={"name": "no_such_space", "params": {}})
    with pytest.raises(ExportError, match=r"'no_such_space', which is not registered.*export_toy"):
        load(export_dir)


def test_space_rejects_stored_params(export_dir: Path) -> None:
    _edit_metadata(export_dir, space={"name": "export_toy", "params": {"width": 0}})
    with pytest.raises(ExportError, match=r"cannot be rebuilt from the stored parameters.*width"):
        load(export_dir)


def test_arch_outside_the_space(export_dir: Path) -> None:
    _edit_metadata(export_dir, arch={"kernel": 4, "head": "plain"})
    with pytest.raises(ExportError, match=r"does not fit space 'export_toy'.*kernel"):
        load(export_dir)


def test_missing_weights(export_dir: Path) -> None:
    (export_dir / "weights.pt").unlink()
    with pytest.raises(ExportNotFoundError, match=r"has no weights\.pt"):
        load(export_dir)


def test_corrupt_weights(export_dir: Path) -> None:
    (export_dir / "weights.pt").write_bytes(b"not a zip file")
    with pytest.raises(ExportError, match="cannot be read as a state dict"):
        load(export_dir)


def test_weights_not_a_dict(export_dir: Path) -> None:
    torch.save([torch.zeros(1)], export_dir / "weights.pt")
    with pytest.raises(ExportError, match="holds a list, expected a state dict"):
        load(export_dir)


def test_weight_mismatch(export_dir: Path) -> None:
    state = torch.load(export_dir / "weights.pt", weights_only=True)
    state["0.weight"] = torch.zeros(2, 2)
    del state["4.bias"]
    torch.save(state, export_dir / "weights.pt")
    with pytest.raises(
        ExportError, match=r"missing keys 4\.bias; shape mismatches 0\.weight: expected \(4, 1, 3\)"
    ):
        load(export_dir)


def test_weight_mismatch_after_task_change(export_dir: Path) -> None:
    _edit_metadata(export_dir, task={**SIGNAL.to_dict(), "n_classes": 5})
    with pytest.raises(ExportError, match=r"4\.weight: expected \(5, 4\), got \(3, 4\)"):
        load(export_dir)


def test_onnx_session_needs_an_onnx_file(export_dir: Path) -> None:
    with pytest.raises(ExportNotFoundError, match=r"model\.onnx does not exist.*onnx=True"):
        load_onnx_session(export_dir)


def test_load_puts_the_network_on_map_location(export_dir: Path) -> None:
    net = load(export_dir, map_location="cpu")
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert not net.training
