"""The scheduling loop end to end, against a recording binder (no API server): binding,
failure messages and conditions, bind errors, preemption, event routing."""
from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from kubelite.client import FakeClock, FakeRecorder
from kubelite.client.rest import ApiError
from kubelite.scheduler import RecordingBinder, Scheduler
from kubelite.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from kubelite.scheduler.eventhandlers import add_all_event_handlers, node_update_event
from kubelite.scheduler.framework.interface import ActionType, Code, CycleState, Status
from kubelite.scheduler.framework.types import Diagnosis, FitError, fit_error_message
from kubelite.scheduler.queue import BACKOFF, UNSCHEDULABLE
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.harness import framework


class FakeInformer:
    """Just enough of an Informer for the event handlers: a store and the handlers."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.h: Any = None

    def add_handler(self, *, on_add, on_update, on_delete) -> None:
        self.h = (on_add, on_update, on_delete)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.items.get(key)

    def _key(self, obj):
        m = obj["metadata"]
        return f"{m['namespace']}/{m['name']}" if m.get("namespace") else m["name"]

    def add(self, obj):
        self.items[self._key(obj)] = obj
        self.h[0](obj)

    def update(self, obj):
        old = self.items[self._key(obj)]
        self.items[self._key(obj)] = obj
        self.h[1](old, obj)

    def delete(self, obj):
        self.items.pop(self._key(obj), None)
        self.h[2](obj)


class Env:
    def __init__(self, **kw: Any) -> None:
        self.clock = FakeClock()
        self.binder = RecordingBinder()
        self.recorder = FakeRecorder()
        self.pods = FakeInformer()
        self.nodes = FakeInformer()
        self.sched = Scheduler(binder=self.binder, recorder=self.recorder, clock=self.clock,
                               rng=random.Random(7), pod_lookup=self.pods.get, **kw)
        add_all_event_handlers(self.sched, pods=self.pods, nodes=self.nodes)

    async def run_all(self) -> None:
        """Schedule every active pod, then wait for their bindings."""
        while self.sched.queue.pending()["active"]:
            await self.sched.schedule_next()
        await self.sched.wait_idle()

    def bind_observed(self) -> None:
        """What the API server + informer would do after the binds: pods now carry nodeName."""
        for key, node in list(self.binder.bound.items()):
            pod = self.pods.items.get(key)
            if pod is not None and not pod["spec"].get("nodeName"):
                new = {**pod, "spec": {**pod["spec"], "nodeName": node}}
                self.pods.update(new)

    def events(self, reason: str) -> list[str]:
        return [msg for _, r, msg, _ in self.recorder.events if r == reason]


async def test_schedules_and_spreads_pods():
    env = Env()
    for i in range(3):
        env.nodes.add(make_node(f"n{i}").capacity(cpu="2", memory="4Gi", pods="10").obj())
    for i in range(6):
        env.pods.add(make_pod(f"p{i}").req(cpu="500m", memory="512Mi").obj())
    await env.run_all()
    assert len(env.binder.bound) == 6
    # LeastAllocated + balanced: two pods per node.
    per_node = sorted(list(env.binder.bound.values()).count(f"n{i}") for i in range(3))
    assert per_node == [2, 2, 2]
    assert env.sched.cache.dump()["assumed"] == 6
    env.bind_observed()
    assert env.sched.cache.dump() == {"nodes": 3, "pods": 6, "assumed": 0}
    assert sorted(env.events("Scheduled"))[0] == f"Successfully assigned default/p0 to {env.binder.bound['default/p0']}"
    assert env.sched.stats.scheduled == 6


async def test_unschedulable_pod_gets_message_condition_and_waits_for_event():
    env = Env()
    for i in range(2):
        env.nodes.add(make_node(f"n{i}").capacity(cpu="1", memory="4Gi", pods="10").obj())
        env.pods.add(make_pod(f"busy{i}").req(cpu="1").node(f"n{i}").obj())
    env.nodes.add(make_node("n2").capacity(cpu="8", memory="4Gi", pods="10")
                  .taint("node.kubernetes.io/unreachable", effect="NoExecute").obj())
    env.pods.add(make_pod("big").req(cpu="1").obj())
    await env.run_all()
    assert env.binder.bound == {}
    want = ("0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod..")
    assert env.events("FailedScheduling") == [want]
    key, cond, nominated = env.binder.statuses[0]
    assert key == "default/big" and nominated is None
    assert cond["type"] == "PodScheduled" and cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == want
    assert env.sched.queue.where("default/big") == UNSCHEDULABLE
    # A pod deletion frees a node: the pod is retried (after its back-off) and scheduled.
    env.pods.delete(env.pods.items["default/busy0"])
    assert env.sched.queue.where("default/big") == BACKOFF
    await env.clock.advance(1.0)
    env.sched.queue.flush_backoff_completed()
    await env.run_all()
    assert env.binder.bound == {"default/big": "n0"}


async def test_same_failure_does_not_rewrite_condition():
    env = Env()
    env.nodes.add(make_node("n0").capacity(cpu="1", memory="4Gi", pods="10").obj())
    env.pods.add(make_pod("big").req(cpu="2").obj())
    await env.run_all()
    assert len(env.binder.statuses) == 1
    # Reflect the written condition in the pod (as the informer would), retry: no new write.
    _, cond, _ = env.binder.statuses[0]
    pod = env.pods.items["default/big"]
    env.pods.update({**pod, "status": {**pod["status"], "conditions": [cond]}})
    env.sched.queue.flush_unschedulable_leftover()
    await env.clock.advance(400)
    env.sched.queue.flush_unschedulable_leftover()
    env.sched.queue.flush_backoff_completed()
    await env.run_all()
    assert len(env.events("FailedScheduling")) == 2 and len(env.binder.statuses) == 1


async def test_bind_failure_forgets_and_backs_off():
    env = Env()
    env.nodes.add(make_node("n0").obj())
    env.binder.fail_bind["default/p"] = ApiError({"code": 500, "reason": "InternalError", "message": "etcd is sad"})
    env.pods.add(make_pod("p").req(cpu="1").obj())
    await env.run_all()
    assert env.sched.cache.get_pod("default/p") is None and env.sched.cache.node("n0").req_cpu == 0
    assert env.sched.queue.where("default/p") == BACKOFF
    assert env.events("FailedScheduling") == ['binding rejected: running Bind plugin "DefaultBinder": etcd is sad']
    del env.binder.fail_bind["default/p"]
    await env.clock.advance(1.0)
    env.sched.queue.flush_backoff_completed()
    await env.run_all()
    assert env.binder.bound == {"default/p": "n0"}


async def test_bind_of_deleted_pod_is_dropped():
    env = Env()
    env.nodes.add(make_node("n0").obj())
    env.binder.fail_bind["default/p"] = ApiError({"code": 404, "reason": "NotFound", "message": "gone"})
    env.pods.add(make_pod("p").obj())
    await env.run_all()
    assert env.sched.queue.where("default/p") is None and env.events("FailedScheduling") == []


async def test_bindings_are_concurrent():
    env = Env()
    env.binder.bind_delay = 0.05
    env.nodes.add(make_node("n0").obj())
    for i in range(20):
        env.pods.add(make_pod(f"p{i}").obj())
    await env.run_all()
    assert len(env.binder.bound) == 20 and env.binder.max_in_flight > 10


async def test_preemption_flow():
    env = Env()
    env.nodes.add(make_node("n0").capacity(cpu="2", memory="4Gi", pods="10").obj())
    env.pods.add(make_pod("low").req(cpu="2").priority(10).node("n0").obj())
    env.pods.add(make_pod("high").req(cpu="2").priority(1000).obj())
    await env.run_all()
    assert env.binder.preempted == [("default/low", "default/high", "n0")]
    assert env.events("Preempted")[0].startswith("Preempted by pod uid-high")
    # The preemptor's nominatedNodeName is written, and it is held as a nomination.
    assert ("default/high", env.binder.statuses[-1][1], "n0") == env.binder.statuses[-1]
    assert env.sched.queue.nominated_node("default/high") == "n0"
    assert env.events("FailedScheduling") == ["0/1 nodes are available: 1 Insufficient cpu."]
    # A lower-priority pod cannot take the freed room from the nominated one.
    env.pods.delete(env.pods.items["default/low"])
    env.pods.add(make_pod("sneaky").req(cpu="1").priority(5).obj())
    await env.run_all()  # "high" is still backing off; "sneaky" goes first and must not fit
    assert env.binder.bound == {}
    assert env.events("FailedScheduling")[-1] == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..")
    await env.clock.advance(1.0)
    env.sched.queue.flush_backoff_completed()
    await env.run_all()
    assert env.binder.bound == {"default/high": "n0"}


async def test_other_schedulers_pods_are_ignored_but_bound_pods_accounted():
    env = Env()
    env.nodes.add(make_node("n0").capacity(cpu="2", memory="4Gi", pods="10").obj())
    env.pods.add(make_pod("mine").req(cpu="1").obj())
    env.pods.add(make_pod("theirs").scheduler_name("other").obj())
    env.pods.add(make_pod("elsewhere").scheduler_name("other").req(cpu="1").node("n0").obj())
    assert env.sched.queue.where("default/theirs") is None
    assert env.sched.cache.node("n0").req_cpu == 1000
    await env.run_all()
    assert env.binder.bound == {"default/mine": "n0"}
    # Terminal pods free their resources.
    done = env.pods.items["default/elsewhere"]
    env.pods.update({**done, "status": {"phase": "Succeeded"}})
    assert env.sched.cache.node("n0").req_cpu == 1000  # only "mine" (assumed) is left


async def test_no_nodes():
    env = Env()
    env.pods.add(make_pod("p").obj())
    await env.run_all()
    assert env.events("FailedScheduling") == ["no nodes available to schedule pods"]
    assert env.sched.queue.where("default/p") == BACKOFF


def test_node_update_events_classified():
    base = make_node("n").obj()
    assert node_update_event(base, make_node("n").obj()) is None
    ev = node_update_event(base, make_node("n").label(zone="a").taint("x").obj())
    assert ev.action == ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT
    ev = node_update_event(base, make_node("n").capacity(cpu="8", memory="1Gi", pods="5").obj())
    assert ev.action == ActionType.UPDATE_NODE_ALLOCATABLE


@pytest.mark.parametrize("nodes, want", [(5, 5), (99, 99), (100, 100), (150, 100), (1000, 420), (5000, 500),
                                         (6000, 300), (100000, 5000)])
def test_num_feasible_nodes_to_find(nodes, want):
    assert num_feasible_nodes_to_find(nodes) == want


def test_filter_stops_early_and_rotates():
    nodes = [make_node(f"n{i}").info() for i in range(1000)]
    fwk = framework()
    algo = Algorithm(rng=random.Random(1))
    from kubelite.scheduler.cache import Snapshot
    snap = Snapshot.from_nodes(nodes)
    fwk.set_snapshot(snap)
    feasible, _ = algo.find_nodes_that_fit(fwk, CycleState(), make_pod().info(), snap)
    assert len(feasible) == 420 and feasible[0].name == "n0"
    feasible, _ = algo.find_nodes_that_fit(fwk, CycleState(), make_pod().info(), snap)
    assert feasible[0].name == "n420"


@pytest.mark.parametrize("statuses, absent, pre, post, want", [
    ({"a": Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory"),
      "b": Status(Code.UNSCHEDULABLE, "Insufficient cpu")}, None, "", "",
     "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."),
    # lexicographic, as kube's sort.Strings: "10 ..." before "2 ..."
    ({**{f"a{i}": Status(Code.UNSCHEDULABLE, "X") for i in range(10)},
      "b0": Status(Code.UNSCHEDULABLE, "Y"), "b1": Status(Code.UNSCHEDULABLE, "Y")}, None, "", "",
     "0/12 nodes are available: 10 X, 2 Y."),
    ({}, None, "pod has unbound immediate PersistentVolumeClaims", "",
     "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."),
    ({"a": Status(Code.UNSCHEDULABLE, "Z")}, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                                   "node(s) didn't satisfy plugin(s) [NodeAffinity]"), "",
     "preemption: not eligible due to preemptionPolicy=Never.",
     ("0/3 nodes are available: 1 Z, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
     "preemption: not eligible due to preemptionPolicy=Never..")),
])
def test_fit_error_message(statuses, absent, pre, post, want):
    diag = Diagnosis(node_to_status=statuses, absent_status=absent, pre_filter_msg=pre, post_filter_msg=post)
    n = 3 if pre or absent else len(statuses)
    assert fit_error_message(n, diag) == want
    assert str(FitError(make_pod().info(), n, diag)) == want


async def test_wait_idle_times_out_cleanly():
    env = Env()
    env.binder.bind_delay = 5
    env.nodes.add(make_node("n0").obj())
    env.pods.add(make_pod("p").obj())
    await env.sched.schedule_next()
    with pytest.raises(TimeoutError):
        await env.sched.wait_idle(timeout=0.05)
    await env.sched._cancel_tasks()
    await asyncio.sleep(0)


class ListInformer:
    def __init__(self, *objs: dict) -> None:
        self.objs = {(o["metadata"].get("namespace", "") + "/" if o["metadata"].get("namespace") else "")
                     + o["metadata"]["name"]: o for o in objs}

    def get(self, key):
        return self.objs.get(key)

    def list(self, namespace=None):
        return [o for o in self.objs.values() if namespace is None or o["metadata"].get("namespace") == namespace]


def test_cluster_listers_default_selector_and_priority():
    from kubelite.scheduler.eventhandlers import ClusterListers

    svc = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
    other = {"metadata": {"name": "db", "namespace": "default"}, "spec": {"selector": {"app": "db"}}}
    rs = {"metadata": {"name": "web-1", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web", "pod-template-hash": "1"}}}}
    pcs = ListInformer({"metadata": {"name": "high"}, "value": 1000},
                       {"metadata": {"name": "default-class"}, "value": 7, "globalDefault": True})
    listers = ClusterListers(services=ListInformer(svc, other), replicasets=ListInformer(rs), priority_classes=pcs,
                             namespaces=ListInformer({"metadata": {"name": "default", "labels": {"team": "a"}}}))
    pod = make_pod().labels(app="web", **{"pod-template-hash": "1"}).owner("ReplicaSet", "web-1").info()
    assert str(listers.default_selector(pod)) == "app=web,pod-template-hash=1"
    assert listers.default_selector(make_pod().labels(app="x").info()) is None
    assert listers.namespace_labels("default") == {"team": "a"} and listers.namespace_labels("nope") is None
    p = make_pod().obj()
    p["spec"]["priorityClassName"] = "high"
    assert listers.resolve_priority(p) == 1000
    assert listers.resolve_priority(make_pod().obj()) == 7
    assert listers.resolve_priority(make_pod().priority(3).obj()) == 3
