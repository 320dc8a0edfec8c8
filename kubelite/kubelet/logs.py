"""Reading container logs in the CRI log format, as the kubelet serves ``kubectl logs``.

A runtime writes each container attempt's output to one file, a line per write:
``<RFC 3339 nano time> <stdout|stderr> <F|P> <text>`` -- ``F`` ends a line (the newline was
stripped), ``P`` is a partial line the next entry continues. ``read_logs`` turns such a file
back into what the container wrote, with the kubelet's options: ``tailLines`` (the last N
entries), ``sinceTime``/``sinceSeconds``, ``timestamps`` (each entry prefixed with its time and
a space), ``limitBytes`` and ``follow`` (keep reading until the container is no longer running;
a rotated file -- replaced or truncated -- is reopened from its start).

Parsing is pure; file reads run in a thread.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

STREAMS = (b"stdout", b"stderr")
FOLLOW_POLL = 0.1            # seconds between looks at a followed file
READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class LogEntry:
    timestamp: bytes         # as written, RFC 3339 with nanoseconds
    time: dt.datetime
    stream: bytes            # b"stdout" | b"stderr"
    partial: bool
    text: bytes


@dataclass(frozen=True)
class LogOptions:
    tail_lines: int | None = None
    since: dt.datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False


_TIME = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_time(raw: bytes) -> dt.datetime | None:
    """RFC 3339 with up to nanosecond precision (Python keeps microseconds)."""
    m = _TIME.match(raw)
    if m is None:
        return None
    frac = (m.group(2) or b"").decode()[:6].ljust(6, "0")
    zone = m.group(3).decode()
    try:
        return dt.datetime.fromisoformat(f"{m.group(1).decode()}.{frac}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def parse_line(line: bytes) -> LogEntry | None:
    """One line of a CRI log file (without its newline); None if it is not one."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0], parts[1], parts[2]
    text = parts[3] if len(parts) == 4 else b""
    if stream not in STREAMS or tag not in (b"F", b"P"):
        return None
    when = parse_time(ts)
    if when is None:
        return None
    return LogEntry(ts, when, stream, tag == b"P", text)


def format_time(t: dt.datetime) -> bytes:
    """How a runtime writes the time of an entry (UTC, nanoseconds, as the CRI runtimes do)."""
    t = t.astimezone(dt.timezone.utc)
    return (t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z").encode()


def format_entry(when: dt.datetime, stream: str, text: bytes, *, partial: bool = False) -> bytes:
    """One CRI log line (with its newline) -- for runtimes and tests that write logs."""
    return format_time(when) + b" " + stream.encode() + (b" P " if partial else b" F ") + text + b"\n"


def render(entry: LogEntry, timestamps: bool) -> bytes:
    out = entry.text if entry.partial else entry.text + b"\n"
    return entry.timestamp + b" " + out if timestamps else out


def _entries(data: bytes) -> tuple[list[LogEntry], int]:
    """Complete lines of ``data`` as entries, and how many bytes they took (the rest is an
    unfinished line a writer is still writing)."""
    end = data.rfind(b"\n")
    if end < 0:
        return [], 0
    out = []
    for raw in data[:end].split(b"\n"):
        e = parse_line(raw)
        if e is not None:
            out.append(e)
    return out, end + 1


def select(entries: list[LogEntry], opts: LogOptions) -> list[LogEntry]:
    if opts.since is not None:
        since = opts.since
        entries = [e for e in entries if e.time >= since]
    if opts.tail_lines is not None:
        entries = entries[-opts.tail_lines:] if opts.tail_lines > 0 else []
    return entries


class _Limit:
    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, data: bytes) -> bytes:
        if self.left is None:
            return data
        data = data[: self.left]
        self.left -= len(data)
        return data

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0


def _read_from(path: str, offset: int) -> tuple[bytes, int, int]:
    """(new bytes from ``offset``, the file's inode, its size); offset past the end (a
    truncated file) reads from 0 again."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_size < offset:
            offset = 0
        f.seek(offset)
        return f.read(max(0, min(st.st_size - offset, 64 * 1024 * 1024))), st.st_ino, st.st_size


async def read_logs(path: str, opts: LogOptions, *,
                    running: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
    """The log of one container attempt as ``kubectl logs`` shows it, in chunks.

    With ``follow``, ends once ``running()`` says the container stopped and the file has no
    more complete lines, as the kubelet's follower does."""
    limit = _Limit(opts.limit_bytes)
    try:
        data, inode, _ = await asyncio.to_thread(_read_from, path, 0)
    except FileNotFoundError:
        data, inode = b"", -1
    entries, used = _entries(data)
    offset = used
    out = b"".join(render(e, opts.timestamps) for e in select(entries, opts))
    if out:
        yield limit.take(out)
    if not opts.follow or limit.done:
        return
    since = opts.since
    while not limit.done:
        try:
            st = await asyncio.to_thread(os.stat, path)
            if st.st_ino != inode or st.st_size < offset:   # rotated: the new file from its start
                inode, offset = st.st_ino, 0
            if st.st_size > offset:
                data, inode, _ = await asyncio.to_thread(_read_from, path, offset)
                entries, used = _entries(data)
                offset += used
                chunk = b"".join(render(e, opts.timestamps) for e in entries
                                 if since is None or e.time >= since)
                if chunk:
                    yield limit.take(chunk)
                if used:
                    continue
        except FileNotFoundError:
            pass
        if running is not None and not await running():
            # one last look: what the container wrote just before it exited
            try:
                data, _, _ = await asyncio.to_thread(_read_from, path, offset)
            except FileNotFoundError:
                return
            entries, _ = _entries(data)
            chunk = b"".join(render(e, opts.timestamps) for e in entries if since is None or e.time >= since)
            if chunk:
                yield limit.take(chunk)
            return
        await asyncio.sleep(FOLLOW_POLL)
