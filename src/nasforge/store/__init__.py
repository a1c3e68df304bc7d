"""Trial stores: every study and trial, written as it happens."""

from nasforge.store.base import CurvePoint, Event, EventKind, Store, StudyRecord
from nasforge.store.memory import InMemoryStore
from nasforge.store.sqlite import SQLiteStore, StoreError

__all__ = [
    "CurvePoint",
    "Event",
    "EventKind",
    "InMemoryStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StudyRecord",
]
