"""`CachedProxy` (``cached`` in PROXIES): any proxy's scores kept on disk, shared across searches.

A proxy computed on a network costs a fraction of a second per architecture, but a benchmark of
100 seeds (or a team running many studies on one space) scores the same architectures again and
again. ``{name: cached, proxy: {name: synflow}, path: scores.db}`` wraps the inner proxy: a
score is computed once, stored in a SQLite file (WAL mode, so several processes share it) and
read back afterwards. Keys are the exact architecture (not its canonical form: isomorphic NB201
cells score slightly differently, their dead edges keep their own weights) within a namespace of
the inner proxy's parameters, the space's and the bound task's, so one file can hold scores of
several settings without mixing them.

Strategies still count a cached score as one proxy score: the cache saves time, not budget.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.proxy.base import PROXIES, Proxy

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task

_SCHEMA = ("CREATE TABLE IF NOT EXISTS scores (namespace TEXT NOT NULL, arch TEXT NOT NULL, "
           "score REAL NOT NULL, PRIMARY KEY (namespace, arch)) WITHOUT ROWID")


def _fingerprint(component: Any) -> dict[str, Any]:
    params = component.get_params() if hasattr(component, "get_params") else {}
    return {"name": getattr(component, "name", type(component).__name__), "params": params}


@PROXIES.register("cached")
class CachedProxy(Proxy):
    """Another proxy's scores, computed once per architecture and kept in a SQLite file.

    Args:
        proxy: the inner proxy, ``{name: ..., **params}`` (e.g. ``{name: synflow}``).
        path: the cache file; created (with its folder) on first use.

    Example:
        >>> import tempfile, os
        >>> from nasforge.space import NB201Space, nb201_to_arch
        >>> path = os.path.join(tempfile.mkdtemp(), "scores.db")
        >>> proxy = CachedProxy(proxy={"name": "params", "task": "digits"}, path=path)
        >>> space = NB201Space(dims=1, channels=4, cells_per_stage=1)
        >>> arch = nb201_to_arch("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")
        >>> proxy.score(arch, space) == CachedProxy(proxy={"name": "params", "task": "digits"},
        ...                                         path=path).score(arch, space)
        True
    """

    def __init__(self, *, proxy: dict[str, Any], path: str) -> None:
        if not isinstance(path, str) or not path:
            raise ConfigError([Problem("proxy.path", f"expected a file path; got {path!r}",
                                       "e.g. path: runs/synflow_scores.db")])
        if not isinstance(proxy, Mapping) or not isinstance(proxy.get("name"), str):
            raise ConfigError([Problem("proxy.proxy", f"expected a mapping with a 'name' key; "
                                       f"got {proxy!r}", "e.g. proxy: {name: synflow}; "
                                       f"proxies: {', '.join(PROXIES.names())}")])
        if proxy["name"] == "cached":
            raise ConfigError([Problem("proxy.proxy", "a cached proxy cannot wrap another one",
                                       "name the proxy to compute, e.g. {name: synflow}")])
        self.proxy = proxy
        self.path = path
        self._inner = PROXIES.create(proxy["name"], {k: v for k, v in proxy.items()
                                                     if k != "name"}, field="proxy.proxy")
        self._task: Task | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.n_computed = 0
        """How many scores this object computed (the rest were read from the cache)."""

    @property
    def metric_name(self) -> str:
        return self._inner.metric_name

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_conn"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def bind(self, task: Task) -> None:
        self._task = task
        self._inner.bind(task)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            target = Path(self.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.commit()
            self._conn = conn
        return self._conn

    def namespace(self, space: SearchSpace) -> str:
        """The key of the setting a score belongs to: the inner proxy, the space, the task."""
        task = None if self._task is None else _fingerprint(self._task)
        return json.dumps({"proxy": _fingerprint(self._inner), "space": _fingerprint(space),
                           "task": task}, sort_keys=True, default=str)

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        """The inner proxy's score of ``arch``: read from the cache, else computed and stored."""
        namespace, key = self.namespace(space), str(arch)
        with self._lock:
            conn = self._connection()
            row = conn.execute("SELECT score FROM scores WHERE namespace=? AND arch=?",
                               (namespace, key)).fetchone()
        if row is not None:
            return float(row[0])
        value = float(self._inner.score(arch, space))
        if value != value:  # NaN: stored as -inf, as strategies rank it
            value = float("-inf")
        with self._lock:
            conn = self._connection()
            with conn:
                conn.execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?)",
                             (namespace, key, value))
        self.n_computed += 1
        return value

    def close(self) -> None:
        """Close the cache file (it is reopened on the next score)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
