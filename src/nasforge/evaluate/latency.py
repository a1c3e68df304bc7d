"""Measured inference latency: PyTorch eager and onnxruntime, with a warm-up, repeats and spread.

:func:`measure_latency` times a forward pass of a batch of zeros with
:class:`torch.utils.benchmark.Timer`: a warm-up, then ``blocked_autorange`` (blocks of several
passes sized so each block is long enough to time, repeated for at least ``min_run_time``),
reporting the median block time per pass and the interquartile range. The thread count is pinned
(``threads``, one by default) for the measurement and restored after, so a figure does not
depend on how many cores the process was given. onnxruntime runs the model exported by the
TorchScript exporter (fast, no onnxscript needed; the dynamo exporter is the fallback) in a session
with the same thread count and sequential execution.

A latency measured while other processes train beside it is not the network's: on a 2-core machine
two 9,610-parameter MLPs of one study measured 0.019 ms and 9.67 ms. The study measures the front
again in a quiet phase at the end (:mod:`nasforge.run.remeasure`); use this module directly for
figures of your own in a quiet process.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import torch
from pydantic import Field
from torch import nn

from nasforge.config import problems_from
from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.costs import _eval_mode, model_device
from nasforge.imports import try_import

Runtime = Literal["torch", "onnx"]
RUNTIMES: tuple[Runtime, ...] = ("torch", "onnx")


class _SettingsModel(pydantic.BaseModel):
    """The validation of :class:`LatencySettings` (unknown keys refused)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    batch_size: Annotated[int, Field(ge=1)] = 64
    runtimes: Annotated[list[Runtime], Field(min_length=1)] = ["torch"]
    threads: Annotated[int, Field(ge=1)] = 1
    min_run_time: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.1


