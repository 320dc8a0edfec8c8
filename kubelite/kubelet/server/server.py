"""The kubelet's HTTPS server (port 10250): what the API server proxies ``kubectl logs``,
``exec``, ``attach``, ``port-forward`` and ``get --raw /api/v1/nodes/N/proxy/...`` to.

Routes, as the real kubelet serves them:

- ``GET /containerLogs/{ns}/{pod}/{container}`` -- follow, previous, tailLines, sinceSeconds,
  sinceTime, timestamps, limitBytes; ``text/plain``, streamed.
- ``/exec/{ns}/{pod}/{container}?command=..&stdin&stdout&stderr&tty`` and ``/attach/...`` --
  WebSocket with the channel protocol (``v5.channel.k8s.io``, ``v4.channel.k8s.io``).
- ``/portForward/{ns}/{pod}`` -- WebSocket carrying SPDY/3.1 (``SPDY/3.1+portforward.k8s.io``).
- ``GET /stats/summary`` (the Summary API), ``GET /pods``, ``GET /healthz``.

Who may call: every route but /healthz needs a client certificate from the node's client CA in
group ``system:masters`` -- the API server's ``--kubelet-client-certificate``. (The real kubelet
asks the API server with a SubjectAccessReview; until kubelite's kubelet does, the caller must be
the API server or a cluster admin.) Without an SSL context (tests on plain HTTP) nothing is
checked.

The runtime does the work (``RuntimeService.exec/attach/port_forward/container_stats``); the
``PodResolver`` maps (namespace, pod, container) to the runtime's ids and log files.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from kubelite.kubelet.config import PodResolver, ResolvedContainer
from kubelite.kubelet.runtime.interface import ContainerState, RuntimeError_, RuntimeService, StreamSession
# CRI log files are one format whatever the runtime: the process runtime's reader is the one home
from kubelite.kubelet.runtime.process.logs import follow_log, parse_timestamp
from kubelite.kubelet.server import channels, portforward
from kubelite.kubelet.server.stats import PodInfo, SummaryProvider

log = logging.getLogger(__name__)

ADMIN_GROUP = "system:masters"


def kubelet_ssl_context(cert_file: str, key_file: str, client_ca: str) -> ssl.SSLContext:
    """TLS for the kubelet port: our serving certificate; client certificates verified against
    the client CA (optional at the TLS layer so /healthz answers without one)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.json_response(body, status=code)


def _flag(request: web.Request, *names: str) -> bool:
    for n in names:
        v = request.query.get(n)
        if v is not None:
            return v.lower() in ("1", "true", "")
    return False


def _caller_groups(request: web.Request) -> tuple[str, list[str]] | None:
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    if not cert:
        return None
    cn, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                groups.append(value)
    return cn, groups


