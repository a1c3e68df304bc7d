"""Crash and resume: SIGKILL a running search at random moments, resume it, check the store.

Each executor's study runs in a subprocess (``benchmarks/chaos_driver.py``: the real
``nasforge search`` / ``nasforge resume`` CLI, or the Python API for the one-shot study). The
harness kills the subprocess's whole process group (and every descendant: pool workers, a local
Ray instance) with SIGKILL after a seeded random delay, checks the store, resumes, and repeats
until ``--kills`` kills landed; a study that finishes between kills is checked against an
uninterrupted run with the same seed and a fresh one (a new round) is started.

Kills land in every phase of a trial's path (and 15% during a resume's own start-up): the toy
evaluator sleeps (deterministically in its result) in every evaluation and the driver sleeps
inside every store transaction before its commit; it writes its current phase to a file, read at
each kill (``startup``, ``creation``, ``evaluation``, ``store_write``, ``other``).

Checked after every kill and at the end of each round, from the store file alone:

- lost: a trial finished (COMPLETE/FAILED/...) before a kill that is missing later or whose
  result, finish time or tell order changed;
- duplicated: a finished trial evaluated again (its finish time changed), two stored evaluations
  of one candidate (the loop reuses a stored result: ``cached_from``), or a repeated number;
- impossible rows: COMPLETE without a finite objective, a finished row without ``finished_at``
  or finished before it started, a RUNNING row with a result, numbers with gaps, a tell order
  with repeats or gaps, and RUNNING rows or a status other than ``finished`` once done;
- history identical: numbers, architectures, fidelities, states, sources, metrics, reasons and
  the ask/tell interleaving equal to an uninterrupted run's (``reproducible: true`` for the pool
  and Ray, whose arrival order is otherwise timing-dependent).

``oneshot`` kills a tiny DARTS search (24 epochs, checkpointed every epoch) and checks that every
resumed attempt loaded the last checkpoint the killed one wrote (never epoch 0 once one was
written). ``ray-node`` joins a ``ray.cluster_utils.Cluster`` (a head without CPUs and one worker
node), kills the worker node (its raylet and workers, ungracefully) while a trial runs there and
adds a new one: Ray retries the trial, which must complete, and the study must finish.

    python benchmarks/chaos.py          # 30 kills inline, pool, Ray; 15 one-shot; 6 nodes (~25 min)
    python benchmarks/chaos.py --kills 5 --executors inline --out /tmp/chaos.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np
import yaml
from machine import snapshot

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "chaos_driver.py"
OUT = HERE / "results" / "chaos.json"
EXECUTORS = ("inline", "process", "ray", "oneshot", "ray-node")
PHASES = ("startup", "creation", "evaluation", "store_write", "other")
FINISHED = ("COMPLETE", "FAILED", "TIMEOUT", "PRUNED", "INFEASIBLE")
STATES = ("RUNNING", *FINISHED)
OBJECTIVE = "val_accuracy"
VOLATILE_METRICS = ("search_cpu_s", "train_seconds")  # CPU and wall times: differ run to run
EARLY = 0.15  # the share of toy-study kills timed from the launch rather than the loop's start
STARTUP_S = 3.0  # about a CLI start-up (imports, opening the store, the replay)
ONESHOT_EPOCHS = 24  # chaos_driver.ONESHOT_EPOCHS: the epochs of the one-shot search


@dataclass(frozen=True)
class Setting:
    """How one executor's studies are run and killed."""

    executor: dict[str, Any] | str
    trials: int
    sleep_s: float  # each evaluation's sleep
    store_delay_s: float  # each store transaction's sleep before its commit
    max_delay_s: float  # a kill lands uniformly in [0, max_delay_s] after start-up
    reproducible: bool = False


SETTINGS: dict[str, Setting] = {
    "inline": Setting("inline", trials=30, sleep_s=0.15, store_delay_s=0.05, max_delay_s=2.0),
    "process": Setting({"name": "process", "workers": 2}, trials=30, sleep_s=0.3,
                       store_delay_s=0.05, max_delay_s=3.0, reproducible=True),
    "ray": Setting({"name": "ray", "workers": 2}, trials=30, sleep_s=0.3, store_delay_s=0.05,
                   max_delay_s=3.0, reproducible=True),
}


