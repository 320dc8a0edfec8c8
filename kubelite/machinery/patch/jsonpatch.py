"""JSON patch (RFC 6902): ``application/json-patch+json`` bodies.

The API server's PATCH handler calls ``json_patch(current_object, ops)`` and gets a new
document back; the input is never mutated. Behaviour follows the library kube-apiserver uses
(evanphx/json-patch v4), including its leniencies that clients rely on:

* ``replace`` of a missing *object member* adds it (kubectl ``rollout undo`` replaces
  ``/metadata/annotations`` even when the object has none);
* negative array indices count from the end for ``add``/``remove``;
* a ``test`` of a missing member passes when the expected value is ``null``.

Work is bounded as kube-apiserver bounds it: at most 10,000 operations (413), and ``copy``
operations may add at most 3 MiB to the document in total (evanphx/json-patch's
``AccumulatedCopySizeLimit``, which kube-apiserver sets from ``JSONPatchMaxCopyBytes``): without it
22 ``copy`` ops that each duplicate the document grow a 1 KB ConfigMap to gigabytes.

Errors map to kube-apiserver's replies: a body that is not a list of operation objects is
400 BadRequest; a failing operation (``test`` mismatch, missing path, bad index, unknown op) is
422 Invalid "the server rejected our request due to an error in our request" -- the
library's own message is kept in ``details.causes`` so kubectl prints it after the generic text.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from kubelite.machinery.errors import StatusError, bad_request

MAX_OPERATIONS = 10000  # kube-apiserver's maxJSONPatchOperations
#: total bytes ``copy`` operations may add (kube-apiserver's JSONPatchMaxCopyBytes, 3 MiB)
MAX_COPY_BYTES = 3 * 1024 * 1024
REJECTED = "the server rejected our request due to an error in our request"


class _OpError(Exception):
    """An operation that cannot be applied; becomes a 422."""


class _CopyBudget:
    """The bytes ``copy`` operations have added so far, measured as the copied value's JSON
    size (as evanphx/json-patch measures it), checked before the copy is made."""

    def __init__(self, limit: int = MAX_COPY_BYTES) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, value: Any) -> None:
        self.used += _json_size(value)
        if self.used > self.limit:
            raise _OpError(f"Unable to complete the copy, the accumulated size increase of copy is "
                           f"{self.used}, exceeding the limit {self.limit}")


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:  # an integer beyond 64 bits (YAML bodies): the slow encoder handles it
        return len(json.dumps(value, separators=(",", ":")))


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply the RFC 6902 operations ``ops`` to ``doc`` and return the new document."""
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    if len(ops) > MAX_OPERATIONS:
        raise StatusError(413, "RequestEntityTooLarge",
                          f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}")
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    out = copy.deepcopy(doc)
    budget = _CopyBudget()
    for op in ops:
        try:
            out = _apply_op(out, op, budget)
        except _OpError as e:
            path = op.get("path") if isinstance(op.get("path"), str) else ""
            raise StatusError(422, "Invalid", REJECTED, {
                "causes": [{"reason": "FieldValueInvalid", "message": str(e), "field": path}],
            }) from None
    return out


def _json_kind(v: Any) -> str:
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if v is None:
        return "null"
    return "number"


def _str_field(op: dict[str, Any], name: str, kind: str) -> str:
    v = op.get(name)
    if v is None:
        raise _OpError(f"{kind} operation failed to decode {name}: missing value")
    if not isinstance(v, str):
        raise _OpError(f"{kind} operation failed to decode {name}: json: cannot unmarshal {_json_kind(v)} into Go value of type string")
    return v