class KubeletServer:
    def __init__(self, *, runtime: RuntimeService, resolver: PodResolver, node_name: str, host: str,
                 port: int, ssl_context: ssl.SSLContext | None, root_dir: str = "/") -> None:
        self.runtime = runtime
        self.resolver = resolver
        self.node_name = node_name
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.stats = SummaryProvider(runtime, node_name, root_dir)
        self._runner: web.AppRunner | None = None
        self._sessions: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        r = app.router
        r.add_get("/healthz", self._healthz)
        r.add_get("/pods", self._pods)
        r.add_get("/stats/summary", self._summary)
        r.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        for verb in ("exec", "attach"):
            r.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{container}}", self._stream)
            r.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{uid}}/{{container}}", self._stream)
        r.add_route("*", "/portForward/{ns}/{pod}", self._port_forward)
        r.add_route("*", "/portForward/{ns}/{pod}/{uid}", self._port_forward)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for t in list(self._sessions):
            t.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- authentication and authorization ---------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.ssl_context is not None and request.path != "/healthz":
            who = _caller_groups(request)
            if who is None:
                return status(401, "Unauthorized", "Unauthorized")
            if ADMIN_GROUP not in who[1]:
                return status(403, "Forbidden",
                              f'Forbidden (user={who[0]}, verb={request.method.lower()}, resource=nodes, subresource=proxy)')
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except RuntimeError_ as e:
            return status(500, "InternalError", e.message)

    # -- simple endpoints -------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        objects = getattr(self.resolver, "pod_objects", None)
        if objects is not None:
            items = list(objects())
        else:
            items = [{"metadata": {"namespace": ns, "name": name, "uid": uid}}
                     for ns, name, uid, _ in self.resolver.pods()]
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    async def _summary(self, request: web.Request) -> web.StreamResponse:
        volume_paths = getattr(self.resolver, "volume_paths", None)
        pods = [PodInfo(ns, name, uid, sid, dict(volume_paths(ns, name)) if volume_paths else {})
                for ns, name, uid, sid in self.resolver.pods()]
        return web.json_response(await self.stats.summary(pods))

    # -- logs --------------------------------------------------------------------------------

    def _resolve(self, request: web.Request) -> ResolvedContainer | web.Response:
        ns, pod = request.match_info["ns"], request.match_info["pod"]
        container = request.match_info.get("container")
        rc = self.resolver.resolve(ns, pod, container)
        if rc is None:
            if self.resolver.sandbox_id(ns, pod) is None:
                return status(404, "NotFound", f'pod "{pod}" not found')
            return status(404, "NotFound", f'container "{container}" not found in pod "{pod}"')
        return rc

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        rc = self._resolve(request)
        if isinstance(rc, web.Response):
            return rc
        try:
            opts, previous = _log_options(request)
        except ValueError as e:
            return status(400, "BadRequest", str(e))
        if previous:
            path, cid = rc.previous_log_path, rc.previous_container_id
            if not path:
                return status(400, "BadRequest",
                              f'previous terminated container "{rc.container}" in pod "{rc.pod}" not found')
        else:
            path, cid = rc.log_path, rc.container_id
            if not path:
                return status(400, "BadRequest",
                              f'container "{rc.container}" in pod "{rc.pod}" is waiting to start: ContainerCreating')

        async def exited() -> bool:
            if previous or cid is None:
                return True
            try:
                return (await self.runtime.container_status(cid)).state != ContainerState.RUNNING
            except Exception:  # noqa: BLE001 - gone: not running
                return True

        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        gen = follow_log(path, tail=opts.tail_lines, since_ns=opts.since_ns, timestamps=opts.timestamps,
                         follow=opts.follow, exited=exited, poll=0.1)
        left = opts.limit_bytes
        try:
            async for chunk in gen:
                if left is not None:
                    chunk = chunk[:left]
                    left -= len(chunk)
                await resp.write(chunk)
                if left is not None and left <= 0:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        finally:
            await gen.aclose()
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    # -- exec and attach --------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        verb = request.path.split("/", 2)[1]
        rc = self._resolve(request)
        if isinstance(rc, web.Response):
            return rc
        if not rc.container_id:
            return status(400, "BadRequest",
                          f'container "{rc.container}" in pod "{rc.pod}" is waiting to start: ContainerCreating')
        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade != "websocket":
            if upgrade.startswith("spdy"):
                return status(400, "BadRequest",
                              "this kubelet streams over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io) only; "
                              "SPDY is not supported for exec and attach")
            return status(400, "BadRequest", "Upgrade request required")
        proto = channels.negotiate(request.headers.get("Sec-WebSocket-Protocol", ""))
        if proto is None:
            return status(400, "BadRequest",
                          f"unable to upgrade: no supported subprotocol; supported: {', '.join(channels.PROTOCOLS)}")
        cmd = request.query.getall("command", [])
        tty = _flag(request, "tty")
        stdin = _flag(request, "stdin", "input")
        if verb == "exec" and not cmd:
            return status(400, "BadRequest", "you must specify at least 1 command")
        if not (stdin or _flag(request, "stdout", "output") or _flag(request, "stderr")):
            return status(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
        ws = web.WebSocketResponse(protocols=(proto,), max_msg_size=0, autoping=True)
        await ws.prepare(request)
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            await self._run_stream(ws, proto, verb, rc.container_id, cmd, tty=tty, stdin=stdin)
        finally:
            if task is not None:
                self._sessions.discard(task)
        return ws

    async def _run_stream(self, ws: web.WebSocketResponse, proto: str, verb: str, cid: str, cmd: list[str], *,
                          tty: bool, stdin: bool) -> None:
        try:
            if verb == "exec":
                session: StreamSession = await self.runtime.exec(cid, cmd, tty=tty, stdin=stdin)
            else:
                session = await self.runtime.attach(cid, tty=tty, stdin=stdin)
        except RuntimeError_ as e:
            await _finish(ws, channels.error_status(e.message))
            return
        except Exception as e:  # noqa: BLE001 - the user sees why, the session ends cleanly
            await _finish(ws, channels.error_status(f"failed to {verb} in container: {e}"))
            return

        async def pump_in() -> None:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                m = channels.parse(msg.data)
                if m is None:
                    continue
                try:
                    if m.channel == channels.STDIN and stdin:
                        await session.write_stdin(m.data)
                    elif m.channel == channels.RESIZE:
                        size = channels.parse_resize(m.data)
                        if size is not None:
                            await session.resize(*size)
                    elif m.channel == channels.CLOSE and proto == channels.V5 and m.data[:1] == bytes((channels.STDIN,)):
                        await session.close_stdin()
                except (OSError, RuntimeError, ValueError):
                    # the process stopped reading (it exited): its output and status still follow
                    continue

        reader = asyncio.create_task(pump_in())
        try:
            while True:
                # the client going away ends the session too (Ctrl-C on kubectl): the runtime
                # closes the exec (or detaches), rather than the stream waiting on the process
                read = asyncio.ensure_future(session.read())
                await asyncio.wait({read, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    return
                out = read.result()
                if out is None:
                    break
                ch, data = out
                if data and not ws.closed:
                    await ws.send_bytes(channels.frame(ch, data))
            code = await session.wait()
            await _finish(ws, channels.exit_status(code, cmd if verb == "exec" else None))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            with contextlib.suppress(Exception):
                await session.close()

    # -- port-forward -----------------------------------------------------------------------

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["ns"], request.match_info["pod"]
        sandbox = self.resolver.sandbox_id(ns, pod)
        if sandbox is None:
            return status(404, "NotFound", f'pod "{pod}" not found')
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return status(400, "BadRequest",
                          f"port-forward is served over WebSocket ({portforward.WEBSOCKET_TUNNEL}) by this kubelet")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if portforward.WEBSOCKET_TUNNEL not in offered:
            return status(400, "BadRequest",
                          f"unable to upgrade: the port-forward subprotocol must be {portforward.WEBSOCKET_TUNNEL}")
        uid = next((u for n_, p_, u, _ in self.resolver.pods() if n_ == ns and p_ == pod), "")
        ws = web.WebSocketResponse(protocols=(portforward.WEBSOCKET_TUNNEL,), max_msg_size=0, autoping=True)
        await ws.prepare(request)

        async def dial(port: int) -> Any:
            return await self.runtime.port_forward(sandbox, port)

        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            await portforward.serve(_WebSocketBytes(ws), dial, pod=pod, uid=uid)
        finally:
            if task is not None:
                self._sessions.discard(task)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws


class _WebSocketBytes:
    """A WebSocket's binary messages as one byte stream (SPDY framing ignores message bounds)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def recv(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def send(self, data: bytes) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(data)


async def _finish(ws: web.WebSocketResponse, st: dict[str, Any]) -> None:
    """The Status on channel 3, then a normal close: what kubectl waits for."""
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        if not ws.closed:
            await ws.send_bytes(channels.status_frame(st))
            await ws.close()


@dataclass(frozen=True)
class LogOptions:
    tail_lines: int | None = None
    since_ns: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False


def _log_options(request: web.Request) -> tuple[LogOptions, bool]:
    q = request.query

    def integer(name: str) -> int | None:
        raw = q.get(name)
        if raw in (None, ""):
            return None
        try:
            v = int(raw)
        except ValueError:
            raise ValueError(f'invalid value for {name}: "{raw}"') from None
        if v < 0 or (name in ("sinceSeconds", "limitBytes") and v == 0):
            raise ValueError(f"{name}: Invalid value: {v}: must be greater than {'or equal to ' if name == 'tailLines' else ''}0")
        return v

    since = None
    secs = integer("sinceSeconds")
    if secs is not None:
        since = time.time_ns() - secs * 1_000_000_000
    if q.get("sinceTime"):
        if secs is not None:
            raise ValueError("at most one of sinceTime or sinceSeconds may be specified")
        try:
            since = parse_timestamp(q["sinceTime"])
        except (ValueError, IndexError):
            raise ValueError(f'invalid sinceTime "{q["sinceTime"]}": must be RFC 3339') from None
    opts = LogOptions(tail_lines=integer("tailLines"), since_ns=since, timestamps=_flag_q(q, "timestamps"),
                      limit_bytes=integer("limitBytes"), follow=_flag_q(q, "follow"))
    return opts, _flag_q(q, "previous")


def _flag_q(q: Any, name: str) -> bool:
    v = q.get(name)
    return v is not None and v.lower() in ("1", "true")


def summary_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
