"""Reading CRI-format container logs: parsing, the kubelet's options, following a file."""
from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from kubelite.kubelet import logs

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def _write(path: Path, entries: list[tuple[int, str, bytes, bool]]) -> None:
    path.write_bytes(b"".join(logs.format_entry(T0 + dt.timedelta(seconds=s), stream, text, partial=p)
                              for s, stream, text, p in entries))


def test_parse_line() -> None:
    e = logs.parse_line(b"2016-10-06T00:17:09.669794202Z stdout F hello world")
    assert e is not None and e.stream == b"stdout" and not e.partial and e.text == b"hello world"
    assert e.time == dt.datetime(2016, 10, 6, 0, 17, 9, 669794, tzinfo=dt.timezone.utc)
    assert logs.parse_line(b"2016-10-06T00:17:09Z stderr P ") .text == b""
    assert logs.parse_line(b"2016-10-06T00:17:09+02:00 stdout F x").time.utcoffset() == dt.timedelta(hours=2)
    for bad in (b"", b"garbage", b"2016-10-06 stdout F x", b"2016-10-06T00:17:09Z stdin F x",
                b"2016-10-06T00:17:09Z stdout X x"):
        assert logs.parse_line(bad) is None


def test_format_time_has_nanoseconds() -> None:
    assert logs.format_time(T0) == b"2026-01-01T12:00:00.000000000Z"


def _read(path: Path, **kw) -> bytes:
    async def go() -> bytes:
        return b"".join([c async for c in logs.read_logs(str(path), logs.LogOptions(**kw))])
    return asyncio.run(go())


def test_options(tmp_path: Path) -> None:
    p = tmp_path / "c.log"
    _write(p, [(0, "stdout", b"one", False), (1, "stderr", b"two", False), (2, "stdout", b"thr", True),
               (2, "stdout", b"ee", False), (3, "stdout", b"four", False)])
    assert _read(p) == b"one\ntwo\nthree\nfour\n"
    assert _read(p, tail_lines=1) == b"four\n"
    assert _read(p, tail_lines=0) == b""
    assert _read(p, since=T0 + dt.timedelta(seconds=2)) == b"three\nfour\n"
    assert _read(p, tail_lines=1, timestamps=True) == b"2026-01-01T12:00:03.000000000Z four\n"
    assert _read(p, limit_bytes=6) == b"one\ntw"
    assert _read(tmp_path / "missing.log") == b""


def test_unfinished_last_line_waits(tmp_path: Path) -> None:
    p = tmp_path / "c.log"
    p.write_bytes(logs.format_entry(T0, "stdout", b"done") + b"2026-01-01T12:00:01.0Z stdout F half-writ")
    assert _read(p) == b"done\n"


def test_follow_reads_new_lines_and_rotation_then_stops(tmp_path: Path) -> None:
    p = tmp_path / "c.log"
    _write(p, [(0, "stdout", b"a", False)])
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    async def go() -> list[bytes]:
        got: list[bytes] = []
        gen = logs.read_logs(str(p), logs.LogOptions(follow=True), running=running)

        async def write_more() -> None:
            await asyncio.sleep(0.25)
            with open(p, "ab") as f:
                f.write(logs.format_entry(T0, "stdout", b"b"))
            await asyncio.sleep(0.25)
            p.rename(tmp_path / "c.log.1")            # rotated: a new file in its place
            _write(p, [(5, "stdout", b"c", False)])
            await asyncio.sleep(0.25)
            state["running"] = False

        task = asyncio.create_task(write_more())
        async for chunk in gen:
            got.append(chunk)
        await task
        return got

    assert b"".join(asyncio.run(asyncio.wait_for(go(), 10))) == b"a\nb\nc\n"
