"""authentication.k8s.io/v1 reviews: "who am I" and "whose token is this", never stored.

``kubectl auth whoami`` posts a SelfSubjectReview (no spec: the answer is the caller);
webhook authenticators and some controllers post TokenReviews. The API server fills
``status``; a TokenReview without a token is a 400, as in Kubernetes. Both are ``virtual``
with the single verb ``create``.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.registry import ResourceType, Strategy
from kubelite.machinery.errors import FieldError, bad_request


class SelfSubjectReviewStrategy(Strategy):
    has_status = False


class TokenReviewStrategy(Strategy):
    has_status = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        if not (obj.get("spec") or {}).get("token"):
            # Kubernetes answers this with 400, not a 422 field error.
            raise bad_request("token is required for TokenReview in authentication")
        return []


SELF_SUBJECT_REVIEW = ResourceType(
    group="authentication.k8s.io", version="v1", kind="SelfSubjectReview", plural="selfsubjectreviews",
    singular="selfsubjectreview", namespaced=False, strategy=SelfSubjectReviewStrategy(),
    schema="io.k8s.api.authentication.v1.SelfSubjectReview", verbs=("create",), virtual=True,
)
TOKEN_REVIEW = ResourceType(
    group="authentication.k8s.io", version="v1", kind="TokenReview", plural="tokenreviews",
    singular="tokenreview", namespaced=False, strategy=TokenReviewStrategy(),
    schema="io.k8s.api.authentication.v1.TokenReview", verbs=("create",), virtual=True,
)
