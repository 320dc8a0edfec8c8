"""Table columns of custom resources, from a CRD version's ``additionalPrinterColumns``.

The custom-resource strategy calls ``printer_columns(crd_version)`` once per served version and
``printer_cells(obj, columns, now)`` per row, the way apiextensions-apiserver's table convertor
does. ``printer_columns`` gives the version's ``additionalPrinterColumns`` only; the Table always
starts with NAME, and a CRD that lists no columns gets a single ``Age`` column (type ``date`` on
``.metadata.creationTimestamp``) -- ``table_columns`` returns that full list. So a CRD without
columns prints NAME, AGE, and a CRD with columns prints NAME plus exactly those (AGE only if
listed). Cells are typed by the column: integer/number/boolean values, ``date`` as a human
duration ("5m"), ``string`` as client-go's jsonpath prints it.

Supported JSONPath subset (anything else gives an empty cell, never an error): ``.a.b``,
``['a.b']`` / ``["a"]``, ``[2]``, ``[-1]``, ``[1:3]``, ``[*]`` / ``.*``, and filters
``[?(@.type=="Ready")]`` with ``== != < <= > >=`` against a string, number or boolean
literal, or ``[?(@.field)]`` for presence; an outer ``{...}`` is accepted. Not supported:
recursive descent ``..``, unions ``[a,b]``, and functions.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from kubelite.api.helpers.times import try_parse_time
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, age, human_duration
from kubelite.machinery.errors import FieldError, invalid

COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]


@dataclass(frozen=True, slots=True)
class PrinterColumn(Column):
    """A CRD column: a Table column definition plus the JSONPath its cells come from."""

    json_path: str = ""


DEFAULT_AGE = PrinterColumn("Age", type="date", description=AGE_COLUMN.description,
                            json_path=".metadata.creationTimestamp")


def printer_columns(crd_version: dict[str, Any]) -> list[PrinterColumn]:
    """The columns a CRD version (``spec.versions[i]``) lists, in order; [] when none."""
    out: list[PrinterColumn] = []
    for c in crd_version.get("additionalPrinterColumns") or []:
        if not isinstance(c, dict):
            continue
        path = c.get("jsonPath", "")
        out.append(PrinterColumn(
            name=c.get("name", ""), type=c.get("type", "string"), format=c.get("format", ""),
            description=c.get("description") or f"Custom resource definition column (in JSONPath format): {path}",
            priority=_int(c.get("priority")), json_path=path))
    return out


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def table_columns(crd_version: dict[str, Any]) -> list[Column]:
    """Every Table column of a CRD version: NAME, then the listed columns or the default Age."""
    return [NAME_COLUMN, *(printer_columns(crd_version) or [DEFAULT_AGE])]


def printer_cells(obj: dict[str, Any], columns: Sequence[Column], now: dt.datetime) -> list[Any]:
    """One Table row's cells for ``obj`` (None where a path finds nothing)."""
    cells: list[Any] = []
    for col in columns:
        if isinstance(col, PrinterColumn):
            cells.append(_cell(col, obj, now))
        elif col.format == "name":
            cells.append(obj.get("metadata", {}).get("name", ""))
        elif col.name == "Age":
            cells.append(age(obj, now))
        else:
            cells.append(None)
    return cells


def validate_printer_columns(crd_version: dict[str, Any], path: str) -> list[FieldError]:
    """Field errors of ``additionalPrinterColumns`` (name, type, format, a path starting
    with "."), as the CRD strategy reports them. ``path`` is the version's field path."""
    errs: list[FieldError] = []
    for i, c in enumerate(crd_version.get("additionalPrinterColumns") or []):
        p = f"{path}.additionalPrinterColumns[{i}]"
        if not isinstance(c, dict):
            errs.append(invalid(p, str(c), "must be an object"))
            continue
        if not c.get("name"):
            errs.append(_required(f"{p}.name", ""))
        t = c.get("type")
        if not t:
            errs.append(_required(f"{p}.type", f"must be one of {','.join(COLUMN_TYPES)}"))
        elif t not in COLUMN_TYPES:
            errs.append(invalid(f"{p}.type", t, f"must be one of {','.join(COLUMN_TYPES)}"))
        if c.get("format") and c["format"] not in COLUMN_FORMATS:
            errs.append(invalid(f"{p}.format", c["format"], f"must be one of {','.join(COLUMN_FORMATS)}"))
        jp = c.get("jsonPath")
        if not jp:
            errs.append(_required(f"{p}.JSONPath", ""))
        elif not isinstance(jp, str) or not jp.startswith("."):
            errs.append(invalid(f"{p}.JSONPath", str(jp), "must be a simple json path starting with ."))
    return errs