def _apply_op(doc: Any, op: dict[str, Any], budget: _CopyBudget) -> Any:
    kind = op.get("op")
    if kind == "add":
        path = _str_field(op, "path", kind)
        return _add(doc, path, copy.deepcopy(op.get("value")), kind)
    if kind == "remove":
        path = _str_field(op, "path", kind)
        _remove(doc, path, kind)
        return doc
    if kind == "replace":
        path = _str_field(op, "path", kind)
        parent, key = _find(doc, path, kind)
        value = copy.deepcopy(op.get("value"))
        if isinstance(parent, dict):
            parent[key] = value  # v4 semantics: replacing a missing member adds it
        else:
            idx = _index(key, len(parent), allow_end=False)
            parent[idx] = value
        return doc
    if kind == "move":
        frm = _str_field(op, "from", kind)
        path = _str_field(op, "path", kind)
        value = _remove(doc, frm, kind, what="from path")
        return _add(doc, path, value, kind, what="destination path")
    if kind == "copy":
        frm = _str_field(op, "from", kind)
        path = _str_field(op, "path", kind)
        source = _get(doc, frm, kind, what="from path")
        budget.charge(source)
        value = copy.deepcopy(source)
        return _add(doc, path, value, kind, what="destination path")
    if kind == "test":
        path = _str_field(op, "path", kind)
        parent, key = _find(doc, path, kind, missing="test operation does not apply: is missing path")
        expected = op.get("value")
        if isinstance(parent, dict):
            if key not in parent:
                if expected is None:
                    return doc
                raise _OpError(f"testing value {path} failed: test failed")
            actual = parent[key]
        else:
            actual = parent[_index(key, len(parent), allow_end=False)]
        if not _json_equal(actual, expected):
            raise _OpError(f"testing value {path} failed: test failed")
        return doc
    raise _OpError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")


def _decode_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _find(doc: Any, path: str, kind: str, *, what: str = "path",
          missing: str | None = None) -> tuple[Any, str]:
    """The container holding the last token of ``path`` and that (decoded) token."""
    msg = missing or f"{kind} operation does not apply: doc is missing {what}"
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "":
        raise _OpError(f'{msg}: "{path}"')
    cur = doc
    for raw in parts[1:-1]:
        token = _decode_token(raw)
        if isinstance(cur, dict):
            if token not in cur:
                raise _OpError(f'{msg}: "{path}"')
            cur = cur[token]
        elif isinstance(cur, list):
            try:
                cur = cur[_index(token, len(cur), allow_end=False)]
            except _OpError:
                raise _OpError(f'{msg}: "{path}"') from None
        else:
            raise _OpError(f'{msg}: "{path}"')
    if not isinstance(cur, (dict, list)):
        raise _OpError(f'{msg}: "{path}"')
    return cur, _decode_token(parts[-1])


def _index(token: str, length: int, *, allow_end: bool, negative: bool = False) -> int:
    """Parse an array index as Go's strconv.Atoi would; bounds-check against ``length``."""
    t = token[1:] if token[:1] in "+-" else token
    if not t.isdigit() or not t.isascii():
        raise _OpError(f"value was not a proper array index: '{token}'")
    idx = int(token)
    limit = length + 1 if allow_end else length
    if idx >= limit:
        raise _OpError(f"Unable to access invalid index: {idx}")
    if idx < 0:
        if not negative or idx < -limit:
            raise _OpError(f"Unable to access invalid index: {idx}")
        idx += limit
    return idx


def _get(doc: Any, path: str, kind: str, *, what: str = "path") -> Any:
    parent, key = _find(doc, path, kind, what=what)
    if isinstance(parent, dict):
        if key not in parent:
            raise _OpError(f"{kind} operation does not apply: doc is missing {what}: \"{path}\"")
        return parent[key]
    return parent[_index(key, len(parent), allow_end=False)]


def _add(doc: Any, path: str, value: Any, kind: str, *, what: str = "path") -> Any:
    parent, key = _find(doc, path, kind, what=what)
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    else:
        parent.insert(_index(key, len(parent), allow_end=True, negative=True), value)
    return doc


def _remove(doc: Any, path: str, kind: str, *, what: str = "path") -> Any:
    parent, key = _find(doc, path, kind, what=what)
    if isinstance(parent, dict):
        if key not in parent:
            raise _OpError(f"Unable to remove nonexistent key: {key}: missing value")
        return parent.pop(key)
    return parent.pop(_index(key, len(parent), allow_end=False, negative=True))


def _json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality: 1 == 1.0, but true != 1 and {} != []."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
