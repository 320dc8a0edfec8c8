"""apps/v1 StatefulSet: OrderedReady pods, RollingUpdate with partition 0, PVC retention Retain.

Names are DNS *labels* (pods are named ``<set>-<ordinal>`` and used as hostnames). On update
only ``replicas``, ``ordinals``, ``template``, ``updateStrategy``,
``persistentVolumeClaimRetentionPolicy`` and ``minReadySeconds`` may change; everything else
(selector, serviceName, volumeClaimTemplates, podManagementPolicy) is fixed at create, as
in Kubernetes. The pod template is checked for labels and restart policy only: its volume
mounts may refer to ``volumeClaimTemplates`` that are not pod volumes yet, so the full pod
check happens when the controller creates each pod. Served through ``RESOURCE``.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, dig, int_or_percent_value, nonneg, validate_int_or_percent,
    validate_selector_matches_template, validate_workload_selector,
)
from kubelite.api.kinds.apps._common import validate_restart_and_deadline
from kubelite.api.registry import Column, ResourceType, ScalePaths
from kubelite.api.validation import (
    is_dns1123_label, required, validate_annotations, validate_labels,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

#: spec fields an update may change; the rest is fixed at create
_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


class StatefulSetStrategy(StatusStrategy):
    # replicas and availableReplicas have no omitempty in apps/v1 StatefulSetStatus
    initial_status = {"availableReplicas": 0, "replicas": 0}
    #: pod names ``<name>-<ordinal>`` double as hostnames, so the set's name must be a DNS label
    name_validator = staticmethod(is_dns1123_label)

    columns = (
        NAME_COLUMN,
        Column("Ready", description="Number of the pod with ready state"),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "podManagementPolicy", "OrderedReady")
        us = set_default(spec, "updateStrategy", {})
        if not us.get("type"):
            us["type"] = "RollingUpdate"
            set_default(us, "rollingUpdate", {})
        # Only an existing rollingUpdate gets a partition: an explicit "type: RollingUpdate"
        # without rollingUpdate stays that way, exactly as Kubernetes defaults it.
        if us["type"] == "RollingUpdate" and us.get("rollingUpdate") is not None:
            set_default(us["rollingUpdate"], "partition", 0)
        policy = set_default(spec, "persistentVolumeClaimRetentionPolicy", {})
        set_default(policy, "whenDeleted", "Retain")
        set_default(policy, "whenScaled", "Retain")
        set_default(spec, "replicas", 1)
        set_default(spec, "revisionHistoryLimit", 10)
        default_template(spec)
        for claim in spec.get("volumeClaimTemplates") or []:
            # The claim templates are PersistentVolumeClaims and get the PVC defaults.
            if isinstance(claim, dict):
                set_default(claim.setdefault("spec", {}), "volumeMode", "Filesystem")
                set_default(claim.setdefault("status", {}), "phase", "Pending")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        policy = spec.get("podManagementPolicy")
        if not policy:
            errs.append(required("spec.podManagementPolicy"))
        elif policy not in ("OrderedReady", "Parallel"):
            errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
        errs += _validate_update_strategy(spec.get("updateStrategy") or {}, "spec.updateStrategy")
        retention = spec.get("persistentVolumeClaimRetentionPolicy")
        if retention is not None:
            for f in ("whenDeleted", "whenScaled"):
                if retention.get(f) not in ("Retain", "Delete"):
                    errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{f}",
                                              retention.get(f) or "", ["Retain", "Delete"]))
        errs += nonneg(spec.get("replicas"), "spec.replicas")
        errs += nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
        errs += nonneg(dig(spec, "ordinals", "start"), "spec.ordinals.start")
        sel_errs = validate_workload_selector(spec, "spec", "statefulset")
        errs += sel_errs
        template = spec.get("template")
        if template is None:
            errs.append(required("spec.template"))
        else:
            errs += validate_selector_matches_template(spec.get("selector"), template, "spec.template")
            meta = template.get("metadata") or {}
            errs += validate_labels(meta.get("labels"), "spec.template.labels")
            errs += validate_annotations(meta.get("annotations"), "spec.template.annotations")
        errs += validate_restart_and_deadline(template, "spec.template", "StatefulSet")
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        new_spec = copy.deepcopy(obj.get("spec") or {})
        old_spec = copy.deepcopy(old.get("spec") or {})
        for f in _MUTABLE:
            new_spec.pop(f, None)
            old_spec.pop(f, None)
        if new_spec != old_spec:
            errs.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', "
                                          "'ordinals', 'template', 'updateStrategy', "
                                          "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = container_cells((spec.get("template") or {}).get("spec", {}).get("containers"))
        return [
            obj["metadata"].get("name", ""),
            f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
            age_cell(obj, now),
            names, images,
        ]


def _validate_update_strategy(strategy: dict[str, Any], path: str) -> list[FieldError]:
    kind, ru = strategy.get("type"), strategy.get("rollingUpdate")
    if not kind:
        return [required(path)]
    if kind == "OnDelete":
        if ru is not None:
            return [invalid(f"{path}.rollingUpdate", ru, "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if kind != "RollingUpdate":
        return [invalid(path, kind, "must be 'RollingUpdate' or 'OnDelete'")]
    if ru is None:
        return []
    rpath = f"{path}.rollingUpdate"
    errs = nonneg(ru.get("partition"), f"{rpath}.partition")
    max_unavailable = ru.get("maxUnavailable")
    if max_unavailable is not None:
        errs += validate_int_or_percent(max_unavailable, f"{rpath}.maxUnavailable")
        if int_or_percent_value(max_unavailable) == 0:
            errs.append(invalid(f"{rpath}.maxUnavailable", max_unavailable, "cannot be 0"))
    return errs


RESOURCE = ResourceType(
    group="apps", version="v1", kind="StatefulSet", plural="statefulsets", singular="statefulset",
    namespaced=True, strategy=StatefulSetStrategy(), schema="io.k8s.api.apps.v1.StatefulSet",
    short_names=("sts",), categories=("all",), subresources=("status", "scale"), scale=ScalePaths(),
)
