"""Access reviews: virtual create-only kinds whose spec shape is checked."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.authorization import reviews
from tests.api.kinds.kindtest import fields, meta

POD_GET = {"namespace": "default", "verb": "get", "resource": "pods"}


def review(kind: str, ns: str | None = None, **spec: object) -> dict:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": meta("", ns), "spec": spec}


@pytest.mark.parametrize("rt,obj,expected", [
    (reviews.SELF_SUBJECT_ACCESS_REVIEW, review("SelfSubjectAccessReview", resourceAttributes=POD_GET), []),
    (reviews.SELF_SUBJECT_ACCESS_REVIEW, review("SelfSubjectAccessReview"), ["spec.resourceAttributes"]),
    (reviews.SELF_SUBJECT_ACCESS_REVIEW, review("SelfSubjectAccessReview", resourceAttributes=POD_GET,
                                                nonResourceAttributes={"path": "/", "verb": "get"}),
     ["spec.nonResourceAttributes"]),
    (reviews.SUBJECT_ACCESS_REVIEW, review("SubjectAccessReview", resourceAttributes=POD_GET), ["spec.user"]),
    (reviews.SUBJECT_ACCESS_REVIEW, review("SubjectAccessReview", resourceAttributes=POD_GET, groups=["devs"]), []),
    (reviews.LOCAL_SUBJECT_ACCESS_REVIEW, review("LocalSubjectAccessReview", "other", resourceAttributes=POD_GET,
                                                 user="jane"), ["spec.resourceAttributes.namespace"]),
    (reviews.SELF_SUBJECT_RULES_REVIEW, review("SelfSubjectRulesReview", namespace="default"), []),
])
def test_validation(rt: object, obj: dict, expected: list[str]) -> None:
    assert fields(rt.strategy.validate(obj)) == expected  # type: ignore[attr-defined]


def test_all_are_virtual_and_create_only() -> None:
    from kubelite.api.kinds.authorization import RESOURCES
    assert {(rt.plural, rt.namespaced) for rt in RESOURCES} == {
        ("selfsubjectaccessreviews", False), ("subjectaccessreviews", False),
        ("localsubjectaccessreviews", True), ("selfsubjectrulesreviews", False)}
    assert all(rt.virtual and rt.verbs == ("create",) for rt in RESOURCES)
