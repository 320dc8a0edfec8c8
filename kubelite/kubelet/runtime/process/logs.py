"""Container logs in the CRI log format: the writer the container init uses and the reader the
streaming server (``kubectl logs``) uses.

Format, one record per line, as containerd and CRI-O write it and the kubelet reads it::

    2026-12-08T01:02:03.123456789Z stdout F hello world
    <RFC 3339 UTC, 9 digits>       <stream> <tag> <content without the newline>

Tag ``F`` ends a line; ``P`` is a partial piece of a longer line (a line is cut every 16 KiB, as
containerd does) that the reader joins with the following pieces. Rotation by size: when the
file would grow past ``max_size`` it is renamed ``<path>.1`` (older ones shift to ``.2`` … and
the oldest beyond ``max_files - 1`` is deleted) and a new file is started — kubelet's
containerLogMaxSize 10 MiB / containerLogMaxFiles 5 by default. As the kubelet does, reads show
the current file only; ``follow`` goes on across a rotation.

The writer is plain synchronous code (it runs inside the container's init process, not on an
event loop); the reader's blocking parts are called from threads by ``follow``.
"""
from __future__ import annotations

import asyncio
import calendar
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

MAX_LINE = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5


def format_timestamp(ns: int) -> str:
    """RFC 3339 with nanoseconds, as CRI logs carry them (``...T01:02:03.000000001Z``)."""
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def parse_timestamp(ts: str) -> int:
    """Nanoseconds since the epoch from an RFC 3339 time (fraction optional, ``Z`` or offset)."""
    if ts.endswith("Z"):
        ts, off = ts[:-1], 0
    elif len(ts) > 6 and ts[-6] in "+-" and ts[-3] == ":":
        sign = 1 if ts[-6] == "+" else -1
        off = sign * (int(ts[-5:-3]) * 3600 + int(ts[-2:]) * 60)
        ts = ts[:-6]
    else:
        off = 0
    base, _, frac = ts.partition(".")
    sec = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - off
    return sec * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


