"""ReplicaSet / ReplicationController controller against the in-process API server."""
from __future__ import annotations

from kubelite.client import EVENTS, PODS, REPLICASETS, REPLICATIONCONTROLLERS
from kubelite.controllers.replicaset import (
    ReplicaSetController,
    ReplicationControllerController,
)
from tests.inprocess import api_client

from .workloads import (
    eventually,
    list_pods,
    replicaset,
    running,
    set_pod_phase,
    template,
)


async def test_replicaset_creates_scales_and_replaces(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, ReplicaSetController):
            rs = await client.create(REPLICASETS, replicaset("web", 3))
            pods = await eventually(lambda: _count(client, "app=web", 3), what="3 pods")
            for p in pods:
                ref = p["metadata"]["ownerReferences"][0]
                assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                               "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
                assert p["metadata"]["name"].startswith("web-")
            for p in pods:
                await set_pod_phase(client, p)

            async def status_ready():
                s = (await client.get(REPLICASETS, "web", namespace="default")).get("status") or {}
                return s if s.get("readyReplicas") == 3 and s.get("availableReplicas") == 3 else None
            status = await eventually(status_ready, what="ready status")
            assert status["replicas"] == 3 and status["observedGeneration"] == 1

            # A failed pod is replaced.
            victim = pods[0]
            fresh = await client.get(PODS, victim["metadata"]["name"], namespace="default")
            fresh["status"]["phase"] = "Failed"
            await client.update_status(PODS, fresh)
            await eventually(lambda: _count(client, "app=web", 3, exclude={victim["metadata"]["name"]}),
                             what="replacement")

            # Scale down removes the not-ready (new) pods first.
            await client.patch(REPLICASETS, "web", {"spec": {"replicas": 2}}, namespace="default")
            left = await eventually(lambda: _count(client, "app=web", 2), what="scale down")
            assert all(p.get("status", {}).get("phase") == "Running" for p in left)

            async def events():
                evs = (await client.list(EVENTS, namespace="default")).items
                reasons = {e["reason"] for e in evs if e["involvedObject"]["name"] == "web"}
                return reasons if {"SuccessfulCreate", "SuccessfulDelete"} <= reasons else None
            await eventually(events, what="events")


async def test_adopts_orphans_and_releases_mismatches(tmp_path):
    async with api_client(tmp_path) as (_, client):
        orphan = await client.create(PODS, {"metadata": {"name": "stray", "namespace": "default",
                                                         "labels": {"app": "web"}},
                                            "spec": template({"app": "web"})["spec"]})
        async with running(client, ReplicaSetController):
            rs = await client.create(REPLICASETS, replicaset("web", 2))

            async def adopted():
                p = await client.get(PODS, "stray", namespace="default")
                refs = p["metadata"].get("ownerReferences") or []
                return refs and refs[0]["uid"] == rs["metadata"]["uid"]
            await eventually(adopted, what="adoption")
            await eventually(lambda: _count(client, "app=web", 2), what="only one new pod")
            assert orphan["metadata"]["uid"]

            # Relabel the adopted pod: it is released and replaced.
            await client.patch(PODS, "stray", {"metadata": {"labels": {"app": "other"}}}, namespace="default")

            async def released():
                p = await client.get(PODS, "stray", namespace="default")
                return not p["metadata"].get("ownerReferences")
            await eventually(released, what="release")
            await eventually(lambda: _count(client, "app=web", 2), what="replacement after release")


async def test_replication_controller(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, ReplicationControllerController):
            rc = {"apiVersion": "v1", "kind": "ReplicationController",
                  "metadata": {"name": "legacy", "namespace": "default"},
                  "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": template({"app": "legacy"})}}
            await client.create(REPLICATIONCONTROLLERS, rc)
            pods = await eventually(lambda: _count(client, "app=legacy", 2), what="rc pods")
            assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"


async def _count(client, selector, n, exclude=frozenset()):
    pods = [p for p in await list_pods(client, selector) if p["metadata"]["name"] not in exclude]
    return pods if len(pods) == n else None
