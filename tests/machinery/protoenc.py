"""A test-only protobuf encoder that marshals a JSON object the way Go's generated code does.

Driven by the same schema and Go facts as the decoder, it mimics what client-go puts on the
wire: every non-pointer field is written even when unset (empty strings, zeros, false, an empty
Time, nested structs full of zeros), pointer fields only when set, maps sorted by key. The
decoder must undo exactly that. Real kubectl captures (protobuf_fixtures/) keep it honest.
"""
from __future__ import annotations

import base64
import struct
from datetime import datetime
from typing import Any

import orjson

from kubelite.api import schema
from kubelite.api.jsonshape import shape
from kubelite.machinery.protobuf import MAGIC

_MASK64 = (1 << 64) - 1


def varint(n: int) -> bytes:
    n &= _MASK64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(num: int, wire: int) -> bytes:
    return varint(num << 3 | wire)


def ld(num: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(num, 2) + varint(len(payload)) + payload


def vi(num: int, value: int) -> bytes:
    """A varint field."""
    return tag(num, 0) + varint(value)


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    """MAGIC + runtime.Unknown, as client-go's protobuf serializer writes it."""
    type_meta = ld(1, api_version.encode()) + ld(2, kind.encode())
    return MAGIC + ld(1, type_meta) + ld(2, raw) + ld(3, encoding.encode()) + ld(4, b"")


def _seconds(text: str) -> tuple[int, int]:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.timestamp()), t.microsecond * 1000


def _zero(ftype: str) -> Any:
    return {"string": "", "bytes": "", "bool": False, "double": 0.0, "float": 0.0}.get(ftype, 0)


def _scalar(num: int, ftype: str, value: Any) -> bytes:
    if ftype == "string":
        return ld(num, value.encode())
    if ftype == "bytes":
        return ld(num, base64.b64decode(value))
    if ftype == "double":
        return tag(num, 1) + struct.pack("<d", value)
    if ftype == "float":
        return tag(num, 5) + struct.pack("<f", value)
    return vi(num, int(value))


def _value(num: int, ftype: str, value: Any, go_zeros: bool) -> bytes:
    """One field occurrence of type ``ftype`` carrying ``value`` (None: Go's zero value)."""
    if ftype in schema.SCALARS:
        return _scalar(num, ftype, _zero(ftype) if value is None else value)
    special = schema.SPECIAL.get(ftype)
    if special == "quantity":
        return ld(num, ld(1, str("0" if value is None else value).encode()))
    if special == "int-or-string":
        if isinstance(value, str):
            return ld(num, vi(1, 1) + vi(2, 0) + ld(3, value.encode()))
        return ld(num, vi(1, 0) + vi(2, value or 0) + ld(3, b""))
    if special == "date-time":
        if value is None:
            return ld(num, b"")  # Go's zero Time marshals to nothing
        secs, nanos = _seconds(value)
        body = vi(1, secs) + (vi(2, nanos) if ftype == schema.MICRO_TIME else b"")
        return ld(num, body)
    if special == "duration":
        raise AssertionError("no built-in field uses Duration")
    if special == "any" and ftype != schema.CRD_SCHEMA_PROPS:
        return ld(num, b"" if value is None else ld(1, orjson.dumps(value)))
    return ld(num, marshal({} if value is None else value, ftype, go_zeros=go_zeros))


def _wrapper(value: Any, ftype: str, go_zeros: bool) -> bytes | None:
    """JSONSchemaProps' either-or types."""
    props = schema.CRD_SCHEMA_PROPS
    if ftype == schema.APIEXT + "JSONSchemaPropsOrArray":
        if isinstance(value, list):
            return b"".join(ld(2, marshal(v, props, go_zeros=go_zeros)) for v in value)
        return ld(1, marshal(value, props, go_zeros=go_zeros))
    if ftype == schema.APIEXT + "JSONSchemaPropsOrBool":
        if isinstance(value, bool):
            return vi(1, value)
        return vi(1, 1) + ld(2, marshal(value, props, go_zeros=go_zeros))
    if ftype == schema.APIEXT + "JSONSchemaPropsOrStringArray":
        if isinstance(value, list):
            return b"".join(ld(2, v.encode()) for v in value)
        return ld(1, marshal(value, props, go_zeros=go_zeros))
    return None


def marshal(obj: Any, name: str, *, go_zeros: bool = True, packed: bool = False) -> bytes:
    """The message ``name`` holding JSON ``obj``. ``go_zeros``: write unset non-pointer fields
    as Go does; ``packed``: write repeated numbers packed (Go writes them unpacked)."""
    wrapped = _wrapper(obj, name, go_zeros)
    if wrapped is not None:
        return wrapped
    shp = shape(name)
    if shp.list_items is not None:  # ExtraValue: a Go slice
        return b"".join(ld(1, v.encode()) for v in obj)
    out = bytearray()
    for num in sorted(shp.by_number):
        slot = shp.by_number[num]
        f = slot.field
        if slot.inline:
            out += ld(num, marshal(obj, f.type, go_zeros=go_zeros, packed=packed))
            continue
        value = obj.get(slot.json)
        if value is None and (slot.pointer or f.repeated or f.type == "map" or not go_zeros):
            continue
        if f.type == "map":
            vtype = f.value_type or "string"
            for k in sorted(value):
                out += ld(num, ld(1, k.encode()) + _value(2, vtype, value[k], go_zeros))
        elif f.repeated:
            if packed and f.type in ("int32", "int64", "bool"):
                out += ld(num, b"".join(varint(int(v)) for v in value))
            else:
                for item in value:
                    out += _value(num, f.type, item, go_zeros)
        else:
            out += _value(num, f.type, value, go_zeros)
    return bytes(out)
