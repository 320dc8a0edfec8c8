"""Small helpers shared by several plugins: kube's DefaultNormalizeScore and namespace lookups.

Score plugins whose raw score is a count or a weight sum (NodeAffinity, TaintToleration) call
``default_normalize_score`` from their NormalizeScore to map it into 0..100.
"""
from __future__ import annotations

from kubelite.scheduler.framework.interface import MAX_NODE_SCORE


def default_normalize_score(scores: list[int], *, reverse: bool = False, max_priority: int = MAX_NODE_SCORE) -> None:
    """Scale ``scores`` in place so the highest becomes ``max_priority`` (integer division, as
    kube). With ``reverse`` the lowest raw score wins: raw [0, 1, 2] -> [100, 50, 0]. All-zero
    raw scores stay 0, or all become 100 when reversed."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = max_priority
        return
    for i, s in enumerate(scores):
        v = max_priority * s // top
        scores[i] = max_priority - v if reverse else v
