"""What Kubernetes 1.36 serves that kubectl 1.36/1.37 reach for: sidecar containers, the
``pods/resize`` subresource (``kubectl patch --subresource resize``) and the streaming lists
``kubectl wait`` uses."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.every_kubectl


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                                         "readinessProbe": {"tcpSocket": {"port": 9901}},
                                         "resources": {"requests": {"cpu": "50m"}}}],
                     "containers": [{"name": "app", "image": "nginx",
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                                   "limits": {"cpu": "200m", "memory": "128Mi"}}}]}}


def test_sidecar_containers_are_accepted_and_plain_init_containers_keep_their_rules(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(pod("side")))
    got = cluster.json("-n", ns, "get", "pod", "side")
    assert got["spec"]["initContainers"][0]["restartPolicy"] == "Always"
    bad = pod("bad")
    bad["spec"]["initContainers"][0]["restartPolicy"] = "Never"
    res = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert res.returncode != 0
    assert 'spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"' in res.stderr
    plain = pod("plain")
    del plain["spec"]["initContainers"][0]["restartPolicy"]
    res = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(plain), check=False)
    assert res.returncode != 0
    assert ("spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
            "restartPolicy=Always") in res.stderr


def test_kubectl_patch_subresource_resize(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(pod("rz")))
    patch = {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "150m"},
                                                                   "limits": {"cpu": "300m"}}}]}}
    out = cluster.kubectl("-n", ns, "patch", "pod", "rz", "--subresource", "resize", "-p", json.dumps(patch)).stdout
    assert out.strip() == "pod/rz patched"
    got = cluster.json("-n", ns, "get", "pod", "rz")
    assert got["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "150m", "memory": "64Mi"},
                                                         "limits": {"cpu": "300m", "memory": "128Mi"}}
    # the same change through the pod itself is refused, and so is a QoS change through resize
    res = cluster.kubectl("-n", ns, "patch", "pod", "rz", "-p", json.dumps(patch).replace("150m", "160m"), check=False)
    assert res.returncode != 0 and "pod updates may not change fields other than" in res.stderr
    to_best_effort = [{"op": "remove", "path": "/spec/containers/0/resources"}]
    res = cluster.kubectl("-n", ns, "patch", "pod", "rz", "--subresource", "resize", "--type", "json",
                          "-p", json.dumps(to_best_effort), check=False)
    assert res.returncode != 0 and "resource requests cannot be removed" in res.stderr
    # kubectl learns of the subresource from discovery
    resources = json.loads(cluster.kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    resize = next(r for r in resources if r["name"] == "pods/resize")
    assert resize["kind"] == "Pod" and sorted(resize["verbs"]) == ["get", "patch", "update"]


def test_kubectl_wait_is_answered_by_a_streaming_list(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "w", "--from-literal=k=v")
    out = cluster.kubectl("-n", ns, "wait", "--for=jsonpath={.data.k}=v", "configmap/w", "--timeout=10s").stdout
    assert out.strip() == "configmap/w condition met"


DRA = [
    {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.e2e.example.com"},
     "spec": {"selectors": [{"cel": {"expression": 'device.driver == "gpu.e2e.example.com"'}}]}},
    {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": "e2e-node-gpus"},
     "spec": {"driver": "gpu.e2e.example.com", "pool": {"name": "e2e-node", "generation": 0, "resourceSliceCount": 1},
              "nodeName": "e2e-node", "devices": [{"name": "gpu-0", "attributes": {"model": {"string": "A100"}},
                                                  "capacity": {"memory": {"value": "40Gi"}}}]}},
]


def test_dynamic_resource_allocation_objects(cluster: Cluster, ns: str, kubectl_version: str) -> None:
    docs = [{**d, "metadata": {"name": f"{d['metadata']['name']}-{kubectl_version.replace('.', '-')}"}} for d in DRA]
    claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "one-gpu"},
             "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": docs[0]["metadata"]["name"]}}]}}}
    out = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump_all([*docs, claim])).stdout
    assert "resourceclaim.resource.k8s.io/one-gpu created" in out
    got = cluster.json("-n", ns, "get", "resourceclaim", "one-gpu")
    assert got["spec"]["devices"]["requests"][0]["exactly"] == {
        "deviceClassName": docs[0]["metadata"]["name"], "allocationMode": "ExactCount", "count": 1}
    table = cluster.kubectl("-n", ns, "get", "resourceclaims").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATE", "AGE"] and table[1].split()[:2] == ["one-gpu", "pending"]
    slice_name = docs[1]["metadata"]["name"]
    rows = cluster.kubectl("get", "resourceslices", "--field-selector", "spec.nodeName=e2e-node").stdout.splitlines()
    assert rows[0].split() == ["NAME", "NODE", "DRIVER", "POOL", "AGE"]
    assert [r.split()[:4] for r in rows[1:] if r.startswith(slice_name)] == \
        [[slice_name, "e2e-node", "gpu.e2e.example.com", "e2e-node"]]
    # the spec of a claim is fixed, and a request must say what it wants
    res = cluster.kubectl("-n", ns, "patch", "resourceclaim", "one-gpu", "--type", "merge",
                          "-p", '{"spec":{"devices":{"requests":[{"name":"gpu","exactly":{"deviceClassName":"other"}}]}}}',
                          check=False)
    assert res.returncode != 0 and "field is immutable" in res.stderr
    bad = {**claim, "metadata": {"name": "bad"}, "spec": {"devices": {"requests": [{"name": "gpu"}]}}}
    res = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert res.returncode != 0 and ('spec.devices.requests[0]: Required value: exactly one of `exactly` or '
                                    '`firstAvailable` is required') in res.stderr
    cluster.kubectl("delete", f"resourceslice/{slice_name}", f"deviceclass/{docs[0]['metadata']['name']}")
