"""resource.k8s.io/v1 ResourceSlice: the devices one driver publishes for one pool, on one node
(``nodeName``), a set of nodes (``nodeSelector``), every node (``allNodes``) or per device
(``perDeviceNodeSelection``) -- exactly one of the four. The driver, pool name and node are
fixed once created. Field selectors ``spec.nodeName`` and ``spec.driver`` (what a kubelet's
DRA plugin manager lists by). Cluster-scoped, no status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.resource import devices
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, index, is_dns1123_label, is_dns1123_subdomain, required, too_long, too_many, validate_immutable,
    validate_nonnegative,
)
from kubelite.machinery.errors import FieldError, duplicate, invalid

MAX_DEVICES = 128
POOL_NAME_MAX = 253
NODE_CHOICES = ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection")
_ONE_OF = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"


def _set(spec: dict[str, Any], key: str) -> bool:
    value = spec.get(key)
    return value not in (None, "", False)


class ResourceSliceStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Node", description="NodeName identifies the node which provides the resources in this pool."),
        Column("Driver", description="Driver identifies the DRA driver providing the capacity information."),
        Column("Pool", description="Pool is the name of the pool to which the devices belong."),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        errs = devices.validate_driver_name(spec.get("driver"), "spec.driver")
        pool = spec["pool"] if isinstance(spec.get("pool"), dict) else {}
        name = pool.get("name")
        if not name:
            errs.append(required("spec.pool.name"))
        elif isinstance(name, str):
            if len(name) > POOL_NAME_MAX:
                errs.append(too_long("spec.pool.name", POOL_NAME_MAX))
            # a pool name is one or more DNS subdomains separated by slashes
            for part in name.split("/"):
                errs += [invalid("spec.pool.name", name, m) for m in is_dns1123_subdomain(part)]
        errs += validate_nonnegative(pool.get("generation"), "spec.pool.generation")
        count = pool.get("resourceSliceCount")
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            errs.append(invalid("spec.pool.resourceSliceCount", count, "must be greater than zero"))
        chosen = [k for k in NODE_CHOICES if _set(spec, k)]
        if not chosen:
            errs.append(required("spec", _ONE_OF))
        elif len(chosen) > 1:
            shown = "{" + ", ".join(f"`{k}`" for k in chosen) + "}"
            errs.append(invalid("spec", shown, _ONE_OF + ", but multiple fields are set"))
        node = spec.get("nodeName")
        if isinstance(node, str) and node:
            errs += [invalid("spec.nodeName", node, m) for m in is_dns1123_subdomain(node)]
        items = spec.get("devices") or []
        if not isinstance(items, list):
            return errs + [invalid("spec.devices", items, "must be a list")]
        if len(items) > MAX_DEVICES:
            errs.append(too_many("spec.devices", len(items), MAX_DEVICES))
        seen: set[str] = set()
        for i, dev in enumerate(items):
            p = child(index("spec.devices", i), "name")
            dname = dev.get("name") if isinstance(dev, dict) else None
            if not dname:
                errs.append(required(p))
                continue
            errs += [invalid(p, dname, m) for m in is_dns1123_label(str(dname))]
            if dname in seen:
                errs.append(duplicate(p, dname))
            seen.add(dname)
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        errs = validate_immutable(spec.get("driver"), old_spec.get("driver"), "spec.driver")
        errs += validate_immutable((spec.get("pool") or {}).get("name"), (old_spec.get("pool") or {}).get("name"),
                                   "spec.pool.name")
        errs += validate_immutable(spec.get("nodeName"), old_spec.get("nodeName"), "spec.nodeName")
        return errs + self.validate(obj)

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        spec = obj.get("spec") or {}
        return {"spec.nodeName": spec.get("nodeName") or "", "spec.driver": spec.get("driver") or ""}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec = obj.get("spec") or {}
        return [obj["metadata"].get("name", ""), spec.get("nodeName") or "<none>", spec.get("driver") or "",
                (spec.get("pool") or {}).get("name") or "", age(obj, now)]


RESOURCE = ResourceType(
    group="resource.k8s.io", version="v1", kind="ResourceSlice", plural="resourceslices", singular="resourceslice",
    namespaced=False, strategy=ResourceSliceStrategy(), schema="io.k8s.api.resource.v1.ResourceSlice",
)
