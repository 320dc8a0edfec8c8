"""DaemonSet controller: node predicates (pure) and pods per node against the in-process API
server (the test plays scheduler + kubelet for the pods it pins)."""
from __future__ import annotations


from kubelite.client import CONTROLLERREVISIONS, DAEMONSETS, NODES
from kubelite.controllers import nodefit
from kubelite.controllers.daemonset import (
    DaemonSetController,
    plan_rolling_update,
    rolling_params,
)
from tests.inprocess import api_client

from .workloads import (
    eventually,
    list_pods,
    reap_terminating,
    running,
    set_pod_phase,
    template,
)


def node(name, labels=None, taints=None):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}


def test_should_run_and_pinning():
    spec = {"containers": [], "nodeSelector": {"disk": "ssd"}}
    nodefit.add_daemon_tolerations(spec)
    assert nodefit.should_run(spec, node("a", {"disk": "ssd"})) == (True, True)
    assert nodefit.should_run(spec, node("b", {"disk": "hdd"})) == (False, False)
    # Default tolerations cover unschedulable/not-ready; a custom NoSchedule taint blocks new pods
    # but lets an existing one stay, NoExecute evicts.
    assert nodefit.should_run(spec, node("c", {"disk": "ssd"}, [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])) == (True, True)
    assert nodefit.should_run(spec, node("d", {"disk": "ssd"}, [{"key": "x", "effect": "NoSchedule"}])) == (False, True)
    assert nodefit.should_run(spec, node("e", {"disk": "ssd"}, [{"key": "x", "effect": "NoExecute"}])) == (False, False)
    aff = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}}
    assert nodefit.should_run(aff, node("f", {"zone": "z1"}))[0] and not nodefit.should_run(aff, node("g"))[0]
    nodefit.pin_to_node(aff, "f")
    term = aff["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": ["f"]}]
    assert term["matchExpressions"][0]["key"] == "zone"
    assert nodefit.target_node({"spec": aff}) == "f"


def _pod(name, h, ready=True):
    conds = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2025-01-01T00:00:00Z"}]
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": h}, "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": "Running", "conditions": conds}}


def test_rolling_update_plan():
    import datetime as dt
    now = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    ds = {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%"}}}}
    assert rolling_params(ds, 10) == (0, 3)  # 2.5 rounds up for DaemonSets
    nodes = {f"n{i}": [_pod(f"p{i}", "old")] for i in range(5)}
    nodes["n0"] = [_pod("p0", "old", ready=False)]
    delete, create = plan_rolling_update(nodes, "new", 0, 2, 0, now)
    # The unavailable old pod goes for free; one more within the budget of 2.
    assert [p["metadata"]["name"] for p in delete] == ["p0", "p1"] and create == []
    # With surge: new pods start beside old ones; old ones go once their replacement is available.
    nodes = {"n0": [_pod("old0", "old"), _pod("new0", "new")], "n1": [_pod("old1", "old")], "n2": [_pod("old2", "old")]}
    delete, create = plan_rolling_update(nodes, "new", 1, 0, 0, now)
    assert [p["metadata"]["name"] for p in delete] == ["old0"] and create == ["n1"]


async def _kubelet(client):
    await reap_terminating(client, "app=agent")
    for p in await list_pods(client, "app=agent"):
        if (p.get("status") or {}).get("phase") != "Running":
            await set_pod_phase(client, p, node=nodefit.target_node(p))


async def test_pods_follow_nodes_and_roll(tmp_path):
    async with api_client(tmp_path) as (_, client):
        for n in (node("n1"), node("n2"), node("n3", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])):
            await client.create(NODES, n)
        async with running(client, DaemonSetController):
            ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template({"app": "agent"})}}
            await client.create(DAEMONSETS, ds)

            async def on_nodes(want):
                pods = await list_pods(client, "app=agent")
                got = sorted(nodefit.target_node(p) for p in pods)
                return pods if got == want else None
            pods = await eventually(lambda: on_nodes(["n1", "n2"]), what="pods on n1, n2")
            assert all(p["spec"]["affinity"]["nodeAffinity"] for p in pods)
            assert {t["key"] for t in pods[0]["spec"]["tolerations"]} >= {"node.kubernetes.io/not-ready"}
            await _kubelet(client)

            async def status(**want):
                s = (await client.get(DAEMONSETS, "agent", namespace="default")).get("status") or {}
                return s if all(s.get(k) == v for k, v in want.items()) else None
            await eventually(lambda: status(desiredNumberScheduled=2, numberReady=2, numberAvailable=2,
                                            updatedNumberScheduled=2), what="status")

            # A node joins -> a pod; a node leaves -> its (unscheduled) pod goes.
            await client.create(NODES, node("n4"))
            await eventually(lambda: on_nodes(["n1", "n2", "n4"]), what="pod on n4")
            await client.delete(NODES, "n4")
            await eventually(lambda: on_nodes(["n1", "n2"]), what="pod on n4 removed")

            # Rolling update, one node at a time (maxUnavailable 1).
            await client.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "agent:2"}]}}}}, namespace="default", type="strategic")

            async def rolled():
                await _kubelet(client)
                pods = await list_pods(client, "app=agent")
                images = {p["spec"]["containers"][0]["image"] for p in pods}
                s = await status(desiredNumberScheduled=2, updatedNumberScheduled=2, numberAvailable=2, observedGeneration=2)
                return s if images == {"agent:2"} and len(pods) == 2 else None
            await eventually(rolled, what="rolling update", timeout=15)
            revs = (await client.list(CONTROLLERREVISIONS, namespace="default")).items
            assert sorted(r["revision"] for r in revs) == [1, 2]
