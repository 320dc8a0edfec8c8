"""The 30-minute soak (bench/soak_bench.py), marked slow: CI skips it; ``-m slow`` runs it.
Pods and Events churn against a real server; RSS and the database must level off."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.mark.slow
def test_soak_levels_off() -> None:
    from soak_bench import main

    out = main(["--minutes", "30", "--pods", "100", "--round-interval", "1", "--event-ttl", "5m"])
    assert out["rss_last"] < 1.25 * out["rss_middle"], out
    assert out["db_last"] < 1.25 * out["db_middle"], out
