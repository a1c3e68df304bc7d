"""Predicted inference latency: a per-layer lookup table plus a fitted overhead, before training.

A search that constrains or optimises latency should not have to time every candidate, and it
cannot time one reliably while other workers train beside it. :class:`LatencyPredictor` predicts
the median batch-``batch_size`` forward latency of a network in eager PyTorch on this machine's
CPU (``threads`` pinned, as :func:`nasforge.evaluate.latency.measure_latency` measures it) from a
**lookup table of its layers**, in the manner of nn-Meter and FBNet:

1. *Trace*: the network runs once on a batch of zeros with forward hooks on its leaf modules
   (modules without children, and PyTorch's own layers other than containers). Each leaf call
   gets a key: the module's class and ``repr`` (its constructor settings, e.g. ``Conv2d(16, 16,
   kernel_size=(3, 3), ...)``), the shapes, dtypes and keywords of its inputs (batch axis
   included) and the thread count. Calls of the other modules
   (containers, cells, blocks) are counted: their own work (a cell's additions, a pool written
   as ``x.mean()``) is not in the table, and their Python overhead grows with their number.
2. *Table*: each distinct key is timed once, in isolation, with ``measure_latency`` replaying the
   inputs the trace captured (so any leaf module works, whatever it takes).
3. *Fit*: a network's features are ``[sum of its layers' times, number of leaf calls, number of
   other module calls, 1]``; the coefficients are a non-negative least-squares fit of measured
   whole-network latency on ``n_fit`` networks sampled from the space, weighted by
   ``1/measured`` so that it minimises the *relative* error (the benchmark reports a mean
   absolute percentage error). The call terms absorb Python dispatch overhead and glue work,
   which dominates small networks at batch 1 (a layer timed alone is also timed through one
   extra module call, which the fit corrects).

The prediction is ``coef . features``: deterministic given the table. The table and the fits
persist as JSON under ``$NASFORGE_CACHE/latency/`` (default ``~/.cache/nasforge/latency/``), one
file per machine (CPU model, torch version, threads, in the file name and checked inside), so
studies on one machine share the calibration and a resume predicts the same values. A corrupt
file, or one written on another machine, is rebuilt, never trusted. A fit is stored per space
(its name and parameters), input shape, outputs and batch size. Calibration runs once per space
(under a file lock, so two studies starting together do not both calibrate) and costs about
ten seconds with the defaults (24 networks timed whole, 72 traced): 9-11 s for NB201 2-D at
3x32x32, NB201 1-D and the chain space on MNIST-1D, on a 2-core Xeon beside a niced background
job, where the held-out error was 5.0%, 6.8% and 6.7% MAPE (Spearman 0.98, 0.97, 0.96) over 200
networks each, against 22%, 21% and 19% for the plain sum of layer times
(``benchmarks/latency_predictor.py``). A layer first met
after calibration (a configuration no sampled network had) is timed when met and added to the
table, so from then on its networks are predicted the same way.

Example:
    >>> from nasforge.space import NB201Space  # doctest: +SKIP
    >>> predictor = latency_predictor(NB201Space(), info)  # doctest: +SKIP
    >>> predictor.predict(model)  # doctest: +SKIP
    6.91
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nasforge.evaluate.latency import measure_latency

if TYPE_CHECKING:
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import TaskInfo

FORMAT = 1
"""The cache file's format version; a file of another version is rebuilt."""

FEATURES = ("layers_ms", "leaf_calls", "module_calls", "constant")
"""The fitted features of a network, in the order of :attr:`LatencyFit.coef`."""

CACHE_ENV = "NASFORGE_CACHE"
"""Environment variable naming nasforge's cache directory (default ``~/.cache/nasforge``)."""

LAYER_RUN_TIME_S = 0.05
"""``min_run_time`` of one layer's timing (layers take microseconds: thousands of passes)."""

NETWORK_RUN_TIME_S = 0.2
"""``min_run_time`` of one whole network's timing during calibration."""


# -- the machine and the cache file -----------------------------------------------------------


def cpu_model() -> str:
    """The CPU model string (``model name`` of ``/proc/cpuinfo``, else ``platform``'s)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine_key(threads: int) -> dict[str, Any]:
    """What a latency table is valid for: CPU model, core count, torch version, threads."""
    return {"cpu": cpu_model(), "cores": os.cpu_count() or 0, "torch": torch.__version__,
            "threads": threads, "platform": platform.system()}


def cache_dir() -> Path:
    """``$NASFORGE_CACHE`` or ``~/.cache/nasforge``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "nasforge"


