"""NodePorts: a pod's ``hostPort``s must be free on the node. A port clashes with one already
used for the same protocol and port on the same host IP, and 0.0.0.0 (the default) clashes
with every IP: (0.0.0.0, TCP, 80) conflicts with (10.0.0.1, TCP, 80), (10.0.0.1, UDP, 80)
does not. PreFilter skips the Filter for the vast majority of pods, which use no host port."""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, CycleState, PreFilterResult, QueueingHint,
    Status, unschedulable,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def ports_conflict(a: tuple[tuple[str, str, int], ...], b: tuple[tuple[str, str, int], ...]) -> bool:
    for ip1, proto1, port1 in a:
        for ip2, proto2, port2 in b:
            if port1 == port2 and proto1 == proto2 and (ip1 == ip2 or "0.0.0.0" in (ip1, ip2)):
                return True
    return False


class NodePorts:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if pod.host_ports else SKIP)

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.used_ports:
            return None
        for ip, proto, port in pod.host_ports:
            if node.port_conflict(ip, proto, port):
                return unschedulable(ERR_REASON)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            if old is None:
                return QueueingHint.QUEUE
            gone = PodInfo(old)
            return QueueingHint.QUEUE if ports_conflict(pod.host_ports, gone.host_ports) else QueueingHint.QUEUE_SKIP
        return [ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.DELETE), pod_hint),
                ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD))]


def new(args: Any, handle: Any) -> NodePorts:
    return NodePorts(args, handle)
