"""Custom resources against their CRD's ``openAPIV3Schema``: validate, prune, default.

The API server's custom-resource strategy calls, for every create and update of a custom
resource, in apiextensions-apiserver's order: ``prune`` (drop fields the schema does not know,
returning their paths for ``fieldValidation=Strict|Warn``), ``apply_defaults`` (drop
non-nullable nulls, fill ``default`` values), then ``validate`` (the OpenAPI value checks,
reported as Kubernetes prints them). The CRD strategy checks a CRD's own schema with
``validate_crd_schema`` (kubelite.api.structural_crd) and builds Table columns with
``printer_columns``/``table_columns``/``printer_cells`` (kubelite.api.structural_columns); both
are re-exported here.

Schemas are plain JSON dicts as stored in the CRD. Everything here is pure: no I/O, no clock.

Messages follow kube-openapi's validator wrapped by apiextensions-apiserver, e.g. a string
where an integer belongs gives cause ``spec.replicas`` with message
``Invalid value: "string": spec.replicas in body must be of type integer: "string"``; checks
that have no field (anyOf/oneOf/allOf/not) are reported under Kubernetes' ``<nil>`` path.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, TypeGuard

from kubelite.machinery.errors import FieldError

META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
TYPES = ("array", "boolean", "integer", "number", "object", "string")

INT_OR_STRING = "x-kubernetes-int-or-string"
PRESERVE = "x-kubernetes-preserve-unknown-fields"
EMBEDDED = "x-kubernetes-embedded-resource"


# --------------------------------------------------------------------------- validation

def validate(obj: Any, schema: dict[str, Any]) -> list[FieldError]:
    """Field errors of ``obj`` (a whole custom resource, or any value) against ``schema``."""
    errs: list[FieldError] = []
    _validate(obj, schema, "", errs, root=True)
    return errs


def _validate(x: Any, s: dict[str, Any], path: str, errs: list[FieldError], root: bool = False) -> None:
    if not isinstance(s, dict):
        return
    types = _declared_types(s)
    if x is None:
        # kube-openapi: null passes only untyped or nullable schemas (and is checked no further).
        if types and not s.get("nullable"):
            errs.append(_type_invalid(path, "null", ",".join(types)))
        return
    actual = _json_type(x)
    if types and not _type_ok(actual, x, types):
        errs.append(_type_invalid(path, actual, ",".join(types)))
        return
    _validate_combinators(x, s, path, errs)
    if isinstance(x, str):
        _validate_string(x, s, path, errs)
    elif actual in ("integer", "number"):
        _validate_number(x, s, path, errs)
    elif isinstance(x, list):
        _validate_array(x, s, path, errs)
    if "enum" in s and isinstance(s["enum"], list):
        if not any(_json_equal(x, e) for e in s["enum"]):
            values = [e if isinstance(e, str) else _json(e) for e in s["enum"]]
            quoted = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
            errs.append(FieldError(_field(path), f"Unsupported value: {_go_value(x)}: supported values: {quoted}",
                                   "FieldValueNotSupported"))
    if isinstance(x, dict):
        _validate_object(x, s, path, errs, root)


def _validate_object(x: dict[str, Any], s: dict[str, Any], path: str, errs: list[FieldError], root: bool) -> None:
    n = len(x)
    if _is_int(s.get("minProperties")) and n < s["minProperties"]:
        errs.append(_invalid(path, n, f"{path} in body should have at least {s['minProperties']} properties"))
    if _is_int(s.get("maxProperties")) and n > s["maxProperties"]:
        errs.append(FieldError(_field(path), f"Too many: {n}: must have at most {s['maxProperties']} items",
                               "FieldValueTooMany"))
    props = _props(s)
    extra = s.get("additionalProperties")
    if extra is False:
        for k in x:
            if k not in props:
                errs.append(_invalid(path, k, f"{path}.{k} in body is a forbidden property"))
    elif isinstance(extra, dict):
        for k, v in x.items():
            if k not in props:
                _validate(v, extra, _child(path, k), errs)
    if s.get(EMBEDDED) and not root:
        _validate_embedded(x, path, errs)
    for k, ps in props.items():
        if k in x:
            _validate(x[k], ps, _child(path, k), errs)
    for k in s.get("required") or ():
        if isinstance(k, str) and k not in x:
            errs.append(FieldError(_child(path, k), "Required value", "FieldValueRequired"))


def _validate_embedded(x: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """An x-kubernetes-embedded-resource object needs apiVersion and kind (objectmeta.Validate)."""
    for key in ("apiVersion", "kind"):
        if key not in x:
            errs.append(FieldError(_child(path, key), "Required value: must not be empty", "FieldValueRequired"))
        elif not isinstance(x[key], str):
            errs.append(_invalid(_child(path, key), x[key], "must be a string"))
        elif not x[key]:
            errs.append(_invalid(_child(path, key), "", "must not be empty"))
    if "metadata" in x and not isinstance(x["metadata"], dict):
        errs.append(_invalid(_child(path, "metadata"), x["metadata"], "must be an object"))


def _validate_string(x: str, s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    length = len(x)  # Go counts runes (utf8.RuneCountInString), as Python does
    if _is_int(s.get("maxLength")) and length > s["maxLength"]:
        errs.append(FieldError(_field(path), f"Too long: may not be more than {s['maxLength']} bytes",
                               "FieldValueTooLong"))
        return
    if _is_int(s.get("minLength")) and length < s["minLength"]:
        errs.append(_invalid(path, x, f"{path} in body should be at least {s['minLength']} chars long"))
        return
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            matched = go_regexp(pattern).search(x) is not None
        except UnsupportedPattern:
            matched = True
        except re.error as e:
            errs.append(_invalid(path, x, f"{path} in body should match '{pattern}, but pattern is invalid: {e}'"))
            return
        if not matched:
            errs.append(_invalid(path, x, f"{path} in body should match '{pattern}'"))
            return
    fmt = s.get("format")
    if isinstance(fmt, str) and fmt:
        check = FORMATS.get(fmt.replace("-", ""))
        if check is not None and not check(x):
            errs.append(FieldError(_field(path),
                                   f"Invalid value: {_go_value(x)}: {path} in body must be of type {fmt}: {_go_value(x)}",
                                   "FieldValueTypeInvalid"))


def _validate_number(x: int | float, s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    # kube-openapi compares integers as int64 (so the bound prints as an integer) and
    # everything else as float64 (printed with Go's %v).
    def bound(b: float) -> str:
        return str(int(b)) if isinstance(x, int) else _go_float(float(b))

    m = s.get("multipleOf")
    if _is_num(m) and m > 0:
        if isinstance(x, int) and isinstance(m, int):
            off = x % m != 0
        else:  # float quotients: tolerate rounding (0.3 is a multiple of 0.1), as go-openapi does
            q = x / m
            off = abs(q - round(q)) > 1e-9 * max(1.0, abs(q))
        if off:
            errs.append(_invalid(path, x, f"{path} in body should be a multiple of {_go_value(m)}"))
    mx = s.get("maximum")
    if _is_num(mx):
        if s.get("exclusiveMaximum") is True and x >= mx:
            errs.append(_invalid(path, x, f"{path} in body should be less than {bound(mx)}"))
        elif x > mx:
            errs.append(_invalid(path, x, f"{path} in body should be less than or equal to {bound(mx)}"))
    mn = s.get("minimum")
    if _is_num(mn):
        if s.get("exclusiveMinimum") is True and x <= mn:
            errs.append(_invalid(path, x, f"{path} in body should be greater than {bound(mn)}"))
        elif x < mn:
            errs.append(_invalid(path, x, f"{path} in body should be greater than or equal to {bound(mn)}"))


def _validate_array(x: list[Any], s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    n = len(x)
    if _is_int(s.get("minItems")) and n < s["minItems"]:
        errs.append(_invalid(path, n, f"{path} in body should have at least {s['minItems']} items"))
    if _is_int(s.get("maxItems")) and n > s["maxItems"]:
        errs.append(FieldError(_field(path), f"Too many: {n}: must have at most {s['maxItems']} items",
                               "FieldValueTooMany"))
    if s.get("uniqueItems") is True:
        seen: set[str] = set()
        for item in x:
            key = _canonical(item)
            if key in seen:
                errs.append(_invalid(path, "", f"{path} in body shouldn't contain duplicates"))
                break
            seen.add(key)
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(x):
            _validate(item, items, f"{path}[{i}]", errs)


def _validate_combinators(x: Any, s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """allOf/anyOf/oneOf/not: value validations only in a structural schema."""
    name = json.dumps(path)
    any_of = [a for a in s.get("anyOf") or () if isinstance(a, dict)]
    if any_of:
        results = [_sub(x, a, path) for a in any_of]
        if all(results):
            errs.append(_nil(f"{name} must validate at least one schema (anyOf)"))
            errs.extend(_fewest(results))
    one_of = [a for a in s.get("oneOf") or () if isinstance(a, dict)]
    if one_of:
        results = [_sub(x, a, path) for a in one_of]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.append(_nil(f"{name} must validate one and only one schema (oneOf). {extra}"))
            if valid == 0:
                errs.extend(_fewest(results))
    all_of = [a for a in s.get("allOf") or () if isinstance(a, dict)]
    if all_of:
        results = [_sub(x, a, path) for a in all_of]
        failed = [r for r in results if r]
        for r in failed:
            errs.extend(r)
        if failed:
            extra = ". None validated" if len(failed) == len(results) else ""
            errs.append(_nil(f"{name} must validate all the schemas (allOf){extra}"))
    if isinstance(s.get("not"), dict) and not _sub(x, s["not"], path):
        errs.append(_nil(f"{name} must not validate the schema (not)"))


def _fewest(results: list[list[FieldError]]) -> list[FieldError]:
    """The alternative that came closest (kube-openapi reports the best failure)."""
    return sorted(results, key=len)[0]


def _sub(x: Any, s: dict[str, Any], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    _validate(x, s, path, out)
    return out


def _declared_types(s: dict[str, Any]) -> tuple[str, ...]:
    if s.get(INT_OR_STRING):
        return ("integer", "string")
    t = s.get("type")
    return (t,) if isinstance(t, str) and t else ()


def _json_type(x: Any) -> str:
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    if isinstance(x, dict):
        return "object"
    return "null" if x is None else type(x).__name__


def _type_ok(actual: str, x: Any, types: tuple[str, ...]) -> bool:
    if actual in types:
        return True
    if actual == "integer" and "number" in types:
        return True
    # 3.0 decodes as a float but is an integer by JSON's rules.
    return actual == "number" and "integer" in types and float(x).is_integer()


def _type_invalid(path: str, actual: str, expected: str) -> FieldError:
    return FieldError(_field(path),
                      f"Invalid value: {_go_value(actual)}: {path} in body must be of type {expected}: {_go_value(actual)}",
                      "FieldValueTypeInvalid")


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(_field(path), f"Invalid value: {_go_value(value)}: {detail}", "FieldValueInvalid")


def _nil(detail: str) -> FieldError:
    # Errors without a field name get Kubernetes' nil field path.
    return FieldError("<nil>", f'Invalid value: "": {detail}', "FieldValueInvalid")


def _field(path: str) -> str:
    return path or "<nil>"


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _props(s: dict[str, Any] | None) -> dict[str, Any]:
    props = s.get("properties") if s is not None else None
    return props if isinstance(props, dict) else {}


def _items(s: dict[str, Any] | None) -> dict[str, Any] | None:
    items = s.get("items") if s is not None else None
    return items if isinstance(items, dict) else None


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _canonical(v: Any) -> str:
    return _json(v)


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values where true != 1 (Python's bool is an int) but 3 == 3.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(p, q) for p, q in zip(a, b))
    return bool(a == b)  # scalars of one type


def _go_value(v: Any) -> str:
    """A bad value as field.Error prints it: strings quoted, numbers with Go's %v."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return _json(v)


