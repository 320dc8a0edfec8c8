"""The store: an etcd-shaped key-value interface and its backends (SQLite, etcd).

Only ``kubelite.apiserver`` imports this package.
"""
from kubelite.storage.interface import (
    Compacted,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    Storage,
    StorageError,
    WatchEvent,
    Watcher,
)

__all__ = [
    "Compacted", "KeyExists", "KeyNotFound", "KeyValue", "ListResult", "RevisionMismatch",
    "Storage", "StorageError", "WatchEvent", "Watcher",
]
