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


class GenerationMemo:
    """Remembers a plugin's per-node results across cycles, for results that depend only on
    the node's state and a few numbers of the pod (its "signature", e.g. its requests).

    A ``NodeInfo``'s ``generation`` changes whenever its content does, and snapshot NodeInfos
    are never mutated, so ``(signature, generation)`` fully determines such a result. Between
    two cycles only the nodes that received a pod change; replicas of one workload share a
    signature, so after the first pass over the nodes nearly every lookup hits. Tables are
    kept for the few most recent signatures and cleared when stale generations pile up.
    """

    __slots__ = ("_tables", "_max_tables")

    def __init__(self, max_tables: int = 8) -> None:
        self._tables: dict[object, dict[int, object]] = {}
        self._max_tables = max_tables

    def table(self, signature: object, num_nodes: int) -> dict[int, object]:
        t = self._tables.pop(signature, None)
        if t is None:
            t = {}
            if len(self._tables) >= self._max_tables:
                del self._tables[next(iter(self._tables))]  # least recently used
        elif len(t) > 2 * num_nodes + 1024:
            t.clear()
        self._tables[signature] = t  # most recently used last
        return t
