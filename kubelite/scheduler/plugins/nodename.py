"""NodeName: a pod that names its node (``spec.nodeName`` set at creation) only fits that node.

Such pods are normally bound already and never reach the scheduler; the plugin matters for
preemption what-ifs and for parity with kube's default profile. PreFilter skips the Filter for
every pod without a node name, so it costs nothing per node in the common case."""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import (
    NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, CycleState, PreFilterResult, QueueingHint, Status,
    unresolvable,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def _wanted(pod: PodInfo) -> str:
    return (pod.pod.get("spec") or {}).get("nodeName") or ""


class NodeName:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if _wanted(pod) else SKIP)

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        want = _wanted(pod)
        if want and want != node.name:
            return unresolvable(ERR_REASON)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            name = ((new or {}).get("metadata") or {}).get("name")
            return QueueingHint.QUEUE if name == _wanted(pod) else QueueingHint.QUEUE_SKIP
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL), hint)]


def new(args: Any, handle: Any) -> NodeName:
    return NodeName(args, handle)
