"""Scale out: throughput of inline, process-pool and Ray studies, their per-trial overhead, and
asynchronous search at 1, 8 and 64 simulated workers on NAS-Bench-201.

Three parts, each runnable alone (``--parts``) and merged into ``benchmarks/results/parallel.json``:

- ``real``: a study of real MNIST-1D training (NB201 1-D cells, a fixed seeded list of random
  architectures, so every executor trains the same networks) with the inline executor, the
  process pool and Ray at 1 and 2 workers. Trials per minute are counted in the steady state
  (from the finish of the first ``workers`` trials to the last), so start-up is excluded; the
  parallel efficiency is ``tpm(2) / (2 * tpm(1))``. Targets: >= 0.85 (process), >= 0.8 (Ray).
- ``overhead``: per-trial time with a trivial evaluator (the toy score), one worker, so what is
  timed is ask + store + submit + collect + tell through each executor (median gap between
  consecutive finishes, in ms). Ray's start-up (joining or starting the local instance) is
  reported apart. Target: Ray <= 20 ms per trial once started.
- ``simulated``: regularised evolution, local search, ``mf_local_search`` and GP-based BO on the
  NAS-Bench-201 CIFAR-10 table with the simulated executor at 1, 8 and 64 workers: the same
  number of trials, each taking its table training time on the virtual clock. Reported: the best
  validation accuracy after all trials, the simulated hours they took, the best-so-far curve
  against simulated time, and how much of the 1-worker gain over a random architecture each
  keeps: ``kept = (best_W - mean) / (best_1 - mean)``, ``mean`` the table's mean accuracy.

    python benchmarks/parallel.py                       # everything (real: ~15 min quiet machine)
    python benchmarks/parallel.py --parts simulated     # only the simulated part (~5 min)
    python benchmarks/parallel.py --quick --out /tmp/p.json   # a smoke run (~2 min)

Wall-clock figures need a quiet machine; simulated figures do not (they are deterministic).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nasforge.testing.toys  # noqa: F401  (registers the toy task, space and evaluator)
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Trial, TrialState

OUT = Path(__file__).parent / "results" / "parallel.json"
EXECUTORS = ("inline", "process", "ray")
STRATEGIES: dict[str, dict[str, Any]] = {
    "regularized_evolution": {"name": "regularized_evolution", "population": 10, "sample": 3},
    "local_search": {"name": "local_search", "n_initial": 10},
    "mf_local_search": {"name": "mf_local_search", "low_fidelity": 12, "ratio": 10},
    "bo": {"name": "gp_bo"},
}
SIM_WORKERS = (1, 8, 64)


class _Stamps:
    """Wall times of trial finishes; also keeps what the executor says about its start-up."""

    def __init__(self) -> None:
        self.finishes: list[float] = []
        self.startup_s: float | None = None

    def on_start(self, study: Study) -> None:
        self.startup_s = getattr(study.parts.executor, "startup_s", None)

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        self.finishes.append(time.perf_counter())


def _executor(name: str, workers: int) -> dict[str, Any]:
    if name == "inline":
        return {"name": "inline"}
    if name == "ray":
        return {"name": "ray", "workers": workers, "num_cpus": workers}
    return {"name": "process", "workers": workers}


# ------------------------------------------------------------------------------ real training


def real_run(executor: str, workers: int, n_trials: int, epochs: int, root: str) -> float:
    """Steady-state trials per minute of one MNIST-1D study."""
    spec = parse_spec({
        "name": f"real-{executor}-{workers}", "seed": 0, "root": root, "task": "mnist1d",
        "space": {"name": "nb201", "dims": 1, "channels": 16, "cells_per_stage": 1},
        "strategy": "random", "reproducible": True,
        "evaluator": {"name": "train", "epochs": epochs, "batch_size": 128},
        "executor": _executor(executor, workers), "budget": {"trials": n_trials},
        "export_best": False,
    })
    stamps = _Stamps()
    study = Study.create(spec)
    study.run([stamps])
    assert all(t.state is TrialState.COMPLETE for t in study.trials()), study.trials()
    study.close()
    first, last = stamps.finishes[workers - 1], stamps.finishes[-1]
    return 60.0 * (len(stamps.finishes) - workers) / (last - first)


def real_part(n_trials: int, epochs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="nf-parallel-") as root:
        for executor in EXECUTORS:
            row: dict[str, Any] = {}
            for workers in (1, 2):
                if executor == "inline" and workers == 2:
                    row["2"] = None  # the inline executor runs one trial at a time
                    continue
                tpm = real_run(executor, workers, n_trials, epochs, root)
                row[str(workers)] = {"trials_per_min": round(tpm, 2)}
                print(f"  real {executor:8s} {workers} worker(s): {tpm:7.2f} trials/min",
                      flush=True)
            row["efficiency"] = (None if row["2"] is None else round(
                row["2"]["trials_per_min"] / (2 * row["1"]["trials_per_min"]), 3))
            out[executor] = row
    return out


# ------------------------------------------------------------------------------ overhead


def overhead_run(executor: str, n_trials: int) -> tuple[float, float | None]:
    """Median per-trial gap (ms) of a trivial study, and the executor's start-up (s)."""
    spec = parse_spec({
        "name": f"overhead-{executor}", "seed": 0, "task": "toy",
        "space": {"name": "toy", "n_decisions": 6, "n_options": 5}, "strategy": "random",
        "evaluator": "toy", "executor": _executor(executor, 1),
        "budget": {"trials": n_trials}, "export_best": False,
    })
    stamps = _Stamps()
    Study.create(spec, in_memory=True).run([stamps])
    # skip the first finishes: a fresh worker imports torch and nasforge on its first call
    gaps = [b - a for a, b in zip(stamps.finishes[5:], stamps.finishes[6:], strict=False)]
    return 1000 * statistics.median(gaps), stamps.startup_s


