"""File modes of the server's state on disk, as k3s keeps them: nobody but the owner reads it.

The data dir and its ``tls``/``db`` subdirectories are 0700; private keys, the admin
kubeconfig, the encryption configuration and the database with its ``-wal``/``-shm`` (where a
Secret's bytes land first) are 0600. ``secure_state`` runs at every start, before storage opens
and again once the server is up, so an install made by an older kubelite with 0755/0644 modes
is tightened in place. ``prepare_database`` creates an empty database file 0600 before SQLite
opens it: SQLite gives the WAL and shared-memory files the mode of the database file, so they
are never world-readable, not even for the first write. Blocking file calls: run at start-up,
before the event loop serves anything, or in a thread.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
#: subdirectories holding secrets (the node agent's own root keeps its modes)
PRIVATE_DIRS = ("tls", "db", "cred")
PRIVATE_SUFFIXES = (".key", ".db", ".db-wal", ".db-shm", ".db.lock", ".yaml", ".json")


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)


def prepare_database(db_path: str | os.PathLike[str]) -> None:
    """An empty 0600 database file (and 0700 directory) before SQLite first opens it."""
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for suffix in ("", "-wal", "-shm", ".lock"):
        _chmod(Path(str(path) + suffix), FILE_MODE)


def secure_state(data_dir: Path, *extra_files: Path | None) -> None:
    """Tighten the data dir: 0700 dirs, 0600 keys, databases, configs; ``extra_files`` (the
    kubeconfig when written elsewhere) 0600."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _chmod(data_dir, DIR_MODE)
    for name in PRIVATE_DIRS:
        sub = data_dir / name
        if sub.is_dir():
            _chmod(sub, DIR_MODE)
            for f in sub.iterdir():
                if f.is_file() and (f.name.endswith(PRIVATE_SUFFIXES) or name != "tls"):
                    _chmod(f, FILE_MODE)
    for f in data_dir.iterdir():
        if f.is_file() and f.name.endswith(PRIVATE_SUFFIXES):
            _chmod(f, FILE_MODE)
    for extra in extra_files:
        if extra is not None and extra.is_file():
            _chmod(extra, FILE_MODE)
