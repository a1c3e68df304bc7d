"""Small stored studies for the dashboard tests (NB201 cells on the dummy table)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Result

EVIL = "<script>window.hacked=1</script>"


def make_study(root: Path, table: Path, name: str, trials: int = 6, run: bool = True,
               **extra: object) -> Study:
    study = Study.create(parse_spec({
        "name": name, "root": str(root), "space": {"name": "nb201", "dims": 2},
        "strategy": "random", "evaluator": {"name": "nb201_table", "path": str(table)},
        "executor": "inline", "budget": {"trials": trials}, "export_best": False, **extra,
    }))
    return study.run() if run else study


def evil_study(root: Path, table: Path) -> str:
    """A study whose name (set in the store, as another writer could) and whose failed trial's
    error message hold a script; returns the name."""
    study = make_study(root, table, "evil", trials=1)
    sid = study.record.id
    study.store.create_trial(sid, 1, study.trials()[0].candidate, asked_after=1)
    study.store.finish_trial(sid, 1, Result.failed(f"boom {EVIL}"))
    study.close()
    with sqlite3.connect(root / "evil" / "study.db") as conn:
        conn.execute("UPDATE studies SET name=?", (EVIL,))
    return EVIL
