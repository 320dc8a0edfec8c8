"""SimCluster against a real in-process API server: registration, heartbeats, pod lifecycle."""
from __future__ import annotations

import asyncio
import ipaddress

from kubelite.client import LEASES, NODES, PODS, ApiError, FakeClock
from kubelite.sim import SIM_LABEL, SimCluster

from .conftest import eventually


def pod(name: str, node: str, *, restart: str = "Always", grace: int | None = None, **spec: object) -> dict:
    s: dict = {"nodeName": node, "restartPolicy": restart,
               "containers": [{"name": "main", "image": "nginx:1.27"}, {"name": "aux", "image": "busybox"}], **spec}
    if grace is not None:
        s["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": s}


def cond(obj: dict, ctype: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c["type"] == ctype), None)


async def test_nodes_registered_with_labels_capacity_and_ready(api) -> None:
    _, client = api
    sim = SimCluster(client, nodes=3, prefix="hollow", cpu="16", memory="64Gi", pods=50, zones=["za", "zb"],
                     labels={"pool": "batch"}, taints=["dedicated=gpu:NoSchedule"],
                     extended={"nvidia.com/gpu": "4"}, clock=FakeClock())
    async with sim:
        nodes = {n["metadata"]["name"]: n for n in (await client.list(NODES)).items}
        assert set(nodes) == {"hollow-0", "hollow-1", "hollow-2"}
        ips = set()
        for i, name in enumerate(sorted(nodes)):
            n = nodes[name]
            labels = n["metadata"]["labels"]
            assert labels["kubernetes.io/hostname"] == name
            assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
            assert labels["node.kubernetes.io/instance-type"] == "sim"
            assert labels[SIM_LABEL] == "true" and labels["pool"] == "batch"
            assert labels["topology.kubernetes.io/zone"] == ["za", "zb"][i % 2]
            st = n["status"]
            assert st["capacity"]["cpu"] == "16" and st["capacity"]["memory"] == "64Gi"
            assert st["capacity"]["pods"] == "50" and st["allocatable"]["nvidia.com/gpu"] == "4"
            assert "ephemeral-storage" in st["capacity"]
            assert cond(n, "Ready")["status"] == "True"
            for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"):
                assert cond(n, t)["status"] == "False"
            assert cond(n, "Ready")["lastHeartbeatTime"]
            addrs = {a["type"]: a["address"] for a in st["addresses"]}
            assert addrs["Hostname"] == name
            assert ipaddress.ip_address(addrs["InternalIP"]) in ipaddress.ip_network("10.200.0.0/13")
            ips.add(addrs["InternalIP"])
            assert st["nodeInfo"]["kubeletVersion"] == "v1.36.3"
            assert st["nodeInfo"]["containerRuntimeVersion"] == "sim://1"
            assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
            assert n["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
            assert n["spec"]["podCIDR"] == sim.pod_cidr(name)
            lease = await client.get(LEASES, name, namespace="kube-node-lease")
            assert lease["spec"]["holderIdentity"] == name
            assert lease["spec"]["leaseDurationSeconds"] == 40
            assert lease["metadata"]["ownerReferences"][0]["uid"] == n["metadata"]["uid"]
        assert len(ips) == 3


async def test_leases_renewed_spread_and_stop_ends_renewals(api) -> None:
    _, client = api
    clock = FakeClock()
    sim = SimCluster(client, nodes=4, lease_interval=10.0, clock=clock)
    await sim.start()
    try:
        async def renew_times() -> dict[str, str]:
            return {n: (await client.get(LEASES, n, namespace="kube-node-lease"))["spec"]["renewTime"]
                    for n in sim.node_names}
        first = await renew_times()
        # Spread: after a quarter of the interval only the first node has renewed.
        await clock.advance(2.5)
        await eventually(lambda: asyncio.sleep(0, sim.stats.lease_renewals >= 1), what="first renewal")
        await asyncio.sleep(0.05)
        assert sim.stats.lease_renewals == 1
        await clock.advance(7.5)
        await eventually(lambda: asyncio.sleep(0, sim.stats.lease_renewals >= 4), what="all renewed")
        second = await renew_times()
        assert all(second[n] > first[n] for n in sim.node_names), (first, second)
        await clock.advance(10.0)
        await eventually(lambda: asyncio.sleep(0, sim.stats.lease_renewals >= 8), what="second round")
    finally:
        await sim.stop()
    stopped_at = await renew_times()
    count = sim.stats.lease_renewals
    await clock.advance(60.0)
    await asyncio.sleep(0.05)
    assert sim.stats.lease_renewals == count
    assert await renew_times() == stopped_at
    # The nodes stay registered, as a dead node's would.
    assert len((await client.list(NODES)).items) == 4


async def test_bound_pod_runs_with_ip_and_ready(api) -> None:
    _, client = api
    async with SimCluster(client, nodes=2, clock=FakeClock()) as sim:
        await client.create(PODS, pod("web", "sim-1"))

        async def running() -> dict | None:
            p = await client.get(PODS, "web", namespace="default")
            return p if p["status"].get("phase") == "Running" else None
        p = await eventually(running, what="pod Running")
        st = p["status"]
        assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network(sim.pod_cidr("sim-1"))
        assert st["hostIP"] == sim.node_ip("sim-1") and st["podIPs"] == [{"ip": st["podIP"]}]
        assert st["startTime"]
        for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            assert cond(p, t)["status"] == "True", t
        names = [c["name"] for c in st["containerStatuses"]]
        assert names == ["aux", "main"]
        for cs in st["containerStatuses"]:
            assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
            assert cs["state"]["running"]["startedAt"]
            assert cs["containerID"].startswith("sim://") and cs["imageID"]
        assert st["containerStatuses"][1]["image"] == "docker.io/library/nginx:1.27"
        # A second pod on the same node gets a different address.
        await client.create(PODS, pod("web2", "sim-1"))
        p2 = await eventually(lambda: _phase(client, "web2", "Running"), what="second pod Running")
        assert p2["status"]["podIP"] != st["podIP"]
        # A pod on a node the sim does not own is left alone.
        await client.create(PODS, pod("other", "real-node"))
        await asyncio.sleep(0.1)
        assert (await client.get(PODS, "other", namespace="default"))["status"]["phase"] == "Pending"


async def _phase(client, name: str, phase: str) -> dict | None:
    p = await client.get(PODS, name, namespace="default")
    return p if p["status"].get("phase") == phase else None


async def test_pod_bound_through_binding_subresource(api) -> None:
    _, client = api
    async with SimCluster(client, nodes=1, clock=FakeClock()):
        spec = pod("bound", "")
        del spec["spec"]["nodeName"]
        created = await client.create(PODS, spec)
        await asyncio.sleep(0.05)
        assert (await client.get(PODS, "bound", namespace="default"))["status"]["phase"] == "Pending"
        await client.bind(created, "sim-0")
        await eventually(lambda: _phase(client, "bound", "Running"), what="bound pod Running")


async def test_job_pod_succeeds_after_run_time_and_always_pod_keeps_running(api) -> None:
    _, client = api
    clock = FakeClock()
    async with SimCluster(client, nodes=1, pod_run_time=5.0, clock=clock) as sim:
        await client.create(PODS, pod("job", "sim-0", restart="Never",
                                      initContainers=[{"name": "init", "image": "busybox"}]))
        await client.create(PODS, pod("svc", "sim-0"))
        await eventually(lambda: _phase(client, "job", "Running"), what="job Running")
        await eventually(lambda: _phase(client, "svc", "Running"), what="svc Running")
        await clock.advance(4.0)
        await asyncio.sleep(0.05)
        assert (await client.get(PODS, "job", namespace="default"))["status"]["phase"] == "Running"
        await clock.advance(1.5)
        p = await eventually(lambda: _phase(client, "job", "Succeeded"), what="job Succeeded")
        assert cond(p, "Ready")["status"] == "False" and cond(p, "Ready")["reason"] == "PodCompleted"
        for cs in p["status"]["containerStatuses"]:
            term = cs["state"]["terminated"]
            assert term["exitCode"] == 0 and term["reason"] == "Completed" and not cs["ready"]
        assert p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
        await clock.advance(100.0)
        await asyncio.sleep(0.05)
        assert (await client.get(PODS, "svc", namespace="default"))["status"]["phase"] == "Running"
        assert sim.stats.pods_completed == 1


async def test_gracefully_deleted_pod_disappears_after_grace(api) -> None:
    _, client = api
    clock = FakeClock()
    # containers that ignore SIGTERM (stop time above the grace): the pod goes when grace ends
    async with SimCluster(client, nodes=1, clock=clock, pod_stop_time=60) as sim:
        await client.create(PODS, pod("doomed", "sim-0", grace=20))
        await eventually(lambda: _phase(client, "doomed", "Running"), what="Running")
        await client.delete(PODS, "doomed", namespace="default")
        marked = await client.get(PODS, "doomed", namespace="default")
        assert marked["metadata"]["deletionTimestamp"]
        await eventually(lambda: asyncio.sleep(0, sim._pod_queue.delayed >= 1), what="grace timer")
        await clock.advance(10.0)
        await asyncio.sleep(0.05)
        await client.get(PODS, "doomed", namespace="default")  # still terminating
        await clock.advance(10.5)

        async def gone() -> bool:
            try:
                await client.get(PODS, "doomed", namespace="default")
            except ApiError as e:
                return e.code == 404
            return False
        await eventually(gone, what="pod deleted")
        assert sim.stats.pods_deleted == 1


async def test_deleted_pod_goes_after_the_stop_time_when_shorter_than_grace(api) -> None:
    _, client = api
    clock = FakeClock()
    async with SimCluster(client, nodes=1, clock=clock, pod_stop_time=1.0) as sim:
        await client.create(PODS, pod("quick", "sim-0", grace=30))
        await eventually(lambda: _phase(client, "quick", "Running"), what="Running")
        await client.delete(PODS, "quick", namespace="default")
        await eventually(lambda: asyncio.sleep(0, sim._pod_queue.delayed >= 1), what="stop timer")
        await clock.advance(1.5)

        async def gone() -> bool:
            try:
                await client.get(PODS, "quick", namespace="default")
            except ApiError as e:
                return e.code == 404
            return False
        await eventually(gone, what="pod deleted")


async def test_deleted_pod_reports_not_ready_and_terminated_before_removal(api) -> None:
    _, client = api
    clock = FakeClock()
    async with SimCluster(client, nodes=1, clock=clock, pod_stop_time=1.0) as sim:
        await client.create(PODS, pod("ending", "sim-0", grace=30))
        running = await eventually(lambda: _phase(client, "ending", "Running"), what="Running")
        seen: list[tuple[str, dict]] = []

        async def watch() -> None:
            async for etype, obj in client.watch(PODS, namespace="default",
                                                 resource_version=running["metadata"]["resourceVersion"],
                                                 field_selector="metadata.name=ending"):
                seen.append((etype, obj))
                if etype == "DELETED":
                    return

        task = asyncio.create_task(watch())
        await client.delete(PODS, "ending", namespace="default")
        await eventually(lambda: asyncio.sleep(0, sim._pod_queue.delayed >= 1), what="stop timer")
        await clock.advance(1.5)
        await asyncio.wait_for(task, 5)
        before = [obj for etype, obj in seen if etype == "MODIFIED"]
        last = before[-1]
        assert cond(last, "Ready")["status"] == "False"
        assert "terminated" in last["status"]["containerStatuses"][0]["state"]
        assert seen[-1][0] == "DELETED"


async def test_admission_rejects_pods_that_do_not_fit(api) -> None:
    _, client = api
    async with SimCluster(client, nodes=1, cpu="2", pods=3, clock=FakeClock()):
        big = pod("big", "sim-0")
        big["spec"]["containers"] = [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "3"}}}]
        await client.create(PODS, big)
        p = await eventually(lambda: _phase(client, "big", "Failed"), what="rejected")
        assert p["status"]["reason"] == "OutOfcpu"
        assert "requested: 3000, used: 0, capacity: 2000" in p["status"]["message"]
        for i in range(3):
            await client.create(PODS, pod(f"p{i}", "sim-0"))
        for i in range(3):
            await eventually(lambda i=i: _phase(client, f"p{i}", "Running"), what=f"p{i}")
        await client.create(PODS, pod("extra", "sim-0"))
        p = await eventually(lambda: _phase(client, "extra", "Failed"), what="OutOfpods")
        assert p["status"]["reason"] == "OutOfpods"


