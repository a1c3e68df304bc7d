"""Export a found architecture to a directory a user can ship, and load it back.

:func:`export_model` writes ``architecture.json`` (space, architecture, task, metrics and check
figures), ``weights.pt``, a torch-only module file (``model.py``, or a ``torch.export`` program
``model.pt2`` when fx cannot trace the network), ``model.onnx`` verified with onnxruntime, and a
``README.md``. :func:`load` rebuilds the network through the space registry.

Example:
    Export the trained winner ``net`` of ``space`` and load it back::

        info = export_model("out/best", space=space, arch=arch, task=task, model=net)
        net2 = load("out/best")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasforge.export._errors import (
        ExportError,
        ExportExistsError,
        ExportNotFoundError,
        ExportPathError,
    )
    from nasforge.export._export import FORMAT, ExportInfo, export_model
    from nasforge.export._load import load, load_onnx_session, read_metadata

# Imported on first use (PEP 562): the errors are cheap, the rest needs torch.
_NAMES = {
    "FORMAT": "nasforge.export._export",
    "ExportError": "nasforge.export._errors",
    "ExportExistsError": "nasforge.export._errors",
    "ExportInfo": "nasforge.export._export",
    "ExportNotFoundError": "nasforge.export._errors",
    "ExportPathError": "nasforge.export._errors",
    "export_model": "nasforge.export._export",
    "load": "nasforge.export._load",
    "load_onnx_session": "nasforge.export._load",
    "read_metadata": "nasforge.export._load",
}

__all__ = [
    "FORMAT",
    "ExportError",
    "ExportExistsError",
    "ExportInfo",
    "ExportNotFoundError",
    "ExportPathError",
    "export_model",
    "load",
    "load_onnx_session",
    "read_metadata",
]


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
