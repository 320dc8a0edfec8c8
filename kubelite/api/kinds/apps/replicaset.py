"""apps/v1 ReplicaSet: 1 replica by default, a defaulted pod template, an immutable selector.

The ``status.replicas`` field selector exists because Kubernetes offers it (the garbage
collector and ``kubectl`` never need it, but clients may). ``scale`` reads ``spec.replicas``
and the selector. Served by the generic store through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, format_label_selector, nonneg, validate_workload_selector,
)
from kubelite.api.kinds.apps._common import validate_replica_template
from kubelite.api.registry import Column, ResourceType, ScalePaths
from kubelite.api.validation import validate_immutable
from kubelite.machinery.errors import FieldError


class ReplicaSetStrategy(StatusStrategy):
    # replicas has no omitempty in apps/v1 ReplicaSetStatus: a fresh ReplicaSet reads replicas: 0
    initial_status = {"replicas": 0}

    columns = (
        NAME_COLUMN,
        Column("Desired", type="integer", description="Replicas is the number of desired replicas."),
        Column("Current", type="integer", description="Replicas is the most recently observed number of replicas."),
        Column("Ready", type="integer", description="The number of ready replicas for this replica set."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description=(
            "Selector is a label query over pods that should match the replica count.")),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "replicas", 1)
        default_template(spec)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = nonneg(spec.get("replicas"), "spec.replicas")
        errs += nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
        # Kubernetes' ReplicaSet validation says "deployment" here too; users grep for it.
        errs += validate_workload_selector(spec, "spec", "deployment")
        errs += validate_replica_template(spec, "spec", "ReplicaSet")
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        errs += validate_immutable((obj.get("spec") or {}).get("selector"),
                                   (old.get("spec") or {}).get("selector"), "spec.selector")
        return errs

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"status.replicas": str((obj.get("status") or {}).get("replicas") or 0)}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = container_cells((spec.get("template") or {}).get("spec", {}).get("containers"))
        return [
            obj["metadata"].get("name", ""),
            spec.get("replicas") or 0,
            status.get("replicas") or 0,
            status.get("readyReplicas") or 0,
            age_cell(obj, now),
            names, images, format_label_selector(spec.get("selector")),
        ]


RESOURCE = ResourceType(
    group="apps", version="v1", kind="ReplicaSet", plural="replicasets", singular="replicaset",
    namespaced=True, strategy=ReplicaSetStrategy(), schema="io.k8s.api.apps.v1.ReplicaSet",
    short_names=("rs",), categories=("all",), subresources=("status", "scale"), scale=ScalePaths(),
)
