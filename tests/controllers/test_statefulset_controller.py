"""StatefulSet controller against the in-process API server (the test plays kubelet)."""
from __future__ import annotations

import asyncio

from kubelite.client import (
    CONTROLLERREVISIONS,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
)
from kubelite.controllers.statefulset import (
    StatefulSetController,
    new_pod,
    ordinal_of,
    uses_revision,
)
from tests.inprocess import api_client

from .workloads import (
    eventually,
    list_pods,
    names,
    reap_terminating,
    running,
    set_pod_phase,
    template,
)


def sts(name="web", replicas=3, **spec):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": template({"app": name}),
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
                     **spec}}


def test_identity_helpers():
    assert ordinal_of("web", "web-12") == 12
    assert ordinal_of("web", "web-x-1") is None and ordinal_of("web", "webx-1") is None
    s = sts()
    s["metadata"]["uid"] = "u1"
    pod = new_pod(s, s["spec"]["template"], 2, "web-abc")
    assert pod["metadata"]["name"] == "web-2"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-2"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "2"
    assert pod["metadata"]["labels"]["controller-revision-hash"] == "web-abc"
    assert pod["spec"]["hostname"] == "web-2" and pod["spec"]["subdomain"] == "web"
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]
    part = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    assert [uses_revision(part, o, "cur", "upd") for o in range(4)] == ["cur", "cur", "upd", "upd"]


async def _settle_kubelet(client, selector="app=web"):
    await reap_terminating(client, selector)
    for p in await list_pods(client, selector):
        if (p.get("status") or {}).get("phase") != "Running":
            await set_pod_phase(client, p)


async def test_ordered_creation_scale_down_and_rolling_update(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, StatefulSetController):
            await client.create(STATEFULSETS, sts())
            first = await eventually(lambda: list_pods(client, "app=web"), what="web-0")
            assert names(first) == ["web-0"]
            pvc = await client.get(PERSISTENTVOLUMECLAIMS, "data-web-0", namespace="default")
            assert pvc["metadata"]["labels"] == {"app": "web"}
            await asyncio.sleep(0.2)
            assert names(await list_pods(client, "app=web")) == ["web-0"], "web-1 must wait for web-0 to be ready"

            async def all_three():
                await _settle_kubelet(client)
                pods = await list_pods(client, "app=web")
                return pods if names(pods) == ["web-0", "web-1", "web-2"] and all(
                    p["status"].get("phase") == "Running" for p in pods) else None
            await eventually(all_three, what="3 ready pods")
            claims = (await client.list(PERSISTENTVOLUMECLAIMS, namespace="default")).items
            assert names(claims) == ["data-web-0", "data-web-1", "data-web-2"]

            async def status_is(**want):
                s = (await client.get(STATEFULSETS, "web", namespace="default")).get("status") or {}
                return s if all(s.get(k) == v for k, v in want.items()) else None
            st = await eventually(lambda: status_is(replicas=3, readyReplicas=3, updatedReplicas=3), what="status")
            assert st["currentRevision"] == st["updateRevision"]
            revs = (await client.list(CONTROLLERREVISIONS, namespace="default")).items
            assert [r["metadata"]["name"] for r in revs] == [st["updateRevision"]]

            # Rolling update: highest ordinal first.
            await client.patch(STATEFULSETS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "nginx:1.28"}]}}}}, namespace="default", type="strategic")
            seen_order: list[str] = []

            async def updated():
                await _settle_kubelet(client)
                s = await status_is(updatedReplicas=3, readyReplicas=3, replicas=3, observedGeneration=2)
                for p in await list_pods(client, "app=web"):
                    if p["spec"]["containers"][0]["image"] == "nginx:1.28" and p["metadata"]["name"] not in seen_order:
                        seen_order.append(p["metadata"]["name"])
                return s if s and s["currentRevision"] == s["updateRevision"] else None
            st2 = await eventually(updated, what="rolling update", timeout=15)
            assert st2["updateRevision"] != st["updateRevision"]
            assert seen_order == ["web-2", "web-1", "web-0"]

            # Scale down: highest first; claims stay (Retain).
            await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, namespace="default")

            async def one_left():
                await _settle_kubelet(client)
                pods = await list_pods(client, "app=web", active_only=False)
                return names(pods) == ["web-0"]
            await eventually(one_left, what="scale down")
            claims = (await client.list(PERSISTENTVOLUMECLAIMS, namespace="default")).items
            assert len(claims) == 3
            assert PODS
