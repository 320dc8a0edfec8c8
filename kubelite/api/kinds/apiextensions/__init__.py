"""The apiextensions.k8s.io/v1 group: CustomResourceDefinition. ``RESOURCES`` feeds ``kinds.BUILTIN``.

Serving the custom resources a CRD defines is the API server's job (it builds their
``ResourceType`` from the stored CRD); this package only owns the CRD objects themselves.
"""
from __future__ import annotations

from kubelite.api.kinds.apiextensions import customresourcedefinition
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [customresourcedefinition.RESOURCE]
