"""The PV binder with its local-path provisioner, and the ResourceQuota controller, against the
in-process API server."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelite.client import (CONFIGMAPS, NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, RESOURCEQUOTAS,
                             STORAGECLASSES, Client)
from kubelite.controllers.resourcequota import ResourceQuotaController
from kubelite.controllers.volume import PersistentVolumeBinder
from kubelite.controllers.volume.pvbinder import claim_class
from tests.controllers.infra_harness import eventually, get_or_none, pod, run_controllers
from tests.inprocess import api_client

Obj = dict[str, Any]


def pvc(name: str, size: str = "1Gi", cls: str | None = None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


async def claim(client: Client, name: str) -> Obj:
    return await client.get(PERSISTENTVOLUMECLAIMS, name, namespace="default")


async def bound(client: Client, name: str) -> Obj | None:
    c = await claim(client, name)
    return c if (c.get("status") or {}).get("phase") == "Bound" else None


async def test_local_path_provisioning_waits_for_first_consumer(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        opts = {"local_path_dir": "/srv/storage"}
        async with run_controllers(client, PersistentVolumeBinder, options=opts):
            sc = await eventually(lambda: get_or_none(client, STORAGECLASSES, "local-path"), what="default class")
            assert sc["provisioner"] == "rancher.io/local-path"
            assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["reclaimPolicy"] == "Delete"
            assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"

            await client.create(PERSISTENTVOLUMECLAIMS, pvc("data", "2Gi"))

            async def got_default_class() -> bool:
                return claim_class(await claim(client, "data")) == "local-path"
            await eventually(got_default_class, what="the claim gets the default class")
            # No consumer yet: nothing is provisioned.
            assert (await client.list(PERSISTENTVOLUMES)).items == []
            assert (await claim(client, "data"))["status"]["phase"] == "Pending"

            consumer = pod("app", node="n1")
            consumer["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
            await client.create(PODS, consumer)
            c = await eventually(lambda: bound(client, "data"), what="claim bound")
            pv = await client.get(PERSISTENTVOLUMES, c["spec"]["volumeName"])
            uid = c["metadata"]["uid"]
            assert pv["metadata"]["name"] == f"pvc-{uid}"
            assert pv["status"]["phase"] == "Bound"
            assert pv["spec"]["claimRef"]["uid"] == uid and pv["spec"]["claimRef"]["name"] == "data"
            assert pv["spec"]["hostPath"]["path"] == f"/srv/storage/pvc-{uid}_default_data"
            assert pv["spec"]["capacity"] == {"storage": "2Gi"}
            assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
            term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
            assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}
            assert c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
            assert c["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "n1"
            assert c["status"]["capacity"] == {"storage": "2Gi"} and c["status"]["accessModes"] == ["ReadWriteOnce"]

            # Delete reclaim: the claim goes, the volume goes.
            await client.delete(PERSISTENTVOLUMECLAIMS, "data", namespace="default")
            await eventually(lambda: _absent(client, f"pvc-{uid}"), what="released volume deleted")


async def _absent(client: Client, name: str) -> bool:
    return await get_or_none(client, PERSISTENTVOLUMES, name) is None


async def test_immediate_class_and_static_volumes(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        await client.create(NODES, {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}})
        await client.create(STORAGECLASSES, {"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path",
                                             "volumeBindingMode": "Immediate", "reclaimPolicy": "Retain"})
        small = {"metadata": {"name": "static-small"},
                 "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                          "storageClassName": "manual", "hostPath": {"path": "/mnt/a"}}}
        big = {"metadata": {"name": "static-big"},
               "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                        "storageClassName": "manual", "hostPath": {"path": "/mnt/b"}}}
        await client.create(PERSISTENTVOLUMES, small)
        await client.create(PERSISTENTVOLUMES, big)
        async with run_controllers(client, PersistentVolumeBinder, options={"local_path_default_class": False}):
            await client.create(PERSISTENTVOLUMECLAIMS, pvc("quick", cls="fast"))
            c = await eventually(lambda: bound(client, "quick"), what="immediate claim bound")
            pv = await client.get(PERSISTENTVOLUMES, c["spec"]["volumeName"])
            assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"

            await client.create(PERSISTENTVOLUMECLAIMS, pvc("want-2g", "2Gi", cls="manual"))
            c = await eventually(lambda: bound(client, "want-2g"), what="static claim bound")
            assert c["spec"]["volumeName"] == "static-big"
            assert c["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
            v = await client.get(PERSISTENTVOLUMES, "static-big")
            assert v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
            assert c["status"]["accessModes"] == ["ReadWriteOnce", "ReadWriteMany"]

            async def small_available() -> bool:
                v = await client.get(PERSISTENTVOLUMES, "static-small")
                return v["status"]["phase"] == "Available"
            await eventually(small_available, what="unclaimed static volume Available")

            # Retain: the claim goes, the volume stays Released.
            await client.delete(PERSISTENTVOLUMECLAIMS, "want-2g", namespace="default")

            async def released() -> bool:
                v = await client.get(PERSISTENTVOLUMES, "static-big")
                return v["status"]["phase"] == "Released"
            await eventually(released, what="static volume Released")
            assert (await client.list(STORAGECLASSES)).items[0]["metadata"]["name"] == "fast"


async def test_resource_quota_usage(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        quota: Obj = {"metadata": {"name": "q", "namespace": "default"},
                 "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "4Gi", "configmaps": "5",
                                   "count/configmaps": "5", "persistentvolumeclaims": "3"}}}
        await client.create(RESOURCEQUOTAS, quota)
        for i, cpu in enumerate(("500m", "250m")):
            p = pod(f"p{i}")
            p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}, "limits": {"memory": "256Mi"}}
            await client.create(PODS, p)
        existing_cms = len((await client.list(CONFIGMAPS, namespace="default")).items)
        async with run_controllers(client, ResourceQuotaController):
            async def used() -> Obj | None:
                q = await client.get(RESOURCEQUOTAS, "q", namespace="default")
                u = (q.get("status") or {}).get("used") or {}
                return u if u.get("pods") == "2" else None
            u = await eventually(used, what="quota usage")
            assert u == {"pods": "2", "requests.cpu": "750m", "limits.memory": "512Mi",
                         "configmaps": str(existing_cms), "count/configmaps": str(existing_cms),
                         "persistentvolumeclaims": "0"}
            q = await client.get(RESOURCEQUOTAS, "q", namespace="default")
            assert q["status"]["hard"] == quota["spec"]["hard"]

            await client.create(CONFIGMAPS, {"metadata": {"name": "extra", "namespace": "default"}})
            await client.delete(PODS, "p0", namespace="default")

            async def updated() -> bool:
                q = await client.get(RESOURCEQUOTAS, "q", namespace="default")
                u = q["status"]["used"]
                return u["pods"] == "1" and u["requests.cpu"] == "250m" and u["configmaps"] == str(existing_cms + 1)
            await eventually(updated, what="quota usage follows changes")
