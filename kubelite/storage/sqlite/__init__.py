"""The embedded SQLite backend of the store (kine's design in-process); see store.py.

Built by ``kubelite.storage.factory.open_storage``; the API server only sees the Storage protocol.
"""
from kubelite.storage.sqlite.store import SQLiteStorage
from kubelite.storage.sqlite.watch import SQLiteWatcher, WatchOverflow

__all__ = ["SQLiteStorage", "SQLiteWatcher", "WatchOverflow"]
