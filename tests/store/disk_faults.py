"""Small filesystems to break under a running study, and an evaluator that breaks them.

``tmpfs(path, size)`` mounts a tmpfs (full-disk tests); ``ext4(image, path)`` loop-mounts an
ext4 image with ``errors=remount-ro``, so :func:`make_read_only` can turn it read-only under
open files the way a failing disk does (``mount -o remount,ro`` refuses while a file is open for
writing, which a running study's ``study.db`` always is). Both need root and ``mount``; the
tests skip with the reason when either is missing.

:func:`fit` is a function evaluator (``evaluator: {name: function, path: "THIS_FILE:fit"}``)
that scores a toy architecture by :func:`~nasforge.testing.toys.toy_score` and, when
:data:`PLAN_ENV` holds a plan, fills the disk or makes it read-only at one trial, once: the
plan's marker file (outside the broken filesystem) records that it happened, so the trial's
re-run on resume evaluates normally.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasforge.testing.toys import ToySpace, toy_score

PLAN_ENV = "NASFORGE_TEST_DISK_FAULT"
FILLER = "filler.bin"
FIT_PATH = f"{Path(__file__).resolve()}:fit"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def mount_problem() -> str | None:
    """Why this process cannot mount a small filesystem, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "needs root to mount tmpfs: run the tests as root (CI does)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "needs root to mount tmpfs: the mount/umount tools are not installed"
    return None


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` for the block; unmounted after (lazily, so a
    file a failed test left open cannot keep it)."""
    path.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if done.returncode != 0:
        import pytest

        pytest.skip(f"needs root to mount tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def remount(path: Path, mode: str) -> None:
    """Remount ``path``'s tmpfs ``ro`` or ``rw`` (only while no file on it is open to write)."""
    done = _run("mount", "-o", f"remount,{mode}", str(path))
    if done.returncode != 0:
        raise RuntimeError(f"remount,{mode} {path}: {done.stderr.strip()}")


@contextlib.contextmanager
def ext4(image: Path, path: Path, size_mb: int = 16) -> Iterator[Path]:
    """An ext4 image loop-mounted on ``path`` with ``errors=remount-ro``."""
    import pytest

    for tool in ("mkfs.ext4", "e2fsck", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (e2fsprogs, util-linux) to make a disk turn read-only")
    with open(image, "wb") as out:
        out.truncate(size_mb * 2**20)
    made = _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    if made.returncode != 0:
        pytest.skip(f"mkfs.ext4 failed: {made.stderr.strip()}")
    path.mkdir(parents=True, exist_ok=True)
    mount_ext4(image, path)
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def mount_ext4(image: Path, path: Path) -> None:
    import pytest

    done = _run("mount", "-o", "loop,errors=remount-ro", str(image), str(path))
    if done.returncode != 0:
        pytest.skip(f"needs root and a loop device to mount an ext4 image: "
                    f"{done.stderr.strip()}")


def repair_ext4(image: Path, path: Path) -> None:
    """Unmount the (read-only) disk, check it with e2fsck and mount it read-write again: what an
    administrator does after a disk error."""
    done = _run("umount", str(path))
    if done.returncode != 0:
        raise RuntimeError(f"umount {path}: {done.stderr.strip()} (a file is still open)")
    fixed = _run("e2fsck", "-f", "-y", str(image))
    if fixed.returncode not in (0, 1):  # 1: errors corrected
        raise RuntimeError(f"e2fsck {image}: {fixed.stdout} {fixed.stderr}")
    mount_ext4(image, path)


def make_read_only(path: Path) -> None:
    """Make the ext4 disk on ``path`` read-only under its open files: raise an ext4 error, which
    ``errors=remount-ro`` answers by remounting it read-only (as a failing disk would)."""
    source = _run("findmnt", "-n", "-o", "SOURCE", "--target", str(path)).stdout.strip()
    trigger = Path("/sys/fs/ext4") / Path(source).name / "trigger_fs_error"
    trigger.write_text("nasforge test: read-only disk\n")
    try:  # the mount still shows "rw" (ext4 marks it emergency_ro): a write tells
        (path / "probe").write_text("x")
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return
        raise
    raise RuntimeError(f"{path} did not become read-only after writing {trigger}")


def fill(path: Path) -> Path:
    """Fill the filesystem holding ``path`` until a write fails with ENOSPC; returns the filler
    file (delete it to free the space)."""
    filler = path / FILLER
    with open(filler, "ab", buffering=0) as out:
        for chunk in (2**16, 2**12, 2**8, 1):
            block = b"\0" * chunk
            while True:
                try:
                    out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def plan(at: int, action: str, target: Path, marker: Path) -> str:
    """The :data:`PLAN_ENV` value for :func:`fit`: ``action`` (``fill`` or ``read-only``) on
    ``target``'s filesystem when trial ``at`` is evaluated, once (``marker`` records it)."""
    return json.dumps({"at": at, "action": action, "target": str(target),
                       "marker": str(marker)})


def fit(model: Any, task: Any, trial: Any) -> dict[str, float]:
    """A function evaluator: the toy score of the architecture, with the planned fault."""
    text = os.environ.get(PLAN_ENV)
    if text:
        todo = json.loads(text)
        marker = Path(todo["marker"])
        if trial.number == todo["at"] and not marker.exists():
            marker.write_text(str(trial.number))
            if todo["action"] == "fill":
                fill(Path(todo["target"]))
            else:
                make_read_only(Path(todo["target"]))
    space = ToySpace(n_decisions=len(trial.arch))
    return {"val_accuracy": 100.0 * toy_score(trial.arch, space)}
