"""Strategic merge patch: ``application/strategic-merge-patch+json`` on built-in kinds.

kubectl apply (client-side), edit, set image, rollout restart/pause and helm upgrade send these.
The API server calls ``strategic_merge(live, patch, "io.k8s.api.apps.v1.Deployment")``.
Semantics follow apimachinery's ``strategicpatch`` when *applying* a patch:

* maps merge recursively, ``null`` deletes a member;
* a list whose field has ``patchStrategy: merge`` and a merge key (``containers`` by ``name``)
  merges item by item: a patch item updates the live item with the same key, new keys are
  appended; a list of scalars with ``merge`` (``finalizers``) is a union; other lists are
  replaced wholesale;
* directives: ``$patch: replace|delete|merge`` on a map or a list item, ``{"$patch":"replace"}``
  as a list element (replace the whole list), ``$setElementOrder/<list>`` (the final order),
  ``$retainKeys`` (drop map members not listed -- Deployment ``strategy`` switching to
  Recreate), ``$deleteFromPrimitiveList/<list>``;
* a field absent from the schema merges like a plain map (objects merge, lists replace).

Worked example (kubectl apply after changing the image, the patch of wire-contract.md (b))::

    live:  containers: [{name: main, image: nginx:1.25, ports: [...]}, {name: side, ...}]
    patch: {"$setElementOrder/containers": [{"name":"main"}, {"name":"side"}],
            "containers": [{"name":"main", "image":"nginx:1.27"}]}
    new:   containers: [{name: main, image: nginx:1.27, ports: [...]}, {name: side, ...}]

Where kube-apiserver answers a malformed directive with a Go error (HTTP 500) we answer
400 BadRequest; "lists of lists" stays a 422 as in kube.
"""
from __future__ import annotations

import copy
from typing import Any

from kubelite.api import schema as sch
from kubelite.machinery.errors import StatusError, bad_request

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_REJECTED = "the server rejected our request due to an error in our request"

# A schema position: ("msg", message name), ("map", value type) or None (schemaless).
Ctx = tuple[str, str] | None


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], schema: str) -> dict[str, Any]:
    """Apply strategic merge ``patch`` to ``original`` (an object of OpenAPI type ``schema``)."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_kind_name(patch)} into Go value of type map[string]interface {{}}")
    if not isinstance(original, dict):
        raise bad_request("invalid JSON document")
    ctx: Ctx = ("msg", schema) if schema and sch.has_message(schema) else None
    out = _merge_map(copy.deepcopy(original), copy.deepcopy(patch), ctx)
    return out


# ---------------------------------------------------------------------------------------------
# schema lookups

def _ctx_for_type(type_name: str | None) -> Ctx:
    if not type_name or type_name in sch.SCALARS or type_name in sch.SPECIAL:
        return None
    return ("msg", type_name) if sch.has_message(type_name) else None


def _lookup(ctx: Ctx, key: str) -> tuple[sch.Field | None, Ctx]:
    """The field ``key`` of the map/message at ``ctx`` and the context of its value (or items)."""
    if ctx is None:
        return None, None
    kind, name = ctx
    if kind == "map":
        return None, _ctx_for_type(name)
    f = sch.message(name).fields.get(key)
    if f is None:
        return None, None
    if f.type == "map":
        return f, ("map", f.value_type or "string")
    return f, _ctx_for_type(f.type)


def _strategy(f: sch.Field | None) -> str:
    """The field's patch strategy other than retainKeys: "merge", "replace" or ""."""
    if f is None or not f.patch_strategy:
        return ""
    parts = [p for p in f.patch_strategy.split(",") if p and p != "retainKeys"]
    if len(parts) > 1:
        raise bad_request(f"unexpected patch strategy: {f.patch_strategy}")
    return parts[0] if parts else ""


# ---------------------------------------------------------------------------------------------
# maps

