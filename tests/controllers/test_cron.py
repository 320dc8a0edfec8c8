"""Cron schedule arithmetic for the CronJob controller: table-driven cases and properties."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.controllers import cron
from kubelite.controllers.cronjob import (
    history_to_delete,
    job_from_template,
    next_schedule,
)

UTC = dt.UTC


def t(*a):
    return dt.datetime(*a, tzinfo=UTC)


@pytest.mark.parametrize("spec,after,want", [
    ("*/15 * * * *", t(2025, 1, 1, 10, 7), t(2025, 1, 1, 10, 15)),
    ("*/15 * * * *", t(2025, 1, 1, 10, 15), t(2025, 1, 1, 10, 30)),  # strictly after
    ("0 9 * * mon-fri", t(2025, 1, 3, 9, 0), t(2025, 1, 6, 9, 0)),  # Friday -> Monday
    ("30 2 1 * *", t(2025, 1, 15), t(2025, 2, 1, 2, 30)),
    ("0 0 29 2 *", t(2025, 3, 1), t(2028, 2, 29, 0, 0)),  # leap day
    ("@hourly", t(2025, 1, 1, 10, 0, 30), t(2025, 1, 1, 11, 0)),
    ("@daily", t(2025, 1, 1, 10), t(2025, 1, 2)),
    ("@weekly", t(2025, 1, 1), t(2025, 1, 5)),  # Sunday
    ("@monthly", t(2025, 1, 31), t(2025, 2, 1)),
    ("@yearly", t(2025, 6, 1), t(2026, 1, 1)),
    ("0 12 1 * mon", t(2025, 1, 1, 13), t(2025, 1, 6, 12)),  # day-of-month OR day-of-week
    ("5,35 1-3 * jan,jul *", t(2025, 1, 31, 3, 36), t(2025, 7, 1, 1, 5)),
    ("@every 90s", t(2025, 1, 1, 0, 0, 0), t(2025, 1, 1, 0, 1, 30)),
])
def test_next_after(spec, after, want):
    assert cron.parse(spec).next_after(after) == want


def test_time_zones_and_prefix():
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    s = cron.parse("0 9 * * *", "Europe/Paris")
    assert s.next_after(t(2025, 1, 1)) == t(2025, 1, 1, 8)
    assert s.next_after(t(2025, 7, 1)) == t(2025, 7, 1, 7)
    assert cron.parse("CRON_TZ=Asia/Tokyo 0 9 * * *").next_after(t(2024, 12, 31, 12)) == t(2025, 1, 1, 0)
    # DST spring-forward: 02:30 does not exist in New York on 2025-03-09; no time goes backwards.
    ny = cron.parse("30 2 * * *", "America/New_York")
    n1 = ny.next_after(t(2025, 3, 8, 12))
    assert n1 > t(2025, 3, 8, 12) and ny.next_after(n1) > n1
    with pytest.raises(ValueError):
        cron.parse("0 9 * * *", "Mars/Olympus")
    with pytest.raises(ValueError, match="above maximum"):
        cron.parse("0-60 * * * *")


def test_missed_runs():
    s = cron.parse("*/5 * * * *")
    assert cron.missed_runs(s, t(2025, 1, 1, 10, 2), t(2025, 1, 1, 10, 4)) == (None, 0)
    assert cron.missed_runs(s, t(2025, 1, 1, 10, 2), t(2025, 1, 1, 10, 16)) == (t(2025, 1, 1, 10, 15), 3)
    # A year of every-minute runs: counted as "more than 100", most recent still exact.
    most_recent, n = cron.missed_runs(cron.parse("* * * * *"), t(2024, 1, 1), t(2025, 1, 1, 10, 7, 30))
    assert n == cron.MISSED_LIMIT + 1 and most_recent == t(2025, 1, 1, 10, 7)
    assert cron.job_name("backup", t(2025, 1, 1, 10, 15)) == f"backup-{int(t(2025, 1, 1, 10, 15).timestamp()) // 60}"


def test_starting_deadline_narrows_window():
    cj = {"metadata": {"name": "c", "creationTimestamp": "2025-01-01T00:00:00Z"},
          "spec": {"schedule": "0 * * * *", "startingDeadlineSeconds": 600}}
    s = cron.parse("0 * * * *")
    # Created at midnight, now 05:30: the 05:00 run is 30 min late, outside the 10 min window.
    assert next_schedule(cj, s, t(2025, 1, 1, 5, 30)) == (None, 0)
    assert next_schedule(cj, s, t(2025, 1, 1, 5, 5)) == (t(2025, 1, 1, 5), 1)


def test_job_from_template_and_history():
    cj = {"metadata": {"name": "c", "namespace": "ns", "uid": "u"},
          "spec": {"jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": {"spec": {}}}}}}
    job = job_from_template(cj, t(2025, 1, 1, 10), UTC)
    assert job["metadata"]["name"] == cron.job_name("c", t(2025, 1, 1, 10))
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2025-01-01T10:00:00Z"  # Go RFC 3339: Z for UTC
    jobs = [{"metadata": {"name": f"j{i}", "creationTimestamp": f"2025-01-01T0{i}:00:00Z"},
             "status": {"conditions": [{"type": "Complete", "status": "True"}]}} for i in range(5)]
    assert [j["metadata"]["name"] for j in history_to_delete(jobs, "Complete", 3)] == ["j0", "j1"]
    assert history_to_delete(jobs, "Failed", 1) == []


SPECS = st.sampled_from(["*/7 * * * *", "0 */3 * * *", "15 10 * * 1-5", "0 0 1,15 * *", "45 23 * * sun",
                         "0 12 13 * fri", "*/20 8-17 * jan-mar *"])
TIMES = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1),
                     timezones=st.just(UTC))
ZONES = st.sampled_from([None, "Europe/Paris", "America/New_York", "Asia/Kolkata"])


@settings(max_examples=150, deadline=None)
@given(SPECS, TIMES, ZONES)
def test_next_and_last_agree(spec, when, zone):
    s = cron.parse(spec, zone)
    nxt = s.next_after(when)
    assert nxt is not None and nxt > when
    # Nothing runs strictly between `when` and `nxt`: the last run at or before nxt is nxt,
    # and the last run before it is at or before `when`.
    assert s.last_at_or_before(nxt) == nxt
    prev = s.last_at_or_before(nxt - dt.timedelta(minutes=1))
    assert prev is None or prev <= when
    local = nxt.astimezone(s.zone)
    assert local.minute in s.cron.minutes and local.hour in s.cron.hours
