"""Faulty trials: a 30 % fault mix on every executor, faults injected vs recorded, and the
failure-rate guard.

For each executor (inline, a process pool of 2 workers, a local Ray instance of 2 workers) a
random search on the toy space runs ``--trials`` trials with the ``faulty`` evaluator
(:mod:`nasforge.testing.faulty`): 30 % of the trials raise, return NaN or inf, hang past the
time limit, allocate memory until the memory limit stops them, or SIGKILL their own worker
process. The inline executor's mix leaves out ``kill``: it would kill the study itself (the
chaos harness, ``benchmarks/chaos.py``, covers killed studies).

Injected and recorded faults are counted independently:

- injected: the marker file ``<trial>.<fault>`` the evaluator writes (fsynced) just before it
  injects a fault, in the worker;
- recorded: each stored trial's state and reason, read back from the study's SQLite store and
  classified by what the reason says (``InjectedFault``, ``=nan``, ``=inf``, TIMEOUT with "time
  limit", ``exceeded trial_memory_limit_gb``, a worker killed by SIGKILL / died);
- planned: :func:`~nasforge.testing.faulty.planned_fault` recomputed for every stored trial (a
  planned fault without a marker is a trial the evaluator never ran, e.g. a repeated
  architecture whose stored result was reused).

Checked per executor: the budget completed (every trial finished, none RUNNING, no guard
stop), every FAILED/TIMEOUT trial has a reason, and every injected fault was recorded as its
own kind (the target: 100 %). Then, per executor, a study where 95 % of trials fail must be
stopped by the failure-rate guard (``max_failure_rate`` 0.9 from 20 trials) with its message.

    python benchmarks/faults.py                      # 90 trials per executor (~5 min)
    python benchmarks/faults.py --trials 30 --executors inline process --out /tmp/f.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from machine import snapshot

import nasforge.testing.toys  # noqa: F401  (registers the toy space and task)
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.store.sqlite import SQLiteStore
from nasforge.testing.faulty import FAULTS, planned_fault
from nasforge.trial import TrialState

HERE = Path(__file__).resolve().parent
EXECUTORS: dict[str, dict[str, Any]] = {
    "inline": {"name": "inline"},
    "process": {"name": "process", "workers": 2},
    "ray": {"name": "ray", "workers": 2},
}
RATE = 0.3
TIME_LIMIT_S = 1.0  # the loop's hard limit is 1.1 x this + 2 s; the pool adds 1 s of grace
MEMORY_LIMIT_GB = 1.0  # a worker's whole resident memory (inline: the study's growth)


def classify(state: TrialState, reason: str | None) -> str | None:
    """The fault a stored trial's state and reason say happened (``None``: it completed;
    ``unexplained``: a failure that names none of them)."""
    text = reason or ""
    if state is TrialState.COMPLETE:
        return None
    if state is TrialState.TIMEOUT:
        return "hang" if "time limit" in text else "unexplained"
    if "InjectedFault: injected fault 'raise'" in text:
        return "raise"
    if re.search(r"non-finite metric\(s\): \S+=nan", text):
        return "nan"
    if re.search(r"non-finite metric\(s\): \S+=inf", text):
        return "inf"
    if "exceeded trial_memory_limit_gb=" in text:
        return "memory"
    if "WorkerCrashedError" in text and ("SIGKILL" in text or "died" in text):
        return "kill"
    return "unexplained"


def base_spec(name: str, executor: str, root: Path, trials: int) -> dict[str, Any]:
    return {
        "name": name,
        "root": str(root),
        "seed": 0,
        "task": "toy",
        "space": {"name": "toy", "n_decisions": 8, "n_options": 4},
        "strategy": "random",
        "executor": EXECUTORS[executor],
        "budget": {"trials": trials},
        "trial_time_limit_s": TIME_LIMIT_S,
        "trial_memory_limit_gb": MEMORY_LIMIT_GB,
        "export_best": False,
    }


def stored(directory: Path) -> list[Any]:
    """The study's trials, read back from its store file (not from the live study)."""
    store = SQLiteStore(directory / "study.db", read_only=True)
    try:
        (record,) = store.studies()
        return store.trials(record.id)
    finally:
        store.close()


