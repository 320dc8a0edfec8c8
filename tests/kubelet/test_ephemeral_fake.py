"""Ephemeral containers (``kubectl debug``) on the fake runtime: started once in the running
sandbox through pods/ephemeralcontainers, reported in ephemeralContainerStatuses, never
restarted, found by the resolver, stopped with the pod."""
from __future__ import annotations

from typing import Any

from kubelite.client import EVENTS, PODS
from kubelite.kubelet.runtime.fake import Script
from tests.kubelet.conftest import Agent, c, cond, eventually, make_pod
from tests.kubelet.test_lifecycle_fake import _gone, _phase, statuses


async def add_debugger(agent: Agent, pod: str, **container: Any) -> None:
    current = await agent.pod(pod)
    eph = [*(current["spec"].get("ephemeralContainers") or ()),
           {"image": "busybox", "terminationMessagePolicy": "File", **container}]
    await agent.admin.patch(PODS, pod, {"spec": {"ephemeralContainers": eph}}, namespace="default",
                            type="strategic", subresource="ephemeralcontainers")


async def eph_status(agent: Agent, pod: str, name: str, state: str) -> dict | None:
    p = await agent.pod(pod)
    s = statuses(p, "ephemeralContainerStatuses").get(name)
    return s if s is not None and state in s["state"] else None


async def test_ephemeral_container_runs_once_and_is_reported(agent: Agent) -> None:
    agent.runtime.scripts["quick"] = Script(exit_after=0.1, exit_code=3)
    await agent.admin.create(PODS, make_pod("target", [c("app")]))
    await eventually(lambda: _phase(agent, "target", "Running"), what="Running")
    await add_debugger(agent, "target", name="debugger", command=["quick"], stdin=True, tty=True,
                       targetContainerName="app", env=[{"name": "X", "value": "1"}])
    s = await eventually(lambda: eph_status(agent, "target", "debugger", "terminated"), what="debugger terminated")
    assert s["state"]["terminated"]["exitCode"] == 3 and s["state"]["terminated"]["reason"] == "Error"
    assert s["restartCount"] == 0 and s["ready"] is False and s["started"] is False
    assert s["image"] == "busybox" and s["imageID"].startswith("sha256:") and s["containerID"].startswith("fake://")
    # the runtime got the target's id, the env and the stdio flags
    app_id = statuses(await agent.pod("target"))["app"]["containerID"].split("://", 1)[1]
    [st] = agent.runtime.containers_named("debugger")
    cfg = agent.runtime._containers[st.id].config
    assert cfg.target_container_id == app_id and cfg.tty and cfg.stdin and ("X", "1") in cfg.env
    # never restarted (restartPolicy Always does not apply), the pod stays Running and Ready
    p = await agent.pod("target")
    assert p["status"]["phase"] == "Running" and cond(p, "Ready") == "True"
    assert [x for x in agent.runtime.calls if x == ("create_container", "debugger")] == [("create_container", "debugger")]
    assert [s["name"] for s in p["status"]["containerStatuses"]] == ["app"]
    evs = [(e["reason"], e["message"], e["involvedObject"].get("fieldPath"))
           for e in (await agent.admin.list(EVENTS, namespace="default")).items
           if e["involvedObject"]["name"] == "target"]
    assert ("Created", "Created container: debugger", "spec.ephemeralContainers{debugger}") in evs
    assert ("Started", "Started container debugger", "spec.ephemeralContainers{debugger}") in evs
    # the resolver finds it (kubectl logs -c debugger, attach)
    r = agent.kubelet.resolve("default", "target", "debugger")
    assert r is not None and r.container_id == st.id and r.log_path == st.log_path and (r.tty, r.stdin) == (True, True)


async def test_running_ephemeral_container_is_stopped_with_the_pod(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("dbg", [c("app")], terminationGracePeriodSeconds=1))
    await eventually(lambda: _phase(agent, "dbg", "Running"), what="Running")
    await add_debugger(agent, "dbg", name="shell", command=["serve"])
    s = await eventually(lambda: eph_status(agent, "dbg", "shell", "running"), what="debugger running")
    assert s["started"] is True and s["ready"] is False and s["state"]["running"]["startedAt"]
    # a second one beside it
    await add_debugger(agent, "dbg", name="shell2", command=["serve"])
    await eventually(lambda: eph_status(agent, "dbg", "shell2", "running"), what="second debugger running")
    p = await agent.pod("dbg")
    assert [x["name"] for x in p["status"]["ephemeralContainerStatuses"]] == ["shell", "shell2"]
    await agent.admin.delete(PODS, "dbg", namespace="default")
    await eventually(lambda: _gone(agent, "dbg"), what="removed")
    stopped = {x[1][0] for x in agent.runtime.calls if x[0] == "stop_container"}
    assert {"app", "shell", "shell2"} <= stopped
    assert all(st.state.name == "EXITED" for n in ("shell", "shell2") for st in agent.runtime.containers_named(n)) \
        or not agent.runtime.containers_named("shell")


async def test_ephemeral_container_without_command_or_target_waits(agent: Agent) -> None:
    agent.runtime.scripts["done"] = Script(exit_after=0.05, exit_code=0)
    await agent.admin.create(PODS, make_pod("nocmd", [c("app"), c("once", ("done",))], restartPolicy="Never"))
    await eventually(lambda: _once_done(agent), what="once exited")
    await eventually(lambda: _phase(agent, "nocmd", "Running"), what="Running")
    await add_debugger(agent, "nocmd", name="bare")
    s = await eventually(lambda: eph_status(agent, "nocmd", "bare", "waiting"), what="waiting")
    await eventually(lambda: _waiting_reason(agent, "nocmd", "bare", "CreateContainerError"), what="no command")
    await add_debugger(agent, "nocmd", name="lost", command=["serve"], targetContainerName="once")
    s = await eventually(lambda: _waiting_reason(agent, "nocmd", "lost", "CreateContainerConfigError"),
                         what="target missing")
    assert s["state"]["waiting"]["message"] == "target container once is not running"
    p = await agent.pod("nocmd")
    assert p["status"]["phase"] == "Running"


async def _once_done(agent: Agent) -> bool:
    s = statuses(await agent.pod("nocmd")).get("once")
    return s is not None and "terminated" in s["state"]


async def _waiting_reason(agent: Agent, pod: str, name: str, reason: str) -> dict | None:
    s = await eph_status(agent, pod, name, "waiting")
    return s if s is not None and s["state"]["waiting"].get("reason") == reason else None


async def test_ephemeral_container_is_readopted_after_an_agent_restart(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("keep", [c("app")]))
    await eventually(lambda: _phase(agent, "keep", "Running"), what="Running")
    await add_debugger(agent, "keep", name="dbg", command=["serve"])
    before = await eventually(lambda: eph_status(agent, "keep", "dbg", "running"), what="running")
    await agent.restart()
    after = await eventually(lambda: eph_status(agent, "keep", "dbg", "running"), what="still running")
    assert after["containerID"] == before["containerID"]
    assert len(agent.runtime.containers_named("dbg")) == 1
    agent.runtime.exit_container(before["containerID"].split("://", 1)[1], 0)
    s = await eventually(lambda: eph_status(agent, "keep", "dbg", "terminated"), what="exit seen")
    assert s["state"]["terminated"]["reason"] == "Completed" and s["restartCount"] == 0
    assert len(agent.runtime.containers_named("dbg")) == 1
