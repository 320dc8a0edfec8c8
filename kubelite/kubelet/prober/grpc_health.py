"""The gRPC health check (``grpc.health.v1.Health/Check``) a grpc probe makes, over plain
HTTP/2 with prior knowledge, in ~100 lines instead of a dependency on grpcio (a 10 MB wheel
with its own threads for one unary call).

What it speaks: the client preface, one SETTINGS frame (and the ACK of the server's), one
HEADERS frame whose header block uses HPACK literals without indexing and without Huffman
coding (every server must accept those), one DATA frame holding the length-prefixed
``HealthCheckRequest{service}``; it then reads frames until the response DATA (a
``HealthCheckResponse`` whose field 1 is the serving status, 1 = SERVING) or the end of the
stream. The response headers are never decoded (servers Huffman-code them): the status comes
from the message, and a server that answers with an error sends no message at all.
"""
from __future__ import annotations

import asyncio
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SERVING = 1
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def _int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """HPACK integer encoding with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: str, value: str) -> bytes:
    # Literal Header Field without Indexing, new name (0x00), no Huffman.
    n, v = name.encode(), value.encode()
    return b"\x00" + _int(len(n), 7) + n + _int(len(v), 7) + v


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def request_message(service: str) -> bytes:
    body = b"" if not service else b"\x0a" + _varint(len(service.encode())) + service.encode()
    return b"\x00" + struct.pack(">I", len(body)) + body


def parse_status(message: bytes) -> int:
    """The serving status in a length-prefixed HealthCheckResponse (0 if absent)."""
    body = message[5:]
    i = 0
    while i < len(body):
        key = body[i]
        i += 1
        if key == 0x08:  # field 1, varint
            value, shift = 0, 0
            while i < len(body):
                b = body[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            return value
        break
    return 0


async def check(host: str, port: int, service: str = "", timeout: float = 1.0) -> int:
    """The server's serving status for ``service``; raises OSError/TimeoutError/ValueError when
    the call fails."""
    return await asyncio.wait_for(_check(host, port, service), timeout)


async def _check(host: str, port: int, service: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        headers = b"".join([
            _literal(":method", "POST"), _literal(":scheme", "http"),
            _literal(":path", "/grpc.health.v1.Health/Check"), _literal(":authority", f"{host}:{port}"),
            _literal("content-type", "application/grpc"), _literal("te", "trailers"),
            _literal("user-agent", "kube-probe/1.32"),
        ])
        writer.write(PREFACE + _frame(SETTINGS, 0, 0, b"") + _frame(HEADERS, END_HEADERS, 1, headers)
                     + _frame(DATA, END_STREAM, 1, request_message(service)))
        await writer.drain()
        data = b""
        while True:
            head = await reader.readexactly(9)
            length = int.from_bytes(head[:3], "big")
            ftype, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            payload = await reader.readexactly(length) if length else b""
            if ftype == SETTINGS and not flags & ACK:
                writer.write(_frame(SETTINGS, ACK, 0, b""))
            elif ftype == PING and not flags & ACK:
                writer.write(_frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                raise ValueError("server sent GOAWAY")
            elif stream == 1 and ftype == RST_STREAM:
                raise ValueError("stream reset by the server")
            elif stream == 1 and ftype == DATA:
                data += payload
                if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[1:5], "big"):
                    return parse_status(data)
            if stream == 1 and flags & END_STREAM and ftype in (DATA, HEADERS):
                raise ValueError("rpc error: the server answered without a health status")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ConnectionError):
            pass
