"""JSON merge patch (RFC 7386): ``application/merge-patch+json`` bodies.

Used by the API server for ``kubectl label/annotate/scale``, ``patch --type=merge`` and every
patch of a custom resource (CRs get no strategic merge). Objects merge member by member, a
``null`` member deletes, anything else replaces. Follows evanphx/json-patch's ``MergePatch``
(what kube-apiserver runs): nulls inside newly added values are pruned, including nulls in
added arrays, and a patch that is ``null`` or a scalar is a 400 "Invalid JSON Patch".
"""
from __future__ import annotations

import copy
from typing import Any

from kubelite.machinery.errors import bad_request


def merge_patch(doc: Any, patch: Any) -> Any:
    """Return ``doc`` with the RFC 7386 merge ``patch`` applied (inputs are not mutated)."""
    if isinstance(patch, list):
        # Not an object: the result is the patch itself (then usually rejected as a bad kind).
        return _pruned(patch)
    if not isinstance(patch, dict):
        raise bad_request("Invalid JSON Patch")
    if not isinstance(doc, dict):
        return _pruned(patch)
    out = copy.deepcopy(doc)
    _merge_into(out, patch)
    return out


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        elif key not in doc:
            doc[key] = _pruned(value)
        else:
            doc[key] = _merge_value(doc[key], value)


def _merge_value(cur: Any, patch: Any) -> Any:
    if not isinstance(cur, dict):
        return _pruned(patch)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    _merge_into(cur, patch)
    return cur


def _pruned(value: Any) -> Any:
    """A deep copy of ``value`` without null object members or null array items."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value if v is not None]
    return value
