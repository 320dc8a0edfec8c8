"""The autoscaling group: HorizontalPodAutoscaler at v2 (stored) and v1 (converted).

Both versions share the storage ``autoscaling/horizontalpodautoscalers``; ``hpa_v1`` holds the
conversion. ``RESOURCES`` is what ``kubelite.api.kinds.BUILTIN`` collects.
"""
from __future__ import annotations

from kubelite.api.kinds.autoscaling import hpa, hpa_v1
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [hpa.RESOURCE, hpa_v1.RESOURCE]
