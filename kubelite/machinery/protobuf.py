"""Decode ``application/vnd.kubernetes.protobuf`` request bodies into the JSON dict of the object.

client-go's typed clients (``kubectl create deployment``, ``auth can-i``, helm's release Secrets
and their DeleteOptions) send protobuf, and the API server must accept it (wire-contract §A4).
The body is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` envelope: field 1 typeMeta
{1 apiVersion, 2 kind}, field 2 raw (the object message), 3 contentEncoding, 4 contentType. The
object message is decoded field by field from ``kubelite.api.schema`` (protobuf numbers and
types) and ``kubelite.api.jsonshape`` (the Go facts: inline embedding, JSON names, pointers,
omitempty); nothing here knows any particular kind. Called by the API server's body codec.

Which values survive. Go's marshaller writes every non-pointer field, set or not, and a pointer
field only when it is set. The result should be what kubectl would have sent as JSON, so:

* a pointer field present on the wire is kept, zero or not: ``replicas: 0`` (``*int32``),
  ``emptyDir: {}`` (``*EmptyDirVolumeSource``), ``maxUnavailable: 0`` (``*IntOrString``);
* a non-pointer scalar (string, number, bool, bytes, IntOrString, Duration) is dropped when it
  is zero and its JSON tag has ``omitempty``, which is when Go's JSON drops it (``paused: false``,
  ``minReadySeconds: 0``, ``targetPort: 0`` go); fields without ``omitempty`` stay even at zero,
  as in Go's JSON (``containerPort``, SSAR ``status.allowed: false``, PDB status counters);
  a non-pointer Quantity is kept ("0"), as Go prints it;
* a non-pointer struct that decodes to ``{}`` is dropped (Go writes ``"status": {}``, which
  means the same as no status), and so is an empty Time (Go writes ``null``);
* empty lists and maps are dropped; map values and list items are always kept
  (``data: {"empty": ""}`` survives).

Malformed input raises StatusError 400, never a Python error.
"""
from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from kubelite.api import schema
from kubelite.api.helpers.times import format_micro_time, format_time
from kubelite.api.jsonshape import Shape, Slot, shape
from kubelite.machinery.errors import StatusError, bad_request

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

Resolver = Callable[[str, str], str | None]

