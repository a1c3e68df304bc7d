"""The process `benchmarks/chaos.py` kills: a study through nasforge's front doors, instrumented.

    python benchmarks/chaos_driver.py search CONFIG.yaml     # ``nasforge search`` (the CLI)
    python benchmarks/chaos_driver.py resume STUDY_DIR       # ``nasforge resume`` (the CLI)
    python benchmarks/chaos_driver.py oneshot ROOT           # a tiny DARTS study (the Python API)

Before it hands over to nasforge it patches, in this process only (nothing in ``src`` changes):

- the phase file (``CHAOS_PHASE_FILE``): the driver's current phase, rewritten in place at every
  change, so the harness knows where a SIGKILL landed: ``startup`` (imports, opening, replay,
  joining Ray), ``creation`` (``strategy.ask`` and ``store.create_trial``), ``evaluation``
  (the inline executor running a trial, or the loop waiting on workers that run them),
  ``store_write`` (any other store write) and ``other`` (the loop's own bookkeeping);
- a delay inside every store transaction (``CHAOS_STORE_DELAY_S``), slept after the statements
  and before ``COMMIT``, so a kill can land in the middle of a write;
- for ``oneshot``, a log of checkpoints (``CHAOS_CKPT_LOG``): ``save E`` after the search wrote
  its checkpoint of epoch ``E``, ``load E`` when an attempt starts from a checkpoint of epoch
  ``E`` and ``fresh`` when it starts from epoch 0, so the harness can check that a resumed search
  continued from its last checkpoint.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = ("startup", "creation", "evaluation", "store_write", "other")
_WIDTH = 16


class PhaseFile:
    """The driver's phase as a fixed-width record at offset 0 of a file; a stack of phases."""

    def __init__(self, path: str | None) -> None:
        self.fd = None if not path else os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self.stack: list[str] = ["startup"]
        self._write()

    def _write(self) -> None:
        if self.fd is not None:  # a resume's replay and re-opened rows are its start-up
            phase = "startup" if self.stack[0] == "startup" else self.stack[-1]
            os.pwrite(self.fd, phase.ljust(_WIDTH).encode(), 0)

    def push(self, phase: str) -> None:
        self.stack.append(phase)
        self._write()

    def pop(self) -> None:
        self.stack.pop()
        self._write()

    def set_base(self, phase: str) -> None:
        self.stack[0] = phase
        self._write()