def mix_run(executor: str, trials: int, seed: int, root: Path) -> dict[str, Any]:
    faults = [f for f in FAULTS if not (executor == "inline" and f == "kill")]
    marks = root / f"marks-{executor}"
    spec = base_spec(f"mix-{executor}", executor, root, trials)
    spec["evaluator"] = {"name": "faulty", "rate": RATE, "faults": faults, "seed": seed,
                         "memory_cap_gb": 3.0, "marker_dir": str(marks)}
    began = time.monotonic()
    study = Study.create(parse_spec(spec)).run()
    wall = time.monotonic() - began
    failure, stop = study.failure, study.stop_reason
    study.close()
    rows = stored(root / spec["name"])
    injected = {int(p.name.split(".")[0]): p.name.split(".", 1)[1] for p in marks.iterdir()}
    recorded = {t.number: classify(t.state, t.result.reason if t.result else None)
                for t in rows}
    planned = {t.number: planned_fault(seed, t.number, RATE, faults) for t in rows}
    kinds: dict[str, dict[str, int]] = {}
    for kind in faults:
        numbers = [n for n, k in injected.items() if k == kind]
        kinds[kind] = {
            "injected": len(numbers),
            "recorded": sum(k == kind for k in recorded.values()),
            "recorded_as_injected": sum(recorded.get(n) == kind for n in numbers),
        }
    n_injected = len(injected)
    matched = sum(v["recorded_as_injected"] for v in kinds.values())
    failed = [t for t in rows if t.state in (TrialState.FAILED, TrialState.TIMEOUT)]
    return {
        "executor": executor,
        "executor_spec": EXECUTORS[executor],
        "faults": faults,
        "trials_asked": trials,
        "trials_stored": len(rows),
        "budget_completed": len(rows) == trials and failure is None
        and all(t.state is not TrialState.RUNNING for t in rows),
        "stop_reason": stop,
        "states": dict(Counter(t.state.value for t in rows)),
        "failures_without_reason": sum(not (t.result and t.result.reason) for t in failed),
        "unexplained_failures": [
            {"trial": t.number, "state": t.state.value, "reason": t.result.reason if t.result
             else None} for t in rows if recorded[t.number] == "unexplained"],
        "injected": n_injected,
        "recorded_as_injected": matched,
        "recorded_pct": 100.0 * matched / n_injected if n_injected else None,
        "planned_not_injected": sorted(n for n, k in planned.items()
                                       if k is not None and n not in injected),
        "injected_not_planned": sorted(n for n, k in injected.items() if planned.get(n) != k),
        "by_kind": kinds,
        "mismatches": [
            {"trial": n, "injected": k, "recorded": recorded.get(n),
             "state": next(t.state.value for t in rows if t.number == n),
             "reason": next((t.result.reason for t in rows if t.number == n and t.result), None)}
            for n, k in sorted(injected.items()) if recorded.get(n) != k],
        "example_reasons": {kind: next((t.result.reason for t in rows
                                        if recorded[t.number] == kind and t.result), None)
                            for kind in faults},
        "wall_s": round(wall, 1),
    }


def guard_run(executor: str, seed: int, root: Path) -> dict[str, Any]:
    spec = base_spec(f"guard-{executor}", executor, root, 100)
    spec["max_consecutive_failures"] = None  # the rate guard alone
    spec["evaluator"] = {"name": "faulty", "rate": 0.95, "faults": ["raise", "nan", "inf"],
                         "seed": seed}
    began = time.monotonic()
    study = Study.create(parse_spec(spec)).run()
    wall = time.monotonic() - began
    failure, status = study.failure, study.record.status
    study.close()
    rows = stored(root / spec["name"])
    return {
        "executor": executor,
        "trials_stored": len(rows),
        "failed": sum(t.state is TrialState.FAILED for t in rows),
        "stopped_by_guard": bool(failure and failure.startswith("stopped: ")
                                 and "max_failure_rate" in failure),
        "study_status": status,
        "message": failure,
        "wall_s": round(wall, 1),
    }