async def test_restart_adopts_running_pods_and_keeps_addresses(api) -> None:
    _, client = api
    first = SimCluster(client, nodes=2, clock=FakeClock())
    async with first:
        await client.create(PODS, pod("keep", "sim-0"))
        before = await eventually(lambda: _phase(client, "keep", "Running"), what="Running")
        node_before = await client.get(NODES, "sim-0")
    second = SimCluster(client, nodes=2, clock=FakeClock())
    async with second:
        node_after = await client.get(NODES, "sim-0")
        assert node_after["metadata"]["uid"] == node_before["metadata"]["uid"]
        assert second.node_ip("sim-0") == first.node_ip("sim-0")
        assert second.pod_cidr("sim-0") == first.pod_cidr("sim-0")
        await client.create(PODS, pod("fresh", "sim-0"))
        fresh = await eventually(lambda: _phase(client, "fresh", "Running"), what="fresh Running")
        assert fresh["status"]["podIP"] != before["status"]["podIP"]
        again = await client.get(PODS, "keep", namespace="default")
        assert again["status"]["podIP"] == before["status"]["podIP"]
    # A second pool with another prefix takes different addresses.
    other = SimCluster(client, nodes=2, prefix="pool2", clock=FakeClock())
    async with other:
        assert {other.node_ip(n) for n in other.node_names}.isdisjoint({first.node_ip(n) for n in first.node_names})


