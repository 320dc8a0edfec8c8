"""The scheduling queue: ordering, back-off, unschedulable pods and cluster events, gates,
nominations."""
from __future__ import annotations

import asyncio

import pytest

from kubelite.client import FakeClock
from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, EVENT_ASSIGNED_POD_DELETE, EVENT_NODE_ADD, NODE, ActionType, ClusterEvent, ClusterEventWithHint,
    QueueingHint,
)
from kubelite.scheduler.framework.registry import REGISTRY, default_profile
from kubelite.scheduler.framework.runtime import Framework
from kubelite.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue
from tests.scheduler.builders import make_node, make_pod


def _queue(clock, **kw):
    fwk = Framework(default_profile(), REGISTRY)
    return SchedulingQueue(clock=clock, pre_enqueue=fwk.run_pre_enqueue, events=fwk.cluster_events(), **kw)


async def test_pop_order_priority_then_arrival():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("low").priority(1).info())
    await clock.advance(0.1)
    q.add(make_pod("high").priority(100).info())
    await clock.advance(0.1)
    q.add(make_pod("low2").priority(1).info())
    q.add(make_pod("high2").priority(100).info())
    names = [(await q.pop()).pod_info.name for _ in range(4)]
    assert names == ["high", "high2", "low", "low2"]


async def test_pop_waits_for_a_pod():
    q = _queue(FakeClock())
    task = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not task.done()
    q.add(make_pod("p").info())
    assert (await asyncio.wait_for(task, 1)).pod_info.name == "p"


async def test_error_goes_to_backoff_with_exponential_duration():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").info())
    expected = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    for want in expected:
        qp = await q.pop()
        assert q.requeue_failed(qp, error=True) == BACKOFF
        assert q.backoff_duration(qp) == want
        await clock.advance(want - 0.01)
        q.flush_backoff_completed()
        assert q.where("default/p") == BACKOFF
        await clock.advance(0.02)
        q.flush_backoff_completed()
        assert q.where("default/p") == ACTIVE


async def test_unschedulable_pod_moves_on_relevant_event_only():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").req(cpu="2").info())
    qp = await q.pop()
    assert q.requeue_failed(qp, unschedulable_plugins={"NodeResourcesFit"}) == UNSCHEDULABLE
    # A node label change is not something NodeResourcesFit registered for.
    assert q.move_on_event(ClusterEvent(NODE, ActionType.UPDATE_NODE_LABEL)) == 0
    # A node too small for the pod: the hint says no.
    assert q.move_on_event(EVENT_NODE_ADD, None, make_node("tiny").capacity(cpu="1", memory="1Gi", pods="5").obj()) == 0
    assert q.where("default/p") == UNSCHEDULABLE
    # A big enough node: moved; still inside its 1 s back-off, so to backoff first.
    assert q.move_on_event(EVENT_NODE_ADD, None, make_node("big").obj()) == 1
    assert q.where("default/p") == BACKOFF
    await clock.advance(1.0)
    q.flush_backoff_completed()
    assert q.where("default/p") == ACTIVE


async def test_assigned_pod_delete_moves_resource_blocked_pods_to_active_after_backoff():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").req(cpu="2").info())
    qp = await q.pop()
    q.requeue_failed(qp, unschedulable_plugins={"NodeResourcesFit"})
    await clock.advance(5)
    assert q.move_on_event(EVENT_ASSIGNED_POD_DELETE, make_pod("gone").node("n1").obj(), None) == 1
    assert q.where("default/p") == ACTIVE


async def test_taint_blocked_pod_ignores_assigned_pod_events():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").info())
    q.requeue_failed(await q.pop(), unschedulable_plugins={"TaintToleration"})
    assert q.move_on_event(EVENT_ASSIGNED_POD_DELETE, make_pod("gone").node("n1").obj(), None) == 0
    # a node whose taint the pod tolerates... it does not: still parked
    assert q.move_on_event(EVENT_NODE_ADD, None, make_node("t").taint("x").obj()) == 0
    assert q.move_on_event(EVENT_NODE_ADD, None, make_node("clean").obj()) == 1


