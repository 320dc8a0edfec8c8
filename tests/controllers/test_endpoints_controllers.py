"""Endpoints, EndpointSlice and ServiceAccount controllers against the in-process API server."""
from __future__ import annotations

from pathlib import Path

from kubelite.client import ENDPOINTS, ENDPOINTSLICES, NAMESPACES, PODS, SERVICEACCOUNTS, SERVICES
from kubelite.client import Client, ResourceRef
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.endpointslice import (MANAGED_BY_LABEL, SERVICE_NAME_LABEL, EndpointSliceController,
                                                EndpointSliceMirroringController)
from kubelite.controllers.serviceaccount import ServiceAccountController
from tests.controllers.infra_harness import eventually, get_or_none, pod, run_controllers, set_status
from tests.inprocess import api_client

SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
HTTP = [{"name": "http", "containerPort": 8080}]


async def test_endpoints_and_slices_follow_pods(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        opts = {"apiserver_address": "192.168.5.10"}
        async with run_controllers(client, EndpointsController, EndpointSliceController, options=opts):
            svc = await client.create(SERVICES, SVC)
            a = await client.create(PODS,
                                    pod("a", labels={"app": "web"}, node="n1", ports=HTTP))
            b = await client.create(PODS,
                                    pod("b", labels={"app": "web"}, node="n1", ports=HTTP))
            await set_status(client, a, ip="10.42.0.5", ready=True)
            await set_status(client, b, ip="10.42.0.6", ready=False)

            async def endpoints_ready() -> object:
                ep = await get_or_none(client, ENDPOINTS, "web", "default")
                subsets = (ep or {}).get("subsets") or []
                if len(subsets) == 1 and subsets[0].get("addresses") and subsets[0].get("notReadyAddresses"):
                    return ep
                return None

            ep = await eventually(endpoints_ready, what="endpoints with a ready and a not-ready address")
            s = ep["subsets"][0]
            assert [x["ip"] for x in s["addresses"]] == ["10.42.0.5"]
            assert [x["ip"] for x in s["notReadyAddresses"]] == ["10.42.0.6"]
            assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

            async def slice_of_two() -> object:
                items = (await client.list(ENDPOINTSLICES, namespace="default",
                                           label_selector={SERVICE_NAME_LABEL: "web"})).items
                return items if len(items) == 1 and len(items[0].get("endpoints") or []) == 2 else None

            (sl,) = await eventually(slice_of_two, what="one slice with two endpoints")
            assert sl["metadata"]["labels"][MANAGED_BY_LABEL] == "endpointslice-controller.k8s.io"
            assert sl["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
            assert sl["addressType"] == "IPv4"
            by_name = {e["targetRef"]["name"]: e for e in sl["endpoints"]}
            assert by_name["a"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
            assert by_name["b"]["conditions"]["ready"] is False
            assert by_name["a"]["nodeName"] == "n1"

            # Pod b becomes ready: both lists follow.
            await set_status(client, b, ip="10.42.0.6", ready=True)

            async def both_ready() -> bool:
                ep = await client.get(ENDPOINTS, "web", namespace="default")
                return len(ep["subsets"][0].get("addresses") or []) == 2 and \
                    "notReadyAddresses" not in ep["subsets"][0]
            await eventually(both_ready, what="both addresses ready")

            # The kubernetes Service: one endpoint at the configured API server address.
            async def kubernetes_endpoints() -> object:
                return await get_or_none(client, ENDPOINTS, "kubernetes", "default")
            kep = await eventually(kubernetes_endpoints, what="kubernetes endpoints")
            assert kep["subsets"] == [{"addresses": [{"ip": "192.168.5.10"}],
                                       "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
            ksl = await eventually(lambda: get_or_none(client, ENDPOINTSLICES, "kubernetes", "default"),
                                   what="kubernetes slice")
            assert ksl["endpoints"][0]["addresses"] == ["192.168.5.10"]

            # Deleting the Service removes its Endpoints (slices go with the GC via ownership).
            await client.delete(SERVICES, "web", namespace="default")
            await eventually(lambda: _gone(client, ENDPOINTS, "web"), what="endpoints deleted")


async def _gone(client: Client, ref: ResourceRef, name: str) -> bool:
    return await get_or_none(client, ref, name, "default") is None


async def test_default_service_account_created_and_recreated(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        async with run_controllers(client, ServiceAccountController):
            await client.create(NAMESPACES, {"metadata": {"name": "team-a"}})
            await eventually(lambda: get_or_none(client, SERVICEACCOUNTS, "default", "team-a"),
                             what="default SA in team-a")
            assert await get_or_none(client, SERVICEACCOUNTS, "default", "kube-system") is not None
            await client.delete(SERVICEACCOUNTS, "default", namespace="team-a")
            await eventually(lambda: get_or_none(client, SERVICEACCOUNTS, "default", "team-a"),
                             what="default SA recreated")


async def test_selectorless_service_endpoints_are_mirrored(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        async with run_controllers(client, EndpointsController, EndpointSliceController,
                                   EndpointSliceMirroringController):
            await client.create(SERVICES, {"metadata": {"name": "ext", "namespace": "default"},
                                           "spec": {"ports": [{"name": "pg", "port": 5432}]}})
            ep = await client.create(ENDPOINTS, {"metadata": {"name": "ext", "namespace": "default"},
                                                 "subsets": [{"addresses": [{"ip": "192.168.1.2"}],
                                                              "ports": [{"name": "pg", "port": 5432}]}]})

            async def mirrored() -> object:
                items = (await client.list(ENDPOINTSLICES, namespace="default",
                                           label_selector={SERVICE_NAME_LABEL: "ext"})).items
                return items if len(items) == 1 and items[0].get("endpoints") else None
            (sl,) = await eventually(mirrored, what="mirrored slice")
            assert sl["metadata"]["labels"][MANAGED_BY_LABEL] == "endpointslicemirroring-controller.k8s.io"
            assert sl["metadata"]["ownerReferences"][0]["uid"] == ep["metadata"]["uid"]
            assert sl["endpoints"] == [{"addresses": ["192.168.1.2"], "conditions": {"ready": True}}]
            # The hand-written Endpoints are left alone by the endpoints controller.
            assert (await client.get(ENDPOINTS, "ext", namespace="default"))["subsets"] == ep["subsets"]
            # The kubernetes Service is never mirrored.
            items = (await client.list(ENDPOINTSLICES, namespace="default",
                                       label_selector={SERVICE_NAME_LABEL: "kubernetes"})).items
            assert all(i["metadata"]["labels"].get(MANAGED_BY_LABEL) is None for i in items)
