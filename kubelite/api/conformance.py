"""Schema checks of built-in objects: unknown fields, pruning, and JSON type errors.

kube-apiserver decodes a JSON body into the Go struct of the kind; that decoding reports fields
the struct lacks (``fieldValidation=Strict`` -> 400, ``Warn`` -> a Warning header, ``Ignore``
-> dropped silently) and values of the wrong JSON type (always 400). kubelite keeps objects as
dicts, so the API server runs these three pure functions on every write instead:

* ``unknown_fields(obj, name)`` -> ``["spec.foo", "spec.template.spec.containers[0].imagePullPolcy"]``
  (the paths Kubernetes' strict decoder prints in ``unknown field "..."``);
* ``prune_unknown(obj, name)`` drops the same fields in place;
* ``type_errors(obj, name)`` -> FieldErrors whose message reads like Go's
  ``json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32``;
* ``drop_nulls(obj, name)`` gives ``null`` the meaning Go's decoder gives it, in place: a null
  field is absent, a null list item or map value is its type's zero value (``{}``, ``""``,
  ``0``). After it, code below the API server never meets ``"spec": null``, an
  ``annotations:`` key with no value, or ``matchExpressions: [null]``.

Everything is driven by ``jsonshape`` (the JSON view of ``schema``): maps take any key, special
types (Quantity, IntOrString, Time, ...) are leaves, ``any`` types take anything, and ``null``
is accepted everywhere (Go leaves the field at its zero value). Per message we precompute a
table of JSON key -> check, so a 3 KB Pod takes tens of microseconds.
"""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from kubelite.api import schema
from kubelite.api.jsonshape import shape
from kubelite.machinery.errors import FieldError, StatusError

# Check kinds. A spec is (kind, argument, Go type name as printed in errors).
_STR, _INT32, _INT64, _BOOL, _NUM, _BYTES, _MSG, _LIST, _MAP, _QTY, _INTSTR, _TIME, _DUR, _ANY = range(14)
Spec = tuple[int, Any, str]

_SCALAR_SPECS: dict[str, Spec] = {
    "string": (_STR, None, "string"),
    "int32": (_INT32, None, "int32"),
    "int64": (_INT64, None, "int64"),
    "bool": (_BOOL, None, "bool"),
    "double": (_NUM, None, "float64"),
    "float": (_NUM, None, "float32"),
    "bytes": (_BYTES, None, "[]uint8"),
}
_SPECIAL_SPECS: dict[str, Spec] = {
    "quantity": (_QTY, None, "resource.Quantity"),
    "int-or-string": (_INTSTR, None, "intstr.IntOrString"),
    "date-time": (_TIME, None, "v1.Time"),
    "duration": (_DUR, None, "v1.Duration"),
    "any": (_ANY, None, "runtime.RawExtension"),
}
_INT_RANGE = {_INT32: (-(1 << 31), (1 << 31) - 1), _INT64: (-(1 << 63), (1 << 63) - 1)}


def _spec_of(type_name: str) -> Spec:
    if type_name in _SCALAR_SPECS:
        return _SCALAR_SPECS[type_name]
    special = schema.SPECIAL.get(type_name)
    if special is not None:
        return _SPECIAL_SPECS[special]
    shp = shape(type_name)
    if shp.list_items is not None:  # ExtraValue, Verbs: a Go slice
        return (_LIST, _spec_of(shp.list_items.field.type), shp.go_name)
    return (_MSG, type_name, shp.go_name)


@cache
def _table(name: str) -> dict[str, Spec]:
    """JSON key -> spec for every field the Go struct of ``name`` accepts."""
    shp = shape(name)
    table: dict[str, Spec] = {}
    if shp.type_meta:
        table["apiVersion"] = table["kind"] = _SCALAR_SPECS["string"]
    for key, slot in shp.fields.items():
        f = slot.field
        if f.type == "map":
            value = _spec_of(f.value_type or "string")
            table[key] = (_MAP, value, f"map[string]{value[2]}")
        elif f.repeated:
            item = _spec_of(f.type)
            table[key] = (_LIST, item, f"[]{item[2]}")
        else:
            table[key] = _spec_of(f.type)
    return table


