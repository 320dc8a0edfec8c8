"""SPDY/3.1 framing: round trips, incremental decoding, the shared header compression context,
and bytes from the peer's implementation (moby/spdystream writes each field separately)."""
from __future__ import annotations

import struct
import zlib

import pytest

from kubelite.kubelet.server import spdy


def test_dictionary_is_the_spec_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options") and spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


def test_round_trip_of_every_frame_byte_by_byte() -> None:
    enc, dec = spdy.Encoder(), spdy.Decoder()
    wire = (enc.syn_stream(1, {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]})
            + enc.syn_reply(1) + enc.data(1, b"payload") + enc.data(1, b"", fin=True)
            + enc.headers(3, {"x": ["a", "b"]}, fin=True) + enc.rst_stream(5, spdy.CANCEL) + enc.ping(7)
            + enc.goaway(9) + enc.window_update(1, 1000) + enc.settings([(0, 7, 65536)]))
    frames = []
    for i in range(len(wire)):          # a transport may cut anywhere
        frames += dec.feed(wire[i:i + 1])
    kinds = [f.type for f in frames]
    assert kinds == [spdy.SYN_STREAM, spdy.SYN_REPLY, spdy.DATA, spdy.DATA, spdy.HEADERS, spdy.RST_STREAM,
                     spdy.PING, spdy.GOAWAY, spdy.WINDOW_UPDATE, spdy.SETTINGS]
    syn = frames[0]
    assert syn.stream_id == 1 and syn.header("streamtype") == "error" and syn.header("Port") == "8080"
    assert frames[2].data == b"payload" and not frames[2].fin and frames[3].fin
    assert frames[4].headers == {"x": ["a", "b"]} and frames[4].fin
    assert frames[5].status == spdy.CANCEL and frames[6].ping_id == 7 and frames[8].delta == 1000
    assert frames[9].settings == [(0, 7, 65536)]


def test_header_context_spans_frames() -> None:
    """Later header blocks refer back to earlier ones: one zlib stream per direction."""
    enc, dec = spdy.Encoder(), spdy.Decoder()
    a = enc.syn_stream(1, {"streamtype": ["data"], "port": ["80"]})
    b = enc.syn_stream(3, {"streamtype": ["data"], "port": ["80"]})
    assert len(b) < len(a)
    assert dec.feed(a)[0].header("port") == "80"
    assert dec.feed(b)[0].header("port") == "80"
    with pytest.raises(spdy.ProtocolError):   # the second block alone cannot be decoded
        spdy.Decoder().feed(b)


def _go_style_syn_stream(stream_id: int, headers: list[tuple[str, str]]) -> bytes:
    """A SYN_STREAM as spdystream's framer builds it: zlib BestCompression with the dictionary,
    Z_SYNC_FLUSH, the control header written field by field."""
    block = struct.pack(">I", len(headers)) + b"".join(
        struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode() for k, v in headers)
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    comp = z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)
    return (struct.pack(">H", 0x8003) + struct.pack(">H", 1) + struct.pack(">I", len(comp) + 10)
            + struct.pack(">I", stream_id) + struct.pack(">I", 0) + bytes([0, 0]) + comp)


def test_decodes_a_go_framed_syn_stream() -> None:
    frames = spdy.Decoder().feed(_go_style_syn_stream(1, [("streamtype", "error"), ("port", "80"), ("requestid", "0")]))
    assert frames[0].headers == {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}


@pytest.mark.parametrize("bad", [
    struct.pack(">HHI", 0x8002, 1, 0),                 # SPDY/2
    struct.pack(">HHI", 0x8003, 1, 2) + b"\x00\x00",   # truncated SYN_STREAM
    struct.pack(">HHI", 0x8003, 2, 8) + b"\x00\x00\x00\x01garb",  # header block that is not zlib
])
def test_garbage_is_a_protocol_error(bad: bytes) -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.Decoder().feed(bad)


def test_header_bombs_are_refused() -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    comp = z.compress(b"\x00" * (spdy.MAX_HEADER_BLOCK * 4)) + z.flush(zlib.Z_SYNC_FLUSH)
    frame = struct.pack(">HHI", 0x8003, 8, 4 + len(comp)) + struct.pack(">I", 1) + comp
    with pytest.raises(spdy.ProtocolError):
        spdy.Decoder().feed(frame)


def test_unknown_control_frames_are_skipped() -> None:
    enc = spdy.Encoder()
    wire = struct.pack(">HHI", 0x8003, 0x77, 3) + b"abc" + enc.ping(1)
    assert [f.type for f in spdy.Decoder().feed(wire)] == [spdy.PING]
