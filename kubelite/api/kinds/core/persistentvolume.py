"""PersistentVolumes and PersistentVolumeClaims: defaults, validation, update rules, columns.

PV defaults (SetDefaults_PersistentVolume): reclaimPolicy Retain, volumeMode Filesystem, phase
Pending; PVC: volumeMode Filesystem, phase Pending. A PV has exactly one volume source (the
list comes from the schema's PersistentVolumeSource), a ``storage`` capacity and access modes.
A claim's spec is immutable except for growing ``resources.requests`` of a bound claim and
for the binder setting ``volumeName`` once. The PV-to-PVC *binding* is a controller's job.
"""
from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from kubelite.api import schema
from kubelite.api.kinds.core.common import ensure_map
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, is_dns1123_subdomain, key, quantity_value, required, validate_enum, validate_label_selector,
    validate_quantity,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
ACCESS_MODE_SHORT = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                     ("ReadWriteOncePod", "RWOP"))
RECLAIM_POLICIES = ("Retain", "Delete", "Recycle")
VOLUME_MODES = ("Block", "Filesystem")
CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


@cache
def pv_sources() -> tuple[str, ...]:
    return tuple(schema.message("io.k8s.api.core.v1.PersistentVolumeSource").fields)


def access_modes_string(modes: list[Any] | None) -> str:
    """``helper.GetAccessModesAsString``: RWO,ROX,RWX,RWOP in that fixed order."""
    present = set(modes or [])
    return ",".join(short for mode, short in ACCESS_MODE_SHORT if mode in present)


def _storage_class(obj: dict[str, Any]) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if CLASS_ANNOTATION in annotations:
        return annotations[CLASS_ANNOTATION]
    return (obj.get("spec") or {}).get("storageClassName") or ""


