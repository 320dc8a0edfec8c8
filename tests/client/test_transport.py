"""Transports: line splitting, MockTransport, and HTTPTransport against a real aiohttp server on
127.0.0.1 over mutual TLS (plus bearer tokens, streams with huge lines, connection errors)."""
from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from typing import Any, AsyncIterator

import orjson
import pytest
import yaml
from aiohttp import web

from kubelite.client import (PODS, Client, HTTPTransport, MockTransport, Response, Transport,
                             TransportError, WatchExpired)
from kubelite.client.transport import LineStream, split_lines

from .certs import Pair, make_pki

_: type[Transport] = MockTransport  # MockTransport satisfies the Protocol


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


@pytest.mark.parametrize("parts,lines", [
    ((b"a\nb\n",), [b"a", b"b"]),
    ((b"a", b"b\nc", b"\n"), [b"ab", b"c"]),
    ((b"", b"x\n\ny"), [b"x", b"", b"y"]),
    ((b"\n",), [b""]),
    ((b"one", b"two", b"three"), [b"onetwothree"]),
])
async def test_split_lines(parts: tuple[bytes, ...], lines: list[bytes]) -> None:
    assert [line async for line in split_lines(chunks(*parts))] == lines


async def test_mock_transport_sync_and_async_handlers() -> None:
    async def handler(req: Any) -> Any:
        if req.stream:
            return LineStream(200, chunks(b'{"a":', b'1}\n{"b":2}'), chunks=True)
        return Response(201, {"content-type": "application/json"}, orjson.dumps({"echo": req.json()}))

    t = MockTransport(handler, record=True)
    r = await t.request("POST", "/x", body=b'{"k":1}', content_type="application/json")
    assert r.status == 201 and r.json() == {"echo": {"k": 1}}
    async with t.stream("GET", "/x", query={"watch": "true"}) as s:
        assert [orjson.loads(line) async for line in s] == [{"a": 1}, {"b": 2}]
    assert [q.query for q in t.requests] == [{}, {"watch": "true"}]
    # a plain Response is served to stream() as its lines; a stream is served to request() whole
    t2 = MockTransport(lambda req: Response(200, {}, b"l1\nl2"))
    async with t2.stream("GET", "/") as s:
        assert [line async for line in s] == [b"l1", b"l2"]
    t3 = MockTransport(lambda req: LineStream(200, chunks(b"x", b"y")))
    assert (await t3.request("GET", "/")).body == b"x\ny"
    await t3.close()
    with pytest.raises(TransportError):
        await t3.request("GET", "/")


# ---------------------------------------------------------------------------------------------
# A real HTTPS server


BIG = "x" * 300_000  # one watch line far beyond aiohttp's default readline limit


async def _pods(request: web.Request) -> web.StreamResponse:
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else None
    auth = request.headers.get("Authorization")
    if request.query.get("watch") != "true":
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "10"},
                                  "items": [{"metadata": {"name": "a", "namespace": "default",
                                                          "annotations": {"cn": cn or "", "auth": auth or ""}}}]})
    if request.query.get("resourceVersion") == "1":
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(orjson.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                                   "reason": "Expired", "message": "too old"}}) + b"\n")
        return resp
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    ev1 = orjson.dumps({"type": "ADDED", "object": {"metadata": {"name": "big", "resourceVersion": "11",
                                                                  "annotations": {"big": BIG}}}}) + b"\n"
    ev2 = orjson.dumps({"type": "DELETED", "object": {"metadata": {"name": "big", "resourceVersion": "12"}}}) + b"\n"
    data = ev1 + ev2
    for i in range(0, len(data), 7777):  # cut events across chunk boundaries
        await resp.write(data[i:i + 7777])
        await asyncio.sleep(0)
    return resp


async def _missing(request: web.Request) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                              "reason": "NotFound", "message": 'pods "zz" not found'}, status=404)


@pytest.fixture
def pki() -> tuple[Pair, Pair, Pair]:
    return make_pki()


@pytest.fixture
async def server(pki: tuple[Pair, Pair, Pair], tmp_path: Any) -> AsyncIterator[str]:
    ca, srv, _ = pki
    (tmp_path / "srv.crt").write_bytes(srv.cert_pem)
    (tmp_path / "srv.key").write_bytes(srv.key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca.cert_pem.decode())
    ctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    ctx.verify_mode = ssl.CERT_OPTIONAL  # token clients come without a certificate
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods", _pods)
    app.router.add_get("/api/v1/pods", _pods)
    app.router.add_get("/api/v1/namespaces/default/pods/zz", _missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}"
    await runner.cleanup()


async def test_https_with_client_certificate_data(server: str, pki: tuple[Pair, Pair, Pair]) -> None:
    ca, _, cli = pki
    t = HTTPTransport(server, ca_data=ca.cert_pem, cert_data=cli.cert_pem, key_data=cli.key_pem)
    c = Client(t)
    try:
        res = await c.list(PODS, namespace="default")
        assert res.resource_version == "10"
        assert res.items[0]["metadata"]["annotations"] == {"cn": "system:kube-scheduler", "auth": ""}
        with pytest.raises(Exception) as e:
            await c.get(PODS, "zz", namespace="default")
        assert getattr(e.value, "code", None) == 404
        events = [(t_, o["metadata"]["name"], len(o["metadata"].get("annotations", {}).get("big", "")))
                  async for t_, o in c.watch(PODS, namespace="default", resource_version="10", timeout_seconds=5)]
        assert events == [("ADDED", "big", len(BIG)), ("DELETED", "big", 0)]
        with pytest.raises(WatchExpired):
            async for _ in c.watch(PODS, resource_version="1"):
                pass
        # Many concurrent requests share the pooled session.
        results = await asyncio.gather(*(c.list(PODS) for _ in range(20)))
        assert all(r.resource_version == "10" for r in results)
    finally:
        await c.close()


async def test_https_token_from_kubeconfig(server: str, pki: tuple[Pair, Pair, Pair], tmp_path: Any) -> None:
    ca, _, _ = pki
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    (tmp_path / "tok").write_text("s3cret\n")
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "k", "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
           "users": [{"name": "u", "user": {"tokenFile": "tok"}}],
           "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}
    (tmp_path / "config").write_text(yaml.safe_dump(cfg))
    c = Client(HTTPTransport.from_kubeconfig(str(tmp_path / "config")))
    try:
        res = await c.list(PODS)
        assert res.items[0]["metadata"]["annotations"] == {"cn": "", "auth": "Bearer s3cret"}
    finally:
        await c.close()


async def test_https_rejects_unknown_ca(server: str) -> None:
    ca_other = make_pki()[0]
    t = HTTPTransport(server, ca_data=ca_other.cert_pem)
    with pytest.raises(TransportError):
        await t.request("GET", "/api/v1/pods")
    await t.close()
    # ...unless verification is explicitly off
    t = HTTPTransport(server, insecure_skip_tls_verify=True, token="x")
    assert (await t.request("GET", "/api/v1/pods")).status == 200
    await t.close()


async def test_connection_refused_is_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = HTTPTransport(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(TransportError):
        await t.request("GET", "/version")
    with pytest.raises(TransportError):
        async with t.stream("GET", "/api/v1/pods", query={"watch": "true"}):
            pass
    await t.close()


def test_basic_auth_header() -> None:
    t = HTTPTransport("http://127.0.0.1:1", username="admin", password="pw")
    assert t._request_headers("application/json")["Authorization"] == \
        "Basic " + base64.b64encode(b"admin:pw").decode()
    with pytest.raises(ValueError):
        HTTPTransport("https://127.0.0.1:1", cert_data=b"x")
