"""apps/v1 DaemonSet: RollingUpdate (maxUnavailable 1, maxSurge 0) by default, template generation.

apps/v1 has no ``spec.templateGeneration``; Kubernetes keeps that internal counter in the
``deprecated.daemonset.template.generation`` annotation instead, starting at 1 and adding 1
each time the pod template changes. Clients cannot move it: an update always gets the old
value back (plus one when the template changed). The daemonset controller stamps it on pods
as ``pod-template-generation``. Served by the generic store through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, format_label_selector, format_labels, int_or_percent_value, nonneg,
    validate_int_or_percent, validate_selector_matches_template,
)
from kubelite.api.kinds.apps._common import DAEMONSET_TEMPLATE_GENERATION, validate_restart_and_deadline
from kubelite.api.kinds.core.pod import validate_pod_template
from kubelite.api.registry import Column, ResourceType
from kubelite.api.validation import required, validate_immutable, validate_label_selector
from kubelite.machinery.errors import FieldError, invalid, not_supported


class DaemonSetStrategy(StatusStrategy):
    # these four counters have no omitempty in apps/v1 DaemonSetStatus
    initial_status = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                      "numberMisscheduled": 0, "numberReady": 0}

    columns = (
        NAME_COLUMN,
        Column("Desired", type="integer", description=(
            "The total number of nodes that should be running the daemon pod (including nodes correctly running the "
            "daemon pod).")),
        Column("Current", type="integer", description=(
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.")),
        Column("Ready", type="integer", description=(
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running"
            " and ready.")),
        Column("Up-to-date", type="integer", description=(
            "The total number of nodes that are running updated daemon pod")),
        Column("Available", type="integer", description=(
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running"
            " and available (ready for at least spec.minReadySeconds)")),
        Column("Node Selector", description=(
            "NodeSelector is a selector which must be true for the pod to fit on a node.")),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="A label query over pods that are managed by the daemon set."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        us = set_default(spec, "updateStrategy", {})
        set_default(us, "type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            ru = set_default(us, "rollingUpdate", {})
            set_default(ru, "maxUnavailable", 1)
            set_default(ru, "maxSurge", 0)
        set_default(spec, "revisionHistoryLimit", 10)
        default_template(spec)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
        if _template_generation(obj) < 1:
            annotations[DAEMONSET_TEMPLATE_GENERATION] = "1"

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(obj, old)
        generation = _template_generation(old)
        if (obj.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        obj.setdefault("metadata", {}).setdefault("annotations", {})[DAEMONSET_TEMPLATE_GENERATION] = str(generation)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        sel, template = spec.get("selector"), spec.get("template") or {}
        # No "Required" for a missing selector here (Kubernetes has none for DaemonSets): it
        # selects nothing, which the template check reports.
        errs = validate_label_selector(sel, "spec.selector")
        errs += validate_selector_matches_template(sel, template, "spec.template")
        if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(invalid("spec.selector", sel, "empty selector is invalid for daemonset"))
        errs += validate_pod_template(template, "spec.template")
        errs += validate_restart_and_deadline(template, "spec.template", "DaemonSet")
        errs += nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
        errs += _validate_update_strategy(spec.get("updateStrategy") or {}, "spec.updateStrategy")
        errs += nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
        annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(DAEMONSET_TEMPLATE_GENERATION)
        if annotation is not None and not _is_int(annotation):
            errs.append(invalid(f"metadata.annotations[{DAEMONSET_TEMPLATE_GENERATION}]", annotation,
                                "must be an integer"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        errs += validate_immutable((obj.get("spec") or {}).get("selector"),
                                   (old.get("spec") or {}).get("selector"), "spec.selector")
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        names, images = container_cells(pod_spec.get("containers"))
        return [
            obj["metadata"].get("name", ""),
            status.get("desiredNumberScheduled") or 0,
            status.get("currentNumberScheduled") or 0,
            status.get("numberReady") or 0,
            status.get("updatedNumberScheduled") or 0,
            status.get("numberAvailable") or 0,
            format_labels(pod_spec.get("nodeSelector")),
            age_cell(obj, now),
            names, images, format_label_selector(spec.get("selector")),
        ]


def _is_int(value: str) -> bool:
    try:
        int(value)
        return True
    except (TypeError, ValueError):
        return False


def _template_generation(obj: dict[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(DAEMONSET_TEMPLATE_GENERATION)
    return int(value) if value is not None and _is_int(value) else 0


def _validate_update_strategy(strategy: dict[str, Any], path: str) -> list[FieldError]:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        return [not_supported(path, kind or "", ["RollingUpdate", "OnDelete"])]
    ru = strategy.get("rollingUpdate")
    if ru is None:
        return [required(f"{path}.rollingUpdate")]
    rpath = f"{path}.rollingUpdate"
    unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = validate_int_or_percent(unavailable, f"{rpath}.maxUnavailable")
    errs += validate_int_or_percent(surge, f"{rpath}.maxSurge")
    # Exactly one of the two may be non-zero: a daemon pod is either replaced in place
    # (unavailable) or surged next to the old one on the same node, never both.
    has_unavailable, has_surge = int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(invalid(f"{rpath}.maxSurge", surge, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{rpath}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


RESOURCE = ResourceType(
    group="apps", version="v1", kind="DaemonSet", plural="daemonsets", singular="daemonset",
    namespaced=True, strategy=DaemonSetStrategy(), schema="io.k8s.api.apps.v1.DaemonSet",
    short_names=("ds",), categories=("all",), subresources=("status",),
)