@cache
def _nested(name: str) -> dict[str, tuple[int, str]]:
    """JSON key -> (container kind, message) for the fields that hold messages."""
    out: dict[str, tuple[int, str]] = {}
    for key, (kind, arg, _) in _table(name).items():
        if kind == _MSG:
            out[key] = (_MSG, arg)
        elif kind in (_LIST, _MAP) and arg[0] == _MSG:
            out[key] = (kind, arg[1])
    return out


def _known(name: str) -> None:
    if not schema.has_message(name):
        raise KeyError(f"no schema for {name}")


# --- unknown fields ----------------------------------------------------------------------------

def unknown_fields(obj: dict[str, Any], schema_name: str) -> list[str]:
    """Paths of the fields ``obj`` carries that message ``schema_name`` does not declare, in
    document order, as Kubernetes prints them: ``spec.template.spec.containers[0].foo``."""
    _known(schema_name)
    out: list[str] = []
    _unknown(obj, schema_name, "", out, False)
    return out


def prune_unknown(obj: dict[str, Any], schema_name: str) -> None:
    """Drop, in place, every field ``unknown_fields`` would report."""
    _known(schema_name)
    _unknown(obj, schema_name, "", [], True)


def _unknown(obj: dict[str, Any], name: str, prefix: str, out: list[str], prune: bool) -> None:
    table = _table(name)
    nested = _nested(name)
    doomed: list[str] = []
    for key, value in obj.items():
        if key not in table:
            out.append(prefix + key)
            doomed.append(key)
            continue
        inner = nested.get(key)
        if inner is None or value is None:
            continue
        kind, msg = inner
        if kind == _MSG:
            if type(value) is dict:
                _unknown(value, msg, f"{prefix}{key}.", out, prune)
        elif kind == _LIST:
            if type(value) is list:
                for i, item in enumerate(value):
                    if type(item) is dict:
                        _unknown(item, msg, f"{prefix}{key}[{i}].", out, prune)
        elif type(value) is dict:  # map of messages
            for k, item in value.items():
                if type(item) is dict:
                    _unknown(item, msg, f"{prefix}{key}[{k}].", out, prune)
    if prune:
        for key in doomed:
            del obj[key]


