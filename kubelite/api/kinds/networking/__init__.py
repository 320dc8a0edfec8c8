"""The networking.k8s.io/v1 group: Ingress, IngressClass, NetworkPolicy.

One module per kind; ``RESOURCES`` is what ``kubelite.api.kinds.BUILTIN`` collects.
"""
from __future__ import annotations

from kubelite.api.kinds.networking import ingress, ingressclass, networkpolicy
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [ingress.RESOURCE, ingressclass.RESOURCE, networkpolicy.RESOURCE]