def print_table(mix: list[dict[str, Any]], guard: list[dict[str, Any]]) -> None:
    kinds = list(FAULTS)
    head = f"{'executor':<9}{'trials':>8}{'budget':>8}" + "".join(f"{k:>9}" for k in kinds)
    print("\nInjected -> recorded as that fault, by kind (30 % mix)")
    print(head + f"{'total':>10}{'no reason':>10}{'wall s':>8}")
    for r in mix:
        cells = "".join(
            f"{(str(r['by_kind'][k]['injected']) + '->' + str(r['by_kind'][k]['recorded_as_injected'])) if k in r['by_kind'] else '-':>9}"  # noqa: E501
            for k in kinds)
        total = f"{r['recorded_as_injected']}/{r['injected']}"
        print(f"{r['executor']:<9}{r['trials_stored']:>5}/{r['trials_asked']:<3}"
              f"{'ok' if r['budget_completed'] else 'NO':>7}{cells}{total:>10}"
              f"{r['failures_without_reason']:>10}{r['wall_s']:>8}")
    print("\nFailure-rate guard (95 % failing, max_failure_rate 0.9 from 20 trials)")
    for g in guard:
        print(f"{g['executor']:<9} {g['trials_stored']:>3} trials, stopped by guard: "
              f"{g['stopped_by_guard']}: {g['message']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--executors", nargs="+", choices=list(EXECUTORS),
                        default=list(EXECUTORS))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "faults.json")
    args = parser.parse_args(argv)
    before = snapshot()
    mix, guard = [], []
    with tempfile.TemporaryDirectory(prefix="nasforge-faults-") as tmp:
        for executor in args.executors:
            print(f"{executor}: {args.trials} trials with a {RATE:.0%} fault mix ...",
                  flush=True)
            mix.append(mix_run(executor, args.trials, args.seed, Path(tmp)))
            print(f"{executor}: the 95 % failing study ...", flush=True)
            guard.append(guard_run(executor, args.seed, Path(tmp)))
    print_table(mix, guard)
    injected = sum(r["injected"] for r in mix)
    matched = sum(r["recorded_as_injected"] for r in mix)
    target = (matched == injected and all(r["budget_completed"] for r in mix)
              and not any(r["failures_without_reason"] for r in mix)
              and all(g["stopped_by_guard"] for g in guard))
    summary = (f"{matched}/{injected} injected faults recorded with their reason "
               f"({100 * matched / max(injected, 1):.0f} %) over {len(mix)} executor(s), "
               f"{sum(r['trials_stored'] for r in mix)} trials; budgets "
               f"{'completed' if all(r['budget_completed'] for r in mix) else 'NOT completed'}"
               f"; guard stopped {sum(g['stopped_by_guard'] for g in guard)}/{len(guard)} "
               "95 %-failing studies")
    print(f"\n{summary}\ntarget (100 % recorded, budgets, reasons, guard): "
          f"{'met' if target else 'MISSED'}")
    result = {
        "benchmark": "faults",
        "command": "python benchmarks/faults.py " + " ".join(argv or sys.argv[1:]),
        "settings": {"rate": RATE, "trial_time_limit_s": TIME_LIMIT_S,
                     "trial_memory_limit_gb": MEMORY_LIMIT_GB, "seed": args.seed,
                     "trials": args.trials},
        "machine_before": before,
        "machine_after": snapshot(),
        "mix": mix,
        "guard": guard,
        "summary": summary,
        "target_met": target,
        "peer": "none: no other NAS tool ships a fault-injection benchmark to compare with",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
