"""scheduling.k8s.io/v1 PriorityClass: named pod priorities for scheduling and preemption.

User classes may go up to 1,000,000,000; above that and the ``system-`` prefix belong to the
two built-in classes the API server creates at start (``SYSTEM_PRIORITY_CLASSES``). Value and
preemption policy are fixed once created, since admitted pods already carry the number.
``preemptionPolicy`` defaults to ``PreemptLowerPriority``. Cluster-scoped, no status.
Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, set_default
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import validate_immutable
from kubelite.machinery.errors import FieldError, forbidden, not_supported

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
PREEMPTION_POLICIES = ["Never", "PreemptLowerPriority"]

#: the classes kube-apiserver bootstraps; their values are fixed
SYSTEM_PRIORITY_CLASSES: dict[str, int] = {
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}


def system_priority_class_objects() -> list[dict[str, Any]]:
    """The bootstrap objects for ``SYSTEM_PRIORITY_CLASSES`` (for the server to create at start)."""
    descriptions = {
        "system-node-critical": "Used for system critical pods that must not be moved from their current node.",
        "system-cluster-critical": ("Used for system critical pods that must run in the cluster, but can be moved "
                                    "to another node if necessary."),
    }
    return [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
             "value": value, "globalDefault": False, "description": descriptions[name],
             "preemptionPolicy": "PreemptLowerPriority"}
            for name, value in SYSTEM_PRIORITY_CLASSES.items()]


class PriorityClassStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Value", type="integer", description="value represents the integer value of this priority class."),
        Column("Global-Default", type="boolean", description=(
            "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods"
            " that do not have any priority class.")),
        AGE_COLUMN,
        Column("PreemptionPolicy", description=(
            "preemptionPolicy is the Policy for preempting pods with lower priority.")),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        set_default(obj, "preemptionPolicy", "PreemptLowerPriority")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        name = (obj.get("metadata") or {}).get("name") or ""
        value = obj.get("value")
        errs: list[FieldError] = []
        if name.startswith(SYSTEM_PREFIX):
            problem = _system_class_problem(name, value, bool(obj.get("globalDefault")))
            if problem:
                errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                                                       f"reserved for system use only. error: {problem}"))
        elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(forbidden("value", "maximum allowed value of a user defined priority is "
                                           f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
        policy = obj.get("preemptionPolicy")
        if policy is not None and policy not in PREEMPTION_POLICIES:
            errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        if obj.get("value") != old.get("value"):
            errs.append(forbidden("value", "may not be changed in an update."))
        return errs + validate_immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), obj.get("value") or 0, bool(obj.get("globalDefault")),
                age_cell(obj, now), obj.get("preemptionPolicy") or ""]


def _system_class_problem(name: str, value: Any, global_default: bool) -> str:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


RESOURCE = ResourceType(
    group="scheduling.k8s.io", version="v1", kind="PriorityClass", plural="priorityclasses", singular="priorityclass",
    namespaced=False, strategy=PriorityClassStrategy(), schema="io.k8s.api.scheduling.v1.PriorityClass",
    short_names=("pc",),
)
