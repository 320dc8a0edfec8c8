"""policy/v1 PodDisruptionBudget: how many selected pods voluntary evictions may take down.

Either ``minAvailable`` or ``maxUnavailable`` (a count or a percentage up to 100%), never both.
The disruption controller fills the status the eviction API consults; until then
``disruptionsAllowed`` is 0, so evictions wait. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, StatusStrategy, age_cell, validate_int_or_percent
from kubelite.api.registry import Column, ResourceType
from kubelite.api.validation import validate_label_selector
from kubelite.machinery.errors import FieldError, invalid, not_supported

UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


class PodDisruptionBudgetStrategy(StatusStrategy):
    # the four counters have no omitempty in policy/v1 PodDisruptionBudgetStatus
    initial_status = {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}

    columns = (
        NAME_COLUMN,
        Column("Min Available", description="The minimum number of pods that must be available."),
        Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
        Column("Allowed Disruptions", type="integer", description=(
            "Calculated number of pods that may be disrupted at this time.")),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if min_available is not None and max_unavailable is not None:
            errs.append(invalid("spec", "", "minAvailable and maxUnavailable cannot be both set"))
        errs += validate_int_or_percent(min_available, "spec.minAvailable")
        errs += validate_int_or_percent(max_unavailable, "spec.maxUnavailable")
        errs += validate_label_selector(spec.get("selector"), "spec.selector")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
            errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        return [
            obj["metadata"].get("name", ""),
            "N/A" if min_available is None else str(min_available),
            "N/A" if max_unavailable is None else str(max_unavailable),
            status.get("disruptionsAllowed") or 0,
            age_cell(obj, now),
        ]


RESOURCE = ResourceType(
    group="policy", version="v1", kind="PodDisruptionBudget", plural="poddisruptionbudgets",
    singular="poddisruptionbudget", namespaced=True, strategy=PodDisruptionBudgetStrategy(),
    schema="io.k8s.api.policy.v1.PodDisruptionBudget", short_names=("pdb",), subresources=("status",),
)
