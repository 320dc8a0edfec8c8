"""authorization.k8s.io/v1 access reviews: questions to the authorizer, never stored.

``kubectl auth can-i`` posts a SelfSubjectAccessReview and reads ``status.allowed``; the API
server answers by filling ``status`` from its authorizer. These strategies only check the
question is well-formed -- exactly one of ``resourceAttributes`` / ``nonResourceAttributes``,
a user or group for SubjectAccessReview, the review's namespace for the local kind -- with
Kubernetes' messages. Each module-level ``*_RESOURCE`` is ``virtual`` with the single verb
``create``.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.registry import ResourceType, Strategy
from kubelite.machinery.errors import FieldError, invalid


def validate_review_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """The part every access review shares (``ValidateSelfSubjectAccessReviewSpec``)."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    errs: list[FieldError] = []
    if resource is not None and non_resource is not None:
        errs.append(invalid(f"{path}.nonResourceAttributes", "",
                            "cannot be specified in combination with resourceAttributes"))
    if resource is None and non_resource is None:
        errs.append(invalid(f"{path}.resourceAttributes", "",
                            "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    return errs


class SelfSubjectAccessReviewStrategy(Strategy):
    has_status = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_review_spec(obj.get("spec") or {})


class SubjectAccessReviewStrategy(Strategy):
    has_status = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_review_spec(spec)
        if not spec.get("user") and not spec.get("groups"):
            errs.append(invalid("spec.user", spec.get("user") or "", "at least one of user or group must be specified"))
        return errs


class LocalSubjectAccessReviewStrategy(SubjectAccessReviewStrategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = super().validate(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        resource = spec.get("resourceAttributes")
        if resource is not None and (resource.get("namespace") or "") != namespace:
            errs.append(invalid("spec.resourceAttributes.namespace", resource.get("namespace") or "",
                                "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            errs.append(invalid("spec.nonResourceAttributes", "", "disallowed on this kind of request"))
        return errs


class SelfSubjectRulesReviewStrategy(Strategy):
    has_status = False


def _review(kind: str, plural: str, strategy: Strategy, *, namespaced: bool = False) -> ResourceType:
    return ResourceType(
        group="authorization.k8s.io", version="v1", kind=kind, plural=plural, singular=kind.lower(),
        namespaced=namespaced, strategy=strategy, schema=f"io.k8s.api.authorization.v1.{kind}",
        verbs=("create",), virtual=True,
    )


SELF_SUBJECT_ACCESS_REVIEW = _review("SelfSubjectAccessReview", "selfsubjectaccessreviews",
                                     SelfSubjectAccessReviewStrategy())
SUBJECT_ACCESS_REVIEW = _review("SubjectAccessReview", "subjectaccessreviews", SubjectAccessReviewStrategy())
LOCAL_SUBJECT_ACCESS_REVIEW = _review("LocalSubjectAccessReview", "localsubjectaccessreviews",
                                      LocalSubjectAccessReviewStrategy(), namespaced=True)
SELF_SUBJECT_RULES_REVIEW = _review("SelfSubjectRulesReview", "selfsubjectrulesreviews",
                                    SelfSubjectRulesReviewStrategy())
