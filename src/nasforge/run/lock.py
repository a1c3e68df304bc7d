"""One process per study: an exclusive ``flock`` on ``STUDY_DIR/.lock``.

The kernel drops the lock when its process dies, even by SIGKILL, so a killed study can be resumed
at once while a live one cannot be run twice.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from nasforge.errors import StudyLockedError


class StudyLock:
    """Hold the study lock for the lifetime of a ``with`` block."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StudyLockedError(
                f"the study in {self.path.parent} is already running (pid {holder}); wait for it "
                "to finish or stop it before running or resuming it again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