class CRILogWriter:
    """Appends a container's output to ``path`` in the CRI format, rotating by size."""

    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE, max_files: int = DEFAULT_MAX_FILES,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.path, self.max_size, self.max_files, self.clock = path, max_size, max(1, max_files), clock
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.pending: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def feed(self, stream: str, data: bytes) -> None:
        buf = self.pending[stream]
        buf += data
        records = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(buf[:nl])
            del buf[:nl + 1]
            while len(line) > MAX_LINE:
                records.append((stream, "P", line[:MAX_LINE]))
                line = line[MAX_LINE:]
            records.append((stream, "F", line))
        while len(buf) >= MAX_LINE:
            records.append((stream, "P", bytes(buf[:MAX_LINE])))
            del buf[:MAX_LINE]
        self._emit(records)

    def flush(self) -> None:
        """At the end of output: a last line without a newline is still a full line."""
        records = [(s, "F", bytes(b)) for s, b in self.pending.items() if b]
        for b in self.pending.values():
            b.clear()
        self._emit(records)

    def _emit(self, records: list[tuple[str, str, bytes]]) -> None:
        if not records:
            return
        ts = format_timestamp(self.clock()).encode()
        out = bytearray()
        for stream, tag, content in records:
            rec = b"%s %s %s %s\n" % (ts, stream.encode(), tag.encode(), content)
            if self.size + len(out) + len(rec) > self.max_size and (self.size or out):
                self._write(out)
                out = bytearray()
                self._rotate()
            out += rec
        self._write(out)

    def _write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self.size += n

    def _rotate(self) -> None:
        os.close(self.fd)
        keep = self.max_files - 1
        if keep <= 0:
            os.unlink(self.path)
        else:
            for i in range(keep, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


def log_files(path: str) -> list[str]:
    """The current log file and its rotated predecessors that exist (for disk usage)."""
    out = [path] if os.path.exists(path) else []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        out.append(f"{path}.{i}")
        i += 1
    return out


@dataclass
class LogEntry:
    timestamp: str        # as written (RFC 3339 nano)
    stream: str           # stdout | stderr
    content: bytes        # one whole line, without its newline

    def render(self, timestamps: bool = False) -> bytes:
        line = self.content + b"\n"
        return self.timestamp.encode() + b" " + line if timestamps else line


class _Parser:
    """Joins P pieces per stream; yields whole lines."""

    def __init__(self) -> None:
        self.partial: dict[str, bytearray] = {}

    def feed(self, raw: bytes) -> LogEntry | None:
        parts = raw.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            return None          # a torn or foreign line: skipped, as the kubelet does
        ts, stream, tag = parts[0].decode(errors="replace"), parts[1].decode(errors="replace"), parts[2]
        content = parts[3] if len(parts) == 4 else b""
        if tag == b"P":
            self.partial.setdefault(stream, bytearray()).extend(content)
            return None
        if stream in self.partial:
            content = bytes(self.partial.pop(stream)) + content
        return LogEntry(ts, stream, content)


def _start_offset(fd: int, size: int, lines: int) -> int:
    """Offset from which at least ``lines`` physical lines remain (reads backwards in blocks)."""
    pos, count = size, 0
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        block = os.pread(fd, step, pos)
        # The file ends with "\n": the last newline closes the last line, it does not start one.
        end = len(block) - 1 if pos + step == size else len(block)
        idx = end
        while True:
            idx = block.rfind(b"\n", 0, idx)
            if idx < 0:
                break
            count += 1
            if count > lines:
                return pos + idx + 1
    return 0


def read_log(path: str, *, tail: int | None = None, since_ns: int | None = None,
             streams: tuple[str, ...] = ("stdout", "stderr"), limit_bytes: int | None = None,
             ) -> tuple[list[LogEntry], int]:
    """Entries of the current log file (oldest first) and the offset where reading stopped (to
    go on following from). ``tail`` counts the last lines; ``since_ns`` drops older ones."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return [], 0
    try:
        size = os.fstat(fd).st_size
        # A partial line's pieces each count as a physical line: read a bit more, cut after.
        start = _start_offset(fd, size, tail * 2 + 8) if tail is not None else 0
        data = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    end = data.rfind(b"\n") + 1                 # a torn last line is read on the next round
    parser, out = _Parser(), []
    for raw in data[:end].split(b"\n")[:-1]:
        e = parser.feed(raw)
        if e is None or e.stream not in streams:
            continue
        if since_ns is not None and parse_timestamp(e.timestamp) < since_ns:
            continue
        out.append(e)
    if tail is not None:
        out = out[-tail:] if tail > 0 else []
    if limit_bytes is not None:
        total, cut = 0, len(out)
        for i, e in enumerate(out):
            total += len(e.content) + 1
            if total > limit_bytes:
                cut = i
                break
        out = out[:cut]
    return out, start + end


async def follow_log(path: str, *, tail: int | None = None, since_ns: int | None = None,
                     timestamps: bool = False, streams: tuple[str, ...] = ("stdout", "stderr"),
                     follow: bool = True, exited: Callable[[], Awaitable[bool]] | None = None,
                     poll: float = 0.2, limit_bytes: int | None = None) -> AsyncGenerator[bytes, None]:
    """``kubectl logs`` for one container: the selected existing lines, then (``follow``) new
    lines as the init writes them, across rotations, until ``exited()`` says the container is
    gone and the file is drained. Yields rendered lines (with ``timestamps``, prefixed by the
    record's time as the kubelet does). ``limit_bytes`` ends the output after that many bytes
    (the last line cut), as ``kubectl logs --limit-bytes``."""
    gen = _follow(path, tail, since_ns, timestamps, streams, follow, exited, poll)
    try:
        async for chunk in gen:
            if limit_bytes is not None:
                if len(chunk) >= limit_bytes:
                    if limit_bytes:
                        yield chunk[:limit_bytes]
                    return
                limit_bytes -= len(chunk)
            yield chunk
    finally:
        await gen.aclose()          # its file descriptor, now rather than at garbage collection


async def _follow(path: str, tail: int | None, since_ns: int | None, timestamps: bool, streams: tuple[str, ...],
                  follow: bool, exited: Callable[[], Awaitable[bool]] | None, poll: float) -> AsyncGenerator[bytes, None]:
    entries, offset = await asyncio.to_thread(read_log, path, tail=tail, since_ns=since_ns, streams=streams)
    for e in entries:
        yield e.render(timestamps)
    if not follow:
        return
    fd, ino, parser, pending = None, None, _Parser(), b""
    try:
        while True:
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    ino = os.fstat(fd).st_ino
                except FileNotFoundError:
                    fd = None
            done = exited is not None and await exited()
            got = False
            if fd is not None:
                data = await asyncio.to_thread(os.pread, fd, 1 << 20, offset)
                if data:
                    got = True
                    offset += len(data)
                    pending += data
                    cut = pending.rfind(b"\n") + 1
                    for raw in pending[:cut].split(b"\n")[:-1]:
                        entry = parser.feed(raw)
                        if entry is not None and entry.stream in streams and (
                                since_ns is None or parse_timestamp(entry.timestamp) >= since_ns):
                            yield entry.render(timestamps)
                    pending = pending[cut:]
                else:
                    try:
                        rotated = os.stat(path).st_ino != ino
                    except FileNotFoundError:
                        rotated = True
                    if rotated:      # the old file is drained: continue with the new one
                        os.close(fd)
                        fd, offset, pending = None, 0, b""
                        continue
            if done and not got:
                return
            if not got:
                await asyncio.sleep(poll)
    finally:
        if fd is not None:
            os.close(fd)
