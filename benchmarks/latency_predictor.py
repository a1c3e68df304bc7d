"""Latency predictor: predicted against measured CPU latency on held-out networks.

For each space, :func:`nasforge.evaluate.latency_predictor.latency_predictor` is calibrated from
scratch in a fresh cache directory (its layer table and overhead fit, timed here), then ``--n``
held-out architectures (sampled with another seed, none of those the calibration sampled) are
built, timed whole with :func:`nasforge.evaluate.latency.measure_latency` (eager PyTorch, batch 1,
one pinned thread, ``--min-run-time`` seconds each) and predicted. Spaces:

- ``nb201``: the NB201 cell space in 2-D (``channels=16, cells_per_stage=5``, NB201's network) on
  CIFAR-size 3x32x32 inputs, 10 classes;
- ``mnist1d``: the NB201 cell space in 1-D on MNIST-1D signals (1x40, 10 classes);
- ``mnist1d_chain``: the ``chain`` space (searched depth, width, kernel, activation, residual)
  on MNIST-1D signals.

Reported per space: the mean absolute percentage error (MAPE) of the prediction, Spearman's rank
correlation, the MAPE of the plain sum of the table's layer times (the predictor without its fitted
overhead, to show what the fit adds), the 90th percentile of the absolute percentage error, the
median measured latency and the calibration's seconds. Timings on a shared machine are noisy:
run it on a quiet one.

    python benchmarks/latency_predictor.py --n 200

writes ``benchmarks/results/latency_predictor.json`` (``{"latency_predictor": {SPACE: {"mape",
"spearman", "n", ...}}, "_meta": {...}}``). When ``--out`` names an existing JSON file (e.g.
``benchmarks/results/multiobjective.json``), only its ``latency_predictor`` key is replaced and
the run's settings go under ``_latency_predictor_meta``; the file's other keys are kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.evaluate.latency import measure_latency
from nasforge.evaluate.latency_predictor import (
    LatencyPredictor,
    cpu_model,
    forget_predictors,
    latency_predictor,
)
from nasforge.space import ChainSpace, NB201Space
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import TaskInfo

OUT = Path(__file__).parent / "results" / "latency_predictor.json"
CIFAR = TaskInfo(name="cifar10", input_shape=(3, 32, 32), n_classes=10, kind="image")
MNIST1D = TaskInfo(name="mnist1d", input_shape=(1, 40), n_classes=10, kind="signal")
SPACES: dict[str, Callable[[], tuple[SearchSpace, TaskInfo]]] = {
    "nb201": lambda: (NB201Space(dims=2, channels=16, cells_per_stage=5), CIFAR),
    "mnist1d": lambda: (NB201Space(dims=1, channels=16, cells_per_stage=5), MNIST1D),
    "mnist1d_chain": lambda: (ChainSpace(dims=1), MNIST1D),
}
"""The benchmarked spaces and their inputs (``nb201`` and ``mnist1d`` are the issue's keys)."""
CALIBRATION_SEED = 0
"""The seed :func:`~nasforge.evaluate.latency_predictor.calibrate` samples with."""
HELD_OUT_SEED = 1


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (scipy's, with ties averaged); NaN when either side is
    constant or has fewer than two values."""
    from scipy.stats import spearmanr

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def held_out(space: SearchSpace, n: int, exclude: set[str], seed: int) -> list[Any]:
    """``n`` distinct architectures of ``space`` not in ``exclude`` (canonical strings)."""
    rng = np.random.default_rng(seed)
    archs: dict[str, Any] = {}
    for _ in range(100 * n):
        arch = space.sample(rng)
        if str(arch) not in exclude:
            archs.setdefault(str(arch), arch)
        if len(archs) == n:
            break
    return list(archs.values())


def calibration_archs(space: SearchSpace, n: int) -> set[str]:
    """The architectures the calibration sampled (the same draws)."""
    rng = np.random.default_rng(CALIBRATION_SEED)
    return {str(space.sample(rng)) for _ in range(n)}


def run_space(name: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    space, info = SPACES[name]()
    predictor: LatencyPredictor = latency_predictor(
        space, info, n_fit=args.n_fit, n_cover=args.n_cover, directory=cache)
    exclude = calibration_archs(space, args.n_fit + args.n_cover)
    archs = held_out(space, args.n, exclude, HELD_OUT_SEED)
    measured, predicted, summed = [], [], []
    for i, arch in enumerate(archs):
        with torch.random.fork_rng():
            torch.manual_seed(i)
            model = space.build(arch, info)
        measured.append(measure_latency(model, info.input_shape,
                                        min_run_time=args.min_run_time).median_ms)
        predicted.append(predictor.predict(model))
        summed.append(predictor.layers_sum(model))
    y, p, s = np.array(measured), np.array(predicted), np.array(summed)
    ape = 100 * np.abs(p - y) / y
    return {
        "mape": float(ape.mean()),
        "spearman": spearman(y, p),
        "n": len(archs),
        "mape_layer_sum": float((100 * np.abs(s - y) / y).mean()),
        "ape_p90": float(np.percentile(ape, 90)),
        "median_measured_ms": float(np.median(y)),
        "median_predicted_ms": float(np.median(p)),
        "calibration_s": predictor.fit.calibration_s,
        "calibration_networks": predictor.fit.n,
        "calibration_mape": predictor.fit.mape,
        "table_layers": len(predictor.table.layers),
        "coef": dict(zip(("layers_ms", "leaf_calls", "module_calls", "constant"),
                         predictor.fit.coef, strict=True)),
        "input_shape": list(info.input_shape),
        "space": space.get_params() | {"name": space.name},
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(f"{'space':<14} {'n':>4} {'MAPE %':>7} {'rho':>6} {'sum MAPE %':>10} "
          f"{'median ms':>9} {'calib s':>7}")
    for name, r in results.items():
        print(f"{name:<14} {r['n']:>4} {r['mape']:>7.1f} {r['spearman']:>6.3f} "
              f"{r['mape_layer_sum']:>10.1f} {r['median_measured_ms']:>9.3f} "
              f"{r['calibration_s']:>7.1f}")


def existing(out: Path) -> dict[str, Any] | None:
    """The JSON object already in ``out`` (``None`` when there is no file); checked before the
    run, so a bad ``--out`` costs nothing."""
    if not out.exists():
        return None
    try:
        previous = json.loads(out.read_text())
    except ValueError as exc:
        raise SystemExit(f"--out {out} exists but is not JSON ({exc}); name another file") from None
    if not isinstance(previous, dict):
        raise SystemExit(f"--out {out} holds no JSON object; name another file")
    return previous


def write(out: Path, results: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write ``{"latency_predictor": ..., "_meta": ...}``, or merge the key into ``out``."""
    previous = existing(out)
    if previous is None:
        data = {"latency_predictor": results, "_meta": meta}
    else:
        data = {**previous, "latency_predictor": results, "_latency_predictor_meta": meta}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=positive(int), default=200,
                        help="held-out architectures per space")
    parser.add_argument("--spaces", default=",".join(SPACES),
                        help=f"comma-separated, of {', '.join(SPACES)}")
    parser.add_argument("--n-fit", type=positive(int), default=24,
                        help="networks timed whole to fit the overhead")
    parser.add_argument("--n-cover", type=int, default=48,
                        help="further networks whose layers the calibration times")
    parser.add_argument("--min-run-time", type=positive(float), default=0.2,
                        help="seconds of timing per held-out network")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    unknown = [s for s in spaces if s not in SPACES]
    if unknown or not spaces:
        parser.error(f"--spaces: unknown {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(SPACES)}")
    if args.n_cover < 0:
        parser.error(f"--n-cover must be >= 0; got {args.n_cover}")
    existing(args.out)

    start = time.perf_counter()
    threads = torch.get_num_threads()
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="nasforge-latency-bench-") as tmp:
            for name in spaces:
                forget_predictors()
                print(f"{name}: calibrating and timing {args.n} held-out networks ...",
                      file=sys.stderr)
                results[name] = run_space(name, args, Path(tmp))
    finally:
        forget_predictors()
        torch.set_num_threads(threads)
    meta = {"seconds": time.perf_counter() - start, "cpu": cpu_model(),
            "torch": torch.__version__, "python": platform.python_version(), "threads": 1,
            "batch_size": 1, "min_run_time": args.min_run_time, "n_fit": args.n_fit,
            "n_cover": args.n_cover, "held_out_seed": HELD_OUT_SEED,
            "method": "per-layer table + NNLS overhead fit (relative error); measure_latency"}
    print_table(results)
    write(args.out, results, meta)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
