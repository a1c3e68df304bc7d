"""ONNX export with a dynamic batch axis, verified against PyTorch with onnxruntime.

torch 2.9+ defaults to the ``torch.export``-based ("dynamo") exporter, which needs onnxscript
and works offline on CPU. onnx, onnxscript and onnxruntime come with the ``onnx`` extra
(``pip install 'nasforge[onnx]'``) and are imported only here, when a file is written or checked.
The older TorchScript exporter is kept as a fallback for models the dynamo exporter rejects;
which one ran is recorded in the metadata.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from nasforge.export._errors import ExportError
from nasforge.imports import try_import

if TYPE_CHECKING:
    import onnxruntime

Exporter = Literal["auto", "dynamo", "torchscript"]

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
_OPSET = 18  # supported by both exporters and by every onnxruntime nasforge allows
_EXTERNAL_DATA_BYTES = 1_500_000_000  # ONNX protobufs stop at 2 GB; keep weights beside it


@dataclass(frozen=True)
class OnnxCheck:
    """How closely onnxruntime reproduces PyTorch on a deterministic random batch.

    Attributes:
        exporter: ``dynamo`` or ``torchscript``, the exporter that wrote the file.
        opset: the ONNX default-domain opset of the file.
        batch_size: size of the checked batch (differs from the traced one, so the dynamic
            batch axis is exercised too).
        max_abs_diff: largest absolute difference between the two outputs.
        max_rel_diff: ``max_abs_diff`` divided by the largest absolute PyTorch output.
        rtol: allowed ``max_abs_diff`` relative to the largest absolute PyTorch output.
        atol: allowed ``max_abs_diff`` on top of the relative part.
        passed: ``max_abs_diff <= atol + rtol * max|PyTorch output|``.
    """

    exporter: str
    opset: int
    batch_size: int
    max_abs_diff: float
    max_rel_diff: float
    rtol: float
    atol: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter,
            "opset": self.opset,
            "batch_size": self.batch_size,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "rtol": self.rtol,
            "atol": self.atol,
            "passed": self.passed,
        }


def compare(
    reference: torch.Tensor, other: torch.Tensor, rtol: float, atol: float
) -> tuple[float, float, bool]:
    """(max absolute difference, the same relative to max ``|reference|``, within tolerance)."""
    ref = reference.detach().double()
    if ref.shape != other.shape:
        return float("inf"), float("inf"), False
    if not ref.numel():
        return 0.0, 0.0, True
    diff = float((ref - other.detach().double()).abs().max())
    scale = float(ref.abs().max())
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    return diff, rel, diff <= atol + rtol * scale


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence exporter chatter that is not about the user's model (missing torchvision ops)."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path, exporter: Exporter) -> str:
    """Write ``model`` to ``path`` with a dynamic batch axis; return the exporter used.

    Raises:
        ExportError: every exporter tried failed; the message carries each reason.
    """
    order = ["dynamo", "torchscript"] if exporter == "auto" else [exporter]
    external = sum(p.numel() * p.element_size() for p in model.parameters())
    failures: list[str] = []
    for name in order:
        path.unlink(missing_ok=True)
        try:
            with _quiet_exporter():
                if name == "dynamo":
                    torch.onnx.export(
                        model,
                        (example,),
                        str(path),
                        dynamo=True,
                        input_names=[INPUT_NAME],
                        output_names=[OUTPUT_NAME],
                        opset_version=_OPSET,
                        dynamic_shapes=({0: torch.export.Dim("batch")},),
                        external_data=external > _EXTERNAL_DATA_BYTES,
                        verbose=False,
                    )
                else:
                    torch.onnx.export(
                        model,
                        (example,),
                        str(path),
                        dynamo=False,
                        input_names=[INPUT_NAME],
                        output_names=[OUTPUT_NAME],
                        opset_version=_OPSET,
                        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                    )
        except Exception as exc:  # exporters raise many unrelated types; report them all
            failures.append(f"{name} exporter: {type(exc).__name__}: {str(exc)[:500]}")
            continue
        return name
    raise ExportError(
        f"could not export {type(model).__name__} to ONNX at {path}:\n  "
        + "\n  ".join(failures)
        + "\n(fix: pass onnx=False to export_model to skip ONNX, or exporter='torchscript')"
    )


def opset_of(path: Path) -> int:
    with try_import("onnx", "Reading an ONNX file") as imports:
        import onnx
    imports.check()

    proto = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), -1)


def session(path: Path, providers: list[str] | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime session for ``path`` (CPU unless ``providers`` say otherwise)."""
    with try_import("onnx", "Running an ONNX export") as imports:
        import onnxruntime as ort
    imports.check()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the optimiser's notes are not the user's
    return ort.InferenceSession(
        str(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
    )


def check_onnx(
    path: Path,
    model: nn.Module,
    probe: torch.Tensor,
    *,
    exporter: str,
    rtol: float,
    atol: float,
) -> OnnxCheck:
    """Run ``probe`` through onnxruntime and ``model`` and compare the outputs."""
    sess = session(path)
    with torch.no_grad():
        expected = model(probe)
    (got,) = sess.run([OUTPUT_NAME], {INPUT_NAME: probe.numpy()})
    max_abs, max_rel, passed = compare(expected, torch.from_numpy(np.asarray(got)), rtol, atol)
    return OnnxCheck(
        exporter=exporter,
        opset=opset_of(path),
        batch_size=int(probe.shape[0]),
        max_abs_diff=max_abs,
        max_rel_diff=max_rel,
        rtol=rtol,
        atol=atol,
        passed=passed,
    )
