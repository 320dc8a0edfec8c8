"""SchedulingGates: a pod with ``spec.schedulingGates`` is held out of the active queue
(PreEnqueue) until every gate is removed; the queue retries it when the pod itself is updated."""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import (
    UNSCHEDULED_POD, ActionType, ClusterEvent, ClusterEventWithHint, Code, Status,
)
from kubelite.scheduler.framework.types import PodInfo

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        pass

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        if not pod.scheduling_gates:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                      f"waiting for scheduling gates: [{' '.join(pod.scheduling_gates)}]")

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_SCHEDULING_GATES))]


def new(args: Any, handle: Any) -> SchedulingGates:
    return SchedulingGates(args, handle)
