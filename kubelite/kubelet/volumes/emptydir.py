"""emptyDir volumes: a directory under the pod's dir; ``medium: Memory`` is a tmpfs mounted
there when the agent is root (its ``sizeLimit`` becomes the tmpfs size, so a container writing
more gets ENOSPC), otherwise a plain directory. Torn down with the pod."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from kubelite.machinery import quantity


def _mounted(path: Path) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == str(path) for line in f if len(line.split()) > 1)
    except OSError:
        return False


def setup(path: Path, source: Mapping[str, Any]) -> None:
    """Blocking: run in a thread."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)  # kubelet's emptyDir mode: any container user may write
    if source.get("medium") == "Memory" and os.geteuid() == 0 and not _mounted(path):
        opts = "mode=0777"
        if source.get("sizeLimit"):
            opts += f",size={quantity.to_int(str(source['sizeLimit']))}"
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True,
                       capture_output=True, timeout=10)


def teardown(path: Path) -> None:
    if _mounted(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)
