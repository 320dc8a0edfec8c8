"""The coordination.k8s.io/v1 group: Lease. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.coordination import lease
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [lease.RESOURCE]
