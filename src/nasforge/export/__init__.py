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

from nasforge.export._errors import ExportError, ExportNotFoundError
from nasforge.export._export import FORMAT, ExportInfo, export_model
from nasforge.export._load import load, load_onnx_session, read_metadata

__all__ = [
    "FORMAT",
    "ExportError",
    "ExportInfo",
    "ExportNotFoundError",
    "export_model",
    "load",
    "load_onnx_session",
    "read_metadata",
]
