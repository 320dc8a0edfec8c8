"""The kubelet's AtomicWriter: a directory of projected files (configMap, secret, downwardAPI,
projected volumes) that a running container sees change all at once.

Layout, as kubelet writes it (``pkg/volume/util/atomic_writer.go``)::

    <dir>/..2026_01_01_00_00_00.123456789/<path>   the files of one version
    <dir>/..data -> ..2026_01_01_...                symlink swapped atomically (rename)
    <dir>/<top-level name> -> ..data/<top-level name>

A new version is written beside the old one, ``..data_tmp`` is pointed at it and renamed over
``..data`` (rename is atomic), then stale top-level links and the old version are removed. An
unchanged payload writes nothing. Blocking file I/O: callers run ``write`` in a thread.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Mapping

#: path inside the volume -> (content, file mode)
Payload = Mapping[str, tuple[bytes, int]]


def _current(target: Path) -> dict[str, tuple[bytes, int]]:
    data = target / "..data"
    out: dict[str, tuple[bytes, int]] = {}
    if not data.is_symlink():
        return out
    root = target / os.readlink(data)
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


def write(target: Path, payload: Payload) -> bool:
    """Make ``target`` hold exactly ``payload``; True if anything changed."""
    for rel in payload:
        if rel.startswith("/") or ".." in Path(rel).parts or rel.startswith(".."):
            raise ValueError(f"invalid path {rel!r}: must be relative and may not contain '..'")
    target.mkdir(parents=True, exist_ok=True)
    if _current(target) == {k: (v[0], v[1]) for k, v in payload.items()}:
        return False
    stamp = dt.datetime.now(dt.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    version = target / stamp
    n = 0
    while version.exists():
        n += 1
        version = target / f"{stamp}{n}"
    version.mkdir(mode=0o755)
    for rel, (content, mode) in payload.items():
        p = version / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        os.chmod(p, mode)
    old = os.readlink(target / "..data") if (target / "..data").is_symlink() else None
    tmp = target / "..data_tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(version.name, tmp)
    os.rename(tmp, target / "..data")
    tops = {Path(rel).parts[0] for rel in payload}
    for entry in os.listdir(target):
        if entry.startswith(".."):
            continue
        p = target / entry
        if entry not in tops and p.is_symlink():
            p.unlink()
    for top in tops:
        p = target / top
        if not p.is_symlink():
            os.symlink(f"..data/{top}", p)
    if old and old != version.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
