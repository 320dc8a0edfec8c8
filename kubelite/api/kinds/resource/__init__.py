"""The resource.k8s.io/v1 group (dynamic resource allocation): DeviceClass, ResourceClaim,
ResourceClaimTemplate, ResourceSlice. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.resource import deviceclass, resourceclaim, resourceslice
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [deviceclass.RESOURCE, resourceclaim.CLAIM, resourceclaim.TEMPLATE,
                                 resourceslice.RESOURCE]