@dataclass(frozen=True)
class LatencySettings:
    """How an evaluator measures latency: a batch size besides batch 1, the runtimes, the pinned
    thread count and how long to time each measurement (see :func:`measure_latency`).

    The train evaluator's ``latency`` parameter, e.g. ``latency: {batch_size: 64, runtimes:
    [torch, onnx], threads: 1, min_run_time: 0.1}``; a key left out takes the default here.
    """

    batch_size: int = 64
    """The second batch size measured (``latency_batch_ms``, ``onnx_latency_batch_ms``)."""
    runtimes: tuple[Runtime, ...] = ("torch",)
    """``torch`` (eager PyTorch) and/or ``onnx`` (onnxruntime; needs the ``onnx`` extra)."""
    threads: int = 1
    """Intra-op threads pinned while timing."""
    min_run_time: float = 0.1
    """Seconds of timed passes per measurement (after the warm-up)."""

    @classmethod
    def parse(
        cls, value: Mapping[str, Any] | None, where: str = "evaluator.latency"
    ) -> LatencySettings:
        """Validated settings from a mapping (``None``: the defaults).

        Raises:
            ConfigError: an unknown key, a value out of range, an empty or repeated runtime;
                each problem names ``<where>.<key>`` and the fix.
        """
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ConfigError([Problem(
                where, f"expected a mapping of latency settings; got {value!r}",
                "use e.g. {batch_size: 64, runtimes: [torch], threads: 1, min_run_time: 0.1}",
            )])  # fmt: skip
        try:
            model = _SettingsModel.model_validate(dict(value))
        except pydantic.ValidationError as exc:
            known = list(_SettingsModel.model_fields)
            raise ConfigError(problems_from(exc, where, known)) from None
        twice = sorted({r for r in model.runtimes if model.runtimes.count(r) > 1})
        if twice:
            raise ConfigError([Problem(
                f"{where}.runtimes", f"runtime {twice[0]!r} is listed twice",
                "list each runtime once, e.g. runtimes: [torch, onnx]",
            )])  # fmt: skip
        return cls(
            batch_size=model.batch_size,
            runtimes=tuple(model.runtimes),
            threads=model.threads,
            min_run_time=model.min_run_time,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"batch_size": 64, "runtimes": ["torch"], ...}``."""
        return {**asdict(self), "runtimes": list(self.runtimes)}


@dataclass(frozen=True)
class Latency:
    """One latency measurement: the median time of a forward pass of ``batch_size`` examples."""

    runtime: str
    """``torch`` (eager PyTorch) or ``onnx`` (onnxruntime, CPU)."""
    batch_size: int
    threads: int
    """Intra-op threads the measurement ran with."""
    median_ms: float
    """Median milliseconds of one forward pass of the whole batch."""
    iqr_ms: float
    """Interquartile range of the per-pass times of the timed blocks, milliseconds."""
    runs: int
    """Timed blocks (each the mean of several passes)."""
    passes: int
    """Forward passes timed in all."""

    @property
    def spread(self) -> float:
        """The IQR relative to the median (0.05: the middle half of blocks within 5%)."""
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    batch_size: int = 1,
    runtime: Runtime = "torch",
    threads: int = 1,
    min_run_time: float = 0.2,
    warmup: int = 3,
) -> Latency:
    """Time a forward pass of ``batch_size`` examples of ``input_shape`` (no batch axis).

    The model is left as it was (training mode, weights). ``runtime="onnx"`` needs the ``onnx``
    extra and a CPU model. Raises ``ValueError`` for a non-positive setting.
    """
    for name, value in (("batch_size", batch_size), ("threads", threads), ("warmup", warmup + 1)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value if name != 'warmup' else warmup}")
    if not min_run_time > 0:
        raise ValueError(f"min_run_time must be > 0; got {min_run_time}")
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}; got {runtime!r}")
    x = torch.zeros((batch_size, *input_shape), device=model_device(model))
    with _eval_mode(model):
        run = _torch_runner(model, x) if runtime == "torch" else _onnx_runner(model, x, threads)
        return _time(run, runtime, batch_size, threads, min_run_time, warmup, model_device(model))


def _torch_runner(model: nn.Module, x: torch.Tensor) -> Any:
    def run() -> None:
        model(x)

    return run


def _onnx_runner(model: nn.Module, x: torch.Tensor, threads: int) -> Any:
    if model_device(model).type != "cpu":
        raise ValueError("onnx latency is measured on the CPU; move the model there first")
    with try_import("onnx", "Measuring onnxruntime latency") as imports:
        import onnxruntime as ort
    imports.check()

    onnx_bytes = _onnx_bytes(model, x)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    feed = {name: x.numpy()}

    def run() -> None:
        session.run(None, feed)

    return run


def _onnx_bytes(model: nn.Module, x: torch.Tensor) -> bytes:
    """The model as ONNX bytes for this input: TorchScript exporter first, dynamo as fallback."""
    from nasforge.export._onnx import _OPSET, _quiet_exporter

    failures = []
    with tempfile.TemporaryDirectory(prefix="nasforge-latency-") as tmp:
        path = Path(tmp) / "model.onnx"
        for dynamo in (False, True):
            try:
                with _quiet_exporter():
                    torch.onnx.export(
                        model, (x,), str(path), dynamo=dynamo, opset_version=_OPSET, verbose=False
                    )
            except Exception as exc:  # exporters raise many unrelated types; report both
                exporter = "dynamo" if dynamo else "torchscript"
                failures.append(f"{exporter}: {type(exc).__name__}: {exc}")
                continue
            return path.read_bytes()
    raise ValueError("could not export the model to ONNX to time it: " + "; ".join(failures))


def _time(
    run: Any,
    runtime: str,
    batch_size: int,
    threads: int,
    min_run_time: float,
    warmup: int,
    device: torch.device,
) -> Latency:
    from torch.utils import benchmark

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timer = benchmark.Timer(stmt="run()", globals={"run": run}, num_threads=threads)
        measurement = timer.blocked_autorange(min_run_time=min_run_time)
    finally:
        torch.set_num_threads(previous)
    return Latency(
        runtime=runtime,
        batch_size=batch_size,
        threads=threads,
        median_ms=1000.0 * measurement.median,
        iqr_ms=1000.0 * measurement.iqr,
        runs=len(measurement.times),
        passes=len(measurement.times) * measurement.number_per_run,
    )