def table_path(threads: int = 1, directory: Path | None = None) -> Path:
    """The JSON file holding this machine's latency table for ``threads``."""
    key = json.dumps(machine_key(threads), sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (directory or cache_dir()) / "latency" / f"table-{digest}.json"


@dataclass(frozen=True)
class LatencyFit:
    """The fitted overhead model of one space: ``latency = coef . features``."""

    coef: tuple[float, ...]
    """Coefficients of :data:`FEATURES` (non-negative)."""
    n: int
    """Networks it was fitted on."""
    mape: float
    """Mean absolute percentage error on those networks (in-sample), percent."""
    calibration_s: float
    """Seconds the calibration took (layer timings, network timings, fit)."""

    def to_dict(self) -> dict[str, Any]:
        return {"coef": list(self.coef), "n": self.n, "mape": self.mape,
                "calibration_s": self.calibration_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyFit:
        coef = tuple(float(c) for c in data["coef"])
        if len(coef) != len(FEATURES) or not all(math.isfinite(c) for c in coef):
            raise ValueError(f"a fit needs {len(FEATURES)} finite coefficients; got {coef}")
        return cls(coef=coef, n=int(data["n"]), mape=float(data["mape"]),
                   calibration_s=float(data["calibration_s"]))


@dataclass
class LatencyTable:
    """Milliseconds of each layer key and the fits of each space, for one machine."""

    machine: dict[str, Any]
    layers: dict[str, float] = field(default_factory=dict)
    fits: dict[str, LatencyFit] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "machine": self.machine,
                "layers": dict(sorted(self.layers.items())),
                "fits": {k: f.to_dict() for k, f in sorted(self.fits.items())}}

    @classmethod
    def load(cls, path: Path, machine: dict[str, Any]) -> LatencyTable | None:
        """The table in ``path``, or ``None`` when it is missing, corrupt, of another format
        or written for another machine (the caller then rebuilds it)."""
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT or data.get("machine") != machine:
                return None
            layers = {str(k): float(v) for k, v in data["layers"].items()}
            if not all(math.isfinite(v) and v >= 0 for v in layers.values()):
                return None
            fits = {str(k): LatencyFit.from_dict(v) for k, v in data["fits"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return cls(machine=machine, layers=layers, fits=fits)

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file, then a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        os.replace(tmp, path)

    def merge_from(self, other: LatencyTable | None) -> None:
        """Take ``other``'s entries over this table's (what is on disk came first and wins)."""
        if other is not None:
            self.layers.update(other.layers)
            self.fits.update(other.fits)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path.lock`` (processes of one machine calibrate one at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock; the atomic write still keeps the file whole
        yield
        return
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- tracing a network ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerCall:
    """One call of a leaf module during a trace, with what it needs to be timed alone."""

    key: str
    module: nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """The leaf-module calls and the number of other module calls of one forward pass."""

    calls: tuple[LayerCall, ...]
    module_calls: int

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.calls]


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_describe(v) for v in value) + ")"
    return repr(value)


def layer_key(module: nn.Module, args: Sequence[Any], threads: int,
              kwargs: Mapping[str, Any] | None = None) -> str:
    """The table key of a call of leaf ``module`` on ``args``: class, settings, input shapes
    (batch axis included) and threads, e.g. ``torch.nn.modules.conv.Conv2d|Conv2d(16, 16,
    kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)|float32[1, 16, 32, 32]|t1``."""
    cls = type(module)
    inputs = ",".join([*(_describe(a) for a in args),
                       *(f"{k}={_describe(v)}" for k, v in sorted((kwargs or {}).items()))])
    return f"{cls.__module__}.{cls.__qualname__}|{module!r}|{inputs}|t{threads}"


def _captured(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_leaf(module: nn.Module) -> bool:
    """Whether calls of ``module`` are timed whole: a module without children, or one of
    PyTorch's own layers other than containers (``nn.MultiheadAttention`` computes with its
    ``out_proj``'s weights without calling it)."""
    if next(module.children(), None) is None:
        return True
    return type(module).__module__.startswith("torch.nn.") and not isinstance(
        module, _CONTAINERS)


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if is_leaf(m)]


def trace(model: nn.Module, input_shape: Sequence[int], *, batch_size: int = 1,
          threads: int = 1) -> Trace:
    """Run ``model`` once (CPU, evaluation mode, no autograd) on zeros of ``(batch_size,
    *input_shape)`` and record its leaf-module calls and count its other module calls. The
    model's mode is restored after."""
    calls: list[LayerCall] = []
    depth = 0  # leaves running: a leaf called from inside another is part of that one
    containers = 0
    leaves = set(map(id, _leaves(model)))

    def before(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        nonlocal depth, containers
        if id(module) not in leaves:
            if depth == 0:
                containers += 1
            return
        if depth == 0:
            calls.append(LayerCall(layer_key(module, args, threads, kwargs), module,
                                   tuple(map(_captured, args)),
                                   {k: _captured(v) for k, v in kwargs.items()}))
        depth += 1

    def after(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        nonlocal depth
        if id(module) in leaves:
            depth -= 1

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
        handles.append(module.register_forward_hook(after))
    was_training = model.training
    previous = torch.get_num_threads()
    # the pinned thread count also for the trace: with more threads than free cores a small
    # network's forward can take a hundred times longer
    torch.set_num_threads(threads)
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((batch_size, *input_shape)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
        torch.set_num_threads(previous)
    return Trace(calls=tuple(calls), module_calls=containers)


class _Replay(nn.Module):
    """Calls ``module`` on the captured inputs whatever it is given (to time it alone)."""

    def __init__(self, module: nn.Module, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.module = module
        self.args = args
        self.kwargs = kwargs

    def forward(self, x: torch.Tensor) -> Any:
        return self.module(*self.args, **self.kwargs)


def time_layer(call: LayerCall, *, threads: int = 1,
               min_run_time: float = LAYER_RUN_TIME_S) -> float:
    """Median milliseconds of one call of ``call.module`` on its captured inputs, alone."""
    replay = _Replay(copy.deepcopy(call.module), call.args, call.kwargs)
    return measure_latency(replay, (1,), threads=threads, min_run_time=min_run_time).median_ms


# -- the predictor ----------------------------------------------------------------------------


def space_key(space: SearchSpace, info: TaskInfo, batch_size: int) -> str:
    """What a fit is valid for: the space (name, parameters), input shape, outputs, batch."""
    params = json.dumps(space.get_params(), sort_keys=True, default=repr)
    name = space.name or type(space).__name__
    return (f"{name}:{hashlib.sha256(params.encode()).hexdigest()[:12]}:"
            f"{'x'.join(map(str, info.input_shape))}:{info.n_outputs}:b{batch_size}")


class LatencyPredictor:
    """Predicts eager-PyTorch CPU latency of networks of one space from a layer table.

    Build one with :func:`latency_predictor` (which calibrates once per machine and space, or
    loads the calibration). :meth:`predict` is deterministic given the table: a layer key already
    in the table is never timed again. A layer key not yet in the table is timed when met and
    saved, so the same network is predicted the same way afterwards, in this process and others.
    """

    def __init__(self, table: LatencyTable, fit: LatencyFit, path: Path | None, *,
                 input_shape: Sequence[int], batch_size: int = 1, threads: int = 1) -> None:
        self.table = table
        self.fit = fit
        self.path = path
        self.input_shape = tuple(input_shape)
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()

    def features(self, model: nn.Module) -> np.ndarray:
        """:data:`FEATURES` of ``model`` (timing any layer key the table lacks)."""
        traced = trace(model, self.input_shape, batch_size=self.batch_size,
                       threads=self.threads)
        missing = {c.key: c for c in traced.calls if c.key not in self.table.layers}
        if missing:
            self._add_layers(list(missing.values()))
        total = math.fsum(self.table.layers[k] for k in traced.keys)
        return np.array([total, len(traced.calls), traced.module_calls, 1.0])

    def predict(self, model: nn.Module) -> float:
        """Predicted median milliseconds of a forward pass of ``batch_size`` examples."""
        model = model.cpu()
        return float(np.dot(self.fit.coef, self.features(model)))

    def layers_sum(self, model: nn.Module) -> float:
        """The plain sum of the table times of ``model``'s layers (the prediction before the
        fitted overhead), milliseconds."""
        return float(self.features(model.cpu())[0])

    def _add_layers(self, calls: list[LayerCall]) -> None:
        with self._lock:
            timed = {c.key: time_layer(c, threads=self.threads) for c in calls
                     if c.key not in self.table.layers}
            if self.path is None:
                self.table.layers.update(timed)
                return
            with _locked(self.path):
                on_disk = LatencyTable.load(self.path, self.table.machine)
                self.table.layers.update(timed)
                self.table.merge_from(on_disk)  # another process timed it first: use its value
                self.table.save(self.path)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    """Non-negative least squares of ``y`` on ``x``, rows weighted by ``1/y`` (relative error)."""
    from scipy.optimize import nnls

    w = 1.0 / y
    coef, _ = nnls(x * w[:, None], y * w)
    return tuple(float(c) for c in coef)


def calibrate(space: SearchSpace, info: TaskInfo, table: LatencyTable, *, batch_size: int = 1,
              threads: int = 1, n_fit: int = 24, n_cover: int = 48, seed: int = 0,
              network_run_time: float = NETWORK_RUN_TIME_S) -> LatencyFit:
    """Time the layers of ``n_fit + n_cover`` sampled networks into ``table`` and fit the
    overhead on ``n_fit`` of them timed whole. Deterministic in its draws (``seed``)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    predictor = LatencyPredictor(table, LatencyFit((1.0, 0.0, 0.0, 0.0), 0, 0.0, 0.0), None,
                                 input_shape=info.input_shape, batch_size=batch_size,
                                 threads=threads)
    rows, measured = [], []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for i in range(n_fit + n_cover):
            model = space.build(space.sample(rng), info).cpu()
            features = predictor.features(model)
            if i < n_fit:
                rows.append(features)
                measured.append(measure_latency(
                    model, info.input_shape, batch_size=batch_size, threads=threads,
                    min_run_time=network_run_time).median_ms)
    x, y = np.array(rows), np.array(measured)
    coef = _fit(x, y)
    mape = float(100 * np.mean(np.abs(x @ coef - y) / y))
    return LatencyFit(coef=coef, n=n_fit, mape=mape, calibration_s=time.perf_counter() - start)


_PREDICTORS: dict[tuple[str, str], LatencyPredictor] = {}
_PREDICTORS_LOCK = threading.Lock()


def latency_predictor(space: SearchSpace, info: TaskInfo, *, batch_size: int = 1,
                      threads: int = 1, n_fit: int = 24, n_cover: int = 48,
                      network_run_time: float = NETWORK_RUN_TIME_S,
                      directory: Path | None = None) -> LatencyPredictor:
    """This machine's latency predictor for networks of ``space`` on ``info``'s inputs.

    Loads the table and the space's fit from the cache file (:func:`table_path`), or
    calibrates (:func:`calibrate`) and saves them. One predictor per file and space is kept for
    the life of the process.

    Args:
        space: the search space whose networks will be predicted.
        info: the task's shape (input shape, outputs).
        batch_size: the batch of the predicted latency.
        threads: intra-op threads the latency is for (pinned while timing).
        n_fit: networks timed whole to fit the overhead.
        n_cover: further sampled networks whose layers are timed (fewer layers met later).
        network_run_time: seconds of timing of each of the ``n_fit`` networks.
        directory: the cache directory (default :func:`cache_dir`).
    """
    for name, value in (("batch_size", batch_size), ("threads", threads), ("n_fit", n_fit)):
        if value < 1:
            raise ValueError(f"latency_predictor: {name} must be >= 1; got {value}")
    if n_cover < 0:
        raise ValueError(f"latency_predictor: n_cover must be >= 0; got {n_cover}")
    if not network_run_time > 0:
        raise ValueError(f"latency_predictor: network_run_time must be > 0; got "
                         f"{network_run_time}")
    path = table_path(threads, directory)
    skey = space_key(space, info, batch_size)
    with _PREDICTORS_LOCK:
        cached = _PREDICTORS.get((str(path), skey))
        if cached is not None:
            return cached
        machine = machine_key(threads)
        with _locked(path):
            table = LatencyTable.load(path, machine) or LatencyTable(machine=machine)
            fit = table.fits.get(skey)
            if fit is None:
                fit = calibrate(space, info, table, batch_size=batch_size, threads=threads,
                                n_fit=n_fit, n_cover=n_cover,
                                network_run_time=network_run_time)
                table.fits[skey] = fit
                table.save(path)
        predictor = LatencyPredictor(table, fit, path, input_shape=info.input_shape,
                                     batch_size=batch_size, threads=threads)
        _PREDICTORS[(str(path), skey)] = predictor
        return predictor


def forget_predictors() -> None:
    """Drop the predictors kept in this process (the next call reads the cache file again)."""
    with _PREDICTORS_LOCK:
        _PREDICTORS.clear()


def predict_latency_ms(space: SearchSpace, model: nn.Module, info: TaskInfo, *,
                       batch_size: int = 1, threads: int = 1) -> float:
    """The predicted latency of ``model`` (built by ``space`` for ``info``), milliseconds."""
    return latency_predictor(space, info, batch_size=batch_size, threads=threads).predict(model)


__all__ = ["FEATURES", "LatencyFit", "LatencyPredictor", "LatencyTable", "Trace", "cache_dir",
           "calibrate", "forget_predictors", "latency_predictor", "layer_key",
           "predict_latency_ms", "table_path", "time_layer", "trace"]
