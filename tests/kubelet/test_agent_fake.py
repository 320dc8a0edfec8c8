"""The Kubelet on the fake runtime against a real in-process API server."""
from __future__ import annotations

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
