"""The server side of Kubernetes' port-forward protocol (``portforward.k8s.io``) over SPDY/3.1.

kubectl opens, per local connection, two SPDY streams carrying headers ``streamtype`` (``error``
then ``data``), ``port`` and ``requestid``. Once both of a request have arrived the server dials
the port inside the pod's network and copies bytes both ways between it and the data stream.
When the pod side ends, the server half-closes the data stream and then the error stream --
kubectl waits for both before it forgets the connection. A failure to dial is written as text on
the error stream (``error forwarding port 80 to pod web, uid ...: ...``), which kubectl prints.

``serve`` runs one SPDY connection over any byte transport (WebSocket binary messages for the
tunnelled protocol of kubectl 1.31+); the port side is a ``PortStream`` from the runtime.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

from kubelite.kubelet.runtime.interface import PortStream
from kubelite.kubelet.server import spdy

log = logging.getLogger(__name__)

PROTOCOL = "portforward.k8s.io"
#: the subprotocol kubectl offers for SPDY tunnelled in WebSocket
WEBSOCKET_TUNNEL = "SPDY/3.1+portforward.k8s.io"


class ByteTransport(Protocol):
    async def recv(self) -> bytes: ...          # b"" at EOF
    async def send(self, data: bytes) -> None: ...


Dialer = Callable[[int], Awaitable[PortStream]]


@dataclass
class _Request:
    port_header: str
    error_id: int = 0
    data_id: int = 0
    task: asyncio.Task[None] | None = None
    copy: asyncio.Task[None] | None = None
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


class PortForwardSession:
    def __init__(self, transport: ByteTransport, dial: Dialer, *, pod: str, uid: str) -> None:
        self.transport = transport
        self.dial = dial
        self.pod = pod
        self.uid = uid
        self.enc = spdy.Encoder()
        self.dec = spdy.Decoder()
        self._lock = asyncio.Lock()
        self._requests: dict[str, _Request] = {}
        self._by_stream: dict[int, _Request] = {}
        self._closed = False

    async def _send(self, build: Callable[[], bytes]) -> None:
        # encode under the lock: header compression state must follow the order on the wire
        async with self._lock:
            if self._closed:
                return
            await self.transport.send(build())

    async def serve(self) -> None:
        try:
            while True:
                data = await self.transport.recv()
                if not data:
                    return
                for frame in self.dec.feed(data):
                    if not await self._on_frame(frame):
                        return
        except spdy.ProtocolError as e:
            log.info("port-forward to %s: %s", self.pod, e)
        finally:
            self._closed = True
            for req in list(self._requests.values()):
                if req.task is not None:
                    req.task.cancel()
            for req in list(self._requests.values()):
                if req.task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await req.task

    async def _on_frame(self, f: spdy.Frame) -> bool:
        if f.type == spdy.SYN_STREAM:
            await self._send(lambda: self.enc.syn_reply(f.stream_id))
            self._on_stream(f)
        elif f.type == spdy.DATA:
            req = self._by_stream.get(f.stream_id)
            if req is not None and f.stream_id == req.data_id:
                if f.data:
                    req.inbound.put_nowait(f.data)
                if f.fin:
                    req.inbound.put_nowait(None)
        elif f.type == spdy.RST_STREAM:
            # kubectl resets the data stream once it has read our FIN (to drop unsent data),
            # and only then waits for the error stream's end: stop copying, still end that
            req = self._by_stream.get(f.stream_id)
            if req is not None:
                if req.copy is not None:
                    req.copy.cancel()
                elif req.task is not None:
                    req.task.cancel()
        elif f.type == spdy.PING:
            await self._send(lambda: self.enc.ping(f.ping_id))
        elif f.type == spdy.GOAWAY:
            return False
        return True

    def _on_stream(self, f: spdy.Frame) -> None:
        stype = f.header("streamtype")
        rid = f.header("requestid")
        if not rid:
            # clients before requestID paired streams by id: error = n, data = n + 2
            rid = str(f.stream_id - 2 if stype == "data" else f.stream_id)
        req = self._requests.get(rid)
        if req is None:
            req = self._requests[rid] = _Request(f.header("port"))
        if stype == "error":
            req.error_id = f.stream_id
        elif stype == "data":
            req.data_id = f.stream_id
        else:
            asyncio.ensure_future(self._send(lambda: self.enc.rst_stream(f.stream_id, spdy.PROTOCOL_ERROR)))
            return
        self._by_stream[f.stream_id] = req
        if req.error_id and req.data_id and req.task is None:
            req.task = asyncio.create_task(self._forward(rid, req), name=f"portforward-{self.pod}-{rid}")

    async def _forward(self, rid: str, req: _Request) -> None:
        try:
            try:
                port = int(req.port_header)
                if not 0 < port < 65536:
                    raise ValueError
            except ValueError:
                await self._fail(req, f'invalid port header "{req.port_header}"')
                return
            try:
                stream = await self.dial(port)
            except Exception as e:  # noqa: BLE001 - reported to the user on the error stream
                why = (f"dial tcp localhost:{port}: connect: connection refused"
                       if isinstance(e, ConnectionRefusedError) else str(e) or type(e).__name__)
                await self._fail(req, f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: {why}")
                return
            req.copy = asyncio.create_task(self._copy(req, stream))
            try:
                await asyncio.shield(req.copy)
            except asyncio.CancelledError:
                if not req.copy.cancelled():   # the session ends, not just this stream
                    req.copy.cancel()
                    raise
            await self._send(lambda: self.enc.data(req.error_id, b"", fin=True))
        finally:
            self._requests.pop(rid, None)
            self._by_stream.pop(req.error_id, None)
            self._by_stream.pop(req.data_id, None)

    async def _fail(self, req: _Request, message: str) -> None:
        await self._send(lambda: self.enc.data(req.error_id, message.encode(), fin=True))
        await self._send(lambda: self.enc.data(req.data_id, b"", fin=True))

    async def _copy(self, req: _Request, stream: PortStream) -> None:
        async def inbound() -> None:
            while True:
                chunk = await req.inbound.get()
                if chunk is None:  # the client half-closed: so does the pod side, if it can
                    close_write = getattr(stream, "close_write", None)
                    if close_write is not None:
                        await close_write()
                    return
                await stream.write(chunk)

        writer = asyncio.create_task(inbound())
        try:
            while True:
                chunk = await stream.read(32 * 1024)
                if not chunk:
                    break
                await self._send(functools.partial(self.enc.data, req.data_id, chunk))
            await self._send(lambda: self.enc.data(req.data_id, b"", fin=True))
        except (ConnectionError, OSError) as e:
            message = f"error copying from pod port: {e}".encode()
            await self._send(lambda: self.enc.data(req.error_id, message))
            await self._send(lambda: self.enc.data(req.data_id, b"", fin=True))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            with contextlib.suppress(Exception):
                await stream.close()


async def serve(transport: ByteTransport, dial: Dialer, *, pod: str, uid: str) -> None:
    await PortForwardSession(transport, dial, pod=pod, uid=uid).serve()
