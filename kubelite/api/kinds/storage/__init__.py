"""The storage.k8s.io/v1 group: StorageClass, CSIStorageCapacity. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.storage import csistoragecapacity, storageclass
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [storageclass.RESOURCE, csistoragecapacity.RESOURCE]