def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return _clean(patch)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise bad_request(f"unknown patch type: {directive} in map: {_go_fmt(patch)}")
        del patch[DIRECTIVE]  # "$patch: merge" is the default behaviour spelled out
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, ctx)
    for key, pv in list(patch.items()):
        is_delete_list = False
        if key.startswith(DELETE_PRIMITIVE):
            key = _extract_key(key, DELETE_PRIMITIVE)
            is_delete_list = True
        if pv is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                _set_clean(original, key, pv)
            continue
        ov = original[key]
        if _kind(ov) != _kind(pv):
            if not is_delete_list:
                _set_clean(original, key, pv)
            continue
        if isinstance(pv, dict):
            f, child = _lookup(ctx, key)
            if _strategy(f) == "replace":
                _set_clean(original, key, pv)
            else:
                original[key] = _merge_map(ov, pv, child)
        elif isinstance(pv, list):
            f, child = _lookup(ctx, key)
            merge_key = (f.merge_key or "") if f else ""
            original[key] = _merge_list_field(ov, pv, child, _strategy(f), merge_key, is_delete_list)
        else:
            original[key] = pv
    return original


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise bad_request("invalid patch format of retainKeys")
    allowed = {k for k in keep if isinstance(k, str)}
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_PRIMITIVE, SET_ORDER)):
            continue
        if k not in allowed:
            raise bad_request("invalid patch format of retainKeys")
    for k in [k for k in original if k not in allowed]:
        del original[k]


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_PRIMITIVE:
            raise bad_request("invalid patch format of primitive list")
        raise bad_request("invalid patch format of setElementOrder list")
    return rest


# ---------------------------------------------------------------------------------------------
# lists

def _merge_list_field(original: list[Any], patch: list[Any], ctx: Ctx, strategy: str,
                      merge_key: str, is_delete_list: bool) -> list[Any]:
    if strategy == "merge" or is_delete_list:
        return _merge_slice(original, patch, ctx, merge_key, is_delete_list)
    return _clean(patch)


