"""The policy/v1 group: PodDisruptionBudget. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.policy import poddisruptionbudget
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [poddisruptionbudget.RESOURCE]
