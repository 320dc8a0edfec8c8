"""storage.k8s.io/v1 CSIStorageCapacity: how much a CSI driver can provision for one storage
class in one topology segment (``nodeTopology``), published by the driver's external
provisioner and read by the scheduler for ``WaitForFirstConsumer`` volumes. The class and
the topology are fixed once created; ``capacity`` and ``maximumVolumeSize`` change as the
driver reports. Namespaced (the driver's namespace), no status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.registry import NAME_COLUMN, Column, ResourceType, Strategy
from kubelite.api.validation import validate_immutable, validate_label_selector, validate_name_ref, validate_quantity
from kubelite.machinery.errors import FieldError


class CSIStorageCapacityStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("StorageClassName", description="storageClassName represents the name of the StorageClass that the "
                                               "reported capacity applies to."),
        Column("Capacity", description="capacity is the value reported by the CSI driver in its GetCapacityResponse "
                                       "for a GetCapacityRequest with topology and parameters that match the previous "
                                       "fields."),
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = validate_name_ref(obj.get("storageClassName"), "storageClassName")
        if obj.get("nodeTopology") is not None:
            errs += validate_label_selector(obj["nodeTopology"], "nodeTopology")
        for f in ("capacity", "maximumVolumeSize"):
            if obj.get(f) is not None:
                errs += validate_quantity(obj[f], f)
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return (validate_immutable(obj.get("storageClassName"), old.get("storageClassName"), "storageClassName")
                + validate_immutable(obj.get("nodeTopology"), old.get("nodeTopology"), "nodeTopology")
                + self.validate(obj))

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), obj.get("storageClassName") or "", obj.get("capacity") or "<unset>"]


RESOURCE = ResourceType(
    group="storage.k8s.io", version="v1", kind="CSIStorageCapacity", plural="csistoragecapacities",
    singular="csistoragecapacity", namespaced=True, strategy=CSIStorageCapacityStrategy(),
    schema="io.k8s.api.storage.v1.CSIStorageCapacity",
)
