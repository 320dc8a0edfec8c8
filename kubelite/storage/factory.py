"""Chooses and builds the storage backend from the ``--datastore-endpoint`` style setting.

Called by the server bundle at start-up; returns an unstarted ``Storage`` (the caller awaits
``start()``). Endpoints:
- ``None`` or ``""``: the embedded SQLite store at ``DATA_DIR/db/state.db``;
- ``sqlite:///abs/path.db``: SQLite at that absolute path;
- ``http(s)://...`` / ``etcd://...``: etcd, not available yet.
"""
from __future__ import annotations

import os

from kubelite.storage.interface import Storage, StorageError
from kubelite.storage.sqlite import SQLiteStorage

SQLITE_SCHEME = "sqlite://"


def open_storage(endpoint: str | None, data_dir: str) -> Storage:
    if not endpoint:
        return SQLiteStorage(os.path.join(data_dir, "db", "state.db"))
    if endpoint.startswith(SQLITE_SCHEME):
        path = endpoint[len(SQLITE_SCHEME):].split("?", 1)[0]
        if not path.startswith("/") or path == "/":
            raise StorageError(
                f"sqlite endpoint needs an absolute file path (sqlite:///abs/path.db), got {endpoint!r}")
        return SQLiteStorage(path)
    scheme = endpoint.split("://", 1)[0].lower() if "://" in endpoint else ""
    if scheme in ("http", "https", "etcd", "etcds"):
        raise StorageError("etcd backend not available yet")
    raise StorageError(
        f"unsupported datastore endpoint {endpoint!r}: use sqlite:///path.db or leave it empty")
