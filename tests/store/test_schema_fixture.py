"""Store files written by earlier releases keep opening: every checked-in ``data/schema_<N>.db``
(made by ``data/make_schema_fixture.py``) is upgraded by the current nasforge with every trial,
result and event kept, and a SCHEMA_VERSION bump without a migration fails here."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from nasforge.store.sqlite import _MIGRATIONS, SCHEMA_VERSION, SQLiteStore

DATA = Path(__file__).resolve().parent / "data"
FIXTURES = sorted(DATA.glob("schema_*.db"))
sys.path.insert(0, str(DATA))
from make_schema_fixture import expected_contents  # noqa: E402


def _version(path: Path) -> int:
    match = re.fullmatch(r"schema_(\d+)\.db", path.name)
    assert match, path
    return int(match.group(1))


def test_the_current_schema_has_a_checked_in_fixture() -> None:
    # a schema bump must keep the old file and add one of the new version (run the maker first)
    assert SCHEMA_VERSION in [_version(p) for p in FIXTURES], (
        f"no tests/store/data/schema_{SCHEMA_VERSION}.db: run "
        "tests/store/data/make_schema_fixture.py before changing the schema")


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_version_has_a_migration_chain_to_the_current_one(fixture: Path) -> None:
    missing = [v for v in range(_version(fixture), SCHEMA_VERSION) if v not in _MIGRATIONS]
    assert not missing, f"SCHEMA_VERSION {SCHEMA_VERSION} has no migration from {missing}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_a_checked_in_store_opens_upgrades_and_keeps_everything(
    fixture: Path, tmp_path: Path
) -> None:
    expected = json.loads(fixture.with_suffix(".json").read_text())
    with sqlite3.connect(fixture) as conn:  # the file is what its name says
        (stored,) = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert int(stored) == expected["schema_version"] == _version(fixture)
    copy = tmp_path / "study.db"
    shutil.copyfile(fixture, copy)
    store = SQLiteStore(copy)  # opening for writing upgrades an older file in place
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    found = expected_contents(copy)
    assert found == {**expected, "schema_version": SCHEMA_VERSION}
    assert len(found["trials"]) == 5 and found["events"]  # type: ignore[arg-type]
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_comparison_can_fail(tmp_path: Path) -> None:
    # the check above compares real contents: a trial lost in the file is seen
    copy = tmp_path / "study.db"
    shutil.copyfile(DATA / f"schema_{SCHEMA_VERSION}.db", copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM trials WHERE number = 4")
    expected = json.loads((DATA / f"schema_{SCHEMA_VERSION}.json").read_text())
    assert expected_contents(copy) != expected
