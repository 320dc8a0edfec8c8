"""Probe actions against real sockets, threshold counting, and the gRPC health call over a
tiny HTTP/2 server written here (frames by hand, as a grpc-go server sends them)."""
from __future__ import annotations

import asyncio
import struct

import pytest
from aiohttp import web

from kubelite.kubelet import prober
from kubelite.kubelet.prober import grpc_health
from kubelite.kubelet.runtime.fake import FakeRuntime


def test_probe_state_thresholds() -> None:
    s = prober.ProbeState(success_threshold=2, failure_threshold=3, result=False)
    assert not s.observe(True) and s.observe(True) and s.result            # 2 successes flip it
    assert not s.observe(False) and not s.observe(False) and s.observe(False) and not s.result
    live = prober.ProbeState(1, 1, True)
    assert live.observe(False) and not live.result


async def _http_server(status: int) -> tuple[web.AppRunner, int]:
    async def h(request: web.Request) -> web.Response:
        assert request.headers["User-Agent"].startswith("kube-probe/")
        return web.Response(status=status, text="x")
    app = web.Application()
    app.router.add_get("/healthz", h)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@pytest.mark.parametrize("status,ok", [(200, True), (302, True), (500, False)])
async def test_http_get(status: int, ok: bool) -> None:
    runner, port = await _http_server(status)
    try:
        passed, msg = await prober.run_action({"httpGet": {"path": "/healthz", "port": port}}, runtime=FakeRuntime(),
                                              container_id="", container={}, pod_ip="127.0.0.1", timeout=2)
    finally:
        await runner.cleanup()
    assert passed is ok
    if not ok:
        assert msg == "HTTP probe failed with statuscode: 500"


async def test_tcp_and_refused() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    named = {"ports": [{"name": "web", "containerPort": port}]}
    ok, _ = await prober.run_action({"tcpSocket": {"port": "web"}}, runtime=FakeRuntime(), container_id="",
                                    container=named, pod_ip="127.0.0.1", timeout=1)
    server.close()
    await server.wait_closed()
    assert ok
    ok, msg = await prober.run_action({"tcpSocket": {"port": port}}, runtime=FakeRuntime(), container_id="",
                                      container={}, pod_ip="127.0.0.1", timeout=1)
    assert not ok and msg == f"dial tcp 127.0.0.1:{port}: connect: connection refused"


def _frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


async def _grpc_server(status: int) -> tuple[asyncio.Server, int, list[bytes]]:
    seen: list[bytes] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        preface = await r.readexactly(len(grpc_health.PREFACE))
        assert preface == grpc_health.PREFACE
        w.write(_frame(grpc_health.SETTINGS, 0, 0, b""))
        while True:
            head = await r.readexactly(9)
            length = int.from_bytes(head[:3], "big")
            payload = await r.readexactly(length) if length else b""
            if head[3] == grpc_health.HEADERS:
                seen.append(payload)
            if head[3] == grpc_health.DATA and head[4] & grpc_health.END_STREAM:
                seen.append(payload)
                break
        # response: HEADERS (":status 200" = static index 8), DATA, trailers with END_STREAM
        w.write(_frame(grpc_health.HEADERS, grpc_health.END_HEADERS, 1, b"\x88"))
        msg = b"\x08" + bytes([status])
        w.write(_frame(grpc_health.DATA, 0, 1, b"\x00" + struct.pack(">I", len(msg)) + msg))
        w.write(_frame(grpc_health.HEADERS, grpc_health.END_HEADERS | grpc_health.END_STREAM, 1, b""))
        await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


@pytest.mark.parametrize("status,ok", [(1, True), (2, False)])
async def test_grpc_health(status: int, ok: bool) -> None:
    server, port, seen = await _grpc_server(status)
    try:
        passed, msg = await prober.run_action({"grpc": {"port": port, "service": "app"}}, runtime=FakeRuntime(),
                                              container_id="", container={}, pod_ip="127.0.0.1", timeout=2)
    finally:
        server.close()
        await server.wait_closed()
    assert passed is ok
    assert b"/grpc.health.v1.Health/Check" in seen[0]
    assert seen[1] == grpc_health.request_message("app") == b"\x00\x00\x00\x00\x05\x0a\x03app"
    if not ok:
        assert msg == 'service unhealthy (responded with "NOT_SERVING")'


async def test_grpc_refused() -> None:
    ok, msg = await prober.run_action({"grpc": {"port": 1}}, runtime=FakeRuntime(), container_id="", container={},
                                      pod_ip="127.0.0.1", timeout=1)
    assert not ok and "failed to connect" in msg
