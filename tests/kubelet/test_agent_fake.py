"""The Kubelet on the fake runtime against a real in-process API server."""
from __future__ import annotations

import asyncio

from kubelite.client import NODES, PODS
from kubelite.kubelet.runtime.fake import Script
from tests.kubelet.conftest import Agent, c, cond, eventually, make_pod


async def test_node_registered_with_lease(agent: Agent) -> None:
    node = await agent.client.get(NODES, "node-1")
    st = node["status"]
    assert int(st["capacity"]["cpu"]) >= 1
    assert st["capacity"]["pods"] == "110"
    assert st["nodeInfo"]["containerRuntimeVersion"] == "fake://0.1.0"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"


async def test_pod_runs_and_becomes_ready(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("web", [c()]))

    async def running():
        p = await agent.pod("web")
        return p if p["status"].get("phase") == "Running" and cond(p, "Ready") == "True" else None

    p = await eventually(running, what="pod Running and Ready")
    cs = p["status"]["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and "running" in cs["state"]
    assert cs["containerID"].startswith("fake://")
    assert p["status"]["podIP"] == "127.0.0.1"


async def test_crashloop_backoff(agent: Agent) -> None:
    agent.runtime.scripts["crash"] = Script(exit_after=0.05, exit_code=3)
    await agent.admin.create(PODS, make_pod("crashy", [c(command=("crash",))]))

    async def backoff():
        p = await agent.pod("crashy")
        cs = (p["status"].get("containerStatuses") or [{}])[0]
        w = (cs.get("state") or {}).get("waiting") or {}
        return p if w.get("reason") == "CrashLoopBackOff" else None

    p = await eventually(backoff, what="CrashLoopBackOff")
    cs = p["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert "back-off 10s restarting failed container=app pod=crashy_default(" in cs["state"]["waiting"]["message"]
    assert p["status"]["phase"] == "Running"


async def test_job_like_pod_succeeds(agent: Agent) -> None:
    agent.runtime.scripts["done"] = Script(exit_after=0.05, exit_code=0)
    await agent.admin.create(PODS, make_pod("job", [c(command=("done",))], restartPolicy="Never"))

    async def done():
        p = await agent.pod("job")
        return p if p["status"].get("phase") == "Succeeded" else None

    p = await eventually(done, what="Succeeded")
    assert p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert cond(p, "Ready") == "False"


async def test_delete_terminates_then_removes(agent: Agent) -> None:
    agent.runtime.scripts["slow"] = Script(term_delay=0.3)
    await agent.admin.create(PODS, make_pod("gone", [c(command=("slow",))], terminationGracePeriodSeconds=5))
    await eventually(lambda: _phase(agent, "gone", "Running"), what="Running")
    await agent.admin.delete(PODS, "gone", namespace="default")

    async def removed():
        try:
            await agent.pod("gone")
        except Exception:
            return True
        return False

    await eventually(removed, what="pod removed")
    assert ("stop_container", ("app", 5.0)) in [x for x in agent.runtime.calls if x[0] == "stop_container"] or \
        any(x[0] == "stop_container" for x in agent.runtime.calls)


async def _phase(agent: Agent, name: str, phase: str) -> bool:
    p = await agent.pod(name)
    return p["status"].get("phase") == phase


async def test_status_written_only_when_it_changes(agent: Agent) -> None:
    agent.kubelet.resync = 0.1   # many re-syncs of an unchanged pod
    await agent.admin.create(PODS, make_pod("steady", [c()]))

    async def ready():
        p = await agent.pod("steady")
        return p if cond(p, "Ready") == "True" else None

    first = await eventually(ready, what="Ready")
    await asyncio.sleep(0.8)
    assert (await agent.pod("steady"))["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_node_not_ready_when_runtime_fails(agent: Agent) -> None:
    async def broken() -> list:
        raise OSError("runtime socket gone")
    agent.runtime.list_pod_sandboxes = broken  # type: ignore[method-assign]

    async def not_ready():
        node = await agent.admin.get(NODES, "node-1")
        ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
        return ready if ready["status"] == "False" else None

    ready = await eventually(not_ready, what="Ready=False")
    assert ready["reason"] == "KubeletNotReady"


async def test_sidecar_stopped_when_pod_completes_and_resolver(agent: Agent) -> None:
    agent.runtime.scripts["done"] = Script(exit_after=0.3, exit_code=0)
    pod = make_pod("batch", [c("main", ("done",))], restartPolicy="Never",
                   initContainers=[c("proxy", restartPolicy="Always")])
    pod["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": "main"}
    await agent.admin.create(PODS, pod)

    async def running():
        p = await agent.pod("batch")
        return p if p["status"].get("phase") == "Running" else None
    await eventually(running, what="Running")
    r = agent.kubelet.resolve("default", "batch", None)
    assert r is not None and r.container == "main" and r.container_id and r.log_path.endswith("/main/0.log")
    assert agent.kubelet.resolve("default", "batch", "nope") is None
    assert agent.kubelet.sandbox_id("default", "batch") == r.sandbox_id
    assert ("default", "batch") in [(ns, n) for ns, n, _, _ in agent.kubelet.pods()]

    async def done():
        p = await agent.pod("batch")
        return p if p["status"].get("phase") == "Succeeded" else None
    p = await eventually(done, what="Succeeded")
    side = p["status"]["initContainerStatuses"][0]
    assert "terminated" in side["state"]                       # the sidecar was stopped
    assert ("stop_container", ("proxy", 30.0)) in agent.runtime.calls or any(
        x[0] == "stop_container" and x[1][0] == "proxy" for x in agent.runtime.calls)


async def test_sim_nodes_beside_a_real_agent(agent: Agent) -> None:
    from kubelite.sim import SimCluster
    async with SimCluster(agent.admin, nodes=1):
        await agent.admin.create(PODS, make_pod("real", [c()]))
        hollow = make_pod("hollow", [c()])
        hollow["spec"]["nodeName"] = "sim-0"
        await agent.admin.create(PODS, hollow)

        async def both():
            r, h = await agent.pod("real"), await agent.pod("hollow")
            return r["status"].get("phase") == h["status"].get("phase") == "Running"
        await eventually(both, what="both Running")
        assert (await agent.pod("hollow"))["status"]["containerStatuses"][0]["containerID"].startswith("sim://")
        assert (await agent.pod("real"))["status"]["containerStatuses"][0]["containerID"].startswith("fake://")
        assert [x for x in agent.runtime.calls if x[0] == "run_pod_sandbox"].__len__() == 1


async def test_node_events(agent: Agent) -> None:
    from kubelite.client import EVENTS

    async def seen():
        items = (await agent.admin.list(EVENTS, namespace="default")).items
        got = {(e["reason"], e["message"]) for e in items if e["involvedObject"]["kind"] == "Node"}
        return got if ("NodeReady", "Node node-1 status is now: NodeReady") in got else None

    got = await eventually(seen, what="node events")
    assert ("Starting", "Starting kubelet.") in got
    assert ("NodeHasSufficientMemory", "Node node-1 status is now: NodeHasSufficientMemory") in got
