"""Cron schedules for the CronJob controller: parsing with time zones, and the pure schedule
arithmetic (next run, most recent missed run) Kubernetes' ``cronjob/utils.go`` does.

The 5-field grammar (ranges, steps, lists, month/day names, ``@hourly``/``@daily``/...,
``@every 90s``) is parsed by ``kubelite.api.kinds.batch.cron`` -- the same parser CronJob
validation uses, so what the API server accepts is exactly what runs. This module adds:

- time zones: ``spec.timeZone`` or a ``CRON_TZ=Europe/Paris``/``TZ=...`` prefix (zoneinfo),
  UTC otherwise; fields are matched against wall-clock time in that zone;
- ``Schedule.next_after(t)``: the first run strictly after ``t``;
- ``Schedule.last_at_or_before(t)``: the latest run at or before ``t`` (searched backwards
  day by day, so it is cheap even for schedules that missed a million runs);
- ``missed_runs(schedule, earliest, now)``: Kubernetes' ``mostRecentScheduleTime``: the most
  recent run in (earliest, now] and how many were missed (more than 100 is reported).

Example: ``0 9 * * mon-fri`` in ``Europe/Paris``, now = Monday 2025-01-06 08:30 UTC (09:30 in
Paris), earliest = Friday 2025-01-03 09:00 UTC -> most recent run 2025-01-06 08:00 UTC, one missed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kubelite.api.kinds.batch.cron import CronSchedule, parse_schedule

UTC = dt.UTC
#: beyond this many missed runs, Kubernetes records a TooManyMissedTimes warning
MISSED_LIMIT = 100
_SEARCH_DAYS = 366 * 5


def load_zone(name: str | None) -> dt.tzinfo:
    """An IANA zone (``ValueError`` if unknown); None/"" -> UTC."""
    if not name:
        return UTC
    if name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name}") from e


def _day_matches(cs: CronSchedule, day: dt.date) -> bool:
    if day.month not in cs.months:
        return False
    dom = day.day in cs.days
    dow = (day.isoweekday() % 7) in cs.weekdays
    # cron's rule: with both day fields restricted, either may match.
    return (dom and dow) if (cs.any_day or cs.any_weekday) else (dom or dow)


def _next_naive(cs: CronSchedule, t: dt.datetime) -> dt.datetime | None:
    """First matching minute strictly after naive local ``t``."""
    start = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = start.date()
    hours, minutes = sorted(cs.hours), sorted(cs.minutes)
    for _ in range(_SEARCH_DAYS):
        if _day_matches(cs, day):
            first_day = day == start.date()
            for h in hours:
                if first_day and h < start.hour:
                    continue
                for m in minutes:
                    if first_day and h == start.hour and m < start.minute:
                        continue
                    return dt.datetime.combine(day, dt.time(h, m))
        day += dt.timedelta(days=1)
    return None


def _prev_naive(cs: CronSchedule, t: dt.datetime) -> dt.datetime | None:
    """Last matching minute at or before naive local ``t``."""
    end = t.replace(second=0, microsecond=0)
    day = end.date()
    hours, minutes = sorted(cs.hours, reverse=True), sorted(cs.minutes, reverse=True)
    for _ in range(_SEARCH_DAYS):
        if _day_matches(cs, day):
            last_day = day == end.date()
            for h in hours:
                if last_day and h > end.hour:
                    continue
                for m in minutes:
                    if last_day and h == end.hour and m > end.minute:
                        continue
                    return dt.datetime.combine(day, dt.time(h, m))
        day -= dt.timedelta(days=1)
    return None


@dataclass(frozen=True)
class Schedule:
    cron: CronSchedule
    zone: dt.tzinfo = UTC

    def _local(self, t: dt.datetime) -> dt.datetime:
        return t.astimezone(self.zone).replace(tzinfo=None)

    def _utc(self, naive: dt.datetime) -> dt.datetime:
        return naive.replace(tzinfo=self.zone).astimezone(UTC)

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first run strictly after aware ``t`` (UTC), or None if none within 5 years."""
        if self.cron.every is not None:
            step = max(self.cron.every, dt.timedelta(seconds=1))
            return t.astimezone(UTC).replace(microsecond=0) + step
        cur = self._local(t)
        for _ in range(4):  # a repeated wall-clock hour (DST fall-back) may map behind t
            nxt = _next_naive(self.cron, cur)
            if nxt is None:
                return None
            out = self._utc(nxt)
            if out > t:
                return out
            cur = nxt
        return None

    def last_at_or_before(self, t: dt.datetime, *, after: dt.datetime | None = None) -> dt.datetime | None:
        """The latest run at or before aware ``t`` (and strictly after ``after``, if given)."""
        if self.cron.every is not None:
            if after is None:
                return None
            step = max(self.cron.every, dt.timedelta(seconds=1))
            base = after.astimezone(UTC).replace(microsecond=0)
            n = int((t - base) / step)
            return base + n * step if n >= 1 else None
        prev = _prev_naive(self.cron, self._local(t))
        if prev is None:
            return None
        out = self._utc(prev)
        if out > t:  # nonexistent/ambiguous local time mapped past t: step back a minute
            prev = _prev_naive(self.cron, prev - dt.timedelta(minutes=1))
            out = self._utc(prev) if prev else out
        if after is not None and out <= after:
            return None
        return out


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    """``"CRON_TZ=Asia/Tokyo 0 9 * * *"`` or (``"0 9 * * *"``, ``"Asia/Tokyo"``) -> Schedule.
    ``ValueError`` with robfig/cron's wording for a bad spec or zone."""
    text = schedule.strip()
    zone_name = None
    if text.startswith(("CRON_TZ=", "TZ=")):
        prefix, _, rest = text.partition(" ")
        zone_name = prefix.split("=", 1)[1]
        text = rest.strip()
    if time_zone:
        zone_name = time_zone
    zone = load_zone(zone_name)
    return Schedule(parse_schedule(text), zone)


def missed_runs(schedule: Schedule, earliest: dt.datetime, now: dt.datetime,
                limit: int = MISSED_LIMIT) -> tuple[dt.datetime | None, int]:
    """(most recent run in (earliest, now], number of runs in that interval). The count stops
    at ``limit + 1`` ("more than limit") without walking every run."""
    first = schedule.next_after(earliest)
    if first is None or first > now:
        return None, 0
    count = 1
    t = first
    while count <= limit:
        nxt = schedule.next_after(t)
        if nxt is None or nxt > now:
            return t, count
        t, count = nxt, count + 1
    most_recent = schedule.last_at_or_before(now, after=earliest) or t
    return most_recent, count


def job_name(cronjob_name: str, scheduled: dt.datetime) -> str:
    """``<cronjob>-<minutes since the epoch>``: deterministic per scheduled time, so a retried
    creation collides instead of running twice."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"
