"""Standard 5-field cron schedules, as Kubernetes' CronJob understands them (robfig/cron v3).

``parse_schedule("*/15 9-17 * * mon-fri")`` returns a ``CronSchedule`` with the allowed
minutes, hours, days, months and weekdays, or raises ``ValueError`` with robfig's wording
(``end of range (60) above maximum (59): 0-60``), which CronJob validation shows to users.
Descriptors ``@yearly @annually @monthly @weekly @daily @midnight @hourly`` and
``@every <duration>`` are accepted. ``CronSchedule.next_after(t)`` gives the next run time.

Day-of-month and day-of-week combine like cron: when both are restricted a day matches if
*either* does (``0 0 1 * mon`` = the 1st of the month and every Monday).
Used by the CronJob strategy (validation) and its controller (scheduling). Pure functions.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}

#: (minimum, maximum, names) per field: minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    #: whether day-of-month / day-of-week were "*" or "?" (cron's OR rule needs to know)
    any_day: bool = True
    any_weekday: bool = True
    #: ``@every <duration>``: a fixed interval instead of calendar fields
    every: dt.timedelta | None = None

    def matches(self, t: dt.datetime) -> bool:
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        day_ok = t.day in self.days
        weekday_ok = (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first run strictly after ``t`` (None if none within 5 years, e.g. ``0 0 30 2 *``)."""
        if self.every is not None:
            step = max(self.every, dt.timedelta(seconds=1))
            return t.replace(microsecond=0) + step
        cur = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)
        while cur <= limit:
            if cur.month not in self.months:
                # jump to the first day of the next month
                cur = (cur.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self.matches(cur.replace(hour=min(self.hours), minute=min(self.minutes))):
                cur = cur.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if cur.hour not in self.hours:
                cur = cur.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if cur.minute not in self.minutes:
                cur += dt.timedelta(minutes=1)
                continue
            return cur
        return None


def parse_schedule(spec: str) -> CronSchedule:
    """Parse a standard cron spec; ``ValueError`` carries robfig/cron's message."""
    spec = spec.strip()
    if not spec:
        raise ValueError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            none: frozenset[int] = frozenset()
            return CronSchedule(none, none, none, none, none, every=_parse_duration(spec[len("@every "):].strip()))
        if spec not in _DESCRIPTORS:
            raise ValueError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    minutes, hours, days, months, weekdays = (
        frozenset(_parse_field(f, lo, hi, names)) for f, (lo, hi, names) in zip(fields, _FIELDS, strict=True))
    return CronSchedule(minutes, hours, days, months, weekdays,
                        any_day=fields[2] in ("*", "?"), any_weekday=fields[4] in ("*", "?"))


def _parse_field(field: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for expr in field.split(","):
        out |= _parse_range(expr, lo, hi, names)
    return out


def _parse_range(expr: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _parse_value(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_value(low_and_high[1], names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single and low_and_high[0] not in ("*", "?"):
            end = hi  # "N/step" means N through the maximum
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step <= 0:
        raise ValueError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step))


def _parse_value(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    return _parse_int(text)


def _parse_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax') from None
    if value < 0:
        raise ValueError(f"negative number ({value}) not allowed: {text}")
    return value


def _parse_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration`` for the units cron accepts (``1h30m``, ``90s``)."""
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f'failed to parse duration {text}: time: invalid duration "{text}"')
    return dt.timedelta(seconds=total)
