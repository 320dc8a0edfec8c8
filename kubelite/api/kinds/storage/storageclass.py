"""storage.k8s.io/v1 StorageClass: how dynamically provisioned volumes are made.

Defaults: ``reclaimPolicy: Delete``, ``volumeBindingMode: Immediate``. The provisioner, its
parameters, the reclaim policy and the binding mode are fixed after create (volumes already
provisioned from the class would no longer match it). The class annotated
``storageclass.kubernetes.io/is-default-class: "true"`` prints as ``<name> (default)``.
Cluster-scoped, no status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, set_default
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import (
    is_qualified_name, required, too_long, validate_immutable, validate_label_name,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024


def is_default_class(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


class StorageClassStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Provisioner", description="provisioner indicates the type of the provisioner."),
        Column("ReclaimPolicy", description=(
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage "
            "class. Defaults to Delete.")),
        Column("VolumeBindingMode", description=(
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, "
            "VolumeBindingImmediate is used.")),
        Column("AllowVolumeExpansion", description=(
            "allowVolumeExpansion shows whether the storage class allow volume expand.")),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        set_default(obj, "reclaimPolicy", "Delete")
        set_default(obj, "volumeBindingMode", "Immediate")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs: list[FieldError] = []
        provisioner = obj.get("provisioner") or ""
        if not provisioner:
            errs.append(required("provisioner"))
        else:
            errs += [invalid("provisioner", provisioner.lower(), m) for m in is_qualified_name(provisioner.lower())]
        params = obj.get("parameters") or {}
        if len(params) > MAX_PARAMETERS:
            errs.append(too_long("parameters", MAX_PARAMETERS))
        size = 0
        for k, v in params.items():
            if not k:
                errs.append(invalid("parameters", k, "field can not be empty."))
            size += len(k) + len(str(v))
        if size > MAX_PARAMETERS_SIZE:
            errs.append(too_long("parameters", MAX_PARAMETERS_SIZE))
        policy = obj.get("reclaimPolicy")
        if policy and policy not in ("Delete", "Retain"):
            errs.append(not_supported("reclaimPolicy", policy, ["Delete", "Retain"]))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(required("volumeBindingMode"))
        elif mode not in ("Immediate", "WaitForFirstConsumer"):
            errs.append(not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
        for i, term in enumerate(obj.get("allowedTopologies") or []):
            exprs = term.get("matchLabelExpressions") or []
            if not exprs:
                errs.append(required(f"allowedTopologies[{i}].matchLabelExpressions",
                                     "must have at least one requirement"))
            for j, expr in enumerate(exprs):
                epath = f"allowedTopologies[{i}].matchLabelExpressions[{j}]"
                errs += validate_label_name(expr.get("key", ""), f"{epath}.key")
                if not expr.get("values"):
                    errs.append(required(f"{epath}.values", "must specify as least one value"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        for f in ("parameters", "provisioner", "reclaimPolicy"):
            if (obj.get(f) or None) != (old.get(f) or None):
                errs.append(forbidden(f, f"updates to {f} are forbidden."))
        mode, old_mode = obj.get("volumeBindingMode"), old.get("volumeBindingMode")
        return errs + validate_immutable(mode, old_mode, "volumeBindingMode")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        name = obj["metadata"].get("name", "")
        if is_default_class(obj):
            name += " (default)"
        return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
                obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age_cell(obj, now)]


RESOURCE = ResourceType(
    group="storage.k8s.io", version="v1", kind="StorageClass", plural="storageclasses", singular="storageclass",
    namespaced=False, strategy=StorageClassStrategy(), schema="io.k8s.api.storage.v1.StorageClass",
    short_names=("sc",),
)
