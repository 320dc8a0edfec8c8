"""NodeUnschedulable: cordoned nodes (``spec.unschedulable: true``) take no new pods, unless the
pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint (DaemonSet pods do).

PreFilter skips the Filter when no node in the snapshot is cordoned (the usual case)."""
from __future__ import annotations

from typing import Any

from kubelite.api.helpers.taints import TAINT_NO_SCHEDULE, TAINT_NODE_UNSCHEDULABLE, Taint, any_tolerates
from kubelite.scheduler.framework.interface import (
    NODE, SKIP, UNSCHEDULED_POD, ActionType, ClusterEvent, ClusterEventWithHint, CycleState, PreFilterResult,
    QueueingHint, Status, unresolvable,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
_TAINT = Taint(TAINT_NODE_UNSCHEDULABLE, "", TAINT_NO_SCHEDULE)


class NodeUnschedulable:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        snap = self.handle.snapshot() if self.handle is not None else None
        if snap is not None and getattr(snap, "unschedulable_nodes", 1) == 0:
            return None, SKIP
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or any_tolerates(pod.tolerations, _TAINT):
            return None
        return unresolvable(ERR_REASON)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            if new is None or not (new.get("spec") or {}).get("unschedulable"):
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT), node_hint),
                ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATIONS))]


def new(args: Any, handle: Any) -> NodeUnschedulable:
    return NodeUnschedulable(args, handle)
