"""resource.k8s.io/v1 ResourceClaim and ResourceClaimTemplate: a request for devices, and the
template from which a pod's ``resourceClaims[].resourceClaimTemplateName`` gets one per pod.

A claim's spec is fixed once created; its status (the allocation, the pods it is reserved for)
is written through ``resourceclaims/status`` by the scheduler and the drivers. The Table's
STATE is kube's summary: ``pending``, ``allocated``, ``allocated,reserved``, ``deleted``.
Served through ``CLAIM`` and ``TEMPLATE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import StatusStrategy
from kubelite.api.kinds.resource import devices
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import child, too_many, validate_immutable
from kubelite.machinery.errors import FieldError

RESERVED_FOR_MAX = 256


def claim_state(obj: dict[str, Any]) -> str:
    """kube's printer summary of a claim."""
    status = obj.get("status") or {}
    states = []
    deleted = bool((obj.get("metadata") or {}).get("deletionTimestamp"))
    if deleted:
        states.append("deleted")
    if not status.get("allocation"):
        if not deleted:
            states.append("pending")
    else:
        states.append("allocated")
        if status.get("reservedFor"):
            states.append("reserved")
    return ",".join(states)


class ResourceClaimStrategy(StatusStrategy):
    columns = (NAME_COLUMN, Column("State", description="A summary of the current state (allocated, pending, "
                                                        "reserved, etc.)."), AGE_COLUMN)

    def defaults(self, obj: dict[str, Any]) -> None:
        devices.default_claim_spec(obj.get("spec"))

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return devices.validate_claim_spec(obj.get("spec"), "spec")

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = validate_immutable(obj.get("spec"), old.get("spec"), "spec")
        if errs:
            return errs
        reserved = (obj.get("status") or {}).get("reservedFor") or []
        if isinstance(reserved, list) and len(reserved) > RESERVED_FOR_MAX:
            errs.append(too_many("status.reservedFor", len(reserved), RESERVED_FOR_MAX))
        return errs + self.validate(obj)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), claim_state(obj), age(obj, now)]


class ResourceClaimTemplateStrategy(Strategy):
    has_status = False

    def defaults(self, obj: dict[str, Any]) -> None:
        devices.default_claim_spec((obj.get("spec") or {}).get("spec") if isinstance(obj.get("spec"), dict) else None)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        return devices.validate_claim_spec(spec.get("spec"), child("spec", "spec"))

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_immutable(obj.get("spec"), old.get("spec"), "spec") or self.validate(obj)


CLAIM = ResourceType(
    group="resource.k8s.io", version="v1", kind="ResourceClaim", plural="resourceclaims", singular="resourceclaim",
    namespaced=True, strategy=ResourceClaimStrategy(), schema="io.k8s.api.resource.v1.ResourceClaim",
    subresources=("status",),
)
TEMPLATE = ResourceType(
    group="resource.k8s.io", version="v1", kind="ResourceClaimTemplate", plural="resourceclaimtemplates",
    singular="resourceclaimtemplate", namespaced=True, strategy=ResourceClaimTemplateStrategy(),
    schema="io.k8s.api.resource.v1.ResourceClaimTemplate",
)
