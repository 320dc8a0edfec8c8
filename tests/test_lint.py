"""ruff's pyflakes checks over the whole tree (unused imports, undefined names)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed with the test extras")
def test_ruff_clean() -> None:
    res = subprocess.run(["ruff", "check", "kubelite", "tests", "bench", "tools"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