def _required(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def _cell(col: PrinterColumn, obj: dict[str, Any], now: dt.datetime) -> Any:
    try:
        found = evaluate_jsonpath(list(_parsed(col.json_path)), obj)
    except ValueError:
        return None
    if not found:
        return None
    value = found[0]
    if col.type == "string":
        return go_print(value)
    if value is None:
        return None
    if col.type == "integer":
        if isinstance(value, bool):
            return None
        return int(value) if isinstance(value, (int, float)) else None
    if col.type == "number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if col.type == "boolean":
        return value if isinstance(value, bool) else None
    if col.type == "date":
        if not isinstance(value, str):
            return None
        t = try_parse_time(value)
        if t is None:
            return "<invalid>"
        return human_duration(now - t)
    return None


@lru_cache(maxsize=512)
def _parsed(path: str) -> tuple[Step, ...]:
    if not path.strip():
        raise ValueError("empty JSONPath")
    return tuple(parse_jsonpath(path))


def go_print(value: Any) -> str:
    """A JSON value as client-go's jsonpath prints it with fmt.Fprint (maps as map[k:v])."""
    from kubelite.api.structural import _go_float

    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    return str(value)


# ------------------------------------------------------------------------- JSONPath subset

Step = tuple[Any, ...]

_NAME = re.compile(r"(?:\\.|[^.\[\]\\])+")
_FILTER = re.compile(r"\?\(\s*@((?:\.[^\s=!<>()]+|\[[^\]]*\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)")


def parse_jsonpath(expr: str) -> list[Step]:
    """Steps of a JSONPath in the supported subset; ValueError otherwise."""
    s = expr.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    if s.startswith("$"):
        s = s[1:]
    steps: list[Step] = []
    i = 0
    while i < len(s):
        if s.startswith("..", i):
            raise ValueError(f"recursive descent is not supported: {expr}")
        if s[i] == ".":
            i += 1
            if i < len(s) and s[i] == "*":
                steps.append(("wildcard",))
                i += 1
                continue
            m = _NAME.match(s, i)
            if not m:
                if i == len(s):  # a bare "." is the object itself
                    continue
                raise ValueError(f"invalid field name in {expr!r} at {i}")
            steps.append(("field", re.sub(r"\\(.)", r"\1", m.group(0))))
            i = m.end()
        elif s[i] == "[":
            end = _closing_bracket(s, i)
            steps.append(_bracket(s[i + 1:end].strip(), expr))
            i = end + 1
        else:
            raise ValueError(f"unexpected {s[i]!r} in {expr!r} at {i}")
    return steps


def _closing_bracket(s: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(s)):
        c = s[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unclosed bracket in {s!r}")


def _bracket(inner: str, expr: str) -> Step:
    if inner == "*":
        return ("wildcard",)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    m = re.fullmatch(r"(-?\d*)\s*:\s*(-?\d*)", inner)
    if m:
        return ("slice", int(m.group(1)) if m.group(1) else None, int(m.group(2)) if m.group(2) else None)
    m = _FILTER.fullmatch(inner)
    if m:
        sub = parse_jsonpath(m.group(1)) if m.group(1) else []
        op = m.group(2)
        return ("filter", sub, op, _literal(m.group(3)) if op else None)
    raise ValueError(f"unsupported JSONPath element [{inner}] in {expr!r}")


def _literal(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        raise ValueError(f"unsupported filter literal {text!r}") from None


def evaluate_jsonpath(steps: list[Step], obj: Any) -> list[Any]:
    """Every value the path reaches in ``obj``, in document order (missing keys are skipped)."""
    current = [obj]
    for step in steps:
        nxt: list[Any] = []
        kind = step[0]
        for v in current:
            if kind == "field":
                if isinstance(v, dict) and step[1] in v:
                    nxt.append(v[step[1]])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= step[1] < len(v):
                    nxt.append(v[step[1]])
            elif kind == "slice":
                if isinstance(v, list):
                    nxt.extend(v[step[1]:step[2]])
            elif kind == "wildcard":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v))
            elif kind == "filter":
                items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
                nxt.extend(item for item in items if _matches(item, step[1], step[2], step[3]))
        current = nxt
    return current


def _matches(item: Any, sub: list[Step], op: str | None, literal: Any) -> bool:
    found = evaluate_jsonpath(sub, item)
    if op is None:
        return bool(found)
    if not found:
        return False
    left = found[0]
    if isinstance(left, bool) != isinstance(literal, bool):
        return op == "!="
    if op == "==":
        return bool(left == literal)
    if op == "!=":
        return bool(left != literal)
    try:
        return bool({"<": left < literal, "<=": left <= literal, ">": left > literal, ">=": left >= literal}[op])
    except TypeError:
        return False
