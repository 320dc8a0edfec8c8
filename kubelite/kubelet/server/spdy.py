"""SPDY/3.1 framing, the minimum Kubernetes' streaming needs (``moby/spdystream`` is the peer).

kubectl's port-forward runs SPDY/3.1 -- tunnelled inside WebSocket binary messages since 1.31,
or over a raw ``Upgrade: SPDY/3.1`` connection -- and multiplexes one pair of streams per
forwarded connection. This module turns bytes into frames and frames into bytes; it keeps the
one piece of state SPDY has below the stream level: the zlib contexts that compress header
blocks (one per direction, primed with the spec's dictionary and flushed with Z_SYNC_FLUSH
after each block, never reset). No I/O; ``portforward.py`` drives it.

Flow control (WINDOW_UPDATE) is read and ignored, as spdystream does: neither side enforces
windows, so neither side sends updates.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL, INTERNAL_ERROR = 1, 2, 3, 4, 5, 6

#: SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): 1423 bytes, no trailing NUL
DICTIONARY = (
    b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00\x00\x00\x03put"
    b"\x00\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00\x06accept\x00\x00\x00\x0eaccept-charset"
    b"\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-language\x00\x00\x00\raccept-ranges"
    b"\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00\rauthorization\x00\x00\x00\rcache-control"
    b"\x00\x00\x00\nconnection\x00\x00\x00\x0ccontent-base\x00\x00\x00\x10content-encoding"
    b"\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length\x00\x00\x00\x10content-location"
    b"\x00\x00\x00\x0bcontent-md5\x00\x00\x00\rcontent-range\x00\x00\x00\x0ccontent-type"
    b"\x00\x00\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06expect\x00\x00\x00\x07expires"
    b"\x00\x00\x00\x04from\x00\x00\x00\x04host\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modified-since"
    b"\x00\x00\x00\rif-none-match\x00\x00\x00\x08if-range\x00\x00\x00\x13if-unmodified-since"
    b"\x00\x00\x00\rlast-modified\x00\x00\x00\x08location\x00\x00\x00\x0cmax-forwards"
    b"\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authenticate\x00\x00\x00\x13proxy-authorization"
    b"\x00\x00\x00\x05range\x00\x00\x00\x07referer\x00\x00\x00\x0bretry-after\x00\x00\x00\x06server"
    b"\x00\x00\x00\x02te\x00\x00\x00\x07trailer\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade"
    b"\x00\x00\x00\nuser-agent\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning"
    b"\x00\x00\x00\x10www-authenticate\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status"
    b"\x00\x00\x00\x06200 OK\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url"
    b"\x00\x00\x00\x06public\x00\x00\x00\nset-cookie\x00\x00\x00\nkeep-alive\x00\x00\x00\x06origin"
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
assert len(DICTIONARY) == 1423

MAX_FRAME = 1 << 24   # the 24-bit length field's limit
#: a header block may not inflate beyond this (a zlib bomb must not exhaust memory)
MAX_HEADER_BLOCK = 64 * 1024


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3: the connection must be dropped."""


Headers = dict[str, list[str]]


@dataclass
class Frame:
    type: int                      # 0 = DATA, else a control frame type
    flags: int = 0
    stream_id: int = 0
    data: bytes = b""              # DATA payload
    headers: Headers = field(default_factory=dict)
    associated_id: int = 0         # SYN_STREAM
    priority: int = 0              # SYN_STREAM
    status: int = 0                # RST_STREAM, GOAWAY
    ping_id: int = 0               # PING
    delta: int = 0                 # WINDOW_UPDATE
    settings: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""


DATA = 0


def _encode_header_block(headers: Headers) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = "\x00".join(values).encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def _decode_header_block(block: bytes) -> Headers:
    try:
        (count,), pos = struct.unpack_from(">I", block, 0), 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (m,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + m].decode()
            pos += 4 + m
            if pos > len(block):
                raise ProtocolError("truncated header block")
            if name != name.lower() or name in headers:
                raise ProtocolError(f"invalid header name {name!r}")
            headers[name] = value.split("\x00")
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed header block: {e}") from None
    return headers