def toy_config(setting: Setting, name: str, root: Path) -> dict[str, Any]:
    """The study every round of one executor runs: the same seed, so the same history."""
    return {
        "name": name, "seed": 7, "task": "toy", "root": str(root),
        "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
        "strategy": {"name": "regularized_evolution", "population": 6, "sample": 3},
        "evaluator": {"name": "toy", "sleep": ["*"], "sleep_s": setting.sleep_s},
        "executor": setting.executor, "budget": {"trials": setting.trials},
        "reproducible": setting.reproducible, "export_best": False,
    }


# -- reading and checking the store ----------------------------------------------------------
COLUMNS = ("number", "arch", "fidelity", "state", "source", "metrics", "status", "reason",
           "info", "asked_after", "tell_seq", "attempts", "started_at", "finished_at")
Rows = dict[int, dict[str, Any]]


def read_rows(db: Path) -> tuple[Rows, str | None]:
    """Every trial row of the (single) study in ``db`` by number, and the study's status."""
    if not db.exists():
        return {}, None
    conn = sqlite3.connect(db, timeout=30)
    try:
        try:
            rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM trials ORDER BY number")
            out = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows.fetchall()}
            status = conn.execute("SELECT status FROM studies").fetchone()
        except sqlite3.OperationalError:  # killed before the schema was committed
            return {}, None
    finally:
        conn.close()
    for row in out.values():
        for key in ("metrics", "info"):
            row[key] = json.loads(row[key]) if row[key] is not None else None
    return out, None if status is None else str(status[0])


def _final(row: dict[str, Any]) -> tuple[Any, ...]:
    """What must never change once a trial finished."""
    return (row["arch"], row["fidelity"], row["state"], row["metrics"], row["status"],
            row["reason"], row["finished_at"])


def lost_and_repeated(before: Rows, after: Rows) -> tuple[list[str], list[str]]:
    """Trials finished in ``before`` that ``after`` lost, and those it evaluated again."""
    lost, repeated = [], []
    for number, old in before.items():
        if old["state"] not in FINISHED:
            continue
        new = after.get(number)
        if new is None or new["state"] != old["state"] or new["metrics"] != old["metrics"]:
            lost.append(f"Trial#{number}: {old['state']} {old['metrics']} became "
                        f"{None if new is None else (new['state'], new['metrics'])}")
        elif _final(new) != _final(old) or new["attempts"] != old["attempts"]:
            repeated.append(f"Trial#{number} was finished again")
        elif old["tell_seq"] is not None and new["tell_seq"] != old["tell_seq"]:
            lost.append(f"Trial#{number}: its tell order {old['tell_seq']} became "
                        f"{new['tell_seq']}")
    return lost, repeated


def repeated_evaluations(rows: Rows) -> list[str]:
    """Candidates evaluated (not reused from the store) by more than one COMPLETE trial."""
    seen: dict[tuple[Any, ...], int] = {}
    out = []
    for number, row in sorted(rows.items()):
        if row["state"] != "COMPLETE" or "cached_from" in (row["info"] or {}):
            continue
        key = (row["arch"], row["fidelity"], row["source"])
        if key in seen:
            out.append(f"Trial#{number} evaluated {row['arch']} again (Trial#{seen[key]})")
        seen.setdefault(key, number)
    return out


