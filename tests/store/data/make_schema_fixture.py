"""Make ``schema_<N>.db``: a small finished study (5 trials and a steering event) stored by the
current nasforge, checked in so that ``tests/store/test_schema_fixture.py`` can prove every later
nasforge still opens it.

Run once per new :data:`nasforge.store.sqlite.SCHEMA_VERSION`, *before* changing the schema
(keep the older files): ``.venv/bin/python tests/store/data/make_schema_fixture.py``. It writes
the store and ``schema_<N>.json``, what a reader must find in it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import nasforge.testing.toys  # noqa: F401  (registers the toy space, evaluator and task)
from nasforge.run.spec import parse_spec
from nasforge.run.study import DB_NAME, Study
from nasforge.store.sqlite import SCHEMA_VERSION, SQLiteStore

HERE = Path(__file__).resolve().parent
SPEC = {
    "name": "fixture", "seed": 11, "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": "random", "evaluator": "toy", "executor": "inline",
    "budget": {"trials": 5}, "export_best": False,
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Study.create(parse_spec({**SPEC, "root": tmp})).run().close()
        db = Path(tmp) / "fixture" / DB_NAME
        store = SQLiteStore(db)
        (record,) = store.studies()
        store.add_event(record.id, "stop", {})
        store.close()
        with sqlite3.connect(db) as conn:  # fold the WAL in: one self-contained file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        target = HERE / f"schema_{SCHEMA_VERSION}.db"
        shutil.copyfile(db, target)
        expected = expected_contents(target)
    (HERE / f"schema_{SCHEMA_VERSION}.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {target} ({target.stat().st_size} bytes)")


def expected_contents(db: Path) -> dict[str, object]:
    """What a reader finds in ``db``: the study, its trials, curves and events (JSON-able)."""
    store = SQLiteStore(db, read_only=True)
    try:
        (record,) = store.studies()
        trials = [{"number": t.number, "state": str(t.state),
                   "arch": t.candidate.arch.to_dict(),
                   "metrics": dict(t.result.metrics) if t.result else None}
                  for t in store.trials(record.id)]
        curves = [[p.trial, p.step, p.metric, p.value] for p in store.curves(record.id)]
        events = [[str(e.kind), dict(e.payload)] for e in store.events(record.id)]
        return {"schema_version": store.schema_version, "study": record.name,
                "seed": record.seed, "trials": trials, "curves": curves, "events": events}
    finally:
        store.close()


if __name__ == "__main__":
    main()
