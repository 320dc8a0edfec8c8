"""The authorization.k8s.io/v1 group: the four access reviews (virtual, create-only).

``RESOURCES`` feeds ``kinds.BUILTIN``; the API server computes each review's status.
"""
from __future__ import annotations

from kubelite.api.kinds.authorization.reviews import (
    LOCAL_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW,
)
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [
    LOCAL_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW,
]
