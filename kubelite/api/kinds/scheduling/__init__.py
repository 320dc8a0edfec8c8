"""The scheduling.k8s.io/v1 group: PriorityClass. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.scheduling import priorityclass
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [priorityclass.RESOURCE]
