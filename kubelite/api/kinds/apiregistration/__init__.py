"""The apiregistration.k8s.io/v1 group: APIService. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.apiregistration import apiservice
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [apiservice.RESOURCE]
