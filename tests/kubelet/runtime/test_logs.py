"""CRI log format: writer (partial lines, rotation) and reader (tail, since, timestamps, follow)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from kubelite.kubelet.runtime.process.logs import (
    MAX_LINE,
    CRILogWriter,
    follow_log,
    format_timestamp,
    log_files,
    parse_timestamp,
    read_log,
)


def clock_from(start_ns: int, step_ns: int = 1_000_000_000):
    t = [start_ns - step_ns]

    def now() -> int:
        t[0] += step_ns
        return t[0]
    return now


T0 = parse_timestamp("2026-12-08T01:02:03Z")


def test_timestamps_round_trip() -> None:
    assert format_timestamp(T0 + 123456789) == "2026-12-08T01:02:03.123456789Z"
    assert parse_timestamp("2026-12-08T01:02:03.123456789Z") == T0 + 123456789
    assert parse_timestamp("2026-12-08T02:02:03+01:00") == T0
    assert parse_timestamp("2026-12-08T01:02:03.5Z") == T0 + 500_000_000


def test_writer_format_and_partial_lines(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p, clock=clock_from(T0))
    w.feed("stdout", b"hello\nwor")
    w.feed("stderr", b"oops\n")
    w.feed("stdout", b"ld\n" + b"x" * (MAX_LINE + 10) + b"\n")
    w.feed("stdout", b"tty line\r\nprogress 1\rprogress 2\n")
    w.feed("stdout", b"no newline at the end")
    w.close()
    lines = Path(p).read_bytes().splitlines()
    assert lines[0] == b"2026-12-08T01:02:03.000000000Z stdout F hello"
    assert lines[1] == b"2026-12-08T01:02:04.000000000Z stderr F oops"
    assert lines[2].endswith(b" stdout F world")
    assert lines[3].split(b" ", 3)[2] == b"P" and len(lines[3].split(b" ", 3)[3]) == MAX_LINE
    assert lines[4].split(b" ", 3)[2:] == [b"F", b"x" * 10]
    assert lines[-1].endswith(b"stdout F no newline at the end")
    entries, _ = read_log(p)
    assert [e.content for e in entries] == [b"hello", b"oops", b"world", b"x" * (MAX_LINE + 10),
                                            b"tty line\r", b"progress 1\rprogress 2", b"no newline at the end"]
    assert [e.stream for e in entries][:2] == ["stdout", "stderr"]
    only_err, _ = read_log(p, streams=("stderr",))
    assert [e.content for e in only_err] == [b"oops"]


def test_rotation_by_size(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p, max_size=200, max_files=3, clock=clock_from(T0))
    for i in range(40):
        w.feed("stdout", f"line {i:02d}\n".encode())
    w.close()
    files = log_files(p)
    assert files == [p, p + ".1", p + ".2"]          # 3 files kept, older ones deleted
    assert not Path(p + ".3").exists()
    for f in files:
        assert 0 < Path(f).stat().st_size <= 200
    current = [e.content for e in read_log(p)[0]]
    rotated = [e.content for e in read_log(p + ".1")[0]]
    assert current[-1] == b"line 39"
    assert rotated[-1] + b"" == f"line {int(current[0][5:]) - 1:02d}".encode()


def test_tail_since_timestamps(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p, clock=clock_from(T0))
    for i in range(1000):
        w.feed("stdout", f"l{i}\n".encode())
    w.close()
    entries, _ = read_log(p, tail=3)
    assert [e.content for e in entries] == [b"l997", b"l998", b"l999"]
    assert read_log(p, tail=0)[0] == []
    entries, _ = read_log(p, since_ns=T0 + 995 * 1_000_000_000)
    assert [e.content for e in entries] == [b"l995", b"l996", b"l997", b"l998", b"l999"]
    assert entries[0].render(timestamps=True) == format_timestamp(T0 + 995 * 10**9).encode() + b" l995\n"
    assert entries[0].render() == b"l995\n"
    entries, _ = read_log(p, limit_bytes=10)
    assert [e.content for e in entries] == [b"l0", b"l1", b"l2"]


async def test_follow_new_lines_and_rotation(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p, max_size=300, max_files=2)
    w.feed("stdout", b"before\n")
    done = asyncio.Event()

    async def exited() -> bool:
        return done.is_set()

    got: list[bytes] = []

    async def consume() -> None:
        async for line in follow_log(p, tail=1, exited=exited, poll=0.02):
            got.append(line)
    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    for i in range(30):                       # crosses several rotations
        w.feed("stdout", f"after {i}\n".encode())
        await asyncio.sleep(0.005)
    w.close()
    done.set()
    await asyncio.wait_for(task, 5)
    assert got[0] == b"before\n"
    assert got[1:] == [f"after {i}\n".encode() for i in range(30)]


async def test_follow_without_follow_returns(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p)
    w.feed("stdout", b"a\nb\n")
    w.close()
    out = [x async for x in follow_log(p, follow=False, timestamps=True)]
    assert len(out) == 2 and out[1].endswith(b"Z b\n")
    assert [x async for x in follow_log(str(tmp_path / "missing.log"), follow=False)] == []


async def test_follow_limit_bytes(tmp_path: Path) -> None:
    p = str(tmp_path / "0.log")
    w = CRILogWriter(p)
    w.feed("stdout", b"abc\ndef\nghi\n")
    w.close()
    assert b"".join([x async for x in follow_log(p, follow=False, limit_bytes=6)]) == b"abc\nde"
    assert [x async for x in follow_log(p, follow=False, limit_bytes=0)] == []
    assert b"".join([x async for x in follow_log(p, follow=False, limit_bytes=100)]) == b"abc\ndef\nghi\n"
