"""SelfSubjectReview and TokenReview: virtual, create-only; a token review needs a token (400)."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.authentication import RESOURCES
from kubelite.api.kinds.authentication.reviews import SELF_SUBJECT_REVIEW, TOKEN_REVIEW
from kubelite.machinery.errors import StatusError


def test_token_review_requires_a_token() -> None:
    with pytest.raises(StatusError) as e:
        TOKEN_REVIEW.strategy.validate({"spec": {}})
    assert (e.value.code, e.value.message) == (400, "token is required for TokenReview in authentication")
    assert TOKEN_REVIEW.strategy.validate({"spec": {"token": "abc"}}) == []


def test_self_subject_review_has_nothing_to_check() -> None:
    assert SELF_SUBJECT_REVIEW.strategy.validate({"metadata": {}}) == []
    assert all(rt.virtual and rt.verbs == ("create",) and not rt.namespaced for rt in RESOURCES)