def _go_float(f: float) -> str:
    """Go's %v of a float64: shortest digits, exponent form below 1e-4 and from 1e6 on
    (1e6 -> "1e+06", 123456.0 -> "123456", 0.5 -> "0.5")."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits_t, exp = Decimal(repr(f)).as_tuple()
    digits = list(digits_t)
    assert isinstance(exp, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    nd = len(digits)
    dp = nd + exp
    ds = "".join(map(str, digits))
    neg = "-" if sign else ""
    x = dp - 1
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= nd:
        return f"{neg}{ds}{'0' * (dp - nd)}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


# ------------------------------------------------------------------ Go regexps and formats

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


class UnsupportedPattern(re.error):
    """A valid Go pattern Python's ``re`` cannot express (Unicode classes ``\\pL``, negated
    POSIX classes). CRDs using one are accepted and the pattern is not enforced."""


@lru_cache(maxsize=512)
def go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile a Go (RE2) pattern with Python's ``re``; matching is unanchored (``search``),
    as Go's MatchString. ``\\d \\w \\s`` are ASCII-only as in Go; translated: ``\\z``,
    ``\\Q..\\E``, ``(?<name>..)`` and POSIX classes ``[[:alpha:]]``. Raises re.error for
    invalid patterns and UnsupportedPattern for ``\\p{..}`` classes."""
    out: list[str] = []
    multiline = re.search(r"\(\?[a-zA-Z]*m", pattern) is not None
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
            out.append(re.escape(literal))
            i = len(pattern) if end < 0 else end + 2
            continue
        if pattern.startswith("\\z", i):
            out.append("\\Z")
            i += 2
            continue
        if c == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] in "pP":
                raise UnsupportedPattern(f"Unicode class \\{pattern[i + 1]} is not supported")
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        m = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:]) if in_class else None
        if m and m.group(2) in _POSIX:
            if m.group(1):
                raise UnsupportedPattern(f"negated POSIX class [:^{m.group(2)}:] is not supported")
            out.append(_POSIX[m.group(2)])
            i += m.end()
            continue
        if c == "[" and not in_class:
            # a "]" right after "[" or "[^" is a literal member, not the end of the class
            in_class = True
            j = i + 1 + (pattern.startswith("^", i + 1))
            if pattern.startswith("]", j):
                out.append(pattern[i:j] + "\\]")
                i = j + 1
                continue
        elif c == "]" and in_class:
            in_class = False
        elif c == "$" and not in_class and not multiline:
            # Go's $ is the end of the text; Python's also matches before a final newline
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_UUID = re.compile(r"^(?i:[0-9a-f]{8}-?[0-9a-f]{4}-?([1-5])[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12})$")
_DURATION = re.compile(r"^(-?\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$|^\d+\s*(ns|us|ms|s|m|h|d|w|"
                       r"nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)$")


