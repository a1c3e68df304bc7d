"""Per-trial overhead as a study grows, the time to reopen and resume a big study, and worker
utilisation of a Hyperband search with real training, in one run.

Scale: random search and regularised evolution on a toy space of 12 decisions with 6 options
each (2.2 billion architectures, so nothing is enumerated) run through the real ``Study`` loop
with an SQLite file and the inline executor, for ``--trials`` trials in ONE study each. The time
of a trial is the gap between consecutive ``on_trial_finished`` callbacks; the figure at trial
``N`` is the median gap over the :data:`WINDOW` trials around ``N``. Optuna's ``RandomSampler``
with SQLite runs the same space through Optuna's own ``create_study``/``optimize``, measured the
same way. Each big study is then reopened (``Study.open``) and resumed with the same budget, so
nothing new runs: ``nasforge.resume(dir)`` is timed as a whole, and split at the loop's
``on_start`` (the store is read and the strategy replayed; the next ask would come now) and
``on_end`` (what follows is ``finish()``: ``summary.json`` and ``report.html``).

Utilisation: a Hyperband search (rungs of 1, 3 and 9 epochs) of NAS-Bench-201 1-D cells trained
on MNIST-1D with 2 worker processes, in the default mode (results told as they arrive) and with
``reproducible: true`` (trial ``n`` asked after trials ``0 .. n - workers`` are told). A trial is
busy for its ``result.cost_s``, timed inside the worker by the evaluator itself; it began
``cost_s`` before its ``finished_at``. Utilisation is busy worker-seconds / (workers * wall
seconds), wall running from the first trial's start to the last ``finished_at``; it is also given
up to the start of the last trial, before the budget is spent and a worker has nothing left to do.

    python benchmarks/scale.py                    # 50,000 trials, Optuna to 10,000, utilisation
    python benchmarks/scale.py --trials 2000 --optuna-trials 1000 --skip-utilisation  # quick

writes ``benchmarks/results/scale.json``. A part that is skipped (``--skip-utilisation``,
``--skip-scale``) keeps that part's figures from the existing ``--out`` file, if it has them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "results" / "scale.json"
POINTS = (100, 1_000, 10_000, 50_000)
WINDOW = 100
"""Trials around each point whose median per-trial time is the figure at that point."""
STRATEGIES = ("random", "regularized_evolution")
LABELS = {"regularized_evolution": "evolution"}
N_DECISIONS, N_OPTIONS = 12, 6
N_WORKERS = 2
RESUME_REPEATS = 3
UTILISATION_KEYS = (
    "hyperband_mnist1d_utilisation",
    "hyperband_mnist1d_utilisation_until_last_start",
    "hyperband_mnist1d_utilisation_reproducible",
    "hyperband_mnist1d_utilisation_reproducible_until_last_start",
    "hyperband_mnist1d",
)
SCALE_KEYS = ("random", "regularized_evolution", "optuna_random", "nasforge_over_optuna")


# ------------------------------------------------------------------------------ bookkeeping


def window_median_ms(stamps: Sequence[float], at: int, width: int = WINDOW) -> float:
    """Median time in ms of the ``width`` trials around trial ``at`` (1-based).

    ``stamps[0]`` is when the loop started and ``stamps[k]`` when the ``k``-th trial finished,
    so trial ``k`` took ``stamps[k] - stamps[k - 1]``. The window is trials ``at - width // 2``
    to ``at + width // 2 - 1``, shifted to stay within ``1 .. len(stamps) - 1``.

    Example:
        >>> window_median_ms([0.0, 0.001, 0.003, 0.006, 0.010], at=2, width=2)
        2.0
    """
    n = len(stamps) - 1
    if not 1 <= at <= n:
        raise ValueError(f"trial {at} is outside the {n} trials timed")
    width = min(width, n)
    first = min(max(1, at - width // 2), n - width + 1)
    gaps = [stamps[k] - stamps[k - 1] for k in range(first, first + width)]
    return 1000.0 * statistics.median(gaps)


def ms_at(stamps: Sequence[float], points: Iterable[int]) -> dict[str, float]:
    """:func:`window_median_ms` at each of ``points`` that the stamps reach, keyed by ``str``."""
    n = len(stamps) - 1
    return {str(p): round(window_median_ms(stamps, p), 4) for p in points if p <= n}


def utilisation(intervals: Sequence[tuple[float, float]], n_workers: int) -> dict[str, Any]:
    """Worker utilisation of busy ``(start, end)`` intervals, one per trial.

    ``whole``: busy seconds / (``n_workers`` * (last end - first start)). ``until_last_start``:
    the same up to the last start (busy time clipped to that window), which leaves out the
    tail, where the budget is spent and the other workers have nothing left to run.

    Example:
        >>> utilisation([(0.0, 2.0), (0.0, 1.0), (1.0, 4.0)], n_workers=2)["whole"]
        0.75
    """
    if not intervals:
        raise ValueError("no trials to measure")
    first = min(s for s, _ in intervals)
    last_start = max(s for s, _ in intervals)
    last_end = max(e for _, e in intervals)
    busy = sum(e - s for s, e in intervals)
    window = sum(max(0.0, min(e, last_start) - s) for s, e in intervals)
    span = last_end - first
    head = last_start - first
    return {
        "whole": busy / (n_workers * span) if span > 0 else None,
        "until_last_start": window / (n_workers * head) if head > 0 else None,
        "busy_s": busy,
        "wall_s": span,
        "wall_until_last_start_s": head,
        "tail_s": last_end - last_start,
    }


def busy_intervals(trials: Iterable[Any]) -> list[tuple[float, float]]:
    """``(finished_at - cost_s, finished_at)`` of every finished trial with a result."""
    return [
        (t.finished_at - t.result.cost_s, t.finished_at)
        for t in trials
        if t.result is not None and t.finished_at is not None
    ]


# ------------------------------------------------------------------------------ scale


class _Clock:
    """Stamps the loop's start, every finished trial and the end (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.started: float | None = None
        self.ended: float | None = None

    def on_start(self, study: Any) -> None:
        self.started = time.perf_counter()
        self.stamps = [self.started]

    def on_trial_finished(self, study: Any, trial: Any) -> None:
        self.stamps.append(time.perf_counter())

    def on_end(self, study: Any, reason: str) -> None:
        self.ended = time.perf_counter()


