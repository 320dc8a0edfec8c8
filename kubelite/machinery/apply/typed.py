"""Schema-aware walks over objects for server-side apply: field sets, diffs, merges, removal.

This is kubelite's counterpart of structured-merge-diff's ``typed`` package, driven by
``kubelite.api.schema``. Every node of an object has a granularity:

* **leaf** -- scalars, atomic structs/maps/lists: owned and compared as one unit;
* **map** -- structs and granular maps: each member is its own field (``f:<name>``);
* **list** -- list-maps (``listType: map`` or a patch merge key, item ``k:{...}``) and sets
  (``listType: set``, item ``v:...``); any other list is atomic.

Objects without a schema (custom resources) are *deduced*: objects are granular maps, lists are
atomic -- except ``metadata``, which is always typed as ObjectMeta. ``fieldmanager`` (the apply
and update bookkeeping) is the only caller.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from kubelite.api import schema as sch
from kubelite.machinery.apply.atomic import ATOMIC_MAPS, ATOMIC_STRUCTS, KEY_DEFAULTS
from kubelite.machinery.apply.fieldpath import (
    FieldSet,
    Path,
    key_pe,
    path_string,
    value_pe,
)

SCALAR, STRUCT, MAP, LIST, DEDUCED = "scalar", "struct", "map", "list", "deduced"
OBJECT_META = sch.META + "ObjectMeta"


class TypedError(Exception):
    """The object does not fit its schema (e.g. a list-map item without its key)."""


@dataclass(frozen=True, slots=True)
class T:
    """A node type. ``name`` is the message of a STRUCT (None: the schemaless CR root)."""

    kind: str
    name: str | None = None
    elem: T | None = None
    atomic: bool = False
    set_list: bool = False
    keys: tuple[str, ...] = ()

    def child(self, key: str) -> tuple[T, bool]:
        """The type of member ``key`` of a map-like node, and whether it is a declared field."""
        if self.kind == STRUCT:
            return _struct_child(self.name, key)
        if self.kind == MAP:
            return self.elem or _DEDUCED_T, False
        return _DEDUCED_T, False


_SCALAR_T = T(SCALAR)
_DEDUCED_T = T(DEDUCED)


def root_type(schema: str | None) -> T:
    """The type of a whole object of OpenAPI definition ``schema`` (None: a custom resource)."""
    if schema and sch.has_message(schema):
        return _named(schema)
    return T(STRUCT, None)


@cache
def _named(type_name: str | None) -> T:
    if not type_name or type_name in sch.SCALARS:
        return _SCALAR_T
    special = sch.SPECIAL.get(type_name)
    if special is not None:
        return _DEDUCED_T if special == "any" else _SCALAR_T
    if not sch.has_message(type_name):
        return _DEDUCED_T
    return T(STRUCT, type_name, atomic=type_name in ATOMIC_STRUCTS)


@cache
def _struct_child(msg: str | None, key: str) -> tuple[T, bool]:
    if msg is None:  # custom resource root
        if key == "metadata":
            return _named(OBJECT_META), True
        return _DEDUCED_T, key in ("apiVersion", "kind")
    f = sch.message(msg).fields.get(key)
    if f is None:
        return _DEDUCED_T, False
    return _field_type(msg, f), True


def _field_type(msg: str, f: sch.Field) -> T:
    if f.repeated:
        item = _named(f.type)
        lt = f.list_type
        strategies = (f.patch_strategy or "").split(",")
        if lt is None and "merge" in strategies:
            lt = "map" if f.merge_key else "set"
        if lt == "map":
            keys = f.list_map_keys or ((f.merge_key,) if f.merge_key else ())
            if keys:
                return T(LIST, elem=item, keys=keys)
        if lt == "set":
            return T(LIST, elem=item, set_list=True)
        return T(LIST, elem=item, atomic=True)
    if f.type == "map":
        return T(MAP, elem=_named(f.value_type), atomic=(msg, f.name) in ATOMIC_MAPS)
    return _named(f.type)


def _shape(t: T, v: Any) -> str:
    """How a value of type ``t`` is walked: "leaf", "map" or "list"."""
    if t.kind == SCALAR or t.atomic:
        return "leaf"
    if t.kind == LIST:
        return "list" if isinstance(v, list) else "leaf"
    return "map" if isinstance(v, dict) else "leaf"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


# ---------------------------------------------------------------------------------------------
# list item path elements

def item_pe(t: T, item: Any, *, strict: bool) -> str:
    """The path element of a list item: ``k:{...}`` for list-maps, ``v:...`` for sets."""
    if t.set_list:
        return value_pe(item)
    if not isinstance(item, dict):
        if strict:
            raise TypedError(f"associative list with keys has an element that is not a map: {item!r}")
        return value_pe(item)
    keys: dict[str, Any] = {}
    elem_name = t.elem.name if t.elem else None
    for k in t.keys:
        if k in item and item[k] is not None:
            keys[k] = item[k]
        elif (elem_name, k) in KEY_DEFAULTS:
            keys[k] = KEY_DEFAULTS[(elem_name, k)]
        elif strict:
            raise TypedError(f'associative list with keys has an element that omits key field "{k}" '
                             "(and doesn't have default value)")
    return key_pe(keys)


# ---------------------------------------------------------------------------------------------
# field sets of a configuration (ToFieldSet)

def to_set(value: Any, t: T, *, strict: bool = True) -> FieldSet:
    """Every field ``value`` sets, as an applier owns them. ``strict`` rejects duplicate or
    keyless list-map items (an apply configuration must be well-formed)."""
    out: FieldSet = set()
    _to_set(value, t, (), out, strict)
    return out


def _to_set(v: Any, t: T, path: Path, out: FieldSet, strict: bool) -> None:
    shape = _shape(t, v)
    if shape == "leaf":
        if path:
            out.add(path)
        return
    if shape == "map":
        for k, cv in v.items():
            ct, declared = t.child(k)
            cp = path + ("f:" + k,)
            _to_set(cv, ct, cp, out, strict)
            if cv is None or (isinstance(cv, dict) and not cv) or not declared:
                out.add(cp)
        return
    elem = t.elem or _DEDUCED_T
    seen: set[str] = set()
    for i, item in enumerate(v):
        try:
            pe = item_pe(t, item, strict=strict)
        except TypedError as e:
            raise TypedError(f"{path_string(path)}: element {i}: {e}") from None
        if pe in seen:
            if strict:
                raise TypedError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
            out.add(path + (pe,))
            continue
        seen.add(pe)
        _to_set(item, elem, path + (pe,), out, strict)
        out.add(path + (pe,))


# ---------------------------------------------------------------------------------------------
# comparison (what a write added, modified, removed)

@dataclass(slots=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def changed(self) -> FieldSet:
        return self.added | self.modified

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)


def compare(old: Any, new: Any, t: T) -> Comparison:
    """Fields added, modified and removed going from ``old`` to ``new`` (MISSING = absent)."""
    c = Comparison(set(), set(), set())
    _compare(old, new, t, (), c, False)
    return c


def _compare(lhs: Any, rhs: Any, t: T, path: Path, c: Comparison, is_item: bool) -> None:
    present = rhs if lhs is MISSING else lhs
    shape = _shape(t, present)
    if lhs is not MISSING and rhs is not MISSING and _shape(t, rhs) != shape:
        shape = "leaf"
    if shape != "leaf" and _empty(lhs) and _empty(rhs):
        shape = "leaf"  # keeps the difference between {} / [] / null / absent visible
    if shape == "leaf":
        if not path:
            return
        if lhs is MISSING:
            c.added.add(path)
        elif rhs is MISSING:
            c.removed.add(path)
        elif not json_equal(lhs, rhs):
            c.modified.add(path)
        return
    if shape == "map":
        lm = lhs if isinstance(lhs, dict) else {}
        rm = rhs if isinstance(rhs, dict) else {}
        for k in lm.keys() | rm.keys():
            ct, _ = t.child(k)
            _compare(lm.get(k, MISSING), rm.get(k, MISSING), ct, path + ("f:" + k,), c, False)
    else:
        _compare_list(lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [],
                      t, path, c)
    if path:
        # What kube-apiserver records for a node that appears: list items and maps are owned
        # themselves ("." in FieldsV1); a struct or a list is only the sum of its members.
        if lhs is MISSING and (is_item or t.kind in (MAP, DEDUCED)):
            c.added.add(path)
        elif rhs is MISSING:
            c.removed.add(path)


def _empty(v: Any) -> bool:
    return v is MISSING or v is None or (isinstance(v, (dict, list)) and not v)


def _compare_list(lhs: list[Any], rhs: list[Any], t: T, path: Path, c: Comparison) -> None:
    elem = t.elem or _DEDUCED_T
    lgroups: dict[str, list[Any]] = {}
    rgroups: dict[str, list[Any]] = {}
    for item in lhs:
        lgroups.setdefault(item_pe(t, item, strict=False), []).append(item)
    for item in rhs:
        rgroups.setdefault(item_pe(t, item, strict=False), []).append(item)
    for pe in lgroups.keys() | rgroups.keys():
        ll, rl = lgroups.get(pe, []), rgroups.get(pe, [])
        ip = path + (pe,)
        if len(ll) <= 1 and len(rl) <= 1:
            _compare(ll[0] if ll else MISSING, rl[0] if rl else MISSING, elem, ip, c, True)
        elif len(ll) >= 2 and len(rl) >= 2:
            if not json_equal(ll, rl):
                c.modified.add(ip)
        elif len(ll) >= 2:
            if rl:
                _compare(MISSING, rl[0], elem, ip, c, True)
            c.removed.add(ip)
        else:
            if ll:
                _compare(ll[0], MISSING, elem, ip, c, True)
            c.added.add(ip)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------------------------
# merge (applied configuration onto the live object)

def merge(live: Any, config: Any, t: T) -> Any:
    """``config`` merged into ``live``: config wins at leaves, maps merge by member, list-maps
    and sets by item (shared items take the config's order, live-only items keep their place).
    Members set to null in the config are dropped from the result."""
    return _drop_nulls(_merge(live, config, t))


def _merge(lhs: Any, rhs: Any, t: T) -> Any:
    if rhs is MISSING:
        return lhs
    if lhs is MISSING:
        if _shape(t, rhs) == "list":
            _index(rhs, t, strict=True)  # reject duplicate / keyless items in the config
        return copy.deepcopy(rhs)
    shape = _shape(t, rhs)
    if _shape(t, lhs) != shape or (_empty(lhs) and _empty(rhs)) or shape == "leaf":
        return copy.deepcopy(rhs)
    if shape == "map":
        out: dict[str, Any] = {}
        for k, lv in lhs.items():
            ct, _ = t.child(k)
            out[k] = _merge(lv, rhs.get(k, MISSING), ct)
        for k, rv in rhs.items():
            if k not in lhs:
                ct, _ = t.child(k)
                out[k] = _merge(MISSING, rv, ct)
        return out
    return _merge_list(lhs, rhs, t)


_DUP: Any = _Missing()


def _index(items: list[Any], t: T, *, strict: bool) -> tuple[list[str], dict[str, Any]]:
    pes: list[str] = []
    observed: dict[str, Any] = {}
    for item in items:
        pe = item_pe(t, item, strict=strict)
        if pe in observed:
            if strict:
                raise TypedError(f"duplicate entries for key {path_string((pe,))}")
            observed[pe] = _DUP
        else:
            observed[pe] = item
        pes.append(pe)
    return pes, observed


def _merge_list(lhs: list[Any], rhs: list[Any], t: T) -> list[Any]:
    """Interleave as structured-merge-diff does: shared items come in the config's order and
    live-only items where the walk over the live list meets them. Examples: live [a b c],
    config [a c] -> [a b c]; config [c a] -> [b c a]; config [a d] -> [a b c d]."""
    elem = t.elem or _DEDUCED_T
    rpes, robs = _index(rhs, t, strict=True)
    lpes, lobs = _index(lhs, t, strict=False)
    shared = [pe for pe in rpes if pe in lobs]
    si = 0
    next_shared = shared[0] if shared else None
    merged_r: set[str] = set()
    out: list[Any] = []

    def litem(pe: str) -> Any:
        v = lobs.get(pe, MISSING)
        return MISSING if v is _DUP else v

    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_r.add(pe)
                out.append(_merge(litem(pe), robs[pe], elem))
                li += 1
                ri += 1
                si += 1
                next_shared = shared[si] if si < len(shared) else None
                continue
            if pe in robs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_r:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            merged_r.add(pe)
            out.append(_merge(litem(pe), robs[pe], elem))
            ri += 1
            if next_shared is not None and next_shared == pe:
                si += 1
                next_shared = shared[si] if si < len(shared) else None
    return out


def _drop_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


# ---------------------------------------------------------------------------------------------
# removal of owned paths (pruning what an applier stopped applying)

def remove_paths(value: Any, t: T, paths: FieldSet) -> Any:
    """A copy of ``value`` without the nodes at ``paths`` (and their subtrees). Maps and lists
    emptied by the removal disappear too, as they do when kube decodes the pruned object."""
    if not paths:
        return value
    trie: dict[str, Any] = {}
    for p in paths:
        node = trie
        for pe in p:
            node = node.setdefault(pe, {})
        node[""] = True  # terminal marker ("" is never a path element)
    out = _remove(value, t, trie)
    return {} if out is MISSING else out


def _remove(v: Any, t: T, trie: dict[str, Any]) -> Any:
    shape = _shape(t, v)
    if shape == "map":
        out: dict[str, Any] = {}
        touched = False
        for k, cv in v.items():
            sub = trie.get("f:" + k)
            if sub is None:
                out[k] = cv
                continue
            touched = True
            if sub.get(""):
                continue
            ct, _ = t.child(k)
            nv = _remove(cv, ct, sub)
            if nv is not MISSING:
                out[k] = nv
        return MISSING if touched and not out else out
    if shape == "list":
        elem = t.elem or _DEDUCED_T
        items: list[Any] = []
        touched = False
        for item in v:
            sub = trie.get(item_pe(t, item, strict=False))
            if sub is None:
                items.append(item)
                continue
            touched = True
            if sub.get(""):
                continue
            nv = _remove(item, elem, sub)
            if nv is not MISSING:
                items.append(nv)
        return MISSING if touched and not items else items
    return v
