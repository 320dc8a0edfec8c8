"""The LimitRange kind: per-namespace min/max/default resources for containers, pods and claims.

Defaults follow SetDefaults_LimitRangeItem: for ``type: Container`` a missing ``default`` limit
takes ``max``, and a missing ``defaultRequest`` takes ``default`` (else ``min``) -- which is what
``kubectl get limits -o yaml`` then shows. Validation checks the ordering
min <= defaultRequest <= default <= max per resource, with Kubernetes' messages
("min value 2 is greater than max value 1"). Kubernetes has no printer for LimitRanges, so
``kubectl get limits`` shows the generic NAME and CREATED AT columns.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.common import CREATED_AT_COLUMN, ensure_map, quantity_cell
from kubelite.api.registry import NAME_COLUMN, ResourceType, Strategy
from kubelite.api.validation import (
    child, index, is_qualified_name, key, quantity_value, required, validate_enum, validate_quantity,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid

LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")
SECTIONS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def default_limit_range(lr: dict[str, Any]) -> None:
    for item in (lr.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default, request = ensure_map(item, "default"), ensure_map(item, "defaultRequest")
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            request.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            request.setdefault(k, v)


def _q(item: dict[str, Any], section: str, name: str) -> Any:
    return (item.get(section) or {}).get(name)


def _validate_item(item: dict[str, Any], path: str) -> list[FieldError]:
    errs = validate_enum(item.get("type"), child(path, "type"), LIMIT_TYPES)
    names: set[str] = set()
    for section in SECTIONS:
        values = item.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            errs.append(invalid(child(path, section), values, "must be a map of resource names to quantities"))
            continue
        for name, q in values.items():
            p = key(child(path, section), name)
            errs += [invalid(p, name, m) for m in is_qualified_name(name)]
            errs += validate_quantity(q, p)
            names.add(name)
    if errs:
        return errs
    if item.get("type") == "Pod":
        for section in ("default", "defaultRequest"):
            if item.get(section):
                errs.append(forbidden(child(path, section), "may not be specified when `type` is 'Pod'"))
    if item.get("type") == "PersistentVolumeClaim":
        if _q(item, "min", "storage") is None and _q(item, "max", "storage") is None:
            errs.append(required(child(path, "limits"),
                                 "either minimum or maximum storage value is required, but neither was provided"))
    for name in sorted(names):
        p = key(path, name)
        mn, mx = _q(item, "min", name), _q(item, "max", name)
        dflt, dreq = _q(item, "default", name), _q(item, "defaultRequest", name)
        ratio = _q(item, "maxLimitRequestRatio", name)
        given = {k: q for k, q in (("min", mn), ("max", mx), ("default", dflt), ("req", dreq)) if q is not None}
        v = {k: quantity_value(q) for k, q in given.items()}
        s = {k: quantity_cell(q) for k, q in given.items()}
        if "min" in v and "max" in v and v["min"] > v["max"]:
            errs.append(invalid(p, s["min"], f"min value {s['min']} is greater than max value {s['max']}"))
        if "req" in v and "max" in v and v["req"] > v["max"]:
            errs.append(invalid(p, s["req"], f"default request value {s['req']} is greater than max value {s['max']}"))
        if "req" in v and "min" in v and v["min"] > v["req"]:
            errs.append(invalid(p, s["req"], f"min value {s['min']} is greater than default request value {s['req']}"))
        if "default" in v and "max" in v and v["default"] > v["max"]:
            errs.append(invalid(p, s["default"], f"default value {s['default']} is greater than max value {s['max']}"))
        if "default" in v and "min" in v and v["min"] > v["default"]:
            errs.append(invalid(p, s["default"], f"min value {s['min']} is greater than default value {s['default']}"))
        if "req" in v and "default" in v and v["req"] > v["default"]:
            errs.append(invalid(p, s["req"], f"default request value {s['req']} is greater than default limit value "
                                             f"{s['default']}"))
        if ratio is not None:
            r = quantity_value(ratio)
            if r < 1:
                errs.append(invalid(p, quantity_cell(ratio), f"ratio {quantity_cell(ratio)} is less than 1"))
            elif "min" in v and "max" in v and v["min"] and r > v["max"] / v["min"]:
                errs.append(invalid(p, quantity_cell(ratio), f"ratio {quantity_cell(ratio)} is greater than "
                                                             f"max/min = {float(v['max'] / v['min']):f}"))
    return errs


def validate_limit_range(lr: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate((lr.get("spec") or {}).get("limits") or []):
        p = index("spec.limits", i)
        errs += _validate_item(item, p) if isinstance(item, dict) else [invalid(p, item, "must be an object")]
    return errs


class LimitRangeStrategy(Strategy):
    has_status = False
    columns = (NAME_COLUMN, CREATED_AT_COLUMN)

    def defaults(self, obj: dict[str, Any]) -> None:
        default_limit_range(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_limit_range(obj)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        meta = obj.get("metadata") or {}
        return [meta.get("name", ""), meta.get("creationTimestamp", "")]


LIMIT_RANGE = ResourceType(
    group="", version="v1", kind="LimitRange", plural="limitranges", singular="limitrange", namespaced=True,
    strategy=LimitRangeStrategy(), schema="io.k8s.api.core.v1.LimitRange", short_names=("limits",),
)
