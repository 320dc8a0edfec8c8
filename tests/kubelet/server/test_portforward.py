"""The port-forward protocol over SPDY, driven as kubectl drives it (a client-side Encoder and
Decoder over an in-memory transport), against real TCP ports on loopback."""
from __future__ import annotations

import asyncio
import socket

from kubelite.kubelet.server import portforward, spdy


class Pipe:
    """The server's transport; the test plays the client on the other end."""

    def __init__(self) -> None:
        self.to_server: asyncio.Queue[bytes] = asyncio.Queue()
        self.to_client: asyncio.Queue[bytes] = asyncio.Queue()

    async def recv(self) -> bytes:
        return await self.to_server.get()

    async def send(self, data: bytes) -> None:
        self.to_client.put_nowait(data)


class Client:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe, self.enc, self.dec = pipe, spdy.Encoder(), spdy.Decoder()
        self.pending: list[spdy.Frame] = []

    def send(self, data: bytes) -> None:
        self.pipe.to_server.put_nowait(data)

    async def frame(self) -> spdy.Frame:
        while not self.pending:
            self.pending += self.dec.feed(await asyncio.wait_for(self.pipe.to_client.get(), 5))
        return self.pending.pop(0)

    async def until_fin(self, stream_id: int) -> bytes:
        data = b""
        while True:
            f = await self.frame()
            if f.type == spdy.DATA and f.stream_id == stream_id:
                data += f.data
                if f.fin:
                    return data


async def _dial(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    class S:
        async def read(self, n: int = 65536) -> bytes:
            return await reader.read(n)

        async def write(self, data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def close_write(self) -> None:
            writer.write_eof()

        async def close(self) -> None:
            writer.close()
            await asyncio.sleep(0.1)    # as wait_closed() may take a while
    return S()


def test_forwarding_and_errors() -> None:
    async def go() -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            data = await r.read()           # until the client half-closes
            w.write(b"echo:" + data)
            await w.drain()
            w.close()
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        pipe = Pipe()
        server = asyncio.create_task(portforward.serve(pipe, _dial, pod="web", uid="u1"))
        c = Client(pipe)
        c.send(c.enc.syn_stream(1, {"streamtype": ["error"], "port": [str(port)], "requestid": ["0"]}))
        c.send(c.enc.data(1, b"", fin=True))
        c.send(c.enc.syn_stream(3, {"streamtype": ["data"], "port": [str(port)], "requestid": ["0"]}))
        replies = [await c.frame(), await c.frame()]
        assert [(f.type, f.stream_id) for f in replies] == [(spdy.SYN_REPLY, 1), (spdy.SYN_REPLY, 3)]
        c.send(c.enc.data(3, b"hello") + c.enc.data(3, b"", fin=True))
        assert await c.until_fin(3) == b"echo:hello"
        c.send(c.enc.rst_stream(3, spdy.CANCEL))   # kubectl resets the data stream at once...
        assert await c.until_fin(1) == b""          # ...and waits for the error stream to end
        c.send(c.enc.ping(1))
        assert (await c.frame()).ping_id == 1       # pings are answered

        # a closed port: the reason on the error stream, then both streams end
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        c.send(c.enc.syn_stream(5, {"streamtype": ["error"], "port": [str(closed)], "requestid": ["1"]}))
        c.send(c.enc.syn_stream(7, {"streamtype": ["data"], "port": [str(closed)], "requestid": ["1"]}))
        await c.frame()
        await c.frame()
        msg = await c.until_fin(5)
        assert msg.decode() == (f"error forwarding port {closed} to pod web, uid u1: "
                                f"dial tcp localhost:{closed}: connect: connection refused")
        c.send(c.enc.goaway(0))
        await asyncio.wait_for(server, 5)
        srv.close()

    asyncio.run(go())


def test_bad_port_header_and_garbage_end_cleanly() -> None:
    async def go() -> None:
        pipe = Pipe()
        server = asyncio.create_task(portforward.serve(pipe, _dial, pod="web", uid="u1"))
        c = Client(pipe)
        c.send(c.enc.syn_stream(1, {"streamtype": ["error"], "port": ["http"], "requestid": ["0"]}))
        c.send(c.enc.syn_stream(3, {"streamtype": ["data"], "port": ["http"], "requestid": ["0"]}))
        await c.frame()
        await c.frame()
        assert await c.until_fin(1) == b'invalid port header "http"'
        c.send(b"\x80\x02\x00\x01\x00\x00\x00\x00")   # SPDY/2: the session ends, no exception
        await asyncio.wait_for(server, 5)

    asyncio.run(go())
