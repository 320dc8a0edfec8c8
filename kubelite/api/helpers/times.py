"""How a time is written on the wire and read back: ``metav1.Time`` (RFC 3339 in UTC, whole
seconds: ``2026-01-02T03:04:05Z``) and ``metav1.MicroTime`` (six fraction digits:
``2026-01-02T03:04:05.123456Z``, Lease renewTime, events.k8s.io eventTime). Every component
formats and parses times through this module.

Decisions: a naive datetime is taken as UTC (kubelite's clocks are UTC); formatting truncates,
never rounds, as Go's ``Time.Format`` does. ``parse_time`` accepts what Go's
``time.Parse(time.RFC3339, s)`` accepts — a ``T`` separator, an optional fraction, ``Z`` or a
``±hh:mm`` offset — and raises ``ValueError`` on anything else (``2026-01-02``, a missing zone);
``try_parse_time`` returns None instead, for readers of stored objects that must not crash.
Both return an aware datetime in UTC; None / "" parse to None (Go's zero time, ``null``).
"""
from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
RFC3339_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))")


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def format_time(t: dt.datetime) -> str:
    """metav1.Time: ``2026-01-02T03:04:05Z`` (sub-second part dropped)."""
    return _utc(t).strftime(RFC3339)


def format_micro_time(t: dt.datetime) -> str:
    """metav1.MicroTime: ``2026-01-02T03:04:05.123456Z``."""
    return _utc(t).strftime(RFC3339_MICRO)


def format_time_in(t: dt.datetime, zone: dt.tzinfo) -> str:
    """Go's ``t.In(zone).Format(time.RFC3339)``: the local time in ``zone`` with its offset,
    ``Z`` when the offset is zero (``2025-01-01T11:00:00+01:00``, ``2025-01-01T10:00:00Z``)."""
    local = _utc(t).astimezone(zone).replace(microsecond=0)
    if not local.utcoffset():
        return local.strftime(RFC3339)
    return local.isoformat()


def now_time() -> str:
    """The current wall time as a metav1.Time (for code without an injectable clock)."""
    return format_time(dt.datetime.now(UTC))


def now_micro_time() -> str:
    """The current wall time as a metav1.MicroTime (a Lease's renewTime)."""
    return format_micro_time(dt.datetime.now(UTC))


def format_unix_time(seconds: float) -> str:
    """Seconds since the epoch (a CRI timestamp, ``time.time()``) as a metav1.Time."""
    return format_time(dt.datetime.fromtimestamp(seconds, UTC))


def parse_time(value: str | None) -> dt.datetime | None:
    """An RFC 3339 string (Time or MicroTime, any offset) -> aware UTC datetime; None for
    None/"". Raises ValueError when it is not RFC 3339. Nanoseconds are cut to microseconds."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time string: {value!r}")
    m = _RFC3339_RE.fullmatch(value)
    if m is None:
        raise ValueError(f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    frac = m.group(7) or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    if m.group(8):
        tz = UTC
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError(f'parsing time "{value}": time zone offset out of range')
        off = dt.timedelta(hours=oh, minutes=om)
        tz = dt.timezone(-off if m.group(9) == "-" else off)
    try:
        t = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as e:  # month 13, Feb 30, hour 24 ...
        raise ValueError(f'parsing time "{value}": {e}') from None
    return t.astimezone(UTC)


def try_parse_time(value: object) -> dt.datetime | None:
    """``parse_time`` that returns None for anything it cannot read."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
