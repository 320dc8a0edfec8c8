"""Slow-loris and idle connections against the real aiohttp front end (``make_app`` with the
``runner_options`` ``kubelite server`` uses, short timeouts so the test is quick): slow request
heads, trickled bodies and idle keep-alive connections are closed on time, and a normal client
is served promptly all the while.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp import web

from kubelite.apiserver.http import IDLE_TIMEOUT, make_app, runner_options
from kubelite.apiserver.server import ApiServer
from kubelite.storage.sqlite import SQLiteStorage

TIMEOUT = 1.5


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    api = ApiServer(SQLiteStorage(str(tmp_path / "state.db")))
    await api.start()
    runner = web.AppRunner(make_app(api, body_timeout=TIMEOUT), access_log=None, shutdown_timeout=0.5,
                           **runner_options(idle_timeout=TIMEOUT, linger=0.5))
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", free)
    await site.start()
    try:
        yield free
    finally:
        await runner.cleanup()
        await api.stop()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before it closed the connection (fails if it stays open)."""
    data = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(4096):
            data += chunk
    return data


async def trickle(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    """One byte every 0.3 s -- enough to defeat a timer that restarts on every read."""
    try:
        while not stop.is_set():
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.3)
    except (ConnectionError, RuntimeError):
        pass


async def normal_client(port: int, stop: asyncio.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        t0 = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = await closed_within(reader, 5)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
        latencies.append(time.monotonic() - t0)
        await asyncio.sleep(0.05)


async def test_slow_heads_and_bodies_are_cut_off_and_others_are_served(port: int) -> None:
    stop = asyncio.Event()
    latencies: list[float] = []
    heads, bodies = [], []
    for _ in range(50):  # request heads that never finish
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        heads.append((r, w))
    for _ in range(10):  # a complete head, then a body that trickles
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{")
        bodies.append((r, w))
    started = time.monotonic()
    tasks = [asyncio.create_task(trickle(w, stop)) for _, w in heads + bodies]
    client = asyncio.create_task(normal_client(port, stop, latencies))
    try:
        await asyncio.gather(*(closed_within(r, TIMEOUT + 3) for r, _ in heads))
        head_time = time.monotonic() - started
        replies = await asyncio.gather(*(closed_within(r, TIMEOUT + 3) for r, _ in bodies))
        body_time = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(client, return_exceptions=True)
        for _, w in heads + bodies:
            w.close()
    for reply in replies:
        assert reply.startswith(b"HTTP/1.1 504"), reply[:200]
        assert b'"reason":"Timeout"' in reply
    assert head_time < TIMEOUT + 1 and body_time < TIMEOUT + 0.5 + 1, (head_time, body_time)
    assert len(latencies) >= 5 and max(latencies) < 0.5, latencies


async def test_idle_keep_alive_connection_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    reply = await closed_within(reader, TIMEOUT + 3)  # one reply, then the server hangs up
    writer.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert TIMEOUT - 0.5 < time.monotonic() - t0 < TIMEOUT + 2


async def test_over_long_request_line_logs_one_line(port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = await closed_within(reader, 5)
    writer.close()
    assert reply.split(b" ", 2)[1] == b"400", reply[:100]
    records = [r for r in caplog.records if r.name.startswith("kubelite.apiserver.http")]
    assert len(records) == 1 and records[0].exc_info is None, records
    assert "\n" not in records[0].getMessage()


def test_the_server_bounds_connections_like_kube_apiserver() -> None:
    assert runner_options()["keepalive_timeout"] == IDLE_TIMEOUT == 32.0
