"""The discovery.k8s.io/v1 group: EndpointSlice. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.discovery import endpointslice
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [endpointslice.RESOURCE]
