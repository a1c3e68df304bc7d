"""Concurrent readers under load: a busy study writes while four readers poll its store.

The writer is a real study (``random`` strategy on a large toy space, the ``function`` evaluator
below: a cheap deterministic fit that reports ``--steps`` curve points per trial), so the store
commits several times per trial. Each store write (one transaction: ``BEGIN IMMEDIATE`` to
``COMMIT``) is timed in the writer's process by wrapping :class:`SQLiteStore._Tx`. Four reader
processes poll the same study the whole time:

- ``dashboard``: the dashboard's HTTP API (its FastAPI app over a read-only store, through
  ``fastapi.testclient``): the study list, one study, its trials and its events;
- ``show``: ``nasforge show STUDY --json`` (the CLI function, in-process);
- ``report``: ``nasforge report STUDY --out ... --no-pngs`` (the whole HTML report);
- ``raw``: ``SQLiteStore(path, read_only=True)``: studies, every trial, every curve, events.

A reader call that raises (or a CLI call that exits non-zero) is an error; its message is kept.
The same writer then runs alone for the same time, and the write-time distributions are
compared (p50, p99, max). The bound stated is the longest write seen with readers.

    python benchmarks/store_load.py --minutes 10

writes ``benchmarks/results/store_load.json`` (with the machine load, ``uptime``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from machine import snapshot

OUT = Path(__file__).parent / "results" / "store_load.json"
# the toy task and space (the test components), in this process and every spawned one
os.environ.setdefault("NASFORGE_PLUGINS", "nasforge.testing.toys")
READERS = ("dashboard", "show", "report", "raw")


def fit(model: Any, task: Any, trial: Any) -> dict[str, float]:
    """The writer's evaluator: deterministic metrics from the architecture, one curve point per
    step (each one store transaction), no training."""
    del model, task
    digest = int(trial.arch.arch_id[:8], 16)
    steps = int(os.environ.get("NF_LOAD_STEPS", "5"))
    accuracy = 0.0
    for step in range(steps):
        accuracy = (digest % 1000) / 1000 * (step + 1) / steps
        trial.report(step, val_accuracy=accuracy, val_loss=1.0 - accuracy)
    return {"val_accuracy": accuracy}


def spec(root: Path, minutes: float) -> dict[str, Any]:
    return {
        "name": "load", "seed": 0, "root": str(root), "task": "toy",
        "space": {"name": "toy", "n_decisions": 12, "n_options": 4},
        "strategy": "random",
        "evaluator": {"name": "function", "path": f"{Path(__file__).resolve()}:fit"},
        "executor": "inline", "budget": {"minutes": minutes}, "export_best": False,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def writer(root: Path, minutes: float, steps: int, out: Path, started: Any) -> None:
    """Run the study, timing every store transaction; write the timings to ``out``."""
    os.environ["NF_LOAD_STEPS"] = str(steps)
    import nasforge as nf
    from nasforge.run.spec import parse_spec
    from nasforge.run.study import Study
    from nasforge.store.sqlite import SQLiteStore

    del nf
    durations: list[float] = []
    enter, exit_ = SQLiteStore._Tx.__enter__, SQLiteStore._Tx.__exit__

    def timed_enter(self: Any) -> Any:
        self.t0 = time.perf_counter()
        return enter(self)

    def timed_exit(self: Any, *args: Any) -> None:
        try:
            exit_(self, *args)
        finally:
            durations.append(time.perf_counter() - self.t0)

    SQLiteStore._Tx.__enter__ = timed_enter  # type: ignore[method-assign]
    SQLiteStore._Tx.__exit__ = timed_exit  # type: ignore[method-assign]
    study = Study.create(parse_spec(spec(root, minutes)), overwrite=True)
    started.set()
    study.run()
    trials = study.trials()
    study.close()
    out.write_text(json.dumps({"writes_s": durations, "trials": len(trials)}))


def _call(kind: str, study_dir: Path, state: dict[str, Any]) -> None:
    """One reader call of ``kind``; raises on any error."""
    if kind == "dashboard":
        client = state["client"]
        for url in ("/api/studies", "/api/studies/load", "/api/studies/load/trials",
                    "/api/studies/load/events"):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
            response.json()
    elif kind in ("show", "report"):
        from nasforge.cli.main import main

        args = (["show", str(study_dir), "--json"] if kind == "show" else
                ["report", str(study_dir), "--out", str(state["html"]), "--no-pngs"])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        if code != 0:
            raise RuntimeError(f"nasforge {kind} exited {code}: {err.getvalue()[-300:]}")
        if kind == "show":
            json.loads(out.getvalue())
    else:
        from nasforge.store.sqlite import SQLiteStore

        store = SQLiteStore(study_dir / "study.db", read_only=True)
        try:
            record = store.studies()[0]
            trials = store.trials(record.id)
            store.curves(record.id)
            store.events(record.id)
            for trial in trials:  # a finished trial is whole: its result is there
                if trial.state.is_finished() and trial.result is None:
                    raise RuntimeError(f"{trial.label} finished without a result")
        finally:
            store.close()


def reader(kind: str, study_dir: Path, stop: Any, out: Path) -> None:
    """Call ``kind`` until ``stop`` is set; write calls, errors and call times to ``out``."""
    state: dict[str, Any] = {"html": out.with_suffix(".html")}
    if kind == "dashboard":
        from fastapi.testclient import TestClient

        from nasforge.report.dashboard._app import create_app
        from nasforge.report.dashboard._studies import Studies

        state["client"] = TestClient(create_app(Studies(study_dir), token="t"))
    calls, errors, seconds = 0, [], []
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            _call(kind, study_dir, state)
        except Exception as exc:  # every reader error is the measurement
            errors.append(f"{type(exc).__name__}: {exc}"[:500] + "\n" +
                          traceback.format_exc()[-800:])
        seconds.append(time.perf_counter() - t0)
        calls += 1
    out.write_text(json.dumps({"calls": calls, "errors": errors, "call_s": seconds}))


def run(minutes: float, steps: int, readers: bool, work: Path) -> dict[str, Any]:
    """One writer run of ``minutes``, with the four readers or alone."""
    ctx = mp.get_context("spawn")
    started, stop = ctx.Event(), ctx.Event()
    root = work / ("with" if readers else "alone")
    wout = work / f"writer_{'with' if readers else 'alone'}.json"
    w = ctx.Process(target=writer, args=(root, minutes, steps, wout, started))
    w.start()
    deadline = time.monotonic() + 120
    while not started.wait(0.5):
        if not w.is_alive() or time.monotonic() > deadline:
            w.terminate()
            raise RuntimeError(f"the writer did not start (exit code {w.exitcode})")
    procs = []
    if readers:
        time.sleep(2.0)  # a few trials in the store first
        for kind in READERS:
            p = ctx.Process(target=reader, args=(kind, root / "load", stop, work / f"{kind}.json"))
            p.start()
            procs.append(p)
    w.join()
    stop.set()
    for p in procs:
        p.join(120)
    if w.exitcode != 0:
        raise RuntimeError(f"the writer exited {w.exitcode}")
    data = json.loads(wout.read_text())
    writes = data["writes_s"]
    result: dict[str, Any] = {
        "trials": data["trials"], "writes": len(writes),
        "write_p50_ms": 1000 * statistics.median(writes),
        "write_p99_ms": 1000 * _percentile(writes, 0.99),
        "write_max_ms": 1000 * max(writes),
        "writes_over_100ms": sum(s > 0.1 for s in writes),
    }
    if readers:
        result["readers"] = {}
        for kind in READERS:
            path = work / f"{kind}.json"
            r = json.loads(path.read_text()) if path.is_file() else {
                "calls": 0, "errors": ["the reader process died"], "call_s": [0.0]}
            result["readers"][kind] = {
                "calls": r["calls"], "errors": len(r["errors"]),
                "first_errors": r["errors"][:3],
                "call_p50_ms": 1000 * statistics.median(r["call_s"] or [0.0]),
            }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="how long each writer run lasts (with readers, then alone)")
    parser.add_argument("--alone-minutes", type=float, default=None,
                        help="how long the writer runs alone (default: --minutes)")
    parser.add_argument("--steps", type=int, default=5, help="curve points per trial")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    before = snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        with_readers = run(args.minutes, args.steps, True, Path(tmp))
        alone = run(args.alone_minutes or args.minutes, args.steps, False, Path(tmp))
    errors = sum(r["errors"] for r in with_readers["readers"].values())
    result = {
        "minutes": args.minutes, "alone_minutes": args.alone_minutes or args.minutes,
        "steps_per_trial": args.steps,
        "with_readers": with_readers, "writer_alone": alone,
        "reader_errors": errors,
        "bound": f"no store write waited more than {with_readers['write_max_ms'] / 1000:.3g} s "
                 f"with 4 readers polling ({alone['write_max_ms'] / 1000:.3g} s alone)",
        "machine_before": before, "machine_after": snapshot(),
        "python": sys.version.split()[0],
    }
    print(f"{'reader':<10} {'calls':>7} {'errors':>7} {'p50 call ms':>12}")
    for kind, r in with_readers["readers"].items():
        print(f"{kind:<10} {r['calls']:>7} {r['errors']:>7} {r['call_p50_ms']:>12.1f}")
    print()
    print(f"{'writer':<14} {'trials':>7} {'writes':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, w in (("with readers", with_readers), ("alone", alone)):
        print(f"{name:<14} {w['trials']:>7} {w['writes']:>7} {w['write_p50_ms']:>8.2f} "
              f"{w['write_p99_ms']:>8.2f} {w['write_max_ms']:>8.1f}")
    print(result["bound"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
