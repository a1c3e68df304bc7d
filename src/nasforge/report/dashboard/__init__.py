"""The live dashboard: studies shown from their stores while they run, and steered.

``nasforge dashboard STUDY_DIR|ROOT`` (or :class:`Dashboard` in Python) serves one page and a
JSON API on 127.0.0.1. It reads the stores read-only through WAL, never locking a running study,
and writes only steering events, with the token printed at start-up. The HTTP API:

- ``GET /api/studies``: every study's summary (status, progress, budget, best trial);
- ``GET /api/studies/NAME``: one study's summary with its trajectory, front, recent trials and
  events;
- ``GET /api/studies/NAME/trials`` (``?limit=N``): its trials, newest first;
- ``GET /api/studies/NAME/events``: its steering events;
- ``POST /api/studies/NAME/events`` with ``Authorization: Bearer TOKEN`` and a JSON event such
  as ``{"kind": "stop"}`` or ``{"kind": "forbid", "op": "avg_pool_3x3"}`` (see
  :mod:`nasforge.run.steering`).

Needs the ``dashboard`` extra (FastAPI and uvicorn), imported when a dashboard is made.
"""

from __future__ import annotations

from nasforge.report.dashboard._serve import DEFAULT_PORT, Dashboard, check_port
from nasforge.report.dashboard._studies import Studies, study_dbs

__all__ = ["DEFAULT_PORT", "Dashboard", "Studies", "check_port", "study_dbs"]
