"""Pod lifecycle on the fake runtime: init containers, sidecars, probes, hooks, deadlines,
config, volumes, restarts of the agent."""
from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

from kubelite.client import CONFIGMAPS, EVENTS, PODS, SECRETS, SERVICEACCOUNTS, ApiError
from kubelite.kubelet.runtime.fake import Script
from tests.kubelet.conftest import Agent, c, cond, eventually, make_pod


def statuses(p: dict, field: str = "containerStatuses") -> dict:
    return {s["name"]: s for s in p["status"].get(field) or ()}


async def events(agent: Agent, name: str) -> list[tuple[str, str]]:
    items = (await agent.admin.list(EVENTS, namespace="default")).items
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


async def has_event(agent: Agent, name: str, ev: tuple[str, str]) -> None:
    async def check():
        return ev in await events(agent, name)
    await eventually(check, what=f"event {ev}")


async def test_init_containers_in_order_then_sidecar_then_app(agent: Agent) -> None:
    agent.runtime.scripts["init"] = Script(exit_after=0.05, exit_code=0)
    await agent.admin.create(PODS, make_pod("ordered", [c("app")], initContainers=[
        c("init-1", ("init",)), c("init-2", ("init",)), c("side", ("serve",), restartPolicy="Always")]))

    async def ready():
        p = await agent.pod("ordered")
        return p if cond(p, "Ready") == "True" else None

    p = await eventually(ready, what="Ready")
    inits = statuses(p, "initContainerStatuses")
    assert inits["init-1"]["state"]["terminated"]["reason"] == "Completed"
    assert inits["init-2"]["state"]["terminated"]["exitCode"] == 0
    assert "running" in inits["side"]["state"] and inits["side"]["ready"]
    assert [n for n, _ in p["status"]["initContainerStatuses"]] if False else True
    created = [x[1] for x in agent.runtime.calls if x[0] == "create_container"]
    assert created == ["init-1", "init-2", "side", "app"]
    assert cond(p, "Initialized") == "True"
    # deletion stops the app before the sidecar
    await agent.admin.delete(PODS, "ordered", namespace="default")
    await eventually(lambda: _gone(agent, "ordered"), what="removed")
    stops = [x[1][0] for x in agent.runtime.calls if x[0] == "stop_container"]
    assert stops.index("app") < stops.index("side")


async def test_failed_init_with_restart_never_fails_pod(agent: Agent) -> None:
    agent.runtime.scripts["bad"] = Script(exit_after=0.05, exit_code=2)
    await agent.admin.create(PODS, make_pod("initfail", [c("app")], restartPolicy="Never",
                                            initContainers=[c("init", ("bad",))]))
    p = await eventually(lambda: _phase(agent, "initfail", "Failed"), what="Failed")
    assert statuses(p, "initContainerStatuses")["init"]["state"]["terminated"]["exitCode"] == 2
    assert not any(x == ("create_container", "app") for x in agent.runtime.calls)


async def test_readiness_probe_gates_ready(agent: Agent) -> None:
    flag = {"ok": 1}
    agent.runtime.scripts["srv"] = Script(exec_results={("check",): lambda: 0 if flag["ok"] == 0 else 1})
    probe = {"exec": {"command": ["check"]}, "periodSeconds": 1, "failureThreshold": 1}
    await agent.admin.create(PODS, make_pod("unready", [c(command=("srv",), readinessProbe=probe)]))
    p = await eventually(lambda: _phase(agent, "unready", "Running"), what="Running")
    await asyncio.sleep(1.2)
    p = await agent.pod("unready")
    assert cond(p, "Ready") == "False"
    assert statuses(p)["app"]["started"] and not statuses(p)["app"]["ready"]
    await has_event(agent, "unready", ("Unhealthy", "Readiness probe failed: "))
    flag["ok"] = 0

    async def ready():
        p = await agent.pod("unready")
        return cond(p, "Ready") == "True"
    await eventually(ready, timeout=5, what="Ready after probe passes")


async def test_liveness_failure_restarts_container(agent: Agent) -> None:
    agent.runtime.scripts["sick"] = Script(exec_default=1)
    probe = {"exec": {"command": ["alive"]}, "periodSeconds": 1, "failureThreshold": 1}
    await agent.admin.create(PODS, make_pod("sick", [c(command=("sick",), livenessProbe=probe)]))

    async def restarted():
        p = await agent.pod("sick")
        s = statuses(p).get("app") or {}
        return p if s.get("restartCount", 0) >= 1 else None

    p = await eventually(restarted, timeout=8, what="restart after liveness failure")
    assert statuses(p)["app"]["lastState"]["terminated"]["exitCode"] == 143
    await has_event(agent, "sick", ("Killing", "Container app failed liveness probe, will be restarted"))


