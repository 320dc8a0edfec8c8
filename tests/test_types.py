"""mypy over the packages that type-check cleanly, so they stay that way (widen the list as
more pass: a new subpackage joins it once it type-checks)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["machinery", "storage", "client", "controllers", "scheduler", "cli", "sim", "api", "kubelet", "server", "apiserver"]


def test_mypy_passes_on_the_typed_packages() -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extras: pip install '.[test]'")
    cmd = [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
           "--cache-dir", str(ROOT / ".mypy_cache"), *(a for p in PACKAGES for a in ("-p", f"kubelite.{p}"))]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
