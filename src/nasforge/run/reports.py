"""The driver's end of the report channel: workers ask, a thread of the study's process answers.

Every evaluation gets a :class:`~nasforge.evaluate.reporting.ChannelReporter` holding the
address and key of the :class:`ReportServer`'s listener (an AF_UNIX socket in a private
temporary folder, with a random ``authkey``). A thread accepts connections (one per worker
process, kept for the whole session) and one thread per connection answers its requests by
calling the study's handler, which stores the values and asks the pruner. Workers never write to
the store themselves, so the in-memory store works with the process pool, and an inline
evaluation uses the very same path.

A handler error is sent back as ``("error", message)``, and the reporter raises it in the
evaluation, which fails that trial with the message; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Client, Connection, Listener

from nasforge.evaluate.reporting import ChannelReporter

log = logging.getLogger(__name__)

Handler = Callable[[int, int, Mapping[str, float]], bool]
"""``handler(number, step, values) -> prune``: store a report and say whether to prune."""


class ReportServer:
    """Serves report requests of running evaluations until :meth:`close`.

    Args:
        handler: called (from a server thread) for each report; returns whether to prune.
            Exceptions it raises are sent back to the reporting evaluation.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._folder = tempfile.mkdtemp(prefix="nasforge-reports-")
        os.chmod(self._folder, 0o700)
        self.address = os.path.join(self._folder, "socket")
        self._authkey = secrets.token_bytes(32)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self._authkey)
        self._closed = False
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(
            target=self._accept, name="nasforge-report-server", daemon=True
        )
        self._acceptor.start()

    def reporter(self, number: int) -> ChannelReporter:
        """A picklable reporter for Trial#``number``."""
        return ChannelReporter(self.address, self._authkey, number)

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError) as exc:
                if self._closed:
                    return
                log.debug("a report connection failed to open: %s", exc)
                continue
            except Exception as exc:  # e.g. a wrong authkey (AuthenticationError)
                log.warning("refused a report connection: %s", exc)
                continue
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._connections.append(conn)
                thread = threading.Thread(
                    target=self._serve, args=(conn,), name="nasforge-report-conn", daemon=True
                )
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            try:
                kind, number, step, values = message
                if kind != "report":
                    raise ValueError(f"unknown request {kind!r}")
                answer: tuple[object, ...] = ("ok", bool(self._handler(number, step, values)))
            except Exception as exc:
                answer = ("error", str(exc) or type(exc).__name__)
            try:
                conn.send(answer)
            except (EOFError, OSError):
                return

    def close(self) -> None:
        """Stop serving: close the listener and every connection, and remove the socket."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        # accept() does not return when its socket is closed under it: wake it with a client.
        with contextlib.suppress(Exception):
            Client(self.address, family="AF_UNIX", authkey=self._authkey).close()
        self._listener.close()
        self._acceptor.join(5)
        for conn in connections:
            _hang_up(conn)
        for thread in self._threads:
            thread.join(5)
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> ReportServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _hang_up(conn: Connection) -> None:
    """Shut the socket down, so a thread blocked in ``recv`` on it returns, then close it."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)
    conn.close()