_VARINT_TYPES = frozenset({"int32", "int64", "bool"})
_PACKABLE = frozenset({"int32", "int64", "bool", "double", "float"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MASK64 = (1 << 64) - 1


class _Malformed(Exception):
    """The bytes do not form the message the schema describes (turned into a 400)."""


def decode(body: bytes, resolve: Resolver) -> dict[str, Any]:
    """The JSON object carried by a protobuf request ``body``.

    ``resolve(api_version, kind)`` names the message (an OpenAPI definition name such as
    ``io.k8s.api.apps.v1.Deployment``) or returns None. Option kinds that client-go registers in
    every group version (``DeleteOptions`` under ``v1``, ``apps/v1``, ``meta.k8s.io/v1`` ...)
    fall back to their ``meta/v1`` message when the resolver does not know them."""
    if not body.startswith(MAGIC):
        raise bad_request("the protobuf body does not start with the Kubernetes magic prefix 6b 38 73 00")
    try:
        api_version, kind, raw, encoding = _envelope(body, len(MAGIC), len(body))
    except _Malformed as e:
        raise bad_request(f"unable to decode the protobuf envelope: {e}") from None
    if encoding:
        raise StatusError(415, "UnsupportedMediaType",
                          f'protobuf content encoding "{encoding}" is not supported')
    if not kind:
        raise bad_request("the protobuf body does not name its kind (typeMeta.kind is empty)")
    name = resolve(api_version, kind)
    if name is None and kind.endswith("Options") and schema.has_message(schema.META + kind):
        name = schema.META + kind
    if name is None or not schema.has_message(name):
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    try:
        obj = _message(raw, 0, len(raw), shape(name), resolve)
    except _Malformed as e:
        raise bad_request(f"unable to decode the protobuf body of {kind}: {e}") from None
    except RecursionError:
        raise bad_request(f"unable to decode the protobuf body of {kind}: nested too deeply") from None
    out: dict[str, Any] = {}
    if api_version:
        out["apiVersion"] = api_version
    out["kind"] = kind
    out.update(obj)
    return out


# --- wire primitives ---------------------------------------------------------------------------

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise _Malformed("varint longer than 10 bytes")


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The bounds (start, stop) of a length-delimited value starting at ``pos``."""
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise _Malformed(f"length {n} runs past the end of the message")
    return pos, pos + n


def _skip(buf: bytes, pos: int, end: int, wire: int) -> int:
    if wire == 0:
        return _varint(buf, pos, end)[1]
    if wire == 2:
        return _length(buf, pos, end)[1]
    size = {1: 8, 5: 4}.get(wire)
    if size is None:
        raise _Malformed(f"unsupported wire type {wire}")
    if pos + size > end:
        raise _Malformed("truncated fixed-width value")
    return pos + size


def _signed(v: int, bits: int) -> int:
    """Two's complement: Go writes a negative int32 as a 10-byte varint of its int64 value."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (number, wire type, value or start, stop) for each field of a small message."""
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise _Malformed("field number 0")
        if wire == 0:
            v, pos = _varint(buf, pos, end)
            yield num, wire, v, pos
        elif wire == 2:
            a, pos = _length(buf, pos, end)
            yield num, wire, a, pos
        else:
            start = pos
            pos = _skip(buf, pos, end, wire)
            yield num, wire, start, pos


def _text(buf: bytes, a: int, b: int) -> str:
    # Go does not check UTF-8 in proto2 strings; its JSON encoder writes U+FFFD instead.
    return buf[a:b].decode("utf-8", "replace")


def _envelope(buf: bytes, pos: int, end: int) -> tuple[str, str, bytes, str]:
    api_version = kind = encoding = ""
    raw = b""
    for num, wire, a, b in _fields(buf, pos, end):
        if wire != 2:
            continue
        if num == 1:
            for n2, w2, a2, b2 in _fields(buf, a, b):
                if w2 == 2 and n2 == 1:
                    api_version = _text(buf, a2, b2)
                elif w2 == 2 and n2 == 2:
                    kind = _text(buf, a2, b2)
        elif num == 2:
            raw = buf[a:b]
        elif num == 3:
            encoding = _text(buf, a, b)
    return api_version, kind, raw, encoding


# --- messages ----------------------------------------------------------------------------------

def _message(buf: bytes, pos: int, end: int, shp: Shape, resolve: Resolver) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_number = shp.by_number
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wire = key >> 3, key & 7
        slot = by_number.get(num)
        if slot is None:
            if num == 0:
                raise _Malformed("field number 0")
            pos = _skip(buf, pos, end, wire)  # a newer client's field: ignore, as Go does
            continue
        f = slot.field
        ftype = f.type
        if wire == 2:
            a, pos = _length(buf, pos, end)
            if ftype == "map":
                k, v = _map_entry(buf, a, pos, f.value_type or "string", resolve)
                out.setdefault(slot.json, {})[k] = v
                continue
            if f.repeated and ftype in _PACKABLE:
                out.setdefault(slot.json, []).extend(_packed(buf, a, pos, ftype))
                continue
            value = _length_value(buf, a, pos, ftype, resolve)
        elif wire == 0 and ftype in _VARINT_TYPES:
            v, pos = _varint(buf, pos, end)
            value = v != 0 if ftype == "bool" else _signed(v, 32 if ftype == "int32" else 64)
        elif wire == 1 and ftype == "double":
            if pos + 8 > end:
                raise _Malformed("truncated double")
            value = _finite(struct.unpack_from("<d", buf, pos)[0], shp, slot)
            pos += 8
        elif wire == 5 and ftype == "float":
            if pos + 4 > end:
                raise _Malformed("truncated float")
            value = _finite(_float32(struct.unpack_from("<f", buf, pos)[0]), shp, slot)
            pos += 4
        else:
            raise _Malformed(f"field {shp.short_name}.{slot.json} (#{num}, {ftype}) "
                             f"arrived with wire type {wire}")
        if f.repeated:
            out.setdefault(slot.json, []).append(value)
        elif slot.inline:
            out.update(value)
        elif _unset(slot, value):
            out.pop(slot.json, None)
        else:
            out[slot.json] = value
    return out


def _length_value(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> Any:
    """A length-delimited value of type ``ftype``: string, bytes, special or message."""
    if ftype == "string":
        return _text(buf, a, b)
    if ftype == "bytes":
        return base64.b64encode(buf[a:b]).decode("ascii")
    special = schema.SPECIAL.get(ftype)
    if special is not None and ftype != schema.CRD_SCHEMA_PROPS:
        return _SPECIALS[special](buf, a, b, ftype, resolve)
    if ftype in schema.SCALARS:
        raise _Malformed(f"a {ftype} value arrived length-delimited")
    shp = shape(ftype)
    value = _message(buf, a, b, shp, resolve)
    if shp.list_items is not None:  # ExtraValue, Verbs: a Go slice, a JSON list
        return value.get(shp.list_items.json, [])
    convert = _SCHEMA_WRAPPERS.get(ftype)
    return convert(value) if convert else value


def _unset(slot: Slot, value: Any) -> bool:
    """True if a single (non-repeated) value means "not set" in Go's JSON (module docstring)."""
    if value is None:  # empty Time, empty raw JSON
        return True
    if slot.pointer:
        return False
    if type(value) is dict or type(value) is list:
        return not value
    if not slot.omitempty:
        return False
    ftype = slot.field.type
    if ftype == schema.DURATION:
        return bool(value == "0s")
    if ftype == schema.QUANTITY:
        return False  # a struct to Go: never omitted, the zero value prints as "0"
    return bool(value == "" or value == 0)  # "", 0, 0.0, False


def _map_entry(buf: bytes, a: int, b: int, vtype: str, resolve: Resolver) -> tuple[str, Any]:
    key = ""
    value: Any = _MISSING
    for num, wire, x, y in _fields(buf, a, b):
        if num == 1 and wire == 2:
            key = _text(buf, x, y)
        elif num == 2:
            if wire == 2:
                value = _length_value(buf, x, y, vtype, resolve)
            elif wire == 0 and vtype in _VARINT_TYPES:
                value = x != 0 if vtype == "bool" else _signed(x, 32 if vtype == "int32" else 64)
            else:
                raise _Malformed(f"map value of type {vtype} arrived with wire type {wire}")
    if value is _MISSING:  # Go omits a zero value inside a map entry
        value = _length_value(b"", 0, 0, vtype, resolve) if vtype not in _VARINT_TYPES else (
            False if vtype == "bool" else 0)
    return key, value


_MISSING = object()


def _packed(buf: bytes, a: int, b: int, ftype: str) -> list[Any]:
    out: list[Any] = []
    if ftype in ("double", "float"):
        size, fmt = (8, "<d") if ftype == "double" else (4, "<f")
        if (b - a) % size:
            raise _Malformed(f"packed {ftype} list of {b - a} bytes")
        vals = [v for (v,) in struct.iter_unpack(fmt, buf[a:b])]
        return vals if ftype == "double" else [_float32(v) for v in vals]
    pos = a
    while pos < b:
        v, pos = _varint(buf, pos, b)
        out.append(v != 0 if ftype == "bool" else _signed(v, 32 if ftype == "int32" else 64))
    return out


def _float32(v: float) -> float:
    """The shortest decimal that reads back as the same float32, as Go's JSON prints it."""
    for digits in range(6, 10):
        cand = float(f"{v:.{digits}g}")
        if struct.pack("<f", cand) == struct.pack("<f", v):
            return cand
    return v


def _finite(v: float, shp: Shape, slot: Slot) -> float:
    if v != v or v in (float("inf"), float("-inf")):
        raise _Malformed(f"field {shp.short_name}.{slot.json} is not a finite number")
    return v


# --- special messages --------------------------------------------------------------------------

def _quantity(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> str:
    text = ""
    for num, wire, x, y in _fields(buf, a, b):
        if num == 1 and wire == 2:
            text = _text(buf, x, y)
    return text or "0"


def _int_or_string(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> int | str:
    kind, ival, sval = 0, 0, ""
    for num, wire, x, y in _fields(buf, a, b):
        if num == 1 and wire == 0:
            kind = x
        elif num == 2 and wire == 0:
            ival = _signed(x, 32)
        elif num == 3 and wire == 2:
            sval = _text(buf, x, y)
    return sval if kind == 1 else ival


def _time(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> str | None:
    if a == b:
        return None  # Go writes the zero Time as an empty message
    seconds = nanos = 0
    for num, wire, x, y in _fields(buf, a, b):
        if num == 1 and wire == 0:
            seconds = _signed(x, 64)
        elif num == 2 and wire == 0:
            nanos = _signed(x, 32)
    try:
        t = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise _Malformed(f"timestamp {seconds} is out of range") from None
    if ftype == schema.MICRO_TIME:
        # MicroTime keeps microseconds; Time drops sub-second precision on both wires.
        return format_micro_time(t.replace(microsecond=max(nanos, 0) // 1000 % 1000000))
    return format_time(t)


def _duration(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> str:
    ns = 0
    for num, wire, x, _ in _fields(buf, a, b):
        if num == 1 and wire == 0:
            ns = _signed(x, 64)
    return go_duration(ns)


def _raw_json(buf: bytes, a: int, b: int, ftype: str, resolve: Resolver) -> Any:
    raw = b""
    for num, wire, x, y in _fields(buf, a, b):
        if num == 1 and wire == 2:
            raw = buf[x:y]
    if not raw:
        return None
    if raw.startswith(MAGIC) and ftype == schema.RAW_EXTENSION:
        return decode(raw, resolve)  # an embedded object in protobuf form
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _Malformed(f"embedded {ftype.rpartition('.')[2]} is not valid JSON: {e}") from None


_SPECIALS: dict[str, Callable[[bytes, int, int, str, Resolver], Any]] = {
    "quantity": _quantity,
    "int-or-string": _int_or_string,
    "date-time": _time,
    "duration": _duration,
    "any": _raw_json,
}


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: 90s -> "1m30s", 1.5ms -> "1.5ms", 0 -> "0s"."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_frac(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_frac(u, 6)}ms"
    seconds = u // 1_000_000_000
    text = _frac(seconds % 60 * 1_000_000_000 + u % 1_000_000_000, 9) + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _frac(v: int, digits: int) -> str:
    whole, frac = divmod(v, 10 ** digits)
    return f"{whole}.{frac:0{digits}d}".rstrip("0") if frac else str(whole)


# --- JSONSchemaProps' either-or wrappers (their Go types marshal as one of two JSON forms) ------

def _or_array(v: dict[str, Any]) -> Any:
    return v["schema"] if "schema" in v else v.get("jSONSchemas", [])


def _or_bool(v: dict[str, Any]) -> Any:
    return v["schema"] if "schema" in v else bool(v.get("allows", False))


def _or_string_array(v: dict[str, Any]) -> Any:
    return v["schema"] if "schema" in v else v.get("property", [])


_SCHEMA_WRAPPERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    schema.APIEXT + "JSONSchemaPropsOrArray": _or_array,
    schema.APIEXT + "JSONSchemaPropsOrBool": _or_bool,
    schema.APIEXT + "JSONSchemaPropsOrStringArray": _or_string_array,
}
