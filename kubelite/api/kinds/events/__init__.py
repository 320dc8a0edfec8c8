"""The events.k8s.io/v1 group: Event, stored with core/v1 Events. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.events import event
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [event.RESOURCE]