def overhead_part(n_trials: int) -> tuple[dict[str, float], float | None]:
    out: dict[str, float] = {}
    startup: float | None = None
    for executor in EXECUTORS:
        ms, started = overhead_run(executor, n_trials)
        out[executor] = round(ms, 2)
        if executor == "ray":
            startup = None if started is None else round(started, 2)
        print(f"  overhead {executor:8s}: {ms:7.2f} ms/trial", flush=True)
    return out, startup


# ------------------------------------------------------------------------------ simulated


def _full(trial: Trial) -> bool:
    return trial.state is TrialState.COMPLETE and trial.candidate.fidelity in (None, 200)


class _SimClock:
    """(simulated seconds, trial) at each finish: the executor's clock when the study stores
    a result is that result's simulated finish."""

    def __init__(self) -> None:
        self.points: list[tuple[float, Trial]] = []

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        self.points.append((study.parts.executor.now(), trial))


def simulated_run(strategy: str, workers: int, seed: int, n_trials: int) -> dict[str, Any]:
    spec = parse_spec({
        "name": f"sim-{strategy}-{workers}-{seed}", "seed": seed,
        "task": {"name": "nb201", "dataset": "cifar10"}, "space": {"name": "nb201", "dims": 2},
        "strategy": STRATEGIES[strategy], "evaluator": {"name": "nb201_table",
                                                       "dataset": "cifar10"},
        "executor": {"name": "simulated", "workers": workers},
        "budget": {"trials": n_trials}, "export_best": False,
    })
    clock = _SimClock()
    study = Study.create(spec, in_memory=True)
    study.run([clock])
    best, curve = -math.inf, []
    for seconds, trial in clock.points:
        if _full(trial) and trial.metrics["val_accuracy"] > best:
            best = trial.metrics["val_accuracy"]
            curve.append((seconds / 3600, best))
    # None: no trial at the full fidelity finished (a multi-fidelity strategy with few trials)
    return {"best": best if curve else None, "hours": clock.points[-1][0] / 3600,
            "curve": curve}


def _best_at(curve: Sequence[tuple[float, float]], hours: float) -> float | None:
    reached = [acc for h, acc in curve if h <= hours]
    return reached[-1] if reached else None


