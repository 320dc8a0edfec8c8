"""The ResourceQuota kind: per-namespace limits on resources and object counts.

Validation follows Kubernetes' ValidateResourceQuota: every ``spec.hard`` key is a standard
quota resource (``cpu``, ``requests.memory``, ``pods`` ...) or a qualified name
(``count/deployments.apps``, ``example.com/gpu``), values are non-negative quantities and
object counts are whole numbers; scopes are from a fixed set. ``status.hard``/``status.used``
are written by the quota controller through ``resourcequotas/status``. ``kubectl get quota``
shows ``used/hard`` per resource, split into REQUEST and LIMIT (``limits.*``) columns.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.common import quantity_cell
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, index, is_qualified_name, key, quantity_value, required, validate_enum, validate_quantity,
)
from kubelite.machinery.errors import FieldError, invalid, not_supported

#: counted objects: their quantities must be whole numbers
INTEGER_RESOURCES = frozenset({
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
})
STANDARD_QUOTA_RESOURCES = INTEGER_RESOURCES | {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
}
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")


def _is_standard(name: str) -> bool:
    if name in STANDARD_QUOTA_RESOURCES:
        return True
    return name.startswith(("hugepages-", "requests.hugepages-"))


def validate_quota_resources(resources: Any, path: str) -> list[FieldError]:
    if resources is None:
        return []
    if not isinstance(resources, dict):
        return [invalid(path, resources, "must be a map of resource names to quantities")]
    errs: list[FieldError] = []
    for name, q in resources.items():
        p = key(path, name)
        name_errs = [invalid(p, name, m) for m in is_qualified_name(name)]
        if not name_errs and "/" not in name and not _is_standard(name):
            name_errs.append(invalid(p, name, "must be a standard resource for quota"))
        errs += name_errs
        q_errs = validate_quantity(q, p)
        errs += q_errs
        if not q_errs and (name in INTEGER_RESOURCES or name.startswith("count/")) \
                and quantity_value(q).denominator != 1:
            errs.append(invalid(p, q, "must be an integer"))
    return errs


def validate_resource_quota(rq: dict[str, Any]) -> list[FieldError]:
    spec, status = rq.get("spec") or {}, rq.get("status") or {}
    errs = validate_quota_resources(spec.get("hard"), "spec.hard")
    scopes = spec.get("scopes") or []
    for i, scope in enumerate(scopes):
        if scope not in SCOPES:
            errs.append(not_supported(index("spec.scopes", i), scope, sorted(SCOPES)))
    if "Terminating" in scopes and "NotTerminating" in scopes or "BestEffort" in scopes and "NotBestEffort" in scopes:
        errs.append(invalid("spec.scopes", scopes, "conflicting scopes"))
    for i, expr in enumerate(((spec.get("scopeSelector") or {}).get("matchExpressions")) or []):
        p = index("spec.scopeSelector.matchExpressions", i)
        errs += validate_enum((expr or {}).get("scopeName"), child(p, "scopeName"), SCOPES)
        op = (expr or {}).get("operator")
        errs += validate_enum(op, child(p, "operator"), ("In", "NotIn", "Exists", "DoesNotExist"))
        values = (expr or {}).get("values") or []
        if op in ("In", "NotIn") and not values:
            errs.append(required(child(p, "values"), "must be at least one value when `operator` is 'In' or 'NotIn' "
                                                   "for scope selector"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(invalid(child(p, "values"), values, "must be no value when `operator` is 'Exist' or "
                                                            "'DoesNotExist' for scope selector"))
    errs += validate_quota_resources(status.get("hard"), "status.hard")
    errs += validate_quota_resources(status.get("used"), "status.used")
    return errs


def quota_cells(status: dict[str, Any]) -> tuple[str, str]:
    """(REQUEST, LIMIT): ``cpu: 100m/1, pods: 2/10`` sorted by resource; ``limits.*`` go to LIMIT."""
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        cell = f"{name}: {quantity_cell(used.get(name, '0'))}/{quantity_cell(hard[name])}"
        parts = name.split(".")
        (limits if len(parts) > 1 and parts[0] == "limits" else requests).append(cell)
    return ", ".join(requests), ", ".join(limits)


class ResourceQuotaStrategy(Strategy):
    has_status = True
    columns = (
        NAME_COLUMN,
        Column("Request", description="Request represents a minimum amount of cpu/memory that a container may "
                                      "consume."),
        Column("Limit", description="Limits control the maximum amount of cpu/memory that a container may use "
                                    "independent of contention on the node."),
        AGE_COLUMN,
    )

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj.pop("status", None)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_resource_quota(obj)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        request, limit = quota_cells(obj.get("status") or {})
        return [obj["metadata"].get("name", ""), request, limit, age(obj, now)]


RESOURCE_QUOTA = ResourceType(
    group="", version="v1", kind="ResourceQuota", plural="resourcequotas", singular="resourcequota",
    namespaced=True, strategy=ResourceQuotaStrategy(), schema="io.k8s.api.core.v1.ResourceQuota",
    short_names=("quota",), subresources=("status",),
)
