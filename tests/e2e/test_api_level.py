"""What Kubernetes 1.36 serves that kubectl 1.36/1.37 reach for: sidecar containers, the
``pods/resize`` subresource (``kubectl patch --subresource resize``) and the streaming lists
``kubectl wait`` uses."""
from __future__ import annotations

import json
import uuid

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
    # a pod asks for devices through a claim; its containers name the pod's claims
    gpu_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gpu-user"},
               "spec": {"resourceClaims": [{"name": "gpu", "resourceClaimName": "one-gpu"}],
                        "containers": [{"name": "app", "image": "cuda", "resources": {"claims": [{"name": "gpu"}]}}]}}
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(gpu_pod))
    assert cluster.json("-n", ns, "get", "pod", "gpu-user")["spec"]["resourceClaims"] == gpu_pod["spec"]["resourceClaims"]
    stray = {**gpu_pod, "metadata": {"name": "stray"}, "spec": {**gpu_pod["spec"], "resourceClaims": []}}
    res = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(stray), check=False)
    assert res.returncode != 0 and ('spec.containers[0].resources.claims[0]: Not found: "gpu": must be one of the '
                                    'names in pod.spec.resourceClaims which is empty') in res.stderr
    cluster.kubectl("delete", f"resourceslice/{slice_name}", f"deviceclass/{docs[0]['metadata']['name']}")


def test_apiservices_local_and_service_backed(cluster: Cluster, kubectl_version: str) -> None:
    rows = {line.split()[0]: line.split() for line in cluster.kubectl("get", "apiservices").stdout.splitlines()}
    assert rows["NAME"] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    for name in ("v1.", "v1.apps", "v2.autoscaling", "v1.resource.k8s.io", "v1.authorization.k8s.io"):
        assert rows[name][1:3] == ["Local", "True"], name
    group = f"metrics{kubectl_version.replace('.', '')}.example.com"
    svc = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": f"v1beta1.{group}"},
           "spec": {"service": {"name": "metrics-server", "namespace": "kube-system"}, "group": group,
                    "version": "v1beta1", "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100,
                    "versionPriority": 100}}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(svc))
    got = cluster.json("get", "apiservice", f"v1beta1.{group}")
    assert got["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 443}
    row = cluster.kubectl("get", "apiservice", f"v1beta1.{group}", "--no-headers").stdout.split()
    assert row[1:3] == ["kube-system/metrics-server", "Unknown"]
    bad = {**svc, "metadata": {"name": f"v1.{group}"}}
    res = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert res.returncode != 0
    assert f'metadata.name: Invalid value: "v1.{group}": must be `spec.version+"."+spec.group`: "v1beta1.{group}"' \
        in res.stderr
    cluster.kubectl("delete", "apiservice", f"v1beta1.{group}")


def test_csistoragecapacity(cluster: Cluster, ns: str) -> None:
    cap = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": "zone-a"},
           "storageClassName": "fast", "nodeTopology": {"matchLabels": {"topology.example.com/zone": "a"}},
           "capacity": "100Gi", "maximumVolumeSize": "10Gi"}
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(cap))
    table = cluster.kubectl("-n", ns, "get", "csistoragecapacities").stdout.splitlines()
    assert table[0].split() == ["NAME", "STORAGECLASSNAME", "CAPACITY"] and table[1].split() == ["zone-a", "fast", "100Gi"]
    cluster.kubectl("-n", ns, "patch", "csistoragecapacity", "zone-a", "--type", "merge", "-p", '{"capacity":"50Gi"}')
    res = cluster.kubectl("-n", ns, "patch", "csistoragecapacity", "zone-a", "--type", "merge",
                          "-p", '{"storageClassName":"slow"}', check=False)
    assert res.returncode != 0 and "storageClassName: Invalid value: \"slow\": field is immutable" in res.stderr


def test_a_crd_group_version_is_a_local_apiservice(cluster: Cluster) -> None:
    from tests.e2e.test_kubectl_crd import crd, install

    group = f"as{uuid.uuid4().hex[:6]}.example.com"
    install(cluster, group)
    def registered() -> dict | None:
        res = cluster.kubectl("get", "apiservice", f"v1.{group}", "-o", "json", check=False)
        return json.loads(res.stdout) if res.returncode == 0 else None

    svc = cluster.wait_for(registered, what="the CRD's APIService")
    assert svc["spec"] == {"group": group, "version": "v1", "groupPriorityMinimum": 1000, "versionPriority": 100}
    assert svc["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
    assert svc["status"]["conditions"][0]["reason"] == "Local"
    cluster.kubectl("delete", "crd", crd(group)["metadata"]["name"])
    cluster.wait_for(lambda: cluster.kubectl("get", "apiservice", f"v1.{group}", check=False).returncode != 0,
                     what="the APIService to go with its CRD")
