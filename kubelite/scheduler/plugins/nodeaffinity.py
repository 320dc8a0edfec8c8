"""NodeAffinity: ``spec.nodeSelector`` and ``affinity.nodeAffinity`` (required and preferred).

Filter: the node's labels must match every ``nodeSelector`` entry AND one of the required
``nodeSelectorTerms`` -- else "node(s) didn't match Pod's node affinity/selector"
(UnschedulableAndUnresolvable: evicting pods never changes a node's labels). PreFilter skips
the Filter for pods with neither, and narrows the candidate nodes when every required term
pins ``matchFields: metadata.name`` (how DaemonSet pods target their node).

Score: the sum of the weights of the preferred terms the node matches, normalised so the best
node gets 100 (weights 80 and 20; a node matching both scores 100, one matching only the
second 20 * 100 // 100 = 20).
"""
from __future__ import annotations

from typing import Any

from kubelite.api.helpers.nodeaffinity import pod_matches_node_selector_and_affinity
from kubelite.scheduler.framework.interface import (
    NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, CycleState, PreFilterResult, QueueingHint, Status,
    unresolvable,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo
from kubelite.scheduler.plugins.helper import default_normalize_score

NAME = "NodeAffinity"
ERR_REASON = "node(s) didn't match Pod's node affinity/selector"


class NodeAffinity:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.node_selector and pod.required_node_affinity is None:
            return None, SKIP
        req = pod.required_node_affinity
        if req is not None:
            names = req.node_names()
            if names is not None:
                return PreFilterResult(names), None
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod_matches_node_selector_and_affinity(pod.node_selector, pod.required_node_affinity, node.labels, node.name):
            return None
        return unresolvable(ERR_REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if pod.preferred_node_affinity else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = 0
        for weight, term in pod.preferred_node_affinity:
            if term.matches(node.labels, node.name):
                total += weight
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return QueueingHint.QUEUE_SKIP
            meta = new.get("metadata") or {}
            if pod_matches_node_selector_and_affinity(pod.node_selector, pod.required_node_affinity,
                                                      meta.get("labels") or {}, meta.get("name") or ""):
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL), hint)]


def new(args: Any, handle: Any) -> NodeAffinity:
    return NodeAffinity(args, handle)