def impossible_rows(rows: Rows, status: str | None, *, done: bool) -> list[str]:
    """Rows no correct run can leave (``done``: the study has ended)."""
    out = []
    numbers = sorted(rows)
    if numbers != list(range(len(numbers))):
        out.append(f"trial numbers have gaps: {numbers}")
    for n, r in rows.items():
        label = f"Trial#{n}"
        if r["state"] not in STATES:
            out.append(f"{label}: unknown state {r['state']!r}")
        if r["attempts"] < 1 or r["started_at"] is None:
            out.append(f"{label}: attempts {r['attempts']}, started_at {r['started_at']}")
        if r["state"] == "RUNNING":
            if any(r[k] is not None for k in ("finished_at", "metrics", "tell_seq")):
                out.append(f"{label}: RUNNING with a result, a finish time or a tell order")
            continue
        if r["finished_at"] is None or r["finished_at"] < r["started_at"]:
            out.append(f"{label}: {r['state']} finished_at {r['finished_at']} before "
                       f"started_at {r['started_at']}")
        if r["state"] == "COMPLETE" and r["source"] == "strategy":
            value = (r["metrics"] or {}).get(OBJECTIVE)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                out.append(f"{label}: COMPLETE without a finite {OBJECTIVE} ({r['metrics']})")
    seqs = sorted(r["tell_seq"] for r in rows.values() if r["tell_seq"] is not None)
    if seqs != list(range(len(seqs))):
        out.append(f"tell order has repeats or gaps: {seqs}")
    if done:
        running = [n for n, r in rows.items() if r["state"] == "RUNNING"]
        if running:
            out.append(f"RUNNING after the study finished: {running}")
        if status != "finished":
            out.append(f"study status {status!r} after it finished")
        told = [n for n, r in rows.items() if r["source"] == "strategy" and r["tell_seq"] is None]
        if told:
            out.append(f"finished but never told: {told}")
    return out


def history(rows: Rows) -> list[tuple[Any, ...]]:
    """What must equal an uninterrupted run: everything but times and attempts."""
    return [
        (n, r["arch"], r["fidelity"], r["state"], r["source"],
         {k: v for k, v in (r["metrics"] or {}).items() if k not in VOLATILE_METRICS},
         r["status"], r["reason"], r["asked_after"], r["tell_seq"])
        for n, r in sorted(rows.items())
    ]


# -- running and killing ---------------------------------------------------------------------
@dataclass
class Tally:
    """One executor's counts."""

    kills: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    launches: int = 0
    reruns: int = 0  # trials a resume ran again because they were RUNNING when killed
    searched_again: int = 0  # kills before the study was stored: the search is run again
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)
    identical: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "kills": self.kills, "phases": {p: self.phases[p] for p in PHASES},
            "rounds": self.rounds, "launches": self.launches, "reruns": self.reruns,
            "searched_again": self.searched_again,
            "lost": len(self.lost), "duplicated": len(self.duplicated),
            "impossible": len(self.impossible),
            "history_identical": f"{sum(self.identical)}/{len(self.identical)}",
            "errors": self.errors[:10], "examples": (self.lost + self.duplicated
                                                     + self.impossible)[:10],
            **self.extra,
        }


class Launcher:
    """Starts the driver in a session of its own and kills it with everything it started."""

    def __init__(self, work: Path, store_delay_s: float) -> None:
        self.phase_file = work / "phase"
        self.log = work / "driver.log"
        self.env = {**os.environ, "NASFORGE_PLUGINS": "nasforge.testing.toys",
                    "CHAOS_PHASE_FILE": str(self.phase_file),
                    "CHAOS_STORE_DELAY_S": str(store_delay_s),
                    "CHAOS_CKPT_LOG": str(work / "checkpoints.log"),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        self.phase_file.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(DRIVER), *args], env=self.env,
                                         stdout=log, stderr=log, start_new_session=True)

    def phase(self) -> str:
        try:
            return self.phase_file.read_text().strip() or "startup"
        except OSError:
            return "startup"

    def wait_started(self, timeout_s: float = 300) -> bool:
        """Wait until the driver's loop runs (a trial is created, evaluated or stored: Ray's
        start-up is long), so kills spread over a trial's phases; False if it exited first."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.phase() in ("creation", "evaluation", "store_write"):
                return True
            time.sleep(0.02)
        raise TimeoutError(f"the driver did not start within {timeout_s} s; see {self.log}")

    def kill(self) -> str:
        """SIGKILL the driver's process group and every descendant; the phase it was in."""
        import psutil

        assert self.proc is not None
        phase = self.phase()
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for child in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.proc.wait(60)
        psutil.wait_procs(family, timeout=30)
        return phase

    def wait(self, timeout_s: float = 600) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)


