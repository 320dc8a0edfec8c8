"""metav1.Time / MicroTime formatting and RFC 3339 parsing, table-driven."""
from __future__ import annotations

import datetime as dt

import pytest

from kubelite.api.helpers.times import (
    format_micro_time, format_time, format_time_in, format_unix_time, now_micro_time, now_time, parse_time,
    try_parse_time,
)

UTC = dt.timezone.utc
T = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PLUS2 = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize("t,time,micro", [
    (T, "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.678901Z"),                  # truncated, not rounded
    (T.astimezone(PLUS2), "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.678901Z"),  # always written in UTC
    (T.replace(tzinfo=None), "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.678901Z"),  # naive = UTC
    (dt.datetime(2026, 1, 2, tzinfo=UTC), "2026-01-02T00:00:00Z", "2026-01-02T00:00:00.000000Z"),
])
def test_format(t: dt.datetime, time: str, micro: str) -> None:
    assert format_time(t) == time
    assert format_micro_time(t) == micro


@pytest.mark.parametrize("zone,expected", [
    (UTC, "2026-01-02T03:04:05Z"),
    (PLUS2, "2026-01-02T05:04:05+02:00"),
    (dt.timezone(-dt.timedelta(hours=5, minutes=30)), "2026-01-01T21:34:05-05:30"),
])
def test_format_in_zone(zone: dt.tzinfo, expected: str) -> None:
    assert format_time_in(T, zone) == expected


@pytest.mark.parametrize("text,expected", [
    ("2026-01-02T03:04:05Z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.678901Z", T),
    ("2026-01-02T03:04:05.678901234Z", T),                          # nanoseconds cut to micro
    ("2026-01-02T03:04:05.5Z", dt.datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
    ("2026-01-02T05:04:05+02:00", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-01T23:04:05-04:00", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (None, None),
    ("", None),
])
def test_parse(text: str | None, expected: dt.datetime | None) -> None:
    got = parse_time(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo == UTC


@pytest.mark.parametrize("text", [
    "2026-01-02",                      # a date is not a time
    "2026-01-02T03:04:05",             # no zone
    "2026-01-02 03:04:05Z",            # space separator
    "2026-01-02t03:04:05z",            # lower case
    "2026-13-02T03:04:05Z",            # month 13
    "2026-02-30T03:04:05Z",
    "2026-01-02T24:00:00Z",
    "2026-01-02T03:04:05+25:00",
    "2026-01-02T03:04:05Z\n",
    "20260102T030405Z",                # basic ISO form Python accepts
    "yesterday",
])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)
    assert try_parse_time(text) is None


def test_try_parse_non_strings() -> None:
    assert try_parse_time(12) is None
    assert try_parse_time(None) is None


def test_round_trip() -> None:
    assert parse_time(format_micro_time(T)) == T
    assert format_time(parse_time("2026-01-02T05:04:05+02:00")) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("seconds,expected", [
    (0, "1970-01-01T00:00:00Z"), (1767323045.999, "2026-01-02T03:04:05Z"),   # truncated
])
def test_format_unix_time(seconds: float, expected: str) -> None:
    assert format_unix_time(seconds) == expected


def test_now_forms() -> None:
    assert parse_time(now_time()) is not None
    assert len(now_micro_time()) == len("2026-01-02T03:04:05.000000Z")
