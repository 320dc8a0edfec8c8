"""apps/v1 Deployment: defaults, validation, generation rules and ``kubectl get deploy`` columns.

Defaults are the ones users see in ``kubectl get deploy -o yaml``: 1 replica, a RollingUpdate
strategy with 25%/25%, 10 old ReplicaSets kept, a 600 s progress deadline, and a fully defaulted
pod template. The template default matters beyond looks: the deployment controller copies it
into the ReplicaSet verbatim and ``helm --wait`` compares the two byte for byte.

Generation is bumped on spec *and* annotation changes (Kubernetes does the same, because the
controller copies annotations onto the ReplicaSets). The selector is immutable in apps/v1.
Served by the generic store through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, int_or_percent_value, nonneg, selector_string, validate_int_or_percent,
    validate_workload_selector,
)
from kubelite.api.kinds.apps._common import validate_replica_template
from kubelite.api.registry import Column, ResourceType, ScalePaths
from kubelite.api.validation import required, validate_immutable
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported


class DeploymentStrategy(StatusStrategy):
    columns = (
        NAME_COLUMN,
        Column("Ready", description="Number of the pod with ready state"),
        Column("Up-to-date", description=(
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.")),
        Column("Available", description=(
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.")),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description=(
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected "
            "by this deployment.")),
    )

    def prepare_for_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """As Kubernetes: a status write may also change annotations (the controller records
        ``deployment.kubernetes.io/revision`` this way, without bumping generation)."""
        annotations = (obj.get("metadata") or {}).get("annotations")
        super().prepare_for_status_update(obj, old)
        if annotations:
            obj["metadata"]["annotations"] = annotations
        else:
            obj["metadata"].pop("annotations", None)

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "replicas", 1)
        strategy = set_default(spec, "strategy", {})
        set_default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = set_default(strategy, "rollingUpdate", {})
            set_default(ru, "maxUnavailable", "25%")
            set_default(ru, "maxSurge", "25%")
        set_default(spec, "revisionHistoryLimit", 10)
        set_default(spec, "progressDeadlineSeconds", 600)
        default_template(spec)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = nonneg(spec.get("replicas"), "spec.replicas")
        errs += validate_workload_selector(spec, "spec", "deployment")
        errs += validate_replica_template(spec, "spec", "ReplicaSet")
        errs += _validate_strategy(spec.get("strategy") or {}, "spec.strategy")
        errs += nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
        errs += nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
        pds = spec.get("progressDeadlineSeconds")
        if pds is not None:
            errs += nonneg(pds, "spec.progressDeadlineSeconds")
            if isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
                errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        errs += validate_immutable((obj.get("spec") or {}).get("selector"),
                                   (old.get("spec") or {}).get("selector"), "spec.selector")
        return errs

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        # Annotations are copied onto the ReplicaSets, so changing them is a rollout input too.
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        old_annotations = (old.get("metadata") or {}).get("annotations") or {}
        return super().spec_changed(obj, old) or annotations != old_annotations

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = container_cells((spec.get("template") or {}).get("spec", {}).get("containers"))
        return [
            obj["metadata"].get("name", ""),
            f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
            status.get("updatedReplicas") or 0,
            status.get("availableReplicas") or 0,
            age_cell(obj, now),
            names, images, selector_string(spec.get("selector")),
        ]


def _validate_strategy(strategy: dict[str, Any], path: str) -> list[FieldError]:
    kind = strategy.get("type")
    ru = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if ru is not None:
            return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if ru is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        rpath = f"{path}.rollingUpdate"
        unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
        errs = validate_int_or_percent(unavailable, f"{rpath}.maxUnavailable", max_100=False)
        errs += validate_int_or_percent(surge, f"{rpath}.maxSurge", max_100=False)
        if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
            # Both zero would leave the rollout unable to make progress.
            errs.append(invalid(f"{rpath}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
        elif isinstance(unavailable, str) and int_or_percent_value(unavailable) > 100:
            errs.append(invalid(f"{rpath}.maxUnavailable", unavailable, "must not be greater than 100%"))
        return errs
    # Kubernetes reports the whole strategy at spec.strategy; the type is what is wrong.
    return [not_supported(path, kind or "", ["Recreate", "RollingUpdate"])]


RESOURCE = ResourceType(
    group="apps", version="v1", kind="Deployment", plural="deployments", singular="deployment",
    namespaced=True, strategy=DeploymentStrategy(), schema="io.k8s.api.apps.v1.Deployment",
    short_names=("deploy",), categories=("all",), subresources=("status", "scale"), scale=ScalePaths(),
)