async def test_startup_probe_holds_started(agent: Agent) -> None:
    flag = {"code": 1}
    agent.runtime.scripts["slowstart"] = Script(exec_results={("up",): lambda: flag["code"]})
    probe = {"exec": {"command": ["up"]}, "periodSeconds": 1, "failureThreshold": 30}
    await agent.admin.create(PODS, make_pod("starting", [c(command=("slowstart",), startupProbe=probe)]))
    p = await eventually(lambda: _phase(agent, "starting", "Running"), what="Running")
    assert not statuses(p)["app"]["started"]
    flag["code"] = 0

    async def started():
        p = await agent.pod("starting")
        return statuses(p)["app"]["started"] and cond(p, "Ready") == "True"
    await eventually(started, timeout=5, what="started")


async def test_prestop_and_grace(agent: Agent) -> None:
    agent.runtime.scripts["stubborn"] = Script(ignore_term=True)
    await agent.admin.create(PODS, make_pod("graceful", [c(command=("stubborn",),
                                                            lifecycle={"preStop": {"exec": {"command": ["bye"]}}})],
                                            terminationGracePeriodSeconds=3))
    running = await eventually(lambda: _phase(agent, "graceful", "Running"), what="Running")
    seen: list[tuple[str, dict]] = []

    async def watch() -> None:
        async for etype, obj in agent.admin.watch(PODS, namespace="default", field_selector="metadata.name=graceful",
                                                  resource_version=running["metadata"]["resourceVersion"]):
            seen.append((etype, obj))
            if etype == "DELETED":
                return

    task = asyncio.create_task(watch())
    t0 = asyncio.get_running_loop().time()
    await agent.admin.delete(PODS, "graceful", namespace="default", grace_period_seconds=3)
    await asyncio.wait_for(task, 8)
    took = asyncio.get_running_loop().time() - t0
    assert 2.5 <= took < 6, took                         # SIGTERM ignored: SIGKILL after the grace period
    assert ("exec_sync", ("bye",)) in agent.runtime.calls
    last = [obj for etype, obj in seen if etype == "MODIFIED"][-1]
    assert cond(last, "Ready") == "False"
    assert last["status"]["phase"] == "Failed"           # killed: exit 137
    term = last["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137


async def test_active_deadline(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("deadline", [c()], activeDeadlineSeconds=1, restartPolicy="Never"))
    p = await eventually(lambda: _phase(agent, "deadline", "Failed"), timeout=6, what="DeadlineExceeded")
    assert p["status"]["reason"] == "DeadlineExceeded"
    assert p["status"]["message"] == "Pod was active on the node longer than the specified deadline"


async def test_env_from_config_and_missing_config(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("cfg", [c(command=("serve", "$(GREETING)"), env=[
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "greeting"}}},
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "app", "key": "pw"}}}])]))

    async def config_error():
        p = await agent.pod("cfg")
        w = ((statuses(p).get("app") or {}).get("state") or {}).get("waiting") or {}
        return w if w.get("reason") == "CreateContainerConfigError" else None
    w = await eventually(config_error, what="CreateContainerConfigError")
    assert w["message"] == 'configmap "app" not found'
    await agent.admin.create(CONFIGMAPS, {"metadata": {"name": "app", "namespace": "default"}, "data": {"greeting": "hi"}})
    await agent.admin.create(SECRETS, {"metadata": {"name": "app", "namespace": "default"},
                                       "data": {"pw": base64.b64encode(b"pass").decode()}})
    await eventually(lambda: _phase(agent, "cfg", "Running"), timeout=6, what="Running once config exists")
    _, cfg = next((x for x in agent.runtime._containers.values() if x.config.name == "app"), None).status, \
        next(x for x in agent.runtime._containers.values() if x.config.name == "app").config
    env = dict(cfg.env)
    assert env["GREETING"] == "hi" and env["PW"] == "pass"
    assert cfg.command == ("serve", "hi")
    assert env["KUBERNETES_SERVICE_HOST"]


