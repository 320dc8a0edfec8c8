"""The scheduler against a real API server (in-process transport, SQLite store): nodes and
pods created through the client, ``run_scheduler`` with leader election, pods bound through
``pods/binding``, an unfittable pod reported with PodScheduled=False and a FailedScheduling
event."""
from __future__ import annotations

import asyncio
import contextlib

from kubelite.client import EVENTS, LEASES, NODES, PODS
from kubelite.scheduler import run_scheduler
from tests.inprocess import api_client
from tests.scheduler.builders import make_node, make_pod


def _node(name: str, cpu: str) -> dict:
    n = make_node(name).capacity(cpu=cpu, memory="8Gi", pods="110").obj()
    n["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    return n


def _pod(name: str, cpu: str) -> dict:
    p = make_pod(name).req(cpu=cpu, memory="64Mi").obj()
    for k in ("uid", "creationTimestamp"):
        p["metadata"].pop(k)
    p.pop("status")
    return p


async def _until(pred, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await pred()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_scheduler_binds_pods_and_reports_unschedulable(tmp_path):
    async with api_client(tmp_path, field_manager="test") as (_api, client):
        for i, cpu in enumerate(("2", "2", "1")):
            await client.create(NODES, _node(f"node-{i}", cpu))
        for i in range(4):
            await client.create(PODS, _pod(f"web-{i}", "500m"), namespace="default")
        await client.create(PODS, _pod("huge", "3"), namespace="default")
        ready = asyncio.Event()
        task = asyncio.create_task(run_scheduler(client, leader_elect=True, ready=ready), name="scheduler")
        try:
            async def all_bound():
                pods = (await client.list(PODS, namespace="default")).items
                bound = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
                return bound if all(bound[f"web-{i}"] for i in range(4)) else None

            bound = await _until(all_bound)
            assert {bound[f"web-{i}"] for i in range(4)} <= {"node-0", "node-1", "node-2"}
            assert not bound["huge"]
            web = await client.get(PODS, "web-0", namespace="default")
            cond = {c["type"]: c for c in web["status"].get("conditions") or ()}
            assert cond.get("PodScheduled", {}).get("status") == "True"

            async def huge_reported():
                pod = await client.get(PODS, "huge", namespace="default")
                c = {c["type"]: c for c in pod["status"].get("conditions") or ()}.get("PodScheduled")
                return c if c and c.get("status") == "False" else None

            cond = await _until(huge_reported)
            assert cond["reason"] == "Unschedulable"
            assert cond["message"] == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
                                       "available: 3 Preemption is not helpful for scheduling..")

            async def failed_event():
                evs = (await client.list(EVENTS, namespace="default")).items
                return [e for e in evs if e["reason"] == "FailedScheduling"
                        and e["involvedObject"]["name"] == "huge"] or None

            ev = (await _until(failed_event))[0]
            assert ev["type"] == "Warning" and ev["message"] == cond["message"]
            assert ev["source"]["component"] == "default-scheduler"
            scheduled = (await client.list(EVENTS, namespace="default")).items
            assert any(e["reason"] == "Scheduled" and e["message"].startswith("Successfully assigned default/web-")
                       for e in scheduled)
            lease = await client.get(LEASES, "kube-scheduler", namespace="kube-system")
            assert lease["spec"]["holderIdentity"]

            # Room appears (a bigger node joins): the pending pod is retried on the event.
            await client.create(NODES, _node("node-big", "4"))

            async def huge_bound():
                pod = await client.get(PODS, "huge", namespace="default")
                return pod["spec"].get("nodeName")

            assert await _until(huge_bound, timeout=15) == "node-big"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_standby_scheduler_waits_for_the_lease(tmp_path):
    import datetime as dt

    async with api_client(tmp_path) as (_api, client):
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        await client.create(LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
            "spec": {"holderIdentity": "other-scheduler", "leaseDurationSeconds": 15, "acquireTime": now,
                     "renewTime": now, "leaseTransitions": 0}}, namespace="kube-system")
        await client.create(NODES, _node("node-0", "2"))
        await client.create(PODS, _pod("web", "100m"), namespace="default")
        ready = asyncio.Event()
        task = asyncio.create_task(run_scheduler(client, leader_elect=True, ready=ready), name="scheduler")
        try:
            await asyncio.wait_for(ready.wait(), 5)
            await asyncio.sleep(0.5)
            pod = await client.get(PODS, "web", namespace="default")
            assert not pod["spec"].get("nodeName"), "a standby scheduler must not bind"
            # The other scheduler releases the Lease: ours takes over at its next retry.
            lease = await client.get(LEASES, "kube-scheduler", namespace="kube-system")
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            await client.update(LEASES, lease, namespace="kube-system")

            async def bound():
                return (await client.get(PODS, "web", namespace="default"))["spec"].get("nodeName")

            assert await _until(bound, timeout=10) == "node-0"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_preemption_through_the_api(tmp_path):
    async with api_client(tmp_path) as (_api, client):
        await client.create(NODES, _node("node-0", "1"))
        victim = _pod("low", "800m")
        victim["spec"].update(nodeName="node-0", priority=0, terminationGracePeriodSeconds=0)
        await client.create(PODS, victim, namespace="default")
        preemptor = _pod("high", "800m")
        preemptor["spec"]["priority"] = 1000
        await client.create(PODS, preemptor, namespace="default")
        task = asyncio.create_task(run_scheduler(client, leader_elect=False), name="scheduler")
        try:
            async def high_bound():
                return (await client.get(PODS, "high", namespace="default"))["spec"].get("nodeName")

            assert await _until(high_bound, timeout=15) == "node-0"
            names = [p["metadata"]["name"] for p in (await client.list(PODS, namespace="default")).items]
            assert names == ["high"]

            async def preempted_event():
                evs = (await client.list(EVENTS, namespace="default")).items
                return [e for e in evs if e["reason"] == "Preempted"] or None

            ev = (await _until(preempted_event))[0]
            assert ev["involvedObject"]["name"] == "low" and ev["message"].endswith("on node node-0")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
