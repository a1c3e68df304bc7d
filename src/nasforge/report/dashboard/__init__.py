"""The live dashboard: studies shown from their stores while they run, and steered.

``nasforge dashboard STUDY_DIR|ROOT`` (or :class:`Dashboard` in Python) serves one page and a
JSON API on 127.0.0.1. It reads the stores read-only through WAL, never locking a running study,
and writes only steering events. It prints a master token at start-up; each study is steered
with its own token, :func:`study_token` (an HMAC of its name under the master), so a request
captured for one study cannot be replayed to another. The HTTP API:

- ``GET /api/studies``: every study's summary (status, progress, budget, best trial); it runs no
  study's user code, so a best architecture whose space is user code not imported yet is given
  in stored form;
- ``GET /api/studies/NAME``: one study's summary with its trajectory, front, recent trials and
  events (this, like the two below, imports NAME's user code to print its architectures);
- ``GET /api/studies/NAME/trials`` (``?limit=N``): its trials, newest first;
- ``GET /api/studies/NAME/events``: its steering events;
- ``GET /api/studies/NAME/token`` with ``Authorization: Bearer MASTER``: ``{"token": ...}``,
  the study's own token (401 without a token, 403 with any other; never cached);
- ``POST /api/studies/NAME/events`` with ``Authorization: Bearer STUDY_TOKEN`` and a JSON event
  such as ``{"kind": "stop"}`` or ``{"kind": "forbid", "op": "avg_pool_3x3"}`` (see
  :mod:`nasforge.run.steering`): 401 without a token, 403 with the master, another study's
  token or a wrong one.

Needs the ``dashboard`` extra (FastAPI and uvicorn), imported when a dashboard is made.
"""

from __future__ import annotations

from nasforge.report.dashboard._app import study_token
from nasforge.report.dashboard._serve import DEFAULT_PORT, Dashboard, check_port
from nasforge.report.dashboard._studies import Studies, study_dbs

__all__ = ["DEFAULT_PORT", "Dashboard", "Studies", "check_port", "study_dbs", "study_token"]
