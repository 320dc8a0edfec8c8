"""Namespace deletion and garbage collection against the in-process API server, custom
resources included."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelite.client import CONFIGMAPS, CUSTOMRESOURCEDEFINITIONS, NAMESPACES, PODS, SECRETS, Client, ResourceRef
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.namespace import NamespaceController
from tests.controllers.infra_harness import eventually, get_or_none, pod, run_controllers
from tests.inprocess import api_client

Obj = dict[str, Any]
WIDGETS = ResourceRef("example.com", "v1", "widgets", True, "Widget")
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


async def install_crd(client: Client) -> None:
    await client.create(CUSTOMRESOURCEDEFINITIONS, CRD)

    async def served() -> bool:
        try:
            await client.list(WIDGETS, namespace="default")
        except Exception:  # noqa: BLE001
            return False
        return True
    await eventually(served, what="widgets served")


def cm(name: str, ns: str = "default", owners: list[Obj] | None = None, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": ns}
    if owners:
        meta["ownerReferences"] = owners
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def owner_ref(obj: Obj, *, block: bool = False) -> Obj:
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


async def test_namespace_deletion_drains_reports_and_finalizes(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        await install_crd(client)
        await client.create(NAMESPACES, {"metadata": {"name": "doomed"}})
        await client.create(CONFIGMAPS, cm("plain", "doomed"))
        await client.create(SECRETS, {"metadata": {"name": "s", "namespace": "doomed"}, "stringData": {"a": "b"}})
        await client.create(PODS, pod("p", ns="doomed"))
        await client.create(WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget",
                                      "metadata": {"name": "w", "namespace": "doomed"}})
        await client.create(CONFIGMAPS, cm("guarded", "doomed", finalizers=["example.com/guard"]))
        async with run_controllers(client, NamespaceController, options={"namespace_requeue_max_seconds": 0.2}):
            await client.delete(NAMESPACES, "doomed")

            async def blocked_by_finalizer() -> Obj | None:
                ns = await client.get(NAMESPACES, "doomed")
                conds = {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}
                fin = conds.get("NamespaceFinalizersRemaining")
                return ns if fin and fin["status"] == "True" else None

            ns = await eventually(blocked_by_finalizer, what="NamespaceFinalizersRemaining=True")
            assert ns["status"]["phase"] == "Terminating"
            conds = {c["type"]: c for c in ns["status"]["conditions"]}
            assert conds["NamespaceContentRemaining"]["message"] == \
                "Some resources are remaining: configmaps. has 1 resource instances"
            assert conds["NamespaceFinalizersRemaining"]["message"] == \
                "Some content in the namespace has finalizers remaining: example.com/guard in 1 resource instances"
            assert conds["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
            # Everything else, the custom resource included, is gone already.
            assert (await client.list(WIDGETS, namespace="doomed")).items == []
            assert (await client.list(SECRETS, namespace="doomed")).items == []
            assert (await client.list(PODS, namespace="doomed")).items == []
            assert ns["spec"]["finalizers"] == ["kubernetes"]

            # Whoever owns the finalizer lets go: the namespace is finalized and disappears.
            guarded = await client.get(CONFIGMAPS, "guarded", namespace="doomed")
            guarded["metadata"]["finalizers"] = []
            await client.update(CONFIGMAPS, guarded)
            await eventually(lambda: _absent(client, NAMESPACES, "doomed"), what="namespace gone")


async def _absent(client: Client, ref: ResourceRef, name: str, ns: str | None = None) -> bool:
    return await get_or_none(client, ref, name, ns) is None


async def test_gc_deletes_dependents_of_missing_owners(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        await install_crd(client)
        owner = await client.create(CONFIGMAPS, cm("owner"))
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-dead-beef-0000-000000000000"}
        orphan_pod = pod("orphan")
        orphan_pod["metadata"]["ownerReferences"] = [ghost]
        await client.create(PODS, orphan_pod)
        keeper = pod("keeper")
        keeper["metadata"]["ownerReferences"] = [ghost, owner_ref(owner)]
        await client.create(PODS, keeper)
        owned = pod("owned")
        owned["metadata"]["ownerReferences"] = [owner_ref(owner)]
        await client.create(PODS, owned)
        widget = await client.create(WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget",
                                               "metadata": {"name": "w", "namespace": "default"}})
        await client.create(CONFIGMAPS, cm("widget-child", owners=[owner_ref(widget)]))
        async with run_controllers(client, GarbageCollector):
            await eventually(lambda: _absent(client, PODS, "orphan", "default"), what="orphaned pod deleted")

            async def keeper_cleaned() -> bool:
                p = await client.get(PODS, "keeper", namespace="default")
                return [r["uid"] for r in p["metadata"]["ownerReferences"]] == [owner["metadata"]["uid"]]
            await eventually(keeper_cleaned, what="dangling reference removed from a pod with a live owner")
            assert await get_or_none(client, PODS, "owned", "default") is not None

            # A custom resource as owner: deleting it collects its dependent.
            await client.delete(WIDGETS, "w", namespace="default")
            await eventually(lambda: _absent(client, CONFIGMAPS, "widget-child", "default"),
                             what="dependent of a deleted custom resource collected")

            # Background: deleting the owner collects its dependents.
            await client.delete(CONFIGMAPS, "owner", namespace="default")
            await eventually(lambda: _absent(client, PODS, "owned", "default"), what="dependent collected")
            await eventually(lambda: _absent(client, PODS, "keeper", "default"), what="keeper collected")


async def test_gc_foreground_and_orphan_propagation(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        async with run_controllers(client, GarbageCollector) as (gc,):
            assert isinstance(gc, GarbageCollector)
            # Foreground: parent -> child (blocking) -> grandchild.
            parent = await client.create(CONFIGMAPS, cm("parent"))
            child = await client.create(SECRETS, {"metadata": {"name": "child", "namespace": "default",
                                                               "ownerReferences": [owner_ref(parent, block=True)]}})
            await client.create(CONFIGMAPS, cm("grandchild", owners=[owner_ref(child, block=True)]))
            # A dependent that holds a finalizer shows the owner waiting for it.
            await client.create(CONFIGMAPS, cm("sticky", owners=[owner_ref(parent, block=True)],
                                               finalizers=["example.com/hold"]))
            deleted = await client.delete(CONFIGMAPS, "parent", namespace="default", propagation_policy="Foreground")
            assert "foregroundDeletion" in deleted["metadata"]["finalizers"]
            await eventually(lambda: _absent(client, CONFIGMAPS, "grandchild", "default"), what="grandchild gone")
            await eventually(lambda: _absent(client, SECRETS, "child", "default"), what="child gone")

            async def sticky_terminating() -> bool:
                s = await client.get(CONFIGMAPS, "sticky", namespace="default")
                return bool(s["metadata"].get("deletionTimestamp"))
            await eventually(sticky_terminating, what="sticky dependent marked for deletion")
            p = await client.get(CONFIGMAPS, "parent", namespace="default")
            assert p["metadata"]["finalizers"] == ["foregroundDeletion"]  # still waiting on "sticky"
            sticky = await client.get(CONFIGMAPS, "sticky", namespace="default")
            sticky["metadata"]["finalizers"] = []
            await client.update(CONFIGMAPS, sticky)
            await eventually(lambda: _absent(client, CONFIGMAPS, "parent", "default"), what="parent finally gone")

            # Orphan: the owner goes, its dependents stay without the reference.
            boss = await client.create(CONFIGMAPS, cm("boss"))
            worker = await client.create(CONFIGMAPS, cm("worker", owners=[owner_ref(boss, block=True)]))

            async def worker_in_graph() -> bool:
                # Like Kubernetes, orphaning acts on the dependents the graph knows.
                return worker["metadata"]["uid"] in gc.nodes
            await eventually(worker_in_graph, what="worker in the GC graph")
            await client.delete(CONFIGMAPS, "boss", namespace="default", propagation_policy="Orphan")
            await eventually(lambda: _absent(client, CONFIGMAPS, "boss", "default"), what="boss gone")
            worker = await client.get(CONFIGMAPS, "worker", namespace="default")
            assert not worker["metadata"].get("ownerReferences")