class Encoder:
    """Frames to bytes; owns the outgoing header compression context."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def _headers(self, headers: Headers) -> bytes:
        return self._z.compress(_encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(ftype: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload

    def data(self, stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
        out = []
        # one frame per 24-bit length; an empty FIN frame is how a stream half-closes
        for i in range(0, max(len(data), 1), MAX_FRAME - 1):
            chunk = data[i:i + MAX_FRAME - 1]
            last = i + MAX_FRAME - 1 >= len(data)
            flags = FLAG_FIN if fin and last else 0
            out.append(struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(chunk)) + chunk)
        return b"".join(out)

    def syn_stream(self, stream_id: int, headers: Headers, *, fin: bool = False, associated_id: int = 0,
                   priority: int = 0) -> bytes:
        payload = struct.pack(">IIBB", stream_id, associated_id, (priority & 7) << 5, 0) + self._headers(headers)
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, payload)

    def syn_reply(self, stream_id: int, headers: Headers | None = None, *, fin: bool = False) -> bytes:
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + self._headers(headers or {}))

    def headers(self, stream_id: int, headers: Headers, *, fin: bool = False) -> bytes:
        return self._control(HEADERS, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + self._headers(headers))

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_good: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_good, status))

    def settings(self, entries: list[tuple[int, int, int]]) -> bytes:
        body = struct.pack(">I", len(entries)) + b"".join(
            struct.pack(">II", (f << 24) | i, v) for f, i, v in entries)
        return self._control(SETTINGS, 0, body)

    def window_update(self, stream_id: int, delta: int) -> bytes:
        return self._control(WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))


class Decoder:
    """Bytes to frames, incrementally (``feed`` whatever arrived, then take ``frames()``);
    owns the incoming header decompression context."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._z = zlib.decompressobj(15, DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = flags_len >> 24
            if word & 0x80000000:
                version, ftype = (word >> 16) & 0x7FFF, word & 0xFFFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frame = self._control(ftype, flags, payload)
                if frame is not None:
                    out.append(frame)
            else:
                out.append(Frame(DATA, flags, word & 0x7FFFFFFF, data=payload))
        return out

    def _headers(self, block: bytes) -> Headers:
        try:
            raw = self._z.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"bad header compression: {e}") from None
        if self._z.unconsumed_tail:
            raise ProtocolError("header block too large")
        return _decode_header_block(raw)

    def _control(self, ftype: int, flags: int, p: bytes) -> Frame | None:
        try:
            if ftype == SYN_STREAM:
                sid, assoc, prio, _slot = struct.unpack_from(">IIBB", p, 0)
                return Frame(ftype, flags, sid & 0x7FFFFFFF, associated_id=assoc & 0x7FFFFFFF,
                             priority=prio >> 5, headers=self._headers(p[10:]))
            if ftype in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", p, 0)
                return Frame(ftype, flags, sid & 0x7FFFFFFF, headers=self._headers(p[4:]))
            if ftype == RST_STREAM:
                sid, status = struct.unpack_from(">II", p, 0)
                return Frame(ftype, flags, sid & 0x7FFFFFFF, status=status)
            if ftype == PING:
                (pid,) = struct.unpack_from(">I", p, 0)
                return Frame(ftype, flags, ping_id=pid)
            if ftype == GOAWAY:
                last, status = struct.unpack_from(">II", p, 0)
                return Frame(ftype, flags, last & 0x7FFFFFFF, status=status)
            if ftype == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p, 0)
                return Frame(ftype, flags, sid & 0x7FFFFFFF, delta=delta & 0x7FFFFFFF)
            if ftype == SETTINGS:
                (n,) = struct.unpack_from(">I", p, 0)
                entries = []
                for i in range(n):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * i)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Frame(ftype, flags, settings=entries)
        except struct.error:
            raise ProtocolError(f"truncated control frame type {ftype}") from None
        return None  # unknown control frame types are ignored (SPDY/3 §2.2.1)