def _record(tally: Tally, before: Rows, after: Rows, status: str | None, *, done: bool) -> None:
    lost, repeated = lost_and_repeated(before, after)
    tally.lost += lost
    tally.duplicated += repeated
    tally.impossible += impossible_rows(after, status, done=done)


def _record_end(tally: Tally, before: Rows, after: Rows, status: str | None,
                expected: list[tuple[Any, ...]]) -> None:
    """The checks once a round has finished: its rows, repeats and history against ``expected``."""
    _record(tally, before, after, status, done=True)
    tally.duplicated += repeated_evaluations(after)
    tally.identical.append(history(after) == expected)


def reference(setting: Setting, work: Path) -> list[tuple[Any, ...]]:
    """The history of an uninterrupted run (no kill, no store delay)."""
    config = work / "straight.yaml"
    config.write_text(yaml.safe_dump(toy_config(setting, "straight", work / "runs")))
    launcher = Launcher(work, 0.0)
    launcher.start("search", str(config))
    rc = launcher.wait()
    if rc != 0:
        raise RuntimeError(f"the uninterrupted run failed ({rc}); see {launcher.log}")
    rows, _ = read_rows(work / "runs" / "straight" / "study.db")
    return history(rows)


def chaos_toy(name: str, n_kills: int, rng: np.random.Generator, work: Path) -> Tally:
    """Kill and resume ``name``'s toy studies until ``n_kills`` kills landed."""
    setting = SETTINGS[name]
    expected = reference(setting, work)
    tally = Tally()
    launcher = Launcher(work, setting.store_delay_s)
    while tally.kills < n_kills:
        tally.rounds += 1
        study = f"r{tally.rounds}"
        config = work / f"{study}.yaml"
        config.write_text(yaml.safe_dump(toy_config(setting, study, work / "runs")))
        db = work / "runs" / study / "study.db"
        args = ["search", str(config)]
        before: Rows = {}
        while True:
            launcher.start(*args)
            tally.launches += 1
            if rng.random() < EARLY:  # during start-up: imports, replay, re-opening RUNNING rows
                time.sleep(float(rng.uniform(0, STARTUP_S)))
            elif launcher.wait_started() and tally.kills < n_kills:
                time.sleep(float(rng.uniform(0, setting.max_delay_s)))
            if launcher.proc is not None and launcher.proc.poll() is None \
                    and tally.kills < n_kills:
                tally.phases[launcher.kill()] += 1
                tally.kills += 1
                after, status = read_rows(db)
                _record(tally, before, after, status, done=False)
                tally.reruns += sum(r["state"] == "RUNNING" for r in after.values())
                before = after
                # killed before the study was stored: the same search again, else a resume
                args = ["search", str(config)] if status is None else ["resume", str(db.parent)]
                tally.searched_again += status is None
                continue
            rc = launcher.wait()
            after, status = read_rows(db)
            if rc != 0:
                tally.errors.append(f"{study}: the driver exited {rc}; see {launcher.log}")
                break
            _record_end(tally, before, after, status, expected)
            break
    return tally