def _merge_slice(original: list[Any], patch: list[Any], ctx: Ctx, merge_key: str,
                 is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    elem = _element_kind(original, patch)
    if elem != "object":
        if is_delete_list:
            drop = _Positions(patch, "")
            return [v for v in original if drop.index(v) < 0]
        merged = _dedup(original + patch)
        order_patch = patch
        order_server = original
        patch_items, server_only = _partition_scalars(merged, patch)
    else:
        if not merge_key:
            name = ctx[1] if ctx else "unknown"
            raise bad_request(f"cannot merge lists without merge key for {name}")
        original, patch = _special_elements(original, patch, merge_key)
        merged = _merge_items(original, patch, merge_key, ctx)
        order_patch = patch
        order_server = original
        patch_items, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_order(patch_items, server_only, order_patch, order_server, merge_key, elem)


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` list elements; returns the new original and the plain patch items."""
    plain: list[Any] = []
    replace = False
    deleted: list[Any] = []
    for item in patch:
        directive = item.get(DIRECTIVE)
        if DIRECTIVE not in item:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise bad_request(f"map: {_go_fmt(item)} does not contain declared merge key: {merge_key}")
            deleted.append(item)
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            stripped = {k: v for k, v in item.items() if k != DIRECTIVE}
            plain.append(stripped)
        else:
            raise bad_request(f"unknown patch type: {directive} in map: {_go_fmt(item)}")
    if deleted:  # one pass over the live list, however many deletes the patch has
        gone = _Positions(deleted, merge_key)
        original = [o for o in original if not (isinstance(o, dict) and merge_key in o and gone.index(o) >= 0)]
    if replace:
        return [_clean(p) for p in plain], []
    return original, plain


def _merge_items(original: list[Any], patch: list[Any], merge_key: str, ctx: Ctx) -> list[Any]:
    out = list(original)
    for i, item in enumerate(out):
        if not isinstance(item, dict):
            raise bad_request(f"value for key {i} is not a map")
    where = _Positions([o if merge_key in o else None for o in out], merge_key)
    for item in patch:
        if merge_key not in item:
            raise bad_request(f"map: {_go_fmt(item)} does not contain declared merge key: {merge_key}")
        idx = where.index(item)
        if idx >= 0:
            out[idx] = _merge_map(out[idx], item, ctx)
        else:
            cleaned = _clean(item)
            if cleaned is not _DROP:
                where.add(len(out), cleaned)
                out.append(cleaned)
    return out


def _apply_set_element_order(original: dict[str, Any], patch: dict[str, Any], ctx: Ctx) -> None:
    """Process ``$setElementOrder/<field>`` directives together with their patch lists."""
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise bad_request("invalid patch format of setElementOrder list")
        field_key = _extract_key(key, SET_ORDER)
        orig_list = original.get(field_key, _MISSING)
        patch_list = patch.get(field_key, _MISSING)
        if orig_list is not _MISSING and not isinstance(orig_list, list):
            raise bad_request(f"expected a []interface {{}}, but received a {_kind_name(orig_list)}")
        if patch_list is not _MISSING and not isinstance(patch_list, list):
            raise bad_request(f"expected a []interface {{}}, but received a {_kind_name(patch_list)}")
        f, child = _lookup(ctx, field_key)
        merge_key = (f.merge_key or "") if f else ""
        _validate_order(patch_list if patch_list is not _MISSING else [], order, merge_key)
        if orig_list is _MISSING and patch_list is _MISSING:
            continue
        if patch_list is _MISSING:
            merged = orig_list
        elif orig_list is _MISSING:
            merged = _clean(patch_list)
        else:
            merged = _merge_list_field(orig_list, patch_list, child, _strategy(f), merge_key, False)
        patch.pop(field_key, None)
        if not merged:
            original[field_key] = merged
            continue
        elem = _element_kind(orig_list if orig_list is not _MISSING else [],
                             patch_list if patch_list is not _MISSING else [])
        if merge_key:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
        else:
            patch_items, server_only = _partition_scalars(merged, order)
        server_order = orig_list if orig_list is not _MISSING else []
        original[field_key] = _normalize_order(patch_items, server_only, order, server_order, merge_key, elem)


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Every (non-delete) patch item must appear in ``order``, in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        items = [p for p in patch_list if not (isinstance(p, dict) and p.get(DIRECTIVE) == "delete")]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if _order_key_equal(item, order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items):
        raise bad_request(f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match "
                          f"{SET_ORDER} list:\n{_go_fmt(order)}\n")


def _order_key_equal(a: Any, b: Any, merge_key: str) -> bool:
    if not merge_key:
        return _scalar_eq(a, b)
    for m in (a, b):
        if not isinstance(m, dict):
            raise bad_request(f"expected a map[string]interface {{}}, but received a {_kind_name(m)}")
        if merge_key not in m:
            raise bad_request(f"map: {_go_fmt(m)} does not contain declared merge key: {merge_key}")
    return _scalar_eq(a[merge_key], b[merge_key])


def _partition_scalars(merged: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    present: list[Any] = []
    server: list[Any] = []
    known = _Positions(by, "")
    for v in merged:
        (present if known.index(v) >= 0 else server).append(v)
    return present, server


def _partition_maps(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    present: list[Any] = []
    server: list[Any] = []
    known = _Positions([b if isinstance(b, dict) and merge_key in b else None for b in by], merge_key)
    for v in merged:
        if not isinstance(v, dict):
            raise bad_request(f"expected a map[string]interface {{}}, but received a {_kind_name(v)}")
        if merge_key not in v:
            raise bad_request(f"map: {_go_fmt(v)} does not contain declared merge key: {merge_key}")
        (present if known.index(v) >= 0 else server).append(v)
    return present, server


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], merge_key: str, elem: str) -> list[Any]:
    """Sort patch items by the patch order and server-only items by the live order, then
    interleave them so that server-only items keep their place relative to the live list.

    Example: live [a b c d], patch order [d a] (b, c server-only) -> [d a] and [b c] ->
    b is after a in live, so it follows a; the result is [d a b c].
    """
    by_key = merge_key if elem == "object" else ""
    patch_sorted = _sort_by(patch_items, patch_order, by_key)
    server_sorted = _sort_by(server_only, server_order, by_key)
    out: list[Any] = []
    live = _Positions(server_order, by_key)
    i = j = 0
    while i < len(server_sorted) or j < len(patch_sorted):
        if i >= len(server_sorted):
            out.append(patch_sorted[j]); j += 1
        elif j >= len(patch_sorted):
            out.append(server_sorted[i]); i += 1
        else:
            li = live.index(server_sorted[i])
            ri = live.index(patch_sorted[j])
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_sorted[i]); i += 1
            else:
                out.append(patch_sorted[j]); j += 1
    return out


def _sort_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    deletes: list[Any] = []
    if merge_key:
        kept = []
        for it in items:
            if isinstance(it, dict) and it.get(DIRECTIVE) == "delete":
                deletes.append(it)
            else:
                kept.append(it)
        items = kept
    where = _Positions(order, merge_key)
    keyed = [(where.index(it), n, it) for n, it in enumerate(items)]
    # Items missing from the order list keep their relative place after the known ones.
    keyed.sort(key=lambda t: (t[0] < 0, t[0], t[1]))
    return [it for _, _, it in keyed] + deletes


class _Positions:
    """Where values first occur in a list, found in O(1): the list's items (``merge_key`` "")
    or their ``merge_key`` values (maps without it share one slot; non-maps never match),
    compared as ``_scalar_eq`` does. A patch may carry a list of 100,000 items: a linear
    search per item made strategic merge quadratic (hours of CPU on the event loop)."""

    def __init__(self, items: list[Any], merge_key: str) -> None:
        self.merge_key = merge_key
        self.fast: dict[Any, int] = {}
        self.slow: list[tuple[int, Any]] = []  # values that cannot be hashed (maps, lists)
        for i, it in enumerate(items):
            self.add(i, it)

    def _value(self, item: Any) -> Any:
        if not self.merge_key:
            return item
        return item.get(self.merge_key, _MISSING) if isinstance(item, dict) else _NOT_A_MAP

    def add(self, i: int, item: Any) -> None:
        v = self._value(item)
        if v is _NOT_A_MAP:
            return
        key = _hkey(v)
        if key is None:
            self.slow.append((i, v))
        else:
            self.fast.setdefault(key, i)

    def index(self, item: Any) -> int:
        v = self._value(item)
        if v is _NOT_A_MAP:
            v = _MISSING  # a non-map looks for maps without the key (as a keyless value would)
        key = _hkey(v)
        if key is not None:
            return self.fast.get(key, -1)
        return next((i for i, o in self.slow if _scalar_eq(o, v)), -1)


def _hkey(v: Any) -> Any:
    """A hashable stand-in equal exactly when ``_scalar_eq`` says so; None for maps and lists."""
    kind = _kind(v)
    if kind in ("object", "array"):
        return None
    return (kind, v)


# ---------------------------------------------------------------------------------------------
# values

class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
_DROP: Any = _Missing()
_NOT_A_MAP: Any = _Missing()


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "null"


def _kind_name(v: Any) -> str:
    return {"object": "map", "array": "slice", "number": "float64"}.get(_kind(v), _kind(v))


def _scalar_eq(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and a == b


def _element_kind(*lists: list[Any]) -> str:
    kind = ""
    for lst in lists:
        for v in lst:
            k = _kind(v)
            if k == "array":
                raise StatusError(422, "Invalid", _REJECTED, {
                    "causes": [{"reason": "FieldValueInvalid", "message": "lists of lists are not supported", "field": ""}]})
            if kind and k != kind:
                raise bad_request(f"list element types are not identical: {_go_fmt(list(lists))}")
            kind = k
    return kind


def _dedup(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    seen = _Positions([], "")
    for v in values:
        if seen.index(v) < 0:
            seen.add(len(out), v)
            out.append(v)
    return out


def _clean(value: Any) -> Any:
    """A patch value as it lands in the object: null members dropped, directive keys removed,
    maps that are ``$patch: delete`` directives dropped (``_DROP`` at the top level)."""
    if isinstance(value, dict):
        if value.get(DIRECTIVE) == "delete":
            return _DROP
        out = {}
        for k, v in value.items():
            if v is None or k.startswith("$"):
                continue
            c = _clean(v)
            if c is not _DROP:
                out[k] = c
        return out
    if isinstance(value, list):
        return [c for c in (_clean(v) for v in value) if c is not _DROP]
    return value


def _set_clean(target: dict[str, Any], key: str, value: Any) -> None:
    cleaned = _clean(value)
    if cleaned is _DROP:
        target.pop(key, None)
    else:
        target[key] = cleaned


def _go_fmt(v: Any) -> str:
    """Roughly Go's %v of a decoded JSON value (used only inside error messages)."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_fmt(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
