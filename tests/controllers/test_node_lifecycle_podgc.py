"""Node lifecycle and pod GC against the in-process API server, on a fake clock: no test sleeps
through a grace period."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelite.client import LEASES, NODES, PODS, Client, FakeClock
from kubelite.controllers.nodelifecycle import TAINT_UNREACHABLE, NodeLifecycleController
from kubelite.controllers.podgc import PodGCController
from tests.controllers.infra_harness import eventually, get_or_none, pod, run_controllers, set_status
from tests.inprocess import api_client

Obj = dict[str, Any]


def node_obj(name: str, heartbeat: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status", "lastHeartbeatTime": heartbeat,
                                       "lastTransitionTime": heartbeat}]}}


def lease(name: str, renew: str) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}


async def ready_status(client: Client, name: str) -> str:
    n = await client.get(NODES, name)
    return next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")


async def deleting(client: Client, name: str) -> bool:
    p = await get_or_none(client, PODS, name, "default")
    return p is None or bool(p["metadata"].get("deletionTimestamp"))


async def test_unreachable_node_is_tainted_and_its_pods_evicted(tmp_path: Path) -> None:
    clock = FakeClock()
    async with api_client(tmp_path) as (_, client):
        await client.create(NODES, node_obj("n1", "2025-01-01T00:00:00Z"))
        await client.create(LEASES, lease("n1", "2025-01-01T00:00:00.000000Z"))
        short = pod("short", node="n1", tolerations=[{"key": TAINT_UNREACHABLE, "operator": "Exists",
                                                      "effect": "NoExecute", "tolerationSeconds": 60}])
        forever = pod("forever", node="n1", tolerations=[{"key": TAINT_UNREACHABLE, "operator": "Exists",
                                                          "effect": "NoExecute"}])
        for p in (pod("plain", node="n1"), short, forever):
            created = await client.create(PODS, p)
            await set_status(client, created, ip="10.42.0.2", ready=True)
        opts = {"node_monitor_grace_period": 40, "default_toleration_seconds": 300}
        async with run_controllers(client, NodeLifecycleController, clock=clock, options=opts) as (controller,):
            assert isinstance(controller, NodeLifecycleController)
            await eventually(lambda: _has_timer(clock), what="first node sync")
            # A renewal at t+20 postpones the deadline to t+60.
            await clock.advance(20)
            renewed = await client.get(LEASES, "n1", namespace="kube-node-lease")
            renewed["spec"]["renewTime"] = "2025-01-01T00:00:20.000000Z"
            await client.update(LEASES, renewed)
            await eventually(lambda: _renewal_seen(controller, "n1"), what="renewal observed")
            await clock.advance(30)                      # t+50: the check at t+40 finds a fresh lease
            await eventually(lambda: _timer_after(clock, 1059.0), what="next check at t+60")
            assert await ready_status(client, "n1") == "True"
            await clock.advance(15)                      # t+65: 45 s without renewal

            async def unknown() -> Obj | None:
                n = await client.get(NODES, "n1")
                keys = {(t["key"], t["effect"]) for t in ((n.get("spec") or {}).get("taints") or [])}
                ok = await ready_status(client, "n1") == "Unknown" and \
                    keys == {(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")}
                return n if ok else None
            n = await eventually(unknown, what="node Unknown and tainted")
            ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
            assert ready["reason"] == "NodeStatusUnknown"
            assert ready["message"] == "Kubelet stopped posting node status."
            assert ready["lastHeartbeatTime"] == "2025-01-01T00:00:00Z"

            async def pods_not_ready() -> bool:
                for name in ("plain", "short", "forever"):
                    p = await client.get(PODS, name, namespace="default")
                    if next(c["status"] for c in p["status"]["conditions"] if c["type"] == "Ready") != "False":
                        return False
                return True
            await eventually(pods_not_ready, what="pods on the node marked not ready")
            assert not await deleting(client, "short")

            await clock.advance(61)                      # the 60 s toleration has run out
            await eventually(lambda: deleting(client, "short"), what="short-toleration pod evicted")
            assert not await deleting(client, "plain")
            evicted = await get_or_none(client, PODS, "short", "default")
            if evicted is not None:
                reasons = {c["type"]: c.get("reason") for c in evicted["status"]["conditions"]}
                assert reasons["DisruptionTarget"] == "DeletionByTaintManager"

            await clock.advance(240)                     # 300 s: the default toleration too
            await eventually(lambda: deleting(client, "plain"), what="pod without tolerations evicted")
            assert not await deleting(client, "forever")

            # The agent comes back and posts Ready: the taints go.
            n = await client.get(NODES, "n1")
            for c in n["status"]["conditions"]:
                if c["type"] == "Ready":
                    c.update(status="True", reason="KubeletReady", lastHeartbeatTime="2025-01-01T00:06:00Z")
            await client.update_status(NODES, n)

            async def untainted() -> bool:
                n = await client.get(NODES, "n1")
                return not ((n.get("spec") or {}).get("taints") or [])
            await eventually(untainted, what="taints removed")


async def _has_timer(clock: FakeClock) -> bool:
    return clock.pending > 0


async def _renewal_seen(controller: NodeLifecycleController, node: str) -> bool:
    h = controller.health.get(node)
    return h is not None and h.renew == "2025-01-01T00:00:20.000000Z"


async def _timer_after(clock: FakeClock, t: float) -> bool:
    d = clock.next_deadline()
    return d is not None and d > t


async def test_pod_gc_orphans_and_terminated_threshold(tmp_path: Path) -> None:
    clock = FakeClock()
    async with api_client(tmp_path) as (_, client):
        await client.create(NODES, node_obj("n1", "2025-01-01T00:00:00Z"))
        for name in ("done-1", "done-2"):
            p = await client.create(PODS, pod(name, node="n1"))
            await set_status(client, p, phase="Succeeded")
        await client.create(PODS, pod("lost", node="ghost"))
        await client.create(PODS, pod("fine", node="n1"))
        opts = {"terminated_pod_gc_threshold": 1, "podgc_period_seconds": 20}
        async with run_controllers(client, PodGCController, clock=clock, options=opts):
            async def one_done_left() -> bool:
                done = [p for p in (await client.list(PODS, namespace="default")).items
                        if p["status"].get("phase") == "Succeeded"]
                return len(done) == 1
            await eventually(one_done_left, what="terminated pods trimmed to the threshold")
            await eventually(lambda: _has_timer(clock), what="next pass scheduled")
            await clock.advance(20)
            await eventually(lambda: _has_timer(clock), what="pass at +20")
            assert await get_or_none(client, PODS, "lost", "default") is not None  # quarantined
            await clock.advance(20)                      # +40: quarantine over, node confirmed absent
            await eventually(lambda: _absent(client, "lost"), what="orphaned pod deleted")
            assert await get_or_none(client, PODS, "fine", "default") is not None


async def _absent(client: Client, name: str) -> bool:
    return await get_or_none(client, PODS, name, "default") is None