async def test_event_during_attempt_sends_pod_to_backoff():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").info())
    qp = await q.pop()
    # While the pod is being scheduled, a node it could use appears.
    q.move_on_event(EVENT_NODE_ADD, None, make_node("new").obj())
    assert q.requeue_failed(qp, unschedulable_plugins={"TaintToleration"}) == BACKOFF


async def test_unschedulable_leftover_flush():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").info())
    q.requeue_failed(await q.pop(), unschedulable_plugins={"TaintToleration"})
    await clock.advance(299)
    assert q.flush_unschedulable_leftover() == 0
    await clock.advance(2)
    assert q.flush_unschedulable_leftover() == 1
    assert q.where("default/p") == ACTIVE


async def test_scheduling_gates_hold_pod_until_removed():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").gate("wait-for-quota").info())
    assert q.where("default/p") == UNSCHEDULABLE
    assert q.move_on_event(EVENT_NODE_ADD, None, make_node().obj()) == 0  # gated pods ignore events
    q.update(make_pod("p").info())  # gate removed
    assert q.where("default/p") == ACTIVE


async def test_update_of_unschedulable_pod():
    clock = FakeClock()
    q = _queue(clock)
    q.add(make_pod("p").info())
    q.requeue_failed(await q.pop(), unschedulable_plugins={"TaintToleration"})
    # A status-only update (our own PodScheduled=False write) does not retry it ...
    upd = make_pod("p").obj()
    upd["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    from kubelite.scheduler.framework.types import PodInfo
    q.update(PodInfo(upd))
    assert q.where("default/p") == UNSCHEDULABLE
    # ... a new toleration does.
    await clock.advance(2)
    q.update(make_pod("p").toleration("x", operator="Exists").info())
    assert q.where("default/p") == ACTIVE


async def test_delete_and_nominations():
    q = _queue(FakeClock())
    pi = make_pod("p").priority(10).nominated("n1").info()
    q.add(pi)
    assert [p.key for p in q.nominated_pods_for_node("n1")] == ["default/p"]
    # An update without nominatedNodeName keeps a nomination the scheduler made.
    q.update(make_pod("p").priority(10).info())
    assert q.nominated_node("default/p") == "n1"
    q.delete("default/p")
    assert q.where("default/p") is None and q.nominated_pods_for_node("n1") == []


async def test_priority_change_reorders_active():
    q = _queue(FakeClock())
    q.add(make_pod("a").priority(1).info())
    q.add(make_pod("b").priority(2).info())
    q.update(make_pod("a").priority(3).info())
    assert (await q.pop()).pod_info.name == "a"
    assert (await q.pop()).pod_info.name == "b"
    assert len(q) == 0


async def test_custom_hint_failure_does_not_strand_pod():
    def broken(pod, old, new):
        raise RuntimeError("boom")

    q = SchedulingQueue(clock=FakeClock(), events=[("P", ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.ADD), broken))])
    q.add(make_pod("p").info())
    q.requeue_failed(await q.pop(), unschedulable_plugins={"P"})
    assert q.move_on_event(ClusterEvent(ASSIGNED_POD, ActionType.ADD), None, {}) == 1


@pytest.mark.parametrize("hint, moved", [(QueueingHint.QUEUE, 1), (QueueingHint.QUEUE_SKIP, 0)])
async def test_hints_decide(hint, moved):
    q = SchedulingQueue(clock=FakeClock(), events=[("P", ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD),
                                                                              lambda p, o, n: hint))])
    q.add(make_pod("p").info())
    q.requeue_failed(await q.pop(), unschedulable_plugins={"P"})
    assert q.move_on_event(EVENT_NODE_ADD, None, {}) == moved