def toy_spec(strategy: str, n_trials: int, root: str) -> Any:
    from nasforge.run.spec import parse_spec

    return parse_spec({
        "name": f"scale-{strategy}", "seed": 0, "root": root, "task": "toy",
        "space": {"name": "toy", "n_decisions": N_DECISIONS, "n_options": N_OPTIONS},
        "strategy": strategy, "evaluator": "toy", "executor": "inline",
        "budget": {"trials": n_trials}, "export_best": False,
    })


def time_open(directory: Path) -> float:
    """Seconds of one ``Study.open`` of the study in ``directory``."""
    from nasforge.run.study import Study

    start = time.perf_counter()
    study = Study.open(directory)
    seconds = time.perf_counter() - start
    study.close()
    return seconds


@contextlib.contextmanager
def _timed_reads() -> Iterator[list[tuple[float, float]]]:
    """Records ``(start, end)`` of every ``SQLiteStore.trials`` call (a read of every row)."""
    from nasforge.store.sqlite import SQLiteStore

    reads: list[tuple[float, float]] = []
    original = SQLiteStore.trials

    def trials(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            reads.append((start, time.perf_counter()))

    SQLiteStore.trials = trials  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        SQLiteStore.trials = original  # type: ignore[method-assign]


def time_resume(directory: Path) -> dict[str, float]:
    """One ``nasforge.resume(directory)`` with the stored budget (nothing new runs), split at the
    loop's ``on_start`` (store read, strategy replayed) and ``on_end`` (then ``finish()``), with
    the number and seconds of the reads of every stored trial in the finishing part."""
    import nasforge

    clock = _Clock()
    with _timed_reads() as reads:
        start = time.perf_counter()
        study = nasforge.resume(directory, callbacks=[clock])
        done = time.perf_counter()
    n_trials = len(clock.stamps) - 1
    study.close()
    if clock.started is None or clock.ended is None or n_trials:
        raise RuntimeError(f"the resume of {directory} ran {n_trials} trials; expected none")
    ended = clock.ended
    finishing = [(a, b) for a, b in reads if a >= ended]
    return {"resume_s": done - start, "replay_s": clock.started - start,
            "finish_s": done - ended, "finish_reads": len(finishing),
            "finish_reads_s": sum(b - a for a, b in finishing)}


def nasforge_scale(
    strategy: str, n_trials: int, root: str, points: Sequence[int]
) -> dict[str, Any]:
    """Run one study of ``n_trials``; per-trial time at ``points``; then open and resume it."""
    from nasforge.run.study import Study

    spec = toy_spec(strategy, n_trials, root)
    clock = _Clock()
    start = time.perf_counter()
    study = Study.create(spec).run([clock])
    run_s = time.perf_counter() - start
    directory = study.directory
    study.close()
    assert directory is not None  # a study on disk
    if len(clock.stamps) - 1 != n_trials:
        raise RuntimeError(f"{strategy} ran {len(clock.stamps) - 1} trials, not {n_trials}")
    opens = [time_open(directory) for _ in range(RESUME_REPEATS)]
    resumes = [time_resume(directory) for _ in range(RESUME_REPEATS)]
    times = ms_at(clock.stamps, points)
    out: dict[str, Any] = {
        "ms_at": times,
        "resume_s": round(statistics.median(r["resume_s"] for r in resumes), 3),
        "open_s": round(statistics.median(opens), 4),
        "resume_replay_s": round(statistics.median(r["replay_s"] for r in resumes), 3),
        "resume_finish_s": round(statistics.median(r["finish_s"] for r in resumes), 3),
        # finish() reads every stored trial this many times; so many seconds of it
        "resume_finish_reads": resumes[-1]["finish_reads"],
        "resume_finish_reads_s": round(statistics.median(r["finish_reads_s"] for r in resumes),
                                       3),
        "trials": n_trials,
        "run_s": round(run_s, 2),
        "resume_samples_s": [{k: round(v, 3) for k, v in r.items() if k.endswith("_s")}
                             for r in resumes],
    }
    ratio = growth(times)
    if ratio is not None:
        out["ratio_10000_over_100"] = ratio
    return out


def growth(times: dict[str, float]) -> float | None:
    """ms at trial 10,000 over ms at trial 100 (``None`` unless both were measured)."""
    if "10000" in times and "100" in times and times["100"] > 0:
        return round(times["10000"] / times["100"], 3)
    return None


def optuna_scale(n_trials: int, storage: str, points: Sequence[int]) -> dict[str, Any]:
    """Optuna's RandomSampler on the same space, through Optuna's own study API."""
    import optuna

    from nasforge.architecture import Architecture
    from nasforge.testing.toys import ToySpace, toy_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = ToySpace(n_decisions=N_DECISIONS, n_options=N_OPTIONS)
    options = list(range(N_OPTIONS))

    def objective(trial: Any) -> float:
        arch = {d: trial.suggest_categorical(d, options) for d in space.decisions}
        return toy_score(Architecture(arch), space)

    study = optuna.create_study(direction="maximize", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    stamps = [time.perf_counter()]
    study.optimize(objective, n_trials=n_trials,
                   callbacks=[lambda s, t: stamps.append(time.perf_counter())])
    times = ms_at(stamps, points)
    out: dict[str, Any] = {"ms_at": times, "trials": n_trials,
                           "run_s": round(stamps[-1] - stamps[0], 2), "optuna": optuna.__version__}
    ratio = growth(times)
    if ratio is not None:
        out["ratio_10000_over_100"] = ratio
    return out


def run_scale(n_trials: int, n_optuna: int, points: Sequence[int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="nasforge-scale-") as tmp:
        for strategy in STRATEGIES:
            print(f"{strategy}: {n_trials} trials ...", file=sys.stderr, flush=True)
            results[strategy] = nasforge_scale(strategy, n_trials, tmp, points)
        if n_optuna > 0:
            print(f"optuna_random: {n_optuna} trials ...", file=sys.stderr, flush=True)
            results["optuna_random"] = optuna_scale(n_optuna, f"sqlite:///{tmp}/optuna.db",
                                                    points)
    if "optuna_random" in results:
        peer = results["optuna_random"]["ms_at"]
        results["nasforge_over_optuna"] = {
            strategy: {p: round(ms / peer[p], 4) for p, ms in results[strategy]["ms_at"].items()
                       if p in peer and peer[p] > 0}
            for strategy in STRATEGIES
        }
    return results


# ------------------------------------------------------------------------------ utilisation


def hyperband_spec(root: str, n_trials: int, *, reproducible: bool, channels: int) -> Any:
    from nasforge.run.spec import parse_spec

    return parse_spec({
        "name": "hyperband-" + ("reproducible" if reproducible else "default"), "seed": 0,
        "root": root, "task": "mnist1d",
        "space": {"name": "nb201", "dims": 1, "channels": channels, "cells_per_stage": 1},
        "strategy": {"name": "hyperband", "min_fidelity": 1, "max_fidelity": 9, "eta": 3},
        "evaluator": {"name": "train", "epochs": 9},
        "executor": {"name": "process", "workers": N_WORKERS},
        "budget": {"trials": n_trials}, "reproducible": reproducible, "export_best": False,
    })


def hyperband_utilisation(n_trials: int, *, reproducible: bool, channels: int) -> dict[str, Any]:
    """One Hyperband search with real training; its utilisation and a compact trial log."""
    from nasforge.run.study import Study

    with tempfile.TemporaryDirectory(prefix="nasforge-util-") as tmp:
        spec = hyperband_spec(tmp, n_trials, reproducible=reproducible, channels=channels)
        start = time.perf_counter()
        study = Study.create(spec).run()
        run_s = time.perf_counter() - start
        trials = [t for t in study.trials() if t.result is not None and t.finished_at is not None]
        study.close()
    intervals = busy_intervals(trials)
    figures = utilisation(intervals, N_WORKERS)
    first = min(s for s, _ in intervals)
    n_failed = sum(t.state.value != "COMPLETE" for t in trials)
    idle = N_WORKERS * figures["wall_until_last_start_s"] * (
        1 - (figures["until_last_start"] or 1.0))  # fmt: skip
    return {
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
        "trials": len(trials),
        "failed": n_failed,
        "run_s": round(run_s, 2),  # includes starting the workers and the first imports
        "mean_cost_s": round(figures["busy_s"] / len(intervals), 3),
        "idle_per_trial_until_last_start_ms": round(1000 * idle / max(1, len(intervals) - 1), 1),
        # [number, fidelity (epochs), start (s from the first start), cost_s]
        "log": [[t.number, t.candidate.fidelity, round(s - first, 3), round(e - s, 3)]
                for t, (s, e) in zip(trials, intervals, strict=True)],
    }


def run_utilisation(n_trials: int, channels: int) -> dict[str, Any]:
    modes = {}
    for name, reproducible in (("default", False), ("reproducible", True)):
        print(f"hyperband on mnist1d, {name} mode: {n_trials} trials ...", file=sys.stderr,
              flush=True)
        modes[name] = hyperband_utilisation(n_trials, reproducible=reproducible,
                                            channels=channels)
    default, repro = modes["default"], modes["reproducible"]
    return {
        "hyperband_mnist1d_utilisation": default["whole"],
        "hyperband_mnist1d_utilisation_until_last_start": default["until_last_start"],
        "hyperband_mnist1d_utilisation_reproducible": repro["whole"],
        "hyperband_mnist1d_utilisation_reproducible_until_last_start": repro["until_last_start"],
        "hyperband_mnist1d": {
            "workers": N_WORKERS, "trials": n_trials,
            "space": {"name": "nb201", "dims": 1, "channels": channels, "cells_per_stage": 1},
            "rungs_epochs": [1, 3, 9], **modes,
        },
    }


# ------------------------------------------------------------------------------ output


def environment() -> dict[str, Any]:
    import nasforge

    versions: dict[str, str | None] = {}
    for package in ("optuna", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "nasforge": nasforge.__version__, **versions,
    }


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine slows every figure alike."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(result: dict[str, Any], points: Sequence[int]) -> str:
    keys = [str(p) for p in points]
    lines = [f"ms per trial, median of the {WINDOW} trials around trial N (SQLite file)",
             f"{'':<24}" + "".join(f"{'N=' + k:>10}" for k in keys) + f"{'10k/100':>10}"]
    for name in (*STRATEGIES, "optuna_random"):
        if name in result:
            row = result[name]
            lines.append(f"{name:<24}" + "".join(f"{_cell(row.get('ms_at', {}).get(k)):>10}"
                                                 for k in keys)
                         + f"{_cell(row.get('ratio_10000_over_100'), 2):>10}")
    for name, ratios in result.get("nasforge_over_optuna", {}).items():
        label = f"{LABELS.get(name, name)} / optuna"
        lines.append(f"{label:<24}" + "".join(f"{_cell(ratios.get(k), 4):>10}" for k in keys))
    lines.append("")
    lines.append(f"{'open / resume':<24}{'open s':>10}{'resume s':>10}{'replay s':>10}"
                 f"{'finish s':>10}{'trials':>10}")
    for name in STRATEGIES:
        if name in result:
            row = result[name]
            lines.append(f"{name:<24}{_cell(row.get('open_s')):>10}"
                         + "".join(f"{_cell(row.get(k), 2):>10}"
                                   for k in ("resume_s", "resume_replay_s", "resume_finish_s"))
                         + f"{row.get('trials', '-'):>10}")
    detail = result.get("hyperband_mnist1d")
    if detail:
        lines.append("")
        lines.append(f"{'hyperband on mnist1d, utilisation':<36}{'whole run':>10}"
                     f"{'to last start':>14}{'wall s':>8}{'tail s':>8}{'trials':>8}")
        for mode in ("default", "reproducible"):
            row = detail.get(mode)
            if row:
                lines.append(f"{mode:<36}{_cell(row.get('whole'), 4):>10}"
                             f"{_cell(row.get('until_last_start'), 4):>14}"
                             f"{_cell(row.get('wall_s'), 1):>8}{_cell(row.get('tail_s'), 1):>8}"
                             f"{row.get('trials', '-'):>8}")
    return "\n".join(lines)


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue with the measured figure and whether it is met."""
    out: dict[str, Any] = {}
    for name in STRATEGIES:
        row = result.get(name) or {}
        if "ratio_10000_over_100" in row:
            out[f"{name}_ms_10000_over_100_le_1.5"] = row["ratio_10000_over_100"] <= 1.5
        if row.get("trials", 0) >= POINTS[-1] and "resume_s" in row:
            out[f"{name}_resume_50000_le_5s"] = row["resume_s"] <= 5.0
            out[f"{name}_resume_replay_50000_le_5s"] = row["resume_replay_s"] <= 5.0
    value = result.get("hyperband_mnist1d_utilisation")
    if value is not None:
        out["hyperband_mnist1d_utilisation_ge_0.97"] = value >= 0.97
    return out


def stored_results(path: Path) -> dict[str, Any]:
    """The JSON already in ``path`` (``{}`` if none); refuses a file that is not a JSON object."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ValueError(f"{path} is not JSON; delete it or pass another --out") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; delete it or pass another --out")
    return data


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=POINTS[-1],
                        help="trials of each nasforge study")
    parser.add_argument("--optuna-trials", type=int, default=10_000,
                        help="trials of the Optuna study (0: skip Optuna)")
    parser.add_argument("--points", default=",".join(map(str, POINTS)),
                        help="trials at which the per-trial time is reported")
    parser.add_argument("--skip-utilisation", action="store_true",
                        help="do not run the Hyperband searches with real training")
    parser.add_argument("--skip-scale", action="store_true",
                        help="run only the Hyperband searches")
    parser.add_argument("--utilisation-trials", type=int, default=120,
                        help="trials of each Hyperband search (the issue asks for >= 40)")
    parser.add_argument("--channels", type=int, default=8, help="nb201 channels (Hyperband)")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON file to write")
    args = parser.parse_args(argv)
    try:
        points = tuple(sorted({int(p) for p in args.points.split(",")}))
    except ValueError:
        parser.error(f"--points must be comma-separated integers; got {args.points!r}")
    if args.trials < 1 or args.optuna_trials < 0 or args.utilisation_trials < 1 or min(points) < 1:
        parser.error("--trials, --utilisation-trials and --points must be >= 1 and "
                     "--optuna-trials >= 0")
    try:  # before the run: a bad --out would otherwise only fail once the run is over
        previous = stored_results(args.out)
    except ValueError as exc:
        parser.error(f"--out {exc}")

    import nasforge.testing.toys  # noqa: F401  (registers the toy space, evaluator and task)

    command = shlex.join(["python", "benchmarks/scale.py", *(sys.argv[1:] if argv is None
                                                             else argv)])
    result: dict[str, Any] = {}
    commands = dict(previous.get("commands", {}))
    loads = dict(previous.get("load_average_1m", {}))
    notes: list[str] = []
    if args.skip_scale:
        result.update({k: previous[k] for k in SCALE_KEYS if k in previous})
        notes.append("scale figures kept from an earlier run (--skip-scale)")
    else:
        before = load_average()
        result.update(run_scale(args.trials, args.optuna_trials, points))
        commands["scale"] = command
        loads["scale"] = [before, load_average()]
    if args.skip_utilisation:
        result.update({k: previous.get(k) for k in UTILISATION_KEYS})
        if previous.get("hyperband_mnist1d_utilisation") is not None:
            notes.append("utilisation figures kept from an earlier run (--skip-utilisation)")
    else:
        before = load_average()
        result.update(run_utilisation(args.utilisation_trials, args.channels))
        commands["utilisation"] = command
        loads["utilisation"] = [before, load_average()]
    result["commands"] = commands
    result["targets_met"] = targets(result)
    result["load_average_1m"] = loads  # [at the start, at the end] of each part
    result["machine"] = environment()
    result["window_trials"] = WINDOW
    if notes:
        result["notes"] = notes
    print(table(result, points))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
