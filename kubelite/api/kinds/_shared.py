"""Helpers the non-core kind modules share: status-bearing strategies, selector and label
formatting for Table cells, int-or-percent checks, and Go-style value rendering in messages.

Everything here mirrors a small piece of Kubernetes that several groups use (apps, batch,
policy, networking...): ``metav1.FormatLabelSelector``, ``labels.FormatLabels``, the printers'
``layoutContainerCells``, apps' ``ValidatePositiveIntOrPercent``. The kind modules in
``kubelite/api/kinds/<group>/`` import from here; nothing outside ``kinds`` should need to.
Pure functions, no I/O.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from kubelite.api.kinds.core.pod import default_pod_template
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Strategy, age
from kubelite.api.validation import (
    IS_NEGATIVE_ERROR,
    child,
    required,
    selector_matches,
    validate_label_selector,
)
from kubelite.machinery.errors import FieldError, invalid

__all__ = [
    "AGE_COLUMN", "NAME_COLUMN", "CREATED_AT_COLUMN", "CONTAINERS_COLUMN", "IMAGES_COLUMN",
    "StatusStrategy", "set_default", "default_template", "dig", "go_value", "format_labels",
    "format_label_selector", "selector_string",
    "container_cells", "validate_int_or_percent", "int_or_percent_value", "is_percent",
    "validate_selector_matches_template", "validate_workload_selector", "nonneg", "name_of",
    "created_at_row",
]

CREATED_AT_COLUMN = Column("Created At", type="date",
                           description=(
                               "CreationTimestamp is a timestamp representing the server time when this object was "
                               "created."))
CONTAINERS_COLUMN = Column("Containers", priority=1, description="Names of each container in the template.")
IMAGES_COLUMN = Column("Images", priority=1, description="Images referenced by each container in the template.")


class StatusStrategy(Strategy):
    """A kind with a ``status`` subresource: a client's status is dropped on create.

    ``initial_status`` is what the stored object carries right after create. Kubernetes
    serialises Go structs, so fields without ``omitempty`` show up as zeros
    (a fresh ReplicaSet reads ``status: {replicas: 0}``); copying that keeps
    ``kubectl get -o yaml`` and clients that read those fields unsurprised.
    """

    has_status = True
    initial_status: dict[str, Any] = {}

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = copy.deepcopy(self.initial_status)


def set_default(d: dict[str, Any], key: str, value: Any) -> Any:
    """Set ``d[key]`` when it is missing or null (a Go nil pointer); return the value now there."""
    if d.get(key) is None:
        d[key] = value
    return d[key]


def default_template(parent: dict[str, Any], key: str = "template") -> dict[str, Any]:
    """Default ``parent[key]`` as a pod template, creating it (and its spec) when missing --
    Go defaults the zero-value template too, so e.g. ``restartPolicy: Always`` is always there."""
    template = set_default(parent, key, {})
    set_default(template, "spec", {})
    default_pod_template(template)
    return template


def dig(obj: Any, *path: str, default: Any = None) -> Any:
    """``dig(d, "spec", "template", "spec")``: nested dict lookup that tolerates missing levels."""
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return default
        cur = cur.get(p)
        if cur is None:
            return default
    return cur


def name_of(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def created_at_row(obj: dict[str, Any]) -> list[Any]:
    """Kubernetes' default Table row (no printer for the kind): name and RFC 3339 creation time."""
    return [name_of(obj), (obj.get("metadata") or {}).get("creationTimestamp", "")]


def go_value(value: Any) -> str:
    """How Go's ``%#v`` shows a value in a field error, for the maps Kubernetes reports:
    ``map[string]string{"app":"web"}`` (keys sorted, as Go prints maps)."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(value.items()))
        return "map[string]string{" + inner + "}"
    if value is None:
        return "map[string]string(nil)"
    return str(value)


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_string(sel: dict[str, Any] | None) -> str:
    """``metav1.LabelSelectorAsSelector(sel).String()``: requirements sorted by key.

    ``{"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In",
    "values": ["b", "a"]}]}`` -> ``app=web,tier in (a,b)``. An empty or missing selector is "".
    """
    if not sel:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        k, op = e.get("key", ""), e.get("operator", "")
        vals = ",".join(sorted(str(v) for v in e.get("values") or []))
        text = {"In": f"{k} in ({vals})", "NotIn": f"{k} notin ({vals})",
                "Exists": k, "DoesNotExist": f"!{k}"}.get(op, f"{k} {op} ({vals})")
        reqs.append((k, text))
    # Kubernetes sorts requirements by key only; Python's sort is stable like Go's sort.Stable
    # would be, which keeps matchLabels ahead of expressions on the same key.
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(sel: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when it selects everything."""
    return selector_string(sel) or "<none>"


def container_cells(containers: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The printers' ``layoutContainerCells``: comma-joined container names and images."""
    cs = containers or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def nonneg(value: Any, path: str) -> list[FieldError]:
    """``ValidateNonnegativeField`` for an optional integer field."""
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        return [invalid(path, value, "must be an integer")]
    return [invalid(path, value, IS_NEGATIVE_ERROR)] if value < 0 else []


_PERCENT = re.compile(r"[0-9]+%")


def is_percent(value: Any) -> bool:
    return isinstance(value, str) and _PERCENT.fullmatch(value) is not None


def int_or_percent_value(value: Any) -> int:
    """apps' ``getIntOrPercentValue``: "25%" -> 25, 3 -> 3, anything else -> 0."""
    if is_percent(value):
        return int(value[:-1])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def validate_int_or_percent(value: Any, path: str, *, max_100: bool = True) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent`` (+ ``IsNotMoreThan100Percent`` when ``max_100``)."""
    if value is None:
        return []
    if isinstance(value, str):
        if not is_percent(value):
            return [invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                         "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        if max_100 and int(value[:-1]) > 100:
            return [invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return nonneg(value, path)
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def validate_selector_matches_template(selector: dict[str, Any] | None, template: dict[str, Any] | None,
                                       template_path: str) -> list[FieldError]:
    """"`selector` does not match template `labels`" -- reported at ``<template>.metadata.labels``.

    A missing selector selects nothing, so it never matches (Kubernetes reports both the
    missing selector and this). An empty selector selects everything; a malformed one is
    skipped because another error already says so, as when ``LabelSelectorAsSelector`` fails.
    """
    labels = dig(template, "metadata", "labels") or {}
    if selector is not None:
        if not isinstance(selector, dict) or validate_label_selector(selector, "x"):
            return []
        if selector_matches(selector, labels):
            return []
    path = child(template_path, "metadata", "labels")
    return [FieldError(path, f"Invalid value: {go_value(labels)}: `selector` does not match template `labels`")]


def validate_workload_selector(spec: dict[str, Any], path: str, kind: str) -> list[FieldError]:
    """A workload's ``spec.selector``: required, well-formed and not empty (apps' rules).

    ``kind`` goes into Kubernetes' message ("empty selector is invalid for deployment").
    """
    sel = spec.get("selector")
    sp = child(path, "selector")
    if sel is None:
        return [required(sp)]
    errs = validate_label_selector(sel, sp)
    if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid(sp, sel, f"empty selector is invalid for {kind}"))
    return errs


def age_cell(obj: dict[str, Any], now: dt.datetime) -> str:
    return age(obj, now)
