"""``nasforge delete``: remove a study folder, after asking, unless the study is running."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.console import Console

from nasforge.cli.main import app, format_number, user_errors


def _size(directory: Path) -> str:
    total = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    if total >= 1e6:
        return f"{format_number(total / 1e6)} MB"
    return f"{format_number(total / 1e3)} kB"


def _describe(directory: Path, db: Path) -> str:
    """``study 'toy' (8 trials, 1.2 MB)``; just the size when the store cannot be read."""
    from nasforge.store.sqlite import SQLiteStore, StoreError

    size = _size(directory)
    try:
        store = SQLiteStore(db)
    except StoreError:
        return f"{directory} ({size}; its study.db cannot be read)"
    try:
        studies = store.studies()
        n_trials = sum(len(store.trials(s.id)) for s in studies)
        names = ", ".join(repr(s.name) for s in studies) or "(empty)"
    finally:
        store.close()
    return f"study {names} in {directory} ({format_number(n_trials)} trials, {size})"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@app.command(epilog="Example: nasforge delete runs/demo --yes")
@user_errors
def delete(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
) -> None:
    """Delete a study folder: its store, checkpoints, exports and report.

    Asks first unless --yes. Refuses a folder that holds no study.db, and a study that is
    running (its lock is held).
    """
    from nasforge.errors import StudyNotFoundError
    from nasforge.run.lock import LOCK_NAME, PID_NAME, StudyLock
    from nasforge.run.study import DB_NAME

    db = study_dir / DB_NAME
    if not db.is_file():
        raise StudyNotFoundError(
            f"no study in {study_dir} (expected {db}), so nothing was deleted; `nasforge ls` "
            "lists the studies under a folder"
        )
    console = Console()
    # Held while asking and deleting, so the study cannot be started or resumed meanwhile.
    with StudyLock(study_dir):
        what = _describe(study_dir, db)
        if not yes and not typer.confirm(f"Delete {what}?", default=False):
            console.print("nothing deleted")
            raise typer.Exit(1)
        # The store goes last, so an interrupted delete leaves a folder `delete` still accepts;
        # the lock files go after the lock is released (Windows cannot delete a locked file).
        keep = {LOCK_NAME, PID_NAME, DB_NAME}
        for child in sorted(study_dir.iterdir()):
            if child.name not in keep and not child.name.startswith(f"{DB_NAME}-"):
                _remove(child)
        for child in sorted(study_dir.glob(f"{DB_NAME}*")):
            _remove(child)
    shutil.rmtree(study_dir)
    console.print(f"deleted {study_dir}")
