"""One process per study: an exclusive OS file lock on ``STUDY_DIR/.lock``.

The lock is a :class:`filelock.FileLock`, which uses ``flock`` on Linux and macOS and
``msvcrt.locking`` on Windows. Both are released by the operating system when the holding process
dies, even by SIGKILL, so a killed study can be resumed at once while a live one cannot be run
twice. The holder writes its pid to the side file ``STUDY_DIR/.lock.pid`` so that a refused
process can say who holds the lock (the lock file itself stays empty: on Windows a locked file
cannot be read by others).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from nasforge.errors import StudyLockedError

LOCK_NAME = ".lock"
PID_NAME = ".lock.pid"


class StudyLock:
    """Hold the study lock for the lifetime of a ``with`` block.

    Two :class:`StudyLock` objects on the same folder exclude each other, also within one process.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d, StudyLock(d):
        ...     StudyLock(d).acquire()
        Traceback (most recent call last):
        nasforge.errors.StudyLockedError: the study in ... is already running (pid ...); ...
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.pid_path = self.directory / PID_NAME
        self._lock = FileLock(self.path, thread_local=False)

    def holder(self) -> str:
        """The pid recorded by the current holder, or ``"another process"`` if unknown."""
        try:
            return self.pid_path.read_text().strip() or "another process"
        except OSError:
            return "another process"

    def acquire(self) -> None:
        """Take the lock now, or raise :class:`StudyLockedError` naming the holding pid."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise StudyLockedError(
                f"the study in {self.directory} is already running (pid {self.holder()}); wait "
                "for it to finish or stop it before running, resuming or deleting it"
            ) from None
        self.pid_path.write_text(str(os.getpid()))

    def release(self) -> None:
        if self._lock.is_locked:
            try:
                self.pid_path.unlink(missing_ok=True)
            except OSError:  # the folder became read-only: a stale pid file is harmless, the
                pass  # next holder overwrites it; the lock itself must still be let go
            finally:
                self._lock.release()

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
