"""The authentication.k8s.io/v1 group: SelfSubjectReview and TokenReview (virtual, create-only).

``RESOURCES`` feeds ``kinds.BUILTIN``; the API server computes each review's status.
"""
from __future__ import annotations

from kubelite.api.kinds.authentication.reviews import SELF_SUBJECT_REVIEW, TOKEN_REVIEW
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [SELF_SUBJECT_REVIEW, TOKEN_REVIEW]
