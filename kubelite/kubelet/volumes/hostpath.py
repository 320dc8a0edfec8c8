"""hostPath volumes: a path of the node, checked (or created) by ``type`` as the kubelet does:
"" (no check), DirectoryOrCreate (mkdir 0755), Directory, FileOrCreate (empty file 0644),
File, Socket, CharDevice, BlockDevice."""
from __future__ import annotations

import os
import stat
from pathlib import Path


class HostPathError(Exception):
    pass


def check(path: str, kind: str) -> str:
    """Blocking: run in a thread. Returns the path; raises ``HostPathError`` with the kubelet's
    message when the type check fails."""
    p = Path(path)
    if kind == "DirectoryOrCreate":
        if not p.exists():
            p.mkdir(mode=0o755, parents=True)
        elif not p.is_dir():
            raise HostPathError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "FileOrCreate":
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch(mode=0o644)
        elif not p.is_file():
            raise HostPathError(f"hostPath type check failed: {path} is not a file")
    elif kind in ("Directory", "File", "Socket", "CharDevice", "BlockDevice"):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise HostPathError(f"hostPath type check failed: {path} is not a "
                                f"{'directory' if kind == 'Directory' else kind.lower()}") from None
        ok = {"Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
              "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}[kind](mode)
        if not ok:
            what = {"Directory": "directory", "File": "file", "Socket": "socket",
                    "CharDevice": "character device", "BlockDevice": "block device"}[kind]
            raise HostPathError(f"hostPath type check failed: {path} is not a {what}")
    return path
