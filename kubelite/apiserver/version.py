"""What ``/version`` says about this build: kube-apiserver's fields, filled honestly.

Kubernetes stamps ``gitCommit``, ``gitTreeState`` and ``buildDate`` in at build time and leaves
them at their unset values otherwise (``""``, ``""``, ``1970-01-01T00:00:00Z``). kubelite is not
compiled: run from a git checkout, the commit is HEAD, the tree state is ``clean`` or
``dirty`` and the build date is the commit's date; installed without git (a wheel), the unset
values stand. Read once (``load``, from a thread: it runs git), served from memory after.
"""
from __future__ import annotations

import datetime as dt
import platform
import subprocess
from pathlib import Path

import kubelite

UNSET_DATE = "1970-01-01T00:00:00Z"
_build: dict[str, str] = {"gitCommit": "", "gitTreeState": "", "buildDate": UNSET_DATE}


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def load() -> None:
    """Fill the build fields from git when kubelite runs from a checkout (blocking: git)."""
    root = Path(kubelite.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "kubelite")
    stamp = _git(root, "show", "-s", "--format=%ct", "HEAD")
    _build["gitCommit"] = commit.strip()
    _build["gitTreeState"] = "" if status is None else ("dirty" if status.strip() else "clean")
    if stamp and stamp.strip().isdigit():
        when = dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc)
        _build["buildDate"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")


def version_info() -> dict[str, str]:
    v = kubelite.KUBERNETES_VERSION
    major, minor = v.lstrip("v").split(".")[:2]
    return {
        "major": major, "minor": minor, "gitVersion": f"{v}+kubelite",
        **_build,
        "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }
