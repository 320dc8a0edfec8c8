"""CustomResourceDefinitions end to end with the real kubectl: establish, discovery, printer
columns, schema validation errors, the scale subresource, and cascading removal of the
custom objects when the CRD goes."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster

#: the API-only kubectl tests run with both supported kubectls (1.37 and 1.36)
pytestmark = pytest.mark.every_kubectl


def crd(group: str, *, plural: str = "widgets", kind: str = "Widget", short: str = "wg") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [short]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                         "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 100},
                        "color": {"type": "string", "enum": ["red", "blue"]},
                        "replicas": {"type": "integer", "minimum": 0}}},
                    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
            }],
        },
    }


def widget(group: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def install(cluster: Cluster, group: str) -> str:
    name = f"widgets.{group}"
    out = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd(group))).stdout.strip()
    assert out == f"customresourcedefinition.apiextensions.k8s.io/{name} created"
    out = cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=20s").stdout
    assert "condition met" in out
    return name


def test_crd_lifecycle(cluster: Cluster, ns: str) -> None:
    group = f"e2e{uuid.uuid4().hex[:6]}.example.com"
    name = install(cluster, group)
    got = cluster.json("get", "crd", name)
    conds = {c["type"]: c["status"] for c in got["status"]["conditions"]}
    assert conds["Established"] == "True" and conds["NamesAccepted"] == "True"

    rows = cluster.wait_for(
        lambda: [r for r in cluster.kubectl("api-resources", "--api-group", group, "--no-headers").stdout.splitlines()],
        timeout=15, what="api-resources to list the CRD group")
    assert rows[0].split() == ["widgets", "wg", f"{group}/v1", "true", "Widget"]

    out = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w1", size=3, color="red"))).stdout
    assert out.strip() == f"widget.{group}/w1 created"
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w2", size=7)))
    table = cluster.kubectl("-n", ns, "get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR", "AGE"]
    assert table[1].split()[:3] == ["w1", "3", "red"]
    assert table[2].split()[:2] == ["w2", "7"] and table[2].split()[2] != "red"
    assert cluster.json("-n", ns, "get", "wg", "w1")["spec"] == {"size": 3, "color": "red"}
    # apply again with a change: configured, visible
    out = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w1", size=4, color="blue"))).stdout
    assert out.strip() == f"widget.{group}/w1 configured"
    assert cluster.json("-n", ns, "get", f"widgets.{group}", "w1")["spec"] == {"size": 4, "color": "blue"}

    bad = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w3", size="big")), check=False)
    assert bad.returncode != 0 and "spec.size" in bad.stderr and "integer" in bad.stderr
    bad = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w3", size=2, color="green")), check=False)
    assert bad.returncode != 0 and "spec.color" in bad.stderr and "green" in bad.stderr
    bad = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w3", size=500)), check=False)
    assert bad.returncode != 0 and "spec.size" in bad.stderr
    bad = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(widget(group, "w3", color="red")), check=False)
    assert bad.returncode != 0 and "spec.size" in bad.stderr and "Required" in bad.stderr
    assert cluster.kubectl("-n", ns, "get", "widget", "w3", check=False).returncode != 0

    out = cluster.kubectl("-n", ns, "scale", "widget", "w1", "--replicas=4").stdout.strip()
    assert out == f"widget.{group}/w1 scaled"
    assert cluster.json("-n", ns, "get", "widget", "w1")["spec"]["replicas"] == 4
    scale = json.loads(cluster.kubectl("get", "--raw", f"/apis/{group}/v1/namespaces/{ns}/widgets/w1/scale").stdout)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4

    out = cluster.kubectl("delete", "crd", name).stdout.strip()
    assert out == f'customresourcedefinition.apiextensions.k8s.io "{name}" deleted'
    cluster.wait_for(lambda: cluster.kubectl("get", "crd", name, check=False).returncode != 0,
                     timeout=20, what="the CRD to go")
    # recreated, the CRD serves an empty collection: its objects went with it
    install(cluster, group)
    listed = cluster.json("-n", ns, "get", f"widgets.{group}")
    assert listed["items"] == []
    cluster.kubectl("delete", "crd", name)


def test_custom_objects_across_namespaces(cluster: Cluster, ns: str) -> None:
    group = f"e2e{uuid.uuid4().hex[:6]}.example.com"
    name = install(cluster, group)
    cluster.kubectl("-n", ns, "create", "-f", "-", input=yaml.safe_dump(widget(group, "one", size=1)))
    cluster.kubectl("-n", "default", "create", "-f", "-", input=yaml.safe_dump(widget(group, "two", size=2)))
    out = cluster.kubectl("get", f"widgets.{group}", "-A").stdout.splitlines()
    assert out[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sorted(line.split()[1] for line in out[1:]) == ["one", "two"]
    cluster.kubectl("-n", ns, "label", f"widget.{group}", "one", "x=y")
    assert cluster.kubectl("get", f"widgets.{group}", "-A", "-l", "x=y", "-o", "name").stdout.split() == [
        f"widget.{group}/one"]
    cluster.kubectl("delete", "crd", name)