def simulated_part(n_trials: int, seeds: int) -> dict[str, Any]:
    from nasforge.evaluate.tabular import NB201Table

    accs = [float(a) for a in NB201Table.load(None).values("val_accuracy", "cifar10", 200)]
    mean = statistics.fmean(accs)
    out: dict[str, Any] = {"dataset": "cifar10", "trials": n_trials, "seeds": seeds,
                           "mean_val_accuracy": round(mean, 3),
                           "best_val_accuracy": round(max(accs), 3), "strategies": {}}
    for strategy in STRATEGIES:
        row: dict[str, Any] = {}
        for workers in SIM_WORKERS:
            runs = [simulated_run(strategy, workers, seed, n_trials) for seed in range(seeds)]
            hours = statistics.fmean(r["hours"] for r in runs)
            grid = [hours * f for f in (0.125, 0.25, 0.5, 1.0)]
            at = [[round(h, 2), _mean([_best_at(r["curve"], h) for r in runs])] for h in grid]
            row[str(workers)] = {"best_val_accuracy": _mean([r["best"] for r in runs]),
                                 "sim_hours": round(hours, 2), "curve": at}
        best_1 = row["1"]["best_val_accuracy"]
        row["kept"] = {w: None if best_1 is None or row[w]["best_val_accuracy"] is None
                       else round((row[w]["best_val_accuracy"] - mean) / (best_1 - mean), 3)
                       for w in ("8", "64")}
        row["speedup"] = {w: round(row["1"]["sim_hours"] / row[w]["sim_hours"], 1)
                          for w in ("8", "64")}
        out["strategies"][strategy] = row
        print(f"  simulated {strategy:22s} best@1/8/64 "
              f"{_fmt(row['1']['best_val_accuracy'])} {_fmt(row['8']['best_val_accuracy'])} "
              f"{_fmt(row['64']['best_val_accuracy'])}  kept 8: {_fmt(row['kept']['8'])}, "
              f"64: {_fmt(row['kept']['64'])}", flush=True)
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 3) if len(known) == len(values) else None


# ------------------------------------------------------------------------------ output


def print_tables(results: dict[str, Any]) -> None:
    real = results.get("real")
    if real:
        print("\nReal MNIST-1D training (trials/min, steady state)")
        print(f"{'executor':10s} {'1 worker':>10s} {'2 workers':>10s} {'efficiency':>11s}")
        for name, row in real.items():
            two = "-" if row["2"] is None else f"{row['2']['trials_per_min']:.2f}"
            eff = "-" if row["efficiency"] is None else f"{row['efficiency']:.3f}"
            print(f"{name:10s} {row['1']['trials_per_min']:10.2f} {two:>10s} {eff:>11s}")
    if results.get("overhead_ms"):
        print("\nPer-trial overhead, trivial evaluator, 1 worker (ms)")
        for name, ms in results["overhead_ms"].items():
            print(f"{name:10s} {ms:8.2f}")
        print(f"Ray start-up: {results.get('ray_startup_s')} s")
    sim = results.get("simulated")
    if sim:
        print(f"\nSimulated NB201 {sim['dataset']}, {sim['trials']} trials, {sim['seeds']} "
              f"seed(s): best val accuracy (sim hours); random mean {sim['mean_val_accuracy']}, "
              f"optimum {sim['best_val_accuracy']}")
        print(f"{'strategy':22s} {'1 worker':>16s} {'8 workers':>16s} {'64 workers':>16s} "
              f"{'kept 8':>7s} {'kept 64':>7s}")
        for name, row in sim["strategies"].items():
            cells = [f"{_fmt(row[w]['best_val_accuracy'])} ({row[w]['sim_hours']:.0f} h)"
                     for w in ("1", "8", "64")]
            print(f"{name:22s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s} "
                  f"{_fmt(row['kept']['8']):>7s} {_fmt(row['kept']['64']):>7s}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="real,overhead,simulated",
                        help="comma-separated: real, overhead, simulated")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON (merged into)")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"real", "overhead", "simulated"}
    if unknown:
        parser.error(f"--parts: unknown part(s) {', '.join(sorted(unknown))}; "
                     "use real, overhead and/or simulated")
    results: dict[str, Any] = (json.loads(args.out.read_text()) if args.out.is_file() else {})
    if "real" in parts:
        print("real MNIST-1D training", flush=True)
        results["real"] = real_part(n_trials=6 if args.quick else 18,
                                    epochs=1 if args.quick else 4)
    if "overhead" in parts:
        print("per-trial overhead", flush=True)
        results["overhead_ms"], results["ray_startup_s"] = overhead_part(
            40 if args.quick else 300)
    if "simulated" in parts:
        print("simulated workers", flush=True)
        results["simulated"] = simulated_part(n_trials=60 if args.quick else 200,
                                              seeds=1 if args.quick else 5)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_tables(results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
