"""TaintToleration: a node's NoSchedule/NoExecute taints repel pods that do not tolerate them;
its PreferNoSchedule taints only lower the node's score.

Filter: the first untolerated NoSchedule/NoExecute taint rejects the node as
UnschedulableAndUnresolvable with "node(s) had untolerated taint {key: value}" -- the form
kube prints, e.g. ``{node.kubernetes.io/unreachable: }`` for a value-less taint.

Score: the number of PreferNoSchedule taints the pod does not tolerate (only tolerations with
effect PreferNoSchedule or empty count), normalised in reverse: fewest intolerable taints ->
100. Raw [0, 1, 2] -> [100, 50, 0]. PreScore skips when no node in the snapshot carries a
PreferNoSchedule taint: every node would score the same.
"""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import (
    NODE, SKIP, UNSCHEDULED_POD, ActionType, ClusterEvent, ClusterEventWithHint, CycleState, PreFilterResult,
    QueueingHint, Status, unresolvable,
)
from kubelite.api.helpers.taints import (
    TAINT_PREFER_NO_SCHEDULE, Toleration, any_tolerates, first_untolerated, parse_taints,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo
from kubelite.scheduler.plugins.helper import default_normalize_score

NAME = "TaintToleration"
_STATE_KEY = "PreScore" + NAME


def untolerated_reason(key: str, value: str) -> str:
    return f"node(s) had untolerated taint {{{key}: {value}}}"


class TaintToleration:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        # Not in kube (which has no TaintToleration PreFilter): with no NoSchedule/NoExecute
        # taint anywhere in the snapshot the Filter cannot reject, so skip it.
        snap = self.handle.snapshot() if self.handle is not None else None
        if snap is not None and getattr(snap, "tainted_nodes", 1) == 0:
            return None, SKIP
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        taint = first_untolerated(node.taints, pod.tolerations)
        if taint is None:
            return None
        return unresolvable(untolerated_reason(taint.key, taint.value))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snap = self.handle.snapshot() if self.handle is not None else None
        if snap is not None and getattr(snap, "prefer_no_schedule_nodes", 1) == 0:
            return SKIP
        state.write(_STATE_KEY, tuple(t for t in pod.tolerations if t.effect in ("", TAINT_PREFER_NO_SCHEDULE)))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.prefer_no_schedule:
            return 0
        tolerations: tuple[Toleration, ...] = state.read(_STATE_KEY)
        return sum(1 for t in node.taints
                   if t.effect == TAINT_PREFER_NO_SCHEDULE and not any_tolerates(tolerations, t))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return QueueingHint.QUEUE_SKIP
            taints = parse_taints((new.get("spec") or {}).get("taints"))
            return QueueingHint.QUEUE if first_untolerated(taints, pod.tolerations) is None else QueueingHint.QUEUE_SKIP
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT), node_hint),
                ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATIONS))]


def new(args: Any, handle: Any) -> TaintToleration:
    return TaintToleration(args, handle)
