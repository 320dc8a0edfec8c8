"""Deployment controller + ReplicaSet controller against the in-process API server; the test
plays kubelet by marking pods Running and Ready."""
from __future__ import annotations

from kubelite.client import DEPLOYMENTS, EVENTS, REPLICASETS
from kubelite.controllers.deployment import DeploymentController, util
from kubelite.controllers.replicaset import ReplicaSetController
from tests.inprocess import api_client

from .workloads import (
    deployment,
    eventually,
    list_pods,
    reap_terminating,
    running,
    set_pod_phase,
)


async def _rss(client, name):
    items = (await client.list(REPLICASETS, namespace="default", label_selector=f"app={name}")).items
    return sorted(items, key=lambda r: int(r["metadata"]["annotations"].get(util.REVISION, "0")))


async def _make_ready(client, selector):
    """Mark every not-yet-running pod Running+Ready; returns how many were touched."""
    n = await reap_terminating(client, selector)
    for p in await list_pods(client, selector):
        if (p.get("status") or {}).get("phase") != "Running":
            await set_pod_phase(client, p)
            n += 1
    return n


async def _rolled_out(client, name, replicas):
    d = await client.get(DEPLOYMENTS, name, namespace="default")
    s = d.get("status") or {}
    if (s.get("observedGeneration") == d["metadata"]["generation"] and s.get("updatedReplicas") == replicas
            and s.get("replicas") == replicas and s.get("availableReplicas") == replicas):
        return d
    return None


async def _drive(client, name, replicas, selector):
    async def step():
        await _make_ready(client, selector)
        return await _rolled_out(client, name, replicas)
    return await eventually(step, what=f"{name} rolled out", timeout=15)


async def test_create_rollout_and_undo(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, DeploymentController, ReplicaSetController):
            d = await client.create(DEPLOYMENTS, deployment("web", 3))
            rss = await eventually(lambda: _rss(client, "web"), what="first RS")
            rs1 = rss[0]
            h = rs1["metadata"]["labels"][util.POD_TEMPLATE_HASH]
            assert rs1["metadata"]["name"] == f"web-{h}"
            assert rs1["metadata"]["annotations"][util.REVISION] == "1"
            assert rs1["metadata"]["annotations"][util.DESIRED_REPLICAS] == "3"
            assert rs1["metadata"]["annotations"][util.MAX_REPLICAS] == "4"  # 3 + ceil(25% of 3)
            ref = rs1["metadata"]["ownerReferences"][0]
            assert ref["uid"] == d["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"]
            assert rs1["spec"]["selector"]["matchLabels"] == {"app": "web", util.POD_TEMPLATE_HASH: h}
            # helm --wait: the RS template equals the Deployment's apart from the hash label.
            d = await client.get(DEPLOYMENTS, "web", namespace="default")
            assert util.strip_hash(rs1["spec"]["template"]) == d["spec"]["template"]

            d = await _drive(client, "web", 3, "app=web")
            assert d["metadata"]["annotations"][util.REVISION] == "1"
            conds = {c["type"]: c for c in d["status"]["conditions"]}
            assert conds["Available"]["status"] == "True"
            assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
            assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
            assert conds["Progressing"]["message"] == f'ReplicaSet "web-{h}" has successfully progressed.'
            pods = await list_pods(client, "app=web")
            assert {p["metadata"]["labels"][util.POD_TEMPLATE_HASH] for p in pods} == {h}

            # New image: revision 2, old RS scaled down as new pods become ready.
            await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "nginx:1.28"}]}}}}, namespace="default", type="strategic")
            d = await _drive(client, "web", 3, "app=web")
            rss = await _rss(client, "web")
            assert len(rss) == 2
            old, new = rss
            assert old["metadata"]["name"] == f"web-{h}" and old["spec"]["replicas"] == 0
            assert new["metadata"]["annotations"][util.REVISION] == "2" and new["spec"]["replicas"] == 3
            assert d["metadata"]["annotations"][util.REVISION] == "2"

            # kubectl rollout undo: the template goes back; the old RS becomes revision 3.
            template = util.strip_hash(old["spec"]["template"])
            await client.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": template}],
                               namespace="default", type="json")
            d = await _drive(client, "web", 3, "app=web")
            rss = await _rss(client, "web")
            top = rss[-1]
            assert top["metadata"]["name"] == f"web-{h}"
            assert top["metadata"]["annotations"][util.REVISION] == "3"
            assert top["metadata"]["annotations"][util.REVISION_HISTORY] == "1"
            assert d["metadata"]["annotations"][util.REVISION] == "3"

            async def scaled_event():
                evs = (await client.list(EVENTS, namespace="default")).items
                msgs = [e["message"] for e in evs if e["reason"] == "ScalingReplicaSet"]
                return msgs if f"Scaled up replica set web-{h} from 0 to 3" in msgs else None
            await eventually(scaled_event, what="ScalingReplicaSet event")


