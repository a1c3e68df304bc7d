"""Serving the dashboard with uvicorn, on 127.0.0.1 unless told otherwise.

:class:`Dashboard` checks the port first, so a taken one is a clear error naming ``--port``
rather than uvicorn's log line, and it can run in a background thread (tests, notebooks) as
well as in the foreground (``nasforge dashboard``).
"""

from __future__ import annotations

import errno
import secrets
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from nasforge.errors import ConfigError, Problem
from nasforge.report.dashboard._app import create_app, study_token
from nasforge.report.dashboard._studies import Studies

DEFAULT_PORT = 8765
"""The port ``nasforge dashboard`` listens on unless ``--port`` says otherwise."""


def check_port(host: str, port: int) -> None:
    """Raise a ConfigError naming ``--port`` when ``host:port`` cannot be listened on."""
    if not 0 <= port <= 65535:
        raise ConfigError([Problem("--port", f"{port} is not a port number",
                                   "give a number from 1 to 65535, e.g. --port 8766")])
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError([Problem(
                "--port", f"port {port} on {host} is taken (another program, or another "
                "dashboard, listens on it)", f"pass a free one, e.g. --port {port + 1}",
            )]) from None
        raise ConfigError([Problem("--host", f"cannot listen on {host}:{port}: {exc}",
                                   "use --host 127.0.0.1 (the default)")]) from None
    finally:
        probe.close()


class Dashboard:
    """The dashboard for the studies under ``path``.

    Args:
        path: a study folder or a folder of studies.
        host: the address to listen on; 127.0.0.1 (this machine only) by default.
        port: the port; 0 picks a free one (see :attr:`url` once started).
        token: the master secret (random by default); printed by ``nasforge dashboard``. It
            steers nothing itself: each study has its own token, :meth:`token_for`, which the
            page gets with it from ``GET /api/studies/NAME/token``.

    Example:
        >>> with Dashboard("runs/demo", port=0) as board:     # doctest: +SKIP
        ...     print(board.url, board.token, board.token_for("demo"))
    """

    def __init__(self, path: str | Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 token: str | None = None) -> None:
        self.studies = Studies(Path(path))
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.app = create_app(self.studies, self.token)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def token_for(self, name: str) -> str:
        """The token that steers study ``name`` (and no other): ``study_token(token, name)``."""
        return study_token(self.token, name)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _make_server(self) -> Any:
        import uvicorn

        if self.port != 0:
            check_port(self.host, self.port)
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off")
        return uvicorn.Server(config)

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        self._server = self._make_server()
        try:
            self._server.run()
        finally:
            self.studies.close()

    def start(self, timeout_s: float = 20.0) -> Dashboard:
        """Serve in a background thread; returns once the server listens."""
        self._server = server = self._make_server()
        self._thread = threading.Thread(target=server.run, name="nasforge-dashboard",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {self.url}")
            time.sleep(0.02)
        if self.port == 0:  # the port the OS chose
            self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start` and close the stores."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.studies.close()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