def strict_message(paths: list[str]) -> str:
    """The 400 message for ``fieldValidation=Strict``: ``strict decoding error: unknown field "spec.foo", ...``."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def warnings(paths: list[str]) -> list[str]:
    """The Warning header texts for ``fieldValidation=Warn``."""
    return [f'unknown field "{p}"' for p in paths]


def cannot_handle(kind: str, version: str, detail: str) -> StatusError:
    """kube-apiserver's 400 for a body it cannot decode:
    ``Deployment in version "v1" cannot be handled as a Deployment: <detail>``."""
    return StatusError(400, "BadRequest",
                       f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}')


# --- nulls -------------------------------------------------------------------------------------

#: the zero value Go's decoder leaves for a null list item / map value, by check kind
_ZERO: dict[int, Any] = {_STR: "", _INT32: 0, _INT64: 0, _BOOL: False, _NUM: 0, _BYTES: "",
                         _QTY: "0", _INTSTR: 0}


def drop_nulls(obj: dict[str, Any], schema_name: str) -> None:
    """Rewrite ``null`` as Go's JSON decoder reads it, in place, under message ``schema_name``
    (run after ``type_errors`` found nothing). Members holding null are removed (the field
    keeps its zero value and is omitted on output); null items of lists and values of maps
    become the zero value of their type (a message's is ``{}``), or are dropped where that
    zero value has no JSON form here (Time, Duration). ``any`` values are left alone."""
    _known(schema_name)
    _drop_nulls(obj, _table(schema_name))


def _drop_nulls(obj: dict[str, Any], table: dict[str, Spec]) -> None:
    doomed = []
    for key, value in obj.items():
        if value is None:
            if key in table:
                doomed.append(key)
            continue
        spec = table.get(key)
        if spec is not None:
            _drop_nulls_value(value, spec)
    for key in doomed:
        del obj[key]


def _drop_nulls_value(value: Any, spec: Spec) -> None:
    kind, arg = spec[0], spec[1]
    if kind == _MSG:
        if type(value) is dict:
            _drop_nulls(value, _table(arg))
    elif kind == _LIST and type(value) is list:
        if any(item is None for item in value):
            zero = _zero(arg)
            value[:] = [zero() if item is None else item for item in value if item is not None or zero]
        for item in value:
            _drop_nulls_value(item, arg)
    elif kind == _MAP and type(value) is dict:
        zero = _zero(arg)
        for k, item in list(value.items()):
            if item is None:
                if zero:
                    value[k] = zero()
                else:
                    del value[k]
            else:
                _drop_nulls_value(item, arg)


def _zero(spec: Spec) -> Any:
    """A factory of the zero value for a null item of type ``spec``, or None to drop it."""
    kind = spec[0]
    if kind == _MSG:
        return dict
    if kind == _LIST:
        return list
    if kind in _ZERO:
        zero = _ZERO[kind]
        return lambda: zero
    return None


# --- type errors -------------------------------------------------------------------------------

def type_errors(obj: dict[str, Any], schema_name: str) -> list[FieldError]:
    """Values of the wrong JSON type under message ``schema_name``, in document order.

    ``field`` is the Kubernetes path (``spec.template.spec.containers[0].ports[0].containerPort``);
    ``message`` is what Go's decoder says (``json: cannot unmarshal string into Go struct field
    ContainerPort.spec.template.spec.containers.ports.containerPort of type int32``; Go leaves
    list indices out). kube-apiserver reports only the first; the caller should too, via
    ``cannot_handle(kind, version, errors[0].message)``. Unknown fields are not checked here."""
    _known(schema_name)
    if _ok_message(obj, _table(schema_name)):  # the common case: no paths needed
        return []
    out: list[FieldError] = []
    _check_message(obj, schema_name, shape(schema_name).short_name, "", "", out)
    return out


def _ok_message(obj: dict[str, Any], table: dict[str, Spec]) -> bool:
    """The fast pass of ``type_errors``: True if nothing is wrong. It builds no paths, so a
    clean object (nearly every write) costs one dict walk."""
    for key, value in obj.items():
        spec = table.get(key)
        if spec is None or value is None:
            continue
        kind = spec[0]
        if kind == _STR:
            if type(value) is not str:
                return False
        elif kind == _MSG:
            if type(value) is not dict or not _ok_message(value, _table(spec[1])):
                return False
        elif not _ok_value(value, spec):
            return False
    return True


def _ok_value(value: Any, spec: Spec) -> bool:
    kind, arg, _ = spec
    t = type(value)
    if kind == _LIST or kind == _MAP:
        if t is not (list if kind == _LIST else dict):
            return False
        items = value if kind == _LIST else value.values()
        ikind = arg[0]
        if ikind == _STR:
            for item in items:
                if type(item) is not str and item is not None:
                    return False
            return True
        if ikind == _MSG:
            table = _table(arg[1])
            for item in items:
                if item is not None and (type(item) is not dict or not _ok_message(item, table)):
                    return False
            return True
        for item in items:
            if item is not None and not _ok_value(item, arg):
                return False
        return True
    if kind == _INT32 or kind == _INT64:
        lo, hi = _INT_RANGE[kind]
        return t is int and lo <= value <= hi
    if kind == _BOOL:
        return t is bool
    if kind == _STR:
        return t is str
    if kind == _MSG:
        return t is dict and _ok_message(value, _table(arg))
    if kind == _ANY:
        return True
    # The rarer leaves: let the detailed pass decide (it is exact, just slower).
    errors: list[FieldError] = []
    _check_value(value, spec, "", "", "", errors)
    return not errors


def _check_message(obj: dict[str, Any], name: str, struct: str, gopath: str, kpath: str,
                   out: list[FieldError]) -> None:
    table = _table(name)
    for key, value in obj.items():
        spec = table.get(key)
        if spec is None or value is None:
            continue
        kind = spec[0]
        t = type(value)
        # The common leaves inline; everything else goes through _check_value.
        if kind == _STR:
            if t is not str:
                out.append(_mismatch(value, spec, struct, gopath + key, kpath + key))
        elif kind == _MSG:
            if t is dict:
                _check_message(value, spec[1], shape(spec[1]).short_name,
                               f"{gopath}{key}.", f"{kpath}{key}.", out)
            else:
                out.append(_mismatch(value, spec, struct, gopath + key, kpath + key))
        else:
            _check_value(value, spec, struct, gopath + key, kpath + key, out)


def _check_value(value: Any, spec: Spec, struct: str, gopath: str, kpath: str,
                 out: list[FieldError]) -> None:
    """Check one value (a field, a list item or a map value) against ``spec``."""
    kind, arg, _ = spec
    t = type(value)
    if value is None or kind == _ANY:
        return
    if kind == _STR:
        ok = t is str
    elif kind == _INT32 or kind == _INT64:
        lo, hi = _INT_RANGE[kind]
        if t is int and lo <= value <= hi:
            return
        if t is int or t is float:  # out of range, or not integral: Go quotes the number
            out.append(_mismatch(value, spec, struct, gopath, kpath, number=True))
            return
        ok = False
    elif kind == _BOOL:
        ok = t is bool
    elif kind == _NUM:
        ok = t is int or t is float
    elif kind == _MSG:
        if t is dict:
            _check_message(value, arg, shape(arg).short_name, gopath + ".", kpath + ".", out)
            return
        ok = False
    elif kind == _LIST:
        if t is list:
            for i, item in enumerate(value):
                if item is not None:
                    _check_value(item, arg, struct, gopath, f"{kpath}[{i}]", out)
            return
        ok = False
    elif kind == _MAP:
        if t is dict:
            for k, item in value.items():
                if item is not None:
                    _check_value(item, arg, struct, gopath, f"{kpath}[{k}]", out)
            return
        ok = False
    elif kind == _BYTES:
        if t is str:
            pos = base64_error(value)
            if pos is not None:
                out.append(_error(kpath, f"illegal base64 data at input byte {pos}"))
            return
        ok = False
    elif kind == _QTY:
        if t is str or t is int or t is float:
            detail = quantity_error(value if t is str else repr(value))
            if detail:
                out.append(_error(kpath, detail))
            return
        out.append(_error(kpath, QUANTITY_FORMAT))
        return
    elif kind == _INTSTR:
        if t is str:
            return
        # IntOrString decodes a non-string as int32 and Go adds the field to that error.
        as_int: Spec = (_INT32, None, "int32")
        _check_value(value, as_int, struct, gopath, kpath, out)
        return
    elif kind == _TIME or kind == _DUR:
        if t is str:
            detail = time_error(value) if kind == _TIME else duration_error(value)
            if detail:
                out.append(_error(kpath, detail))
            return
        # Time and Duration first decode a JSON string; Go names that string in the error.
        out.append(_mismatch(value, (_STR, None, "string"), struct, gopath, kpath))
        return
    else:
        ok = True
    if not ok:
        out.append(_mismatch(value, spec, struct, gopath, kpath))


def _json_type(value: Any, number: bool = False) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}" if number else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _mismatch(value: Any, spec: Spec, struct: str, gopath: str, kpath: str,
              number: bool = False) -> FieldError:
    return _error(kpath, f"json: cannot unmarshal {_json_type(value, number)} into Go struct "
                         f"field {struct}.{gopath} of type {spec[2]}")


def _error(path: str, message: str) -> FieldError:
    return FieldError(path, message, "FieldValueTypeInvalid")


# --- leaf format checks (the tiny parsers Go runs in UnmarshalJSON) ------------------------------

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_error(text: str) -> int | None:
    """None if ``text`` is standard padded base64 (Go's ``[]byte`` JSON form), else the byte
    offset Go's ``illegal base64 data at input byte N`` names. Follows Go's quantum-by-quantum
    decoder: CR and LF are skipped, "=" may only end the input, an unfinished quantum is an
    error at its start."""
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)
    si = 0
    while True:
        j = 0  # characters of the current 4-character quantum seen so far
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64_ALPHABET:
                j += 1
                continue
            if c in (10, 13):
                continue
            if c != 61 or j < 2:  # not "=", or padding too early
                return si - 1
            if j == 2:  # "xx=" needs a second "="
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    return n
                if src[si] != 61:
                    return si - 1
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            return si if si < n else None  # anything after the padding is garbage


QUANTITY_FORMAT = ("quantities must match the regular expression "
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
# Go reads a sign, digits, an optional fraction, then a suffix of these letters and an optional
# signed exponent; anything else is ErrFormatWrong. The suffix must then be a known one.
_QUANTITY = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_SUFFIXES = frozenset({"", "n", "u", "m", "k", "M", "G", "T", "P", "E",
                       "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"})
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")


def quantity_error(text: str) -> str | None:
    """None if ``text`` parses as a resource.Quantity ("100m", "1Gi", "1e3", "0.5"), else
    Go's message."""
    m = _QUANTITY.fullmatch(text.strip())
    if m is None or not (m.group(1) or m.group(2)):
        return QUANTITY_FORMAT
    suffix = m.group(3)
    if suffix not in _SUFFIXES and not _EXPONENT.fullmatch(suffix):
        return "unable to parse quantity's suffix"
    return None


_RFC3339 = "2006-01-02T15:04:05Z07:00"
# Go's layout elements for RFC 3339, in order: (element, pattern, range for the value).
_TIME_PARTS: list[tuple[str, re.Pattern[str], tuple[str, int, int] | None]] = [
    ("2006", re.compile(r"\d{4}"), None),
    ("-", re.compile("-"), None), ("01", re.compile(r"\d{2}"), ("month", 1, 12)),
    ("-", re.compile("-"), None), ("02", re.compile(r"\d{2}"), ("day", 1, 31)),
    ("T", re.compile("T"), None), ("15", re.compile(r"\d{2}"), ("hour", 0, 23)),
    (":", re.compile(":"), None), ("04", re.compile(r"\d{2}"), ("minute", 0, 59)),
    (":", re.compile(":"), None), ("05", re.compile(r"\d{2}(?:[.,]\d+)?"), ("second", 0, 59)),
    ("Z07:00", re.compile(r"Z|[+-]\d{2}:\d{2}"), None),
]


def time_error(text: str) -> str | None:
    """None if ``text`` is an RFC 3339 time, else Go's ``time.Parse`` message."""
    pos = 0
    head = f'parsing time "{text}"'
    for elem, pattern, bounds in _TIME_PARTS:
        m = pattern.match(text, pos)
        if m is None:
            return f'{head} as "{_RFC3339}": cannot parse "{text[pos:]}" as "{elem}"'
        if bounds is not None:
            what, lo, hi = bounds
            if not lo <= int(m.group()[:2]) <= hi:
                return f"{head}: {what} out of range"
        pos = m.end()
    if pos != len(text):
        return f'{head}: extra text: "{text[pos:]}"'
    return None


_DURATION_UNITS = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go ``time.ParseDuration`` string ("1h", "90m", "1h30m", "1.5s");
    ValueError with Go's message otherwise (kube's duration flags take these)."""
    err = duration_error(text)
    if err is not None:
        raise ValueError(err)
    sign = -1.0 if text[:1] == "-" else 1.0
    rest = text[1:] if text[:1] in "+-" else text
    total, pos = 0.0, 0
    while pos < len(rest) and rest != "0":
        m = _DURATION_PART.match(rest, pos)
        assert m is not None
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total


def duration_error(text: str) -> str | None:
    """None if ``text`` parses with Go's ``time.ParseDuration`` ("1h30m", "1.5s", "-2m"), else
    its message."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return None
    if not rest:
        return f"time: invalid duration {quoted}"
    pos = 0
    while pos < len(rest):
        m = _DURATION_PART.match(rest, pos)
        assert m is not None  # the pattern matches the empty string
        number, unit = m.groups()
        if number in ("", "."):
            return f"time: invalid duration {quoted}"
        if not unit:
            return f"time: missing unit in duration {quoted}"
        if unit not in _DURATION_UNITS:
            return f'time: unknown unit "{unit}" in duration {quoted}'
        pos = m.end()
    return None
