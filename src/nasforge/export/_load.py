"""Read an export directory back: metadata, the rebuilt network, or an onnxruntime session."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.export._errors import ExportError, ExportNotFoundError
from nasforge.export._export import (
    FORMAT,
    METADATA_FILE,
    ONNX_FILE,
    WEIGHTS_FILE,
    build_quietly,
    load_strict,
)
from nasforge.export._onnx import session
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo

if TYPE_CHECKING:
    import onnxruntime

_REQUIRED = ("format", "space", "arch", "task")


def _export_dir(path: str | os.PathLike[str]) -> Path:
    """The export directory for ``path`` (the directory itself or its ``architecture.json``)."""
    where = Path(path)
    if where.is_file() and where.name == METADATA_FILE:
        where = where.parent
    if not where.exists():
        raise ExportNotFoundError(
            f"export directory {where} does not exist "
            "(fix: pass the directory that export_model or `nasforge export` wrote)"
        )
    if not where.is_dir():
        raise ExportError(
            f"{where} is a file, expected an export directory holding {METADATA_FILE}"
        )
    return where


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``architecture.json`` of an export, checked for the fields :func:`load` needs.

    Raises:
        ExportNotFoundError: the directory or its ``architecture.json`` is missing.
        ExportError: the file is not valid JSON, is of another format version, or lacks fields.
    """
    where = _export_dir(path)
    meta_path = where / METADATA_FILE
    if not meta_path.is_file():
        raise ExportNotFoundError(
            f"{where} has no {METADATA_FILE}, so it is not a nasforge export "
            "(fix: pass the directory that export_model wrote, or export again)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(
            f"{meta_path} is not valid JSON ({exc}); the export is corrupt (fix: export again)"
        ) from exc
    if not isinstance(meta, dict):
        raise ExportError(
            f"{meta_path} must hold a JSON object, got {type(meta).__name__} (fix: export again)"
        )
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise ExportError(
            f"{meta_path} lacks the field(s) {', '.join(missing)}; the export is corrupt "
            "(fix: export again)"
        )
    if meta["format"] != FORMAT:
        raise ExportError(
            f"{meta_path} has export format {meta['format']!r}, this nasforge reads format "
            f"{FORMAT} (fix: load it with the nasforge version that wrote it, "
            f"{meta.get('nasforge_version', 'unknown')}, or export again)"
        )
    space = meta["space"]
    if not isinstance(space, dict) or "name" not in space or "params" not in space:
        raise ExportError(
            f"{meta_path}: 'space' must be an object with 'name' and 'params', got {space!r} "
            "(fix: export again)"
        )
    return meta


def load(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild an exported network from its search space and load its weights, in eval mode.

    The space is created through the registry from the stored name and parameters, so spaces
    that are not built into nasforge must be registered (their module imported) first.

    Args:
        path: the export directory (or its ``architecture.json``).
        map_location: where to put the weights (``torch.load``'s ``map_location``).

    Returns:
        The network, equal in outputs to the one exported.

    Raises:
        ExportNotFoundError: the directory, ``architecture.json`` or ``weights.pt`` is missing.
        ExportError: the metadata is corrupt, names an unknown space or an architecture outside
            it, or the weights do not fit the rebuilt network.
    """
    meta = read_metadata(path)
    where = _export_dir(path)
    space = _space(meta, where)
    try:
        arch = Architecture.from_dict(meta["arch"])
        space.validate(arch)
        task = TaskInfo.from_dict(meta["task"])
    except (InvalidArchitectureError, TypeError, KeyError, ValueError) as exc:
        raise ExportError(
            f"{where / METADATA_FILE}: the stored architecture or task does not fit space "
            f"{meta['space']['name']!r}: {exc} (fix: export again with this nasforge version)"
        ) from exc
    weights_path = where / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ExportNotFoundError(
            f"{where} has no {WEIGHTS_FILE} (fix: copy the whole export directory, or export again)"
        )
    try:
        state = torch.load(weights_path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a corrupt file fails in pickle, zip or tensor code alike
        raise ExportError(
            f"{weights_path} cannot be read as a state dict ({type(exc).__name__}: {exc}); the "
            "export is corrupt (fix: export again)"
        ) from exc
    if not isinstance(state, dict):
        raise ExportError(
            f"{weights_path} holds a {type(state).__name__}, expected a state dict "
            "(fix: export again)"
        )
    network = build_quietly(space, arch, task, 0)
    load_strict(network, state, f"{weights_path}")
    return network.to(map_location).eval()


def _space(meta: dict[str, Any], where: Path) -> SearchSpace:
    import nasforge.space  # noqa: F401  (registers the built-in spaces)

    name = meta["space"]["name"]
    params = meta["space"]["params"]
    if name not in SPACES:
        known = ", ".join(SPACES.names()) or "none"
        raise ExportError(
            f"{where / METADATA_FILE} names search space {name!r}, which is not registered "
            f"(registered: {known}) (fix: import the module that registers {name!r} before "
            "load, or use the standalone model.py / model.onnx, which need no nasforge)"
        )
    try:
        return SPACES.create(name, params)
    except ConfigError as exc:
        raise ExportError(
            f"{where / METADATA_FILE}: space {name!r} cannot be rebuilt from the stored "
            f"parameters ({'; '.join(str(p) for p in exc.problems)}); where a module is named, "
            "make it importable, otherwise load it with the nasforge version that wrote it "
            f"({meta.get('nasforge_version', 'unknown')})"
        ) from exc


def load_onnx_session(
    path: str | os.PathLike[str], *, providers: list[str] | None = None
) -> onnxruntime.InferenceSession:
    """An onnxruntime session for an export's ``model.onnx`` (or an ``.onnx`` file).

    The session takes ``{"input": float32 array (batch, *input_shape)}`` and returns
    ``[logits]``; any batch size works.

    Args:
        path: the export directory or the ``.onnx`` file.
        providers: onnxruntime execution providers; the CPU provider by default.
    """
    where = Path(path)
    onnx_path = where if where.suffix == ".onnx" else where / ONNX_FILE
    if not onnx_path.is_file():
        raise ExportNotFoundError(
            f"{onnx_path} does not exist (fix: export with onnx=True, or pass the export directory)"
        )
    return session(onnx_path, providers)