async def test_configmap_volume_updates_reach_the_pod(agent: Agent) -> None:
    await agent.admin.create(CONFIGMAPS, {"metadata": {"name": "files", "namespace": "default"}, "data": {"a.txt": "v1"}})
    await agent.admin.create(PODS, make_pod("vol", [c(volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"},
                                                                    {"name": "scratch", "mountPath": "/tmp/s",
                                                                     "subPath": "sub"}])],
                                            volumes=[{"name": "cfg", "configMap": {"name": "files"}},
                                                     {"name": "scratch", "emptyDir": {}}]))
    await eventually(lambda: _phase(agent, "vol", "Running"), what="Running")
    cfg = next(x for x in agent.runtime._containers.values() if x.config.name == "app").config
    mounts = {m.container_path: m for m in cfg.mounts}
    host = Path(mounts["/etc/cfg"].host_path)
    assert (host / "a.txt").read_text() == "v1"
    assert mounts["/tmp/s"].host_path.endswith("/scratch/sub") and os.path.isdir(mounts["/tmp/s"].host_path)
    await agent.admin.patch(CONFIGMAPS, "files", {"data": {"a.txt": "v2"}}, namespace="default")
    await eventually(lambda: asyncio.sleep(0, (host / "a.txt").read_text() == "v2"), what="updated file")


async def test_service_account_token_volume(agent: Agent) -> None:
    await agent.admin.create(SERVICEACCOUNTS, {"metadata": {"name": "default", "namespace": "default"}})
    await agent.admin.create(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
                                          "data": {"ca.crt": "PEM"}})
    pod = make_pod("insider", [c()])
    del pod["spec"]["automountServiceAccountToken"]
    created = await agent.admin.create(PODS, pod)
    vol = next(v for v in created["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    assert created["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    await eventually(lambda: _phase(agent, "insider", "Running"), what="Running")
    cfg = next(x for x in agent.runtime._containers.values() if x.config.name == "app").config
    host = Path(cfg.mounts[0].host_path)
    assert host.name == vol["name"]
    token = (host / "token").read_text()
    assert token.count(".") == 2 and (host / "ca.crt").read_text() == "PEM" and (host / "namespace").read_text() == "default"
    assert cfg.mounts[0].readonly


async def test_agent_restart_readopts_and_cleans_orphans(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("keeper", [c()]))
    await agent.admin.create(PODS, make_pod("orphan", [c()]))
    for n in ("keeper", "orphan"):
        await eventually(lambda n=n: _phase(agent, n, "Running"), what=f"{n} Running")
    before = (await agent.pod("keeper"))["status"]["containerStatuses"][0]["containerID"]
    await agent.stop()
    await agent.admin.delete(PODS, "orphan", namespace="default", grace_period_seconds=0)
    await agent.start()
    sandboxes = {sb.config.name for sb in await agent.runtime.list_pod_sandboxes()}
    assert sandboxes == {"keeper"}
    p = await agent.pod("keeper")
    assert p["status"]["containerStatuses"][0]["containerID"] == before
    assert [x for x in agent.runtime.calls if x == ("create_container", "app")].__len__() == 2   # nothing new started
    # an exit after the restart is still seen and reported
    cid = before.split("://", 1)[1]
    agent.runtime.exit_container(cid, 7)

    async def restarted():
        p = await agent.pod("keeper")
        s = p["status"]["containerStatuses"][0]
        return s if s["restartCount"] == 1 else None
    s = await eventually(restarted, what="restart reported after re-adoption")
    assert s["lastState"]["terminated"]["exitCode"] == 7


async def test_admission_rejects_what_does_not_fit(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("huge", [c(resources={"requests": {"cpu": "1000"}})]))
    p = await eventually(lambda: _phase(agent, "huge", "Failed"), what="rejected")
    assert p["status"]["reason"] == "OutOfcpu"
    assert p["status"]["message"].startswith("Pod was rejected: Node didn't have enough resource: cpu, requested: 1000000")
    await agent.admin.create(PODS, make_pod("picky", [c()], nodeSelector={"disk": "ssd"}))
    p = await eventually(lambda: _phase(agent, "picky", "Failed"), what="rejected")
    assert p["status"]["reason"] == "NodeAffinity"


async def test_events_of_a_started_pod(agent: Agent) -> None:
    await agent.admin.create(PODS, make_pod("evented", [c()]))
    await eventually(lambda: _phase(agent, "evented", "Running"), what="Running")

    async def have():
        evs = await events(agent, "evented")
        return evs if len(evs) >= 3 else None
    evs = await eventually(have, what="events")
    assert ("Pulled", 'Container image "busybox:1.36" already present on machine') in evs
    assert ("Created", "Created container: app") in evs and ("Started", "Started container app") in evs


async def _phase(agent: Agent, name: str, phase: str) -> dict | None:
    p = await agent.pod(name)
    return p if p["status"].get("phase") == phase else None


async def _gone(agent: Agent, name: str) -> bool:
    try:
        await agent.pod(name)
    except ApiError as e:
        return e.code == 404
    return False