async def test_status_refreshed_when_node_marked_unready(api) -> None:
    _, client = api
    async with SimCluster(client, nodes=1, clock=FakeClock()) as sim:
        node = await client.get(NODES, "sim-0")
        conds = [dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready" else c
                 for c in node["status"]["conditions"]]
        await client.patch(NODES, "sim-0", {"status": {"conditions": conds}}, subresource="status")

        async def ready_again() -> bool:
            n = await client.get(NODES, "sim-0")
            return cond(n, "Ready")["status"] == "True"
        await eventually(ready_again, what="Ready restored")
        assert sim.stats.node_status_updates >= 1


async def test_recreated_namesake_pod_restarts_and_sim_restartable(api) -> None:
    _, client = api
    sim = SimCluster(client, nodes=1, pods=1, clock=FakeClock())
    await sim.start()
    try:
        await client.create(PODS, pod("same", "sim-0"))
        first = await eventually(lambda: _phase(client, "same", "Running"), what="Running")
        await client.delete(PODS, "same", namespace="default", grace_period_seconds=0)
        await asyncio.sleep(0.05)
        # pods=1: the node only admits the namesake if the first pod's slot was released.
        await client.create(PODS, pod("same", "sim-0"))
        second = await eventually(lambda: _phase(client, "same", "Running"), what="namesake Running")
        assert second["metadata"]["uid"] != first["metadata"]["uid"]
    finally:
        await sim.stop()
    await sim.start()  # a stopped sim can be started again
    try:
        await client.create(PODS, pod("after", "sim-0", restart="Never"))
        p = await eventually(lambda: _phase(client, "after", "Failed"), what="rejected: node full")
        assert p["status"]["reason"] == "OutOfpods"
    finally:
        await sim.stop()


async def test_invalid_arguments() -> None:
    from kubelite.machinery.errors import StatusError
    for kwargs in ({"nodes": -1}, {"nodes": 1, "lease_interval": 0}, {"nodes": 1, "pod_run_time": -1},
                   {"nodes": 20000}, {"nodes": 1, "taints": ["x:Never"]}):
        try:
            SimCluster(None, **kwargs)  # type: ignore[arg-type]
        except StatusError as e:
            assert e.code in (400, 422), e
        else:
            raise AssertionError(f"accepted {kwargs}")