def _wrap(cls: type, name: str, phases: PhaseFile, phase: str) -> None:
    original: Callable[..., Any] = getattr(cls, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        phases.push(phase)
        try:
            return original(*args, **kwargs)
        finally:
            phases.pop()

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def instrument(phases: PhaseFile, store_delay_s: float) -> None:
    """Patch the store, the loop and the executors to keep ``phases`` and delay every commit."""
    from nasforge.execute.inline import InlineExecutor
    from nasforge.execute.pool import ProcessExecutor
    from nasforge.run.loop import Loop
    from nasforge.run.steering import Steering
    from nasforge.store.sqlite import SQLiteStore

    writes = ("create_study", "update_study", "restart_trial", "finish_trial", "mark_told",
              "add_curve_values", "add_event", "mark_event_handled")
    for name in writes:
        _wrap(SQLiteStore, name, phases, "store_write")
    _wrap(SQLiteStore, "create_trial", phases, "creation")
    _wrap(Steering, "ask", phases, "creation")
    _wrap(InlineExecutor, "submit", phases, "evaluation")
    _wrap(ProcessExecutor, "wait", phases, "evaluation")
    _wrap(ProcessExecutor, "prepare", phases, "startup")
    try:
        from nasforge.execute.ray import RayExecutor
    except ImportError:  # the ray extra is not installed: its executor is not used here
        pass
    else:
        _wrap(RayExecutor, "wait", phases, "evaluation")
        _wrap(RayExecutor, "prepare", phases, "startup")
    original_restore = Loop._restore
    original_run = Loop.run

    def restore(self: Loop) -> None:
        original_restore(self)  # replay and restart_trial: still starting up
        phases.set_base("other")

    def run(self: Loop) -> None:
        phases.set_base("startup")
        original_run(self)

    Loop._restore = restore  # type: ignore[method-assign]
    Loop.run = run  # type: ignore[method-assign]
    if store_delay_s > 0:
        original_exit = SQLiteStore._Tx.__exit__

        def exit_late(self: Any, kind: type[BaseException] | None, *rest: Any) -> None:
            if kind is None:
                time.sleep(store_delay_s)  # the statements ran; the commit has not
            original_exit(self, kind, *rest)

        SQLiteStore._Tx.__exit__ = exit_late  # type: ignore[method-assign]


def log_checkpoints(path: str) -> None:
    """Append ``save E`` / ``load E`` / ``fresh`` lines to ``path`` (fsynced) as the search runs."""
    from nasforge.strategy.oneshot._engine import SearchRun

    def note(line: str) -> None:
        with open(path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    original_save, original_load = SearchRun._save, SearchRun._load

    def save(self: SearchRun) -> None:
        original_save(self)
        note(f"save {self.epoch}")

    def load(self: SearchRun) -> None:
        original_load(self)
        note(f"load {self.epoch}" if self.epoch else "fresh")

    SearchRun._save = save  # type: ignore[method-assign]
    SearchRun._load = load  # type: ignore[method-assign]


def tiny_task() -> Any:
    """120 examples of 1x16 signals in 3 classes (the one-shot tests' task)."""
    import numpy as np

    from nasforge.tasks import ArrayTask

    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = rng.normal(scale=0.3, size=(120, 1, 16)).astype(np.float32)
    x[:, 0, 4:8] += (y[:, None] - 1.0)
    return ArrayTask(x=x, y=y, seed=0)


ONESHOT_EPOCHS = 24
ONESHOT = {
    "space": {"name": "nb201", "dims": 1, "channels": 4, "cells_per_stage": 1},
    "strategy": {"name": "darts", "epochs": ONESHOT_EPOCHS, "batch_size": 8,
                 "collapse_guard": False, "score_examples": 32, "bn_batches": 1, "top": 2},
    "evaluator": {"name": "train", "epochs": 1, "batch_size": 16, "measure_latency": False},
    "executor": "inline",
    "budget": {"trials": 10},
    "export_best": False,
    "seed": 0,
}
"""The one-shot study: DARTS on a 1-D NB201 cell for ``ONESHOT_EPOCHS`` epochs (about 5 s, so
kills land in it; no collapse guard, so it never stops early), then its top 2 trained."""


def run_oneshot(root: Path, name: str) -> int:
    """Search (or resume when ``root/name`` holds a study) the tiny DARTS study."""
    import nasforge as nf
    from nasforge.run.parts import build_parts

    directory = root / name
    if (directory / "study.db").exists():
        from nasforge.run.api import open_for_resume, run_and_finish
        from nasforge.run.spec import parse_spec
        from nasforge.store.sqlite import SQLiteStore

        store = SQLiteStore(directory / "study.db", read_only=True)
        spec = parse_spec(store.studies()[0].spec, check=False)
        store.close()
        study = open_for_resume(directory, parts=build_parts(spec, given={"task": tiny_task()}))
        run_and_finish(study)
    else:
        nf.search(task=tiny_task(), root=str(root), name=name, **ONESHOT)
    return 0


def main(argv: list[str]) -> int:
    phases = PhaseFile(os.environ.get("CHAOS_PHASE_FILE"))
    instrument(phases, float(os.environ.get("CHAOS_STORE_DELAY_S", "0")))
    mode, target = argv[0], argv[1]
    if mode == "oneshot":
        log = os.environ.get("CHAOS_CKPT_LOG")
        if log:
            log_checkpoints(log)
        return run_oneshot(Path(target), argv[2] if len(argv) > 2 else "oneshot")
    from nasforge.cli.main import main as cli

    return cli([mode, target, "--no-progress"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