def chaos_oneshot(n_kills: int, rng: np.random.Generator, work: Path) -> Tally:
    """Kill the DARTS study, mostly during its search; every resumed search must continue from
    the last checkpoint the killed attempt wrote."""
    launcher = Launcher(work, 0.0)
    log = work / "checkpoints.log"
    launcher.start("oneshot", str(work / "runs"), "straight")
    if launcher.wait() != 0:
        raise RuntimeError(f"the uninterrupted one-shot run failed; see {launcher.log}")
    expected = history(read_rows(work / "runs" / "straight" / "study.db")[0])
    tally = Tally()
    checked = {"kills_during_search": 0, "resumed_from_checkpoint": 0, "resumed_fresh": 0,
               "resumed_wrong": 0}
    launcher = Launcher(work, 0.02)
    while tally.kills < n_kills:
        tally.rounds += 1
        study = f"r{tally.rounds}"
        db = work / "runs" / study / "study.db"
        before: Rows = {}
        last_saved: int | None = None  # the last checkpoint the previous attempt wrote
        while True:
            log.write_text("")
            launcher.start("oneshot", str(work / "runs"), study)
            tally.launches += 1
            if launcher.wait_started() and tally.kills < n_kills:
                time.sleep(float(rng.uniform(0, 6.0)))
            killed = launcher.proc is not None and launcher.proc.poll() is None \
                and tally.kills < n_kills
            if killed:
                tally.phases[launcher.kill()] += 1
                tally.kills += 1
            else:
                rc = launcher.wait()
            lines = log.read_text().split()
            starts = [(w, lines[i + 1] if w != "fresh" else "0")
                      for i, w in enumerate(lines) if w in ("load", "fresh")]
            saves = [int(lines[i + 1]) for i, w in enumerate(lines) if w == "save"]
            if starts and last_saved is not None:  # this attempt continued a killed search
                start = int(starts[0][1])
                if start != last_saved:
                    checked["resumed_wrong"] += 1
                    tally.errors.append(f"{study}: resumed at epoch {start}, the last "
                                        f"checkpoint was epoch {last_saved}")
                elif start > 0:
                    checked["resumed_from_checkpoint"] += 1
                else:
                    checked["resumed_fresh"] += 1
            if starts:  # the search ran in this launch
                last_saved = saves[-1] if saves else (int(starts[0][1]) if starts else 0)
                if killed and len(saves) < ONESHOT_EPOCHS - int(starts[0][1]):
                    checked["kills_during_search"] += 1
            after, status = read_rows(db)
            if killed:
                _record(tally, before, after, status, done=False)
                tally.reruns += sum(r["state"] == "RUNNING" for r in after.values())
                before = after
                continue
            if rc != 0:
                tally.errors.append(f"{study}: the driver exited {rc}; see {launcher.log}")
                break
            _record_end(tally, before, after, status, expected)
            break
    tally.extra.update(checked)
    return tally


def chaos_ray_node(n_kills: int, rng: np.random.Generator, work: Path) -> Tally:
    """Kill the Ray worker node that runs a trial; the trial is retried and completes."""
    from ray.cluster_utils import Cluster

    setting = Setting({"name": "ray", "workers": 2}, trials=6, sleep_s=2.0, store_delay_s=0.0,
                      max_delay_s=1.5, reproducible=True)
    expected = reference(setting, work)
    tally = Tally()
    retried = 0
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        node = cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        executor = {"name": "ray", "workers": 2, "address": cluster.address, "max_retries": 3}
        while tally.kills < n_kills:
            tally.rounds += 1
            study = f"r{tally.rounds}"
            config = work / f"{study}.yaml"
            spec = toy_config(setting, study, work / "runs")
            config.write_text(yaml.safe_dump({**spec, "executor": executor}))
            db = work / "runs" / study / "study.db"
            launcher = Launcher(work, 0.0)
            launcher.start("search", str(config))
            tally.launches += 1
            hit: set[int] = set()
            for _ in range(min(2, n_kills - tally.kills)):  # two node kills per study
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and launcher.proc is not None \
                        and launcher.proc.poll() is None:
                    rows, _ = read_rows(db)
                    fresh = [n for n, r in rows.items() if r["state"] == "RUNNING"
                             and n not in hit and time.time() - r["started_at"] > 0.5]
                    if fresh:
                        time.sleep(float(rng.uniform(0, 1.0)))  # mid-trial (2 s each)
                        rows, _ = read_rows(db)
                        hit |= {n for n, r in rows.items() if r["state"] == "RUNNING"}
                        cluster.remove_node(node, allow_graceful=False)
                        node = cluster.add_node(num_cpus=2)
                        tally.kills += 1
                        tally.phases["evaluation"] += 1
                        break
                    time.sleep(0.05)
            rc = launcher.wait()
            rows, status = read_rows(db)
            if rc != 0:
                tally.errors.append(f"{study}: the study exited {rc}; see {launcher.log}")
                continue
            retried += sum(rows[n]["state"] == "COMPLETE" for n in hit if n in rows)
            _record(tally, {}, rows, status, done=True)
            tally.duplicated += repeated_evaluations(rows)
            tally.identical.append(history(rows) == expected)
            tally.extra.setdefault("trials_hit", 0)
            tally.extra["trials_hit"] += len(hit)
    finally:
        cluster.shutdown()
    tally.extra["trials_hit_completed"] = retried
    return tally