def _validate_access_modes(modes: Any, path: str, *, detail: str = "") -> list[FieldError]:
    if not modes:
        return [required(path, detail)]
    errs = [not_supported(path, m, list(ACCESS_MODES)) for m in modes if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _validate_class_name(spec: dict[str, Any], path: str) -> list[FieldError]:
    name = spec.get("storageClassName")
    if not name:
        return []
    return [invalid(child(path, "storageClassName"), name, m) for m in is_dns1123_subdomain(str(name))]


# --- PersistentVolume ---------------------------------------------------------------------------


def default_pv(pv: dict[str, Any]) -> None:
    spec = ensure_map(pv, "spec")
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    if isinstance(spec.get("hostPath"), dict) and spec["hostPath"].get("type") is None:
        spec["hostPath"]["type"] = ""
    status = pv.get("status")
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"


def validate_pv(pv: dict[str, Any]) -> list[FieldError]:
    spec = pv.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    errs = _validate_access_modes(spec.get("accessModes"), "spec.accessModes")
    capacity = spec.get("capacity")
    if not capacity:
        errs.append(required("spec.capacity"))
    elif not isinstance(capacity, dict) or set(capacity) != {"storage"}:
        errs.append(not_supported("spec.capacity", capacity, ["storage"]))
    else:
        errs += validate_quantity(capacity["storage"], key("spec.capacity", "storage"))
    errs += validate_enum(spec.get("persistentVolumeReclaimPolicy"), "spec.persistentVolumeReclaimPolicy",
                          RECLAIM_POLICIES)
    if spec.get("volumeMode"):
        errs += validate_enum(spec["volumeMode"], "spec.volumeMode", VOLUME_MODES)
    errs += _validate_class_name(spec, "spec")
    present = [s for s in pv_sources() if spec.get(s) is not None]
    if not present:
        errs.append(required("spec", "must specify a volume type"))
    for extra in present[1:]:
        errs.append(forbidden(child("spec", extra), "may not specify more than 1 volume type"))
    if "hostPath" in present and not (spec["hostPath"] or {}).get("path"):
        errs.append(required("spec.hostPath.path"))
    if "local" in present:
        if not (spec["local"] or {}).get("path"):
            errs.append(required("spec.local.path"))
        if not (spec.get("nodeAffinity") or {}).get("required"):
            errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    if "nfs" in present:
        for f in ("server", "path"):
            if not (spec["nfs"] or {}).get(f):
                errs.append(required(child("spec.nfs", f)))
    if "csi" in present and not (spec["csi"] or {}).get("driver"):
        errs.append(required("spec.csi.driver"))
    return errs


class PersistentVolumeStrategy(Strategy):
    has_status = True
    columns = (
        NAME_COLUMN,
        Column("Capacity", description="capacity is the description of the persistent volume's resources and "
                                       "capacity."),
        Column("Access Modes", description="accessModes contains all ways the volume can be mounted."),
        Column("Reclaim Policy", description="persistentVolumeReclaimPolicy defines what happens to a persistent "
                                             "volume when released from its claim."),
        Column("Status", description="phase indicates if a volume is available, bound to a claim, or released by a "
                                     "claim."),
        Column("Claim", description="claimRef is part of a bi-directional binding between PersistentVolume and "
                                    "PersistentVolumeClaim."),
        Column("StorageClass", description="StorageClass of the pv"),
        Column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
        Column("Reason", description="reason is a brief CamelCase string that describes any failure and is meant "
                                     "for machine parsing and tidy display in the CLI."),
        AGE_COLUMN,
        Column("VolumeMode", priority=1, description="volumeMode defines if a volume is intended to be used with a "
                                                     "formatted filesystem or to remain in raw block state."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_pv(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_pv(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = validate_pv(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        new_src = {s: spec.get(s) for s in pv_sources() if spec.get(s) is not None}
        old_src = {s: old_spec.get(s) for s in pv_sources() if old_spec.get(s) is not None}
        if new_src != old_src:
            errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after "
                                                                 "creation"))
        if spec.get("volumeMode") != old_spec.get("volumeMode"):
            errs.append(invalid("spec.volumeMode", spec.get("volumeMode"), "field is immutable"))
        if old_spec.get("nodeAffinity") and spec.get("nodeAffinity") != old_spec["nodeAffinity"]:
            errs.append(invalid("spec.nodeAffinity", "", "field is immutable"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        claim = spec.get("claimRef")
        claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if isinstance(claim, dict) else ""
        phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else status.get("phase", "")
        return [obj["metadata"].get("name", ""), str((spec.get("capacity") or {}).get("storage", "0")),
                access_modes_string(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""), phase,
                claim_cell, _storage_class(obj), spec.get("volumeAttributesClassName") or "<unset>",
                status.get("reason", ""), age(obj, now), spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME = ResourceType(
    group="", version="v1", kind="PersistentVolume", plural="persistentvolumes", singular="persistentvolume",
    namespaced=False, strategy=PersistentVolumeStrategy(), schema="io.k8s.api.core.v1.PersistentVolume",
    short_names=("pv",), subresources=("status",),
)


# --- PersistentVolumeClaim --------------------------------------------------------------------------

PVC_IMMUTABLE = ("spec is immutable after creation except resources.requests and volumeAttributesClassName for "
                 "bound claims")


def default_pvc_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PersistentVolumeClaimSpec (also used for StatefulSet volumeClaimTemplates)."""
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"


def validate_pvc_spec(spec: Any, path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimSpec (also used for StatefulSet volumeClaimTemplates)."""
    if not isinstance(spec, dict):
        return [required(path)]
    errs = _validate_access_modes(spec.get("accessModes"), child(path, "accessModes"),
                                  detail="at least 1 access mode is required")
    errs += validate_label_selector(spec.get("selector"), child(path, "selector"))
    requests = (spec.get("resources") or {}).get("requests") or {}
    storage_path = key(child(path, "resources"), "storage")
    if "storage" not in requests:
        errs.append(required(storage_path))
    else:
        q_errs = validate_quantity(requests["storage"], storage_path)
        errs += q_errs
        if not q_errs and quantity_value(requests["storage"]) <= 0:
            errs.append(invalid(storage_path, requests["storage"], "must be greater than zero"))
    if spec.get("volumeMode"):
        errs += validate_enum(spec["volumeMode"], child(path, "volumeMode"), VOLUME_MODES)
    errs += _validate_class_name(spec, path)
    return errs


def _pvc_spec_without_mutables(spec: dict[str, Any], old_spec: dict[str, Any], *, bound: bool) -> dict[str, Any]:
    out = dict(spec)
    if not old_spec.get("volumeName"):
        out.pop("volumeName", None)  # the binder may set it once
    if not old_spec.get("storageClassName"):
        out.pop("storageClassName", None)  # a class may be set once on a claim without one (1.28+)
    if bound:
        res = dict(out.get("resources") or {})
        res.pop("requests", None)
        out["resources"] = res
        out.pop("volumeAttributesClassName", None)
    return out


class PersistentVolumeClaimStrategy(Strategy):
    has_status = True
    columns = (
        NAME_COLUMN,
        Column("Status", description="phase represents the current phase of PersistentVolumeClaim."),
        Column("Volume", description="volumeName is the binding reference to the PersistentVolume backing this "
                                     "claim."),
        Column("Capacity", description="capacity represents the actual resources of the underlying volume."),
        Column("Access Modes", description="accessModes contains the actual access modes the volume backing the "
                                           "PVC has."),
        Column("StorageClass", description="StorageClass of the pvc"),
        Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
        AGE_COLUMN,
        Column("VolumeMode", priority=1, description="volumeMode defines what type of volume is required by the "
                                                     "claim."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_pvc_spec(ensure_map(obj, "spec"))
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_pvc_spec(obj.get("spec"), "spec")

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        bound = (old.get("status") or {}).get("phase") == "Bound"
        if _pvc_spec_without_mutables(spec, old_spec, bound=bound) != \
                _pvc_spec_without_mutables(old_spec, old_spec, bound=bound):
            errs.append(forbidden("spec", PVC_IMMUTABLE))
        elif bound:
            new_req = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            old_req = ((old_spec.get("resources") or {}).get("requests") or {}).get("storage")
            try:
                shrunk = (new_req is not None and old_req is not None
                          and quantity_value(new_req) < quantity_value(old_req))
            except ValueError:
                shrunk = False
            if shrunk:
                errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else status.get("phase", "")
        capacity, modes = "", ""
        if spec.get("volumeName"):
            capacity = str((status.get("capacity") or {}).get("storage", "0"))
            modes = access_modes_string(status.get("accessModes"))
        return [obj["metadata"].get("name", ""), phase, spec.get("volumeName", ""), capacity, modes,
                _storage_class(obj), spec.get("volumeAttributesClassName") or "<unset>", age(obj, now),
                spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME_CLAIM = ResourceType(
    group="", version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims",
    singular="persistentvolumeclaim", namespaced=True, strategy=PersistentVolumeClaimStrategy(),
    schema="io.k8s.api.core.v1.PersistentVolumeClaim", short_names=("pvc",), subresources=("status",),
)
