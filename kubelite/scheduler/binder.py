"""The binder: the one narrow object through which the scheduler changes the cluster.

Scheduling decisions are pure (``algorithm.py``, the plugins); their effects -- binding a pod,
recording why it did not fit in its status, evicting preemption victims -- all go through a
``Binder``. ``ApiBinder`` does it with the client (``pods/binding``, ``pods/status`` strategic
merge patches, DELETE with a uid precondition); ``RecordingBinder`` records the calls so the
scheduler loop is tested without an API server.
"""
from __future__ import annotations

import asyncio
from typing import Any, Protocol

from kubelite.client import PODS, ApiError, Client
from kubelite.scheduler.framework.types import PodInfo

DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"


class Binder(Protocol):
    async def bind(self, pod: PodInfo, node_name: str) -> None:
        """POST the Binding; raises ``ApiError`` on failure."""
        ...

    async def set_scheduling_status(self, pod: PodInfo, condition: dict[str, Any] | None,
                                    nominated_node_name: str | None) -> None:
        """Write the PodScheduled condition and/or ``status.nominatedNodeName`` ("" clears it,
        None leaves it alone)."""
        ...

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str) -> None:
        """Mark ``victim`` with a DisruptionTarget condition and delete it."""
        ...


class ApiBinder:
    """``Binder`` over the API server."""

    def __init__(self, client: Client, *, scheduler_name: str = "default-scheduler") -> None:
        self.client = client
        self.scheduler_name = scheduler_name

    async def bind(self, pod: PodInfo, node_name: str) -> None:
        await self.client.bind(pod.pod, node_name)

    async def set_scheduling_status(self, pod: PodInfo, condition: dict[str, Any] | None,
                                    nominated_node_name: str | None) -> None:
        status: dict[str, Any] = {}
        if condition is not None:
            status["conditions"] = [condition]
        if nominated_node_name is not None:
            status["nominatedNodeName"] = nominated_node_name or None
        if not status:
            return
        try:
            await self.client.patch(PODS, pod.name, {"status": status}, namespace=pod.namespace,
                                    type="strategic", subresource="status")
        except ApiError as e:
            if e.code != 404:  # the pod is gone: nothing to record
                raise

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str) -> None:
        condition = {"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
                     "message": f"{preemptor.scheduler_name}: preempting to accommodate a higher priority pod"}
        try:
            await self.client.patch(PODS, victim.name, {"status": {"conditions": [condition]}},
                                    namespace=victim.namespace, type="strategic", subresource="status")
            await self.client.delete(PODS, victim.name, namespace=victim.namespace,
                                     preconditions={"uid": victim.uid} if victim.uid else None)
        except ApiError as e:
            if e.code not in (404, 409):  # already gone, or replaced by a namesake
                raise


class RecordingBinder:
    """A ``Binder`` for tests: records calls; ``fail_bind[pod key] = exception`` makes that
    bind raise; ``bind_delay`` makes binds take that long (to test concurrency)."""

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}
        self.statuses: list[tuple[str, dict[str, Any] | None, str | None]] = []
        self.preempted: list[tuple[str, str, str]] = []
        self.fail_bind: dict[str, BaseException] = {}
        self.bind_delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    async def bind(self, pod: PodInfo, node_name: str) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.bind_delay:
                await asyncio.sleep(self.bind_delay)
            err = self.fail_bind.get(pod.key)
            if err is not None:
                raise err
            self.bound[pod.key] = node_name
        finally:
            self.in_flight -= 1

    async def set_scheduling_status(self, pod: PodInfo, condition: dict[str, Any] | None,
                                    nominated_node_name: str | None) -> None:
        self.statuses.append((pod.key, condition, nominated_node_name))

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str) -> None:
        self.preempted.append((victim.key, preemptor.key, node_name))