# -- the report ------------------------------------------------------------------------------
def table(results: dict[str, dict[str, Any]]) -> str:
    head = (f"{'executor':<10}{'kills':>6}  {'phases (create/eval/store/other/startup)':<42}"
            f"{'lost':>5}{'dup':>5}{'impossible':>11}{'identical':>10}")
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        p = r["phases"]
        phases = (f"{p['creation']}/{p['evaluation']}/{p['store_write']}/{p['other']}/"
                  f"{p['startup']}")
        lines.append(f"{name:<10}{r['kills']:>6}  {phases:<42}{r['lost']:>5}"
                     f"{r['duplicated']:>5}{r['impossible']:>11}{r['history_identical']:>10}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30,
                        help="kills per executor (inline, process, ray)")
    parser.add_argument("--oneshot-kills", type=int, default=15,
                        help="kills of the one-shot study (default 15)")
    parser.add_argument("--node-kills", type=int, default=6,
                        help="Ray worker-node kills (default 6; each takes ~20 s)")
    parser.add_argument("--executors", default=",".join(EXECUTORS),
                        help=f"comma-separated, from {', '.join(EXECUTORS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other executors' results already in --out")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.executors.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXECUTORS]
    if unknown:
        parser.error(f"--executors: unknown {unknown}; choose from {', '.join(EXECUTORS)}")
    if min(args.kills, args.oneshot_kills, args.node_kills) < 1:
        parser.error("--kills, --oneshot-kills and --node-kills must be at least 1")
    started = time.time()
    results: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        rng = np.random.default_rng([args.seed, i])
        with tempfile.TemporaryDirectory(prefix=f"chaos-{name}-") as tmp:
            work = Path(tmp)
            t0 = time.time()
            if name == "oneshot":
                tally = chaos_oneshot(args.oneshot_kills, rng, work)
            elif name == "ray-node":
                tally = chaos_ray_node(args.node_kills, rng, work)
            else:
                tally = chaos_toy(name, args.kills, rng, work)
            if tally.errors:
                print(f"{name}: driver log tail:\n" + (work / "driver.log").read_text()[-3000:],
                      file=sys.stderr)
            results[name] = {**tally.summary(), "seconds": round(time.time() - t0, 1)}
        print(f"{name}: {results[name]}", flush=True)
    if args.merge and args.out.exists():
        kept = json.loads(args.out.read_text())["results"]
        results = {n: results.get(n) or kept[n] for n in EXECUTORS if n in results or n in kept}
    total = sum(r["kills"] for r in results.values())
    bad = sum(r["lost"] + r["duplicated"] for r in results.values())
    same = [tuple(map(int, r["history_identical"].split("/"))) for r in results.values()]
    summary = (f"{total} SIGKILLs across {', '.join(results)}: {bad} trials lost or duplicated, "
               f"{sum(r['impossible'] for r in results.values())} impossible rows, history "
               f"identical to an uninterrupted run in {sum(s[0] for s in same)}/"
               f"{sum(s[1] for s in same)} rounds")
    print(table(results))
    print(summary)
    out = {"command": "python benchmarks/chaos.py " + " ".join(argv or sys.argv[1:]),
           "seed": args.seed, "kills_per_executor": args.kills,
           "oneshot_kills": args.oneshot_kills, "node_kills": args.node_kills, "results": results,
           "total_kills": total, "lost_or_duplicated": bad, "summary": summary,
           "target": "0 lost or duplicated over >= 100 kills",
           "target_met": bad == 0 and total >= 100 and all(
               not r["errors"] and r["impossible"] == 0 for r in results.values()),
           "seconds": round(time.time() - started, 1),
           **{k: v for k, v in snapshot().items() if k in ("load", "uptime")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    failed = bad or any(r["errors"] or r["impossible"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
