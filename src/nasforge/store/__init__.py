"""Trial stores: every study and trial, written as it happens."""

from nasforge.store.base import Event, Store, StudyRecord
from nasforge.store.sqlite import SQLiteStore, StoreError

__all__ = ["Event", "SQLiteStore", "Store", "StoreError", "StudyRecord"]