def _date_time(s: str) -> bool:
    if not _RFC3339.match(s):
        return False
    try:
        dt.datetime.fromisoformat(s.replace("z", "Z").replace("t", "T").replace(" ", "T"))
    except ValueError:
        return False
    return True


def _date(s: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)) and bool(dt.date.fromisoformat(s))
    except ValueError:
        return False


def _ip(version: int) -> Callable[[str], bool]:
    def check(s: str) -> bool:
        try:
            return ipaddress.ip_address(s).version == version
        except ValueError:
            return False
    return check


def _cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _byte(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except ValueError:
        return False
    return True


def _uuid(version: str | None) -> Callable[[str], bool]:
    def check(s: str) -> bool:
        m = _UUID.match(s)
        if not m:
            return False
        if version is None:
            return True
        return m.group(1) == version and (version == "3" or s.replace("-", "")[16].lower() in "89ab")
    return check


def _uri(s: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$|^/\S*$", s))


# Formats apiextensions-apiserver keeps (others are stripped and not checked), by
# normalised name ("date-time" -> "datetime"); int32/int64/float/double are not checked.
FORMATS: dict[str, Callable[[str], bool]] = {
    "datetime": _date_time, "date": _date, "ipv4": _ip(4), "ipv6": _ip(6), "cidr": _cidr,
    "hostname": lambda s: bool(_HOSTNAME.match(s)) and len(s) <= 255, "email": lambda s: bool(_EMAIL.match(s)),
    "mac": lambda s: bool(_MAC.match(s)), "byte": _byte, "uuid": _uuid(None), "uuid3": _uuid("3"),
    "uuid4": _uuid("4"), "uuid5": _uuid("5"), "uri": _uri, "duration": lambda s: bool(_DURATION.match(s)),
    "bsonobjectid": lambda s: bool(re.fullmatch(r"[0-9a-fA-F]{24}", s)),
    "password": lambda s: True,
}


# --------------------------------------------------------------------------- pruning

def prune(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Drop, in place, fields of the custom resource ``obj`` that ``schema`` does not specify;
    return their paths, sorted (``spec.foo``, ``spec.items[0].bar``).

    The root is treated as an embedded resource: apiVersion, kind and metadata are never
    pruned there (metadata is the server's business). ``x-kubernetes-preserve-unknown-fields``
    keeps unknown fields below it while still pruning inside the fields it does specify.
    """
    root = dict(schema or {})
    root[EMBEDDED] = True
    unknown: list[str] = []
    _prune(obj, root, "", unknown)
    return sorted(unknown)


def _prune(x: Any, s: dict[str, Any] | None, path: str, unknown: list[str]) -> None:
    if s is not None and s.get(PRESERVE):
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_child(path, k))
                del x[k]
            return
        props = _props(s)
        has_extra = "additionalProperties" in s and s["additionalProperties"] is not None
        for k in list(x):
            if s.get(EMBEDDED) and k in META_FIELDS:
                _prune_embedded_meta(x, k, path, unknown)
                continue
            if k in props:
                _prune(x[k], props[k], _child(path, k), unknown)
            elif has_extra:
                _prune(x[k], _extra_schema(s), _child(path, k), unknown)
            else:
                unknown.append(_child(path, k))
                del x[k]
    elif isinstance(x, list):
        items = _items(s)
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, s: dict[str, Any] | None, path: str, unknown: list[str]) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = _props(s)
        for k in list(x):
            if s.get(EMBEDDED) and k in META_FIELDS:
                _prune_embedded_meta(x, k, path, unknown)
            elif k in props:
                _prune(x[k], props[k], _child(path, k), unknown)
            elif "additionalProperties" in s and s["additionalProperties"] is not None:
                _prune(x[k], _extra_schema(s), _child(path, k), unknown)
    elif isinstance(x, list):
        items = _items(s)
        for i, v in enumerate(x):
            _skip_prune(v, items, f"{path}[{i}]", unknown)


def _extra_schema(s: dict[str, Any]) -> dict[str, Any] | None:
    extra = s.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _prune_embedded_meta(x: dict[str, Any], key: str, path: str, unknown: list[str]) -> None:
    """Inside a nested embedded resource, metadata keeps only ObjectMeta's fields (as
    Kubernetes' round trip through ObjectMeta does); the root's metadata is left alone."""
    if key != "metadata" or not path or not isinstance(x.get(key), dict):
        return
    known = _object_meta_fields()
    meta = x[key]
    for k in list(meta):
        if k not in known:
            unknown.append(f"{path}.metadata.{k}")
            del meta[k]


@lru_cache(maxsize=1)
def _object_meta_fields() -> frozenset[str]:
    from kubelite.api import schema as api_schema

    return frozenset(api_schema.message(api_schema.META + "ObjectMeta").fields)


# --------------------------------------------------------------------------- defaulting

def apply_defaults(obj: Any, schema: dict[str, Any] | None) -> None:
    """Default ``obj`` in place, as the apiserver does between pruning and validation:
    first drop nulls the schema does not allow and cannot default, then set each missing
    property that has a ``default`` (a deep copy) and recurse -- so a default applies only
    where its parent object exists (``spec.x`` defaults nothing when ``spec`` is absent,
    unless ``spec`` itself has a default)."""
    if schema is None:
        return
    _prune_nulls(obj, schema)
    _default(obj, schema)


def _nullable_null(x: Any, s: dict[str, Any] | None) -> bool:
    return x is None and s is not None and not s.get("nullable")


def _field_schema(s: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if s is None:
        return None
    sub = _props(s).get(key)
    return sub if isinstance(sub, dict) else _extra_schema(s)


def _prune_nulls(x: Any, s: dict[str, Any] | None) -> None:
    if isinstance(x, dict):
        for k in list(x):
            sub = _field_schema(s, k)
            if _nullable_null(x[k], sub) and sub is not None and sub.get("default") is None:
                del x[k]
            else:
                _prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = _items(s)
        for v in x:
            _prune_nulls(v, items)


def _default(x: Any, s: dict[str, Any] | None) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = _props(s)
        for k, p in props.items():
            if isinstance(p, dict) and p.get("default") is not None:
                if k not in x or _nullable_null(x[k], p):
                    x[k] = copy.deepcopy(p["default"])
        extra = _extra_schema(s)
        for k in list(x):
            if k in props and isinstance(props[k], dict):
                _default(x[k], props[k])
            elif extra is not None:
                if _nullable_null(x[k], extra) and extra.get("default") is not None:
                    x[k] = copy.deepcopy(extra["default"])
                _default(x[k], extra)
    elif isinstance(x, list):
        items = _items(s)
        if items is None:
            return
        for i in range(len(x)):
            if _nullable_null(x[i], items) and items.get("default") is not None:
                x[i] = copy.deepcopy(items["default"])
            _default(x[i], items)


# Re-exported so the CRD strategy has one module to import (defined in siblings to keep
# each module to one responsibility).
from kubelite.api.structural_columns import (  # noqa: E402
    PrinterColumn, parse_jsonpath, printer_cells, printer_columns, table_columns, validate_printer_columns)
from kubelite.api.structural_crd import validate_crd_schema  # noqa: E402

__all__ = [
    "validate", "prune", "apply_defaults", "validate_crd_schema", "printer_columns", "printer_cells",
    "table_columns", "validate_printer_columns", "PrinterColumn", "parse_jsonpath", "go_regexp", "FORMATS",
]
