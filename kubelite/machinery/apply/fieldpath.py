"""Field paths and field sets, and their ``FieldsV1`` wire form in ``metadata.managedFields``.

A *path element* is kept as its FieldsV1 key string -- that keeps sets hashable and the encoding
trivial:

* ``f:<name>``       a struct field or map key           (``f:replicas``)
* ``k:<json>``       a list-map item by its key fields   (``k:{"containerPort":80,"protocol":"TCP"}``)
* ``v:<json>``       a set item by value                 (``v:"example.com/finalizer"``)
* ``i:<n>``          a list item by index (only read from foreign data; we never produce it)

A *path* is a tuple of elements and a *field set* a plain ``set`` of paths; a path in the set
means "this node is owned". FieldsV1 nests the elements and marks an owned interior node with
``".": {}``::

    {("f:spec","f:containers",'k:{"name":"main"}'), (..., 'k:{"name":"main"}', "f:image")}
    <->  {"f:spec":{"f:containers":{"k:{\\"name\\":\\"main\\"}":{".":{},"f:image":{}}}}}

Keys of ``k:`` objects are sorted and JSON is compact with Go's HTML escaping, so the strings
are byte-identical to what kube-apiserver writes; children are emitted in structured-merge-diff's
order (fields, then keys, then values, then indexes).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]
FieldSet = set[Path]


def go_json(value: Any) -> str:
    """Compact JSON the way Go's encoding/json writes it (sorted keys, HTML-safe escapes)."""
    s = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(keys: dict[str, Any]) -> str:
    return "k:" + go_json(keys)


def value_pe(value: Any) -> str:
    return "v:" + go_json(value)


def canonical_pe(pe: str) -> str:
    """Normalise an element read from FieldsV1 (key order, JSON spacing); ValueError if bad."""
    if len(pe) < 2 or pe[1] != ":":
        raise ValueError(f"invalid path element: {pe!r}")
    kind = pe[0]
    if kind == "f":
        return pe
    if kind in "kv":
        try:
            value = json.loads(pe[2:])
        except ValueError as e:
            raise ValueError(f"invalid path element: {pe!r}: {e}") from None
        if kind == "k":
            if not isinstance(value, dict):
                raise ValueError(f"invalid path element: {pe!r}: key is not an object")
            return key_pe(value)
        return value_pe(value)
    if kind == "i":
        try:
            return "i:" + str(int(pe[2:]))
        except ValueError:
            raise ValueError(f"invalid path element: {pe!r}") from None
    raise ValueError(f"unknown path element type: {pe!r}")


# ---------------------------------------------------------------------------------------------
# ordering (structured-merge-diff's PathElement.Compare)

def _value_order(v: Any) -> tuple[Any, ...]:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_order(x) for x in v))
    if isinstance(v, dict):
        return (4, tuple((k, _value_order(v[k])) for k in sorted(v)))
    return (5,)


def pe_order(pe: str) -> tuple[Any, ...]:
    kind = pe[0]
    if kind == "f":
        return (0, pe[2:])
    if kind == "k":
        keys = json.loads(pe[2:])
        return (1, tuple((k, _value_order(keys[k])) for k in sorted(keys)))
    if kind == "v":
        return (2, _value_order(json.loads(pe[2:])))
    return (3, int(pe[2:]))


# ---------------------------------------------------------------------------------------------
# FieldsV1 <-> set

def from_fields_v1(fields: Any) -> FieldSet:
    """Decode a FieldsV1 object into a set of paths; ValueError on malformed input."""
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be a JSON object")
    out: FieldSet = set()
    _decode(fields, (), out)
    return out


def _decode(node: dict[str, Any], prefix: Path, out: FieldSet) -> None:
    for key, child in node.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        if not isinstance(child, dict):
            raise ValueError(f"FieldsV1 value at {key!r} must be an object")
        path = prefix + (canonical_pe(key),)
        if not child:
            out.add(path)
        else:
            _decode(child, path, out)


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Encode a set of paths as a FieldsV1 object (deterministic, kube's element order)."""
    root: dict[str, Any] = {}
    members: set[Path] = set()
    for p in paths:
        if not p:
            continue
        members.add(p)
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    return _emit(root, (), members)


def _emit(trie: dict[str, Any], prefix: Path, members: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if prefix and trie and prefix in members:
        out["."] = {}
    for pe in sorted(trie, key=pe_order):
        out[pe] = _emit(trie[pe], prefix + (pe,), members)
    return out


# ---------------------------------------------------------------------------------------------
# set helpers

def with_ancestors(paths: Iterable[Path]) -> FieldSet:
    """``paths`` plus every ancestor reached through a field name (structured-merge-diff's
    EnsureNamedFieldsAreMembers): owning ``.spec.replicas`` implies ``.spec`` exists."""
    out: FieldSet = set()
    for p in paths:
        out.add(p)
        for i in range(1, len(p)):
            if p[i - 1].startswith("f:"):
                out.add(p[:i])
    return out


def has_prefix(path: Path, prefixes: Iterable[Path]) -> bool:
    return any(path[:len(pre)] == pre for pre in prefixes)


def path_string(path: Path) -> str:
    """The human form used in conflict messages: ``.spec.containers[name="main"].image``."""
    parts = []
    for pe in path:
        kind, body = pe[0], pe[2:]
        if kind == "f":
            parts.append("." + body)
        elif kind == "k":
            keys = json.loads(body)
            parts.append("[" + ",".join(f"{k}={_value_string(keys[k])}" for k in sorted(keys)) + "]")
        elif kind == "v":
            parts.append(f"[={_value_string(json.loads(body))}]")
        else:
            parts.append(f"[{body}]")
    return "".join(parts)


def _value_string(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(_value_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}={_value_string(v[k])}" for k in sorted(v)) + "}"
    return str(v)


def path_sort_key(path: Path) -> tuple[Any, ...]:
    return tuple(pe_order(pe) for pe in path)
