"""pods/resize: cpu and memory of running containers change through the subresource only, under
kube's ValidatePodResize rules (through the real handlers, in process)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kubelite.client import PODS, ApiError
from tests.inprocess import api_client


def res(cpu_req: str, mem_req: str, cpu_lim: str | None = None, mem_lim: str | None = None) -> dict:
    out: dict = {"requests": {"cpu": cpu_req, "memory": mem_req}}
    limits = {k: v for k, v in (("cpu", cpu_lim), ("memory", mem_lim)) if v}
    if limits:
        out["limits"] = limits
    return out


POD = {"metadata": {"name": "rz"},
       "spec": {"initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "50m"}}},
                                   {"name": "init", "image": "busybox"}],
                "containers": [{"name": "c", "image": "nginx", "resources": res("100m", "64Mi", "200m", "128Mi")},
                               {"name": "d", "image": "nginx"}]}}


def resize(containers: list[dict], field: str = "containers") -> dict:
    return {"spec": {field: containers}}


async def rejected(client, patch: dict, *, type: str = "strategic") -> str:  # noqa: ANN001
    with pytest.raises(ApiError) as e:
        await client.patch(PODS, "rz", patch, namespace="default", type=type, subresource="resize")
    assert e.value.code == 422
    return e.value.message


async def test_resize_changes_cpu_and_memory_only_through_the_subresource(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_api, client):
        created = await client.create(PODS, copy.deepcopy(POD), namespace="default")
        assert created["status"]["qosClass"] == "Burstable"
        got = await client.patch(PODS, "rz", resize([{"name": "c", "resources": res("150m", "96Mi", "300m", "128Mi")}]),
                                 namespace="default", type="strategic", subresource="resize")
        c = got["spec"]["containers"][0]
        assert c["resources"] == res("150m", "96Mi", "300m", "128Mi")
        assert got["metadata"]["generation"] == created["metadata"]["generation"] + 1
        assert (await client.get(PODS, "rz", namespace="default", subresource="resize"))["spec"] == got["spec"]
        # a sidecar (restartable init container) is resizable too
        got = await client.patch(PODS, "rz", resize([{"name": "side", "resources": {"requests": {"cpu": "70m"}}}],
                                                    "initContainers"),
                                 namespace="default", type="strategic", subresource="resize")
        assert got["spec"]["initContainers"][0]["resources"] == {"requests": {"cpu": "70m"}}
        # what resize may not change is left as it was, not taken from the request
        got = await client.patch(PODS, "rz", resize([{"name": "c", "image": "nginx:2"}]), namespace="default",
                                 type="strategic", subresource="resize")
        assert got["spec"]["containers"][0]["image"] == "nginx"
        # the main endpoint may not change resources
        with pytest.raises(ApiError) as e:
            await client.patch(PODS, "rz", resize([{"name": "c", "resources": res("160m", "96Mi", "300m", "128Mi")}]),
                               namespace="default", type="strategic")
        assert e.value.code == 422 and "pod updates may not change fields" in e.value.message


async def test_resize_rules_are_kubes(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_api, client):
        await client.create(PODS, copy.deepcopy(POD), namespace="default")
        msg = await rejected(client, resize([{"name": "c", "resources": {"limits": {"ephemeral-storage": "1Gi"}}}]))
        assert msg == 'Pod "rz" is invalid: spec: Forbidden: only cpu and memory resources are mutable'
        msg = await rejected(client, resize([{"name": "c", "resources": {"limits": {"memory": None}}}]))
        assert msg == 'Pod "rz" is invalid: spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed'
        msg = await rejected(client, resize([{"name": "c", "resources": {"requests": {"memory": None}}}]))
        assert "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed" in msg
        msg = await rejected(client, resize([{"name": "init", "resources": {"requests": {"cpu": "1"}}}], "initContainers"))
        assert msg == ('Pod "rz" is invalid: spec.initContainers[1].resources: Forbidden: '
                       'resources for non-sidecar init containers are immutable')
        msg = await rejected(client, resize([{"name": "c", "resources": {"requests": {"cpu": "500m"}}}]))
        assert "must be less than or equal to cpu limit of 200m" in msg
        msg = await rejected(client, [{"op": "move", "from": "/spec/containers/1", "path": "/spec/containers/0"}],
                             type="json")
        assert msg == ('Pod "rz" is invalid: spec.containers: Forbidden: '
                       'containers may not be renamed or reordered on resize')
        # the QoS class is fixed: a Burstable pod may not become Guaranteed nor BestEffort
        solo = {"metadata": {"name": "solo"},
                "spec": {"containers": [{"name": "c", "image": "nginx", "resources": res("100m", "64Mi", "200m", "64Mi")}]}}
        await client.create(PODS, solo, namespace="default")
        with pytest.raises(ApiError) as e:
            await client.patch(PODS, "solo", resize([{"name": "c", "resources": {"requests": {"cpu": "200m"}}}]),
                               namespace="default", type="strategic", subresource="resize")
        assert e.value.message == ('Pod "solo" is invalid: spec: Invalid value: "Burstable": '
                                   'Pod QOS Class may not change as a result of resizing')
        # the rejected writes changed nothing
        pod = await client.get(PODS, "rz", namespace="default")
        assert pod["spec"]["containers"][0]["resources"] == res("100m", "64Mi", "200m", "128Mi")