async def test_recreate_and_scale_and_pause(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, DeploymentController, ReplicaSetController):
            await client.create(DEPLOYMENTS, deployment("db", 2, strategy={"type": "Recreate"}))
            await _drive(client, "db", 2, "app=db")
            await client.patch(DEPLOYMENTS, "db", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "postgres:17"}]}}}}, namespace="default", type="strategic")

            async def old_gone_first():
                rss = await _rss(client, "db")
                if len(rss) == 1:
                    # The new RS is only created once every old pod is gone.
                    return rss[0]["spec"]["replicas"] == 0 or None
                return None
            await eventually(old_gone_first, what="old RS scaled to 0 before new exists")
            await _drive(client, "db", 2, "app=db")
            rss = await _rss(client, "db")
            assert [r["spec"]["replicas"] for r in rss] == [0, 2]

            # Scale: the only active RS takes the new size.
            await client.patch(DEPLOYMENTS, "db", {"spec": {"replicas": 4}}, namespace="default")
            await _drive(client, "db", 4, "app=db")

            # Pause: a template change makes no new RS; the condition says paused.
            await client.patch(DEPLOYMENTS, "db", {"spec": {"paused": True}}, namespace="default")
            await client.patch(DEPLOYMENTS, "db", {"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}}, namespace="default")

            async def paused():
                d = await client.get(DEPLOYMENTS, "db", namespace="default")
                c = {c["type"]: c for c in d["status"].get("conditions", [])}.get("Progressing", {})
                return d if c.get("reason") == "DeploymentPaused" and c.get("status") == "Unknown" else None
            await eventually(paused, what="paused condition")
            assert len(await _rss(client, "db")) == 2

            # Resume: the restart rolls out as revision 3.
            await client.patch(DEPLOYMENTS, "db", {"spec": {"paused": False}}, namespace="default")
            d = await _drive(client, "db", 4, "app=db")
            assert d["metadata"]["annotations"][util.REVISION] == "3"
            pods = await list_pods(client, "app=db")
            assert all(p["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/restartedAt") for p in pods)
            assert len(pods) == 4


async def test_progress_deadline_exceeded_with_fake_clock(tmp_path):
    import datetime as dt

    from kubelite.client import FakeClock
    clock = FakeClock(wall_start=dt.datetime.now(dt.timezone.utc))
    async with api_client(tmp_path) as (_, client):
        async with running(client, DeploymentController, ReplicaSetController, clock=clock):
            await client.create(DEPLOYMENTS, deployment("stuck", 2, progressDeadlineSeconds=30))

            async def progressing(reason):
                d = await client.get(DEPLOYMENTS, "stuck", namespace="default")
                c = {c["type"]: c for c in (d.get("status") or {}).get("conditions", [])}.get("Progressing", {})
                return c if c.get("reason") == reason else None
            # NewReplicaSetCreated, then ReplicaSetUpdated once the pods exist (none become ready).
            await eventually(lambda: progressing("ReplicaSetUpdated"), what="progressing", clock=clock)
            await clock.advance(31)  # pods never become ready
            c = await eventually(lambda: progressing("ProgressDeadlineExceeded"), what="deadline", clock=clock)
            assert c["status"] == "False" and c["message"].endswith("has timed out progressing.")
