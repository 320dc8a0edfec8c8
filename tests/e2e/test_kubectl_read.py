"""The real kubectl against a real ``kubelite server``: discovery, the create generators, and
every way ``kubectl get`` reads (output formats, selectors, chunking, all namespaces, Table
columns), plus describe, explain and auth can-i.

No controllers run in this mode: pods stay Pending and deployments never get ReplicaSets, so
nothing here waits for them.
"""
from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster

#: the API-only kubectl tests run with both supported kubectls (1.37 and 1.36)
pytestmark = pytest.mark.every_kubectl


def header(out: str) -> list[str]:
    return out.splitlines()[0].split()


def names(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


def test_version_reports_server_minor_36_without_skew_warning(cluster: Cluster, kubectl_version: str) -> None:
    res = cluster.kubectl("version", "-o", "json")
    v = json.loads(res.stdout)
    assert v["serverVersion"]["major"] == "1"
    assert v["serverVersion"]["minor"] == "36"
    assert v["serverVersion"]["gitVersion"].startswith("v1.36.")
    assert v["clientVersion"]["gitVersion"].startswith(f"v{kubectl_version}.")
    # both supported kubectls (1.37 and 1.36) are within the +/-1 minor skew: no warning
    assert "version difference" not in res.stderr and "WARNING" not in res.stderr.upper(), res.stderr
    plain = cluster.kubectl("version")
    assert "Server Version: v1.36." in plain.stdout and plain.stderr == ""


def test_api_resources_lists_deployments_with_shortname(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["deployments"][1] == "deploy"
    assert rows["deployments"][2] == "apps/v1"
    assert rows["pods"][1] == "po"
    assert rows["namespaces"][-2:] == ["false", "Namespace"]
    groups = cluster.kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "apiextensions.k8s.io/v1"} <= set(groups)


def test_create_generators(cluster: Cluster, ns: str) -> None:
    out = cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2").stdout
    assert out.strip() == "deployment.apps/web created"
    assert "configmap/cfg created" in cluster.kubectl(
        "-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two").stdout
    assert "secret/sec created" in cluster.kubectl(
        "-n", ns, "create", "secret", "generic", "sec", "--from-literal=password=hunter2").stdout
    assert "service/svc created" in cluster.kubectl(
        "-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080").stdout
    assert "job.batch/once created" in cluster.kubectl(
        "-n", ns, "create", "job", "once", "--image=busybox", "--", "echo", "hi").stdout

    dep = cluster.json("-n", ns, "get", "deployment", "web")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted by the server
    cm = cluster.json("-n", ns, "get", "configmap", "cfg")
    assert cm["data"] == {"a": "1", "b": "two"}
    secret = cluster.json("-n", ns, "get", "secret", "sec")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    svc = cluster.json("-n", ns, "get", "service", "svc")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["clusterIP"] and svc["spec"]["clusterIP"] != "None"
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
    job = cluster.json("-n", ns, "get", "job", "once")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_create_namespace(cluster: Cluster) -> None:
    name = "cns-" + uuid.uuid4().hex[:6]
    assert cluster.kubectl("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
    got = cluster.json("get", "namespace", name)
    assert got["status"]["phase"] == "Active"
    assert got["metadata"]["labels"]["kubernetes.io/metadata.name"] == name


def test_create_from_multi_document_file(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"k": "1"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "two"}, "stringData": {"k": "2"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "three"},
         "spec": {"selector": {"matchLabels": {"app": "three"}},
                  "template": {"metadata": {"labels": {"app": "three"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
    ]
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    out = cluster.kubectl("-n", ns, "create", "-f", str(path)).stdout
    assert out.splitlines() == ["configmap/one created", "secret/two created", "deployment.apps/three created"]
    assert cluster.json("-n", ns, "get", "secret", "two")["data"] == {"k": "Mg=="}  # stringData folded in
    assert cluster.json("-n", ns, "get", "deployment", "three")["spec"]["replicas"] == 1
    again = cluster.kubectl("-n", ns, "create", "-f", str(path), check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr


def test_protobuf_typed_create(cluster: Cluster, ns: str) -> None:
    """kubectl's typed clients POST protobuf; -v=8 shows the content type it used."""
    res = cluster.kubectl("-n", ns, "create", "deployment", "pb", "--image=busybox:1.36", "-v=8")
    assert "Content-Type: application/vnd.kubernetes.protobuf" in res.stderr
    assert "deployment.apps/pb created" in res.stdout
    dep = cluster.json("-n", ns, "get", "deployment", "pb")
    assert dep["spec"]["template"]["spec"]["containers"][0] == {
        **dep["spec"]["template"]["spec"]["containers"][0], "name": "busybox", "image": "busybox:1.36"}
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "pb"}}


def test_get_output_formats(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "fmt", "--image=nginx:1.25")
    wide = cluster.kubectl("-n", ns, "get", "deployment", "fmt", "-o", "wide").stdout
    assert header(wide) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide.splitlines()[1].split()[5:] == ["nginx", "nginx:1.25", "app=fmt"]
    as_yaml = yaml.safe_load(cluster.kubectl("-n", ns, "get", "deployment", "fmt", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Deployment" and as_yaml["metadata"]["name"] == "fmt"
    as_json = json.loads(cluster.kubectl("-n", ns, "get", "deployment", "fmt", "-o", "json").stdout)
    assert as_json["metadata"]["uid"] == as_yaml["metadata"]["uid"]
    jp = cluster.kubectl("-n", ns, "get", "deployment", "fmt", "-o",
                         "jsonpath={.metadata.name}:{.spec.template.spec.containers[0].image}").stdout
    assert jp == "fmt:nginx:1.25"
    assert cluster.kubectl("-n", ns, "get", "deployment", "-o", "name").stdout.split() == ["deployment.apps/fmt"]
    listed = json.loads(cluster.kubectl("-n", ns, "get", "deployments", "-o", "json").stdout)
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == ["fmt"]


def test_table_columns_for_deployments_and_services(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "cols", "--image=nginx", "--replicas=3")
    cluster.kubectl("-n", ns, "create", "service", "clusterip", "cols", "--tcp=80:8080", "--tcp=443:8443")
    dep = cluster.kubectl("-n", ns, "get", "deployments").stdout
    assert header(dep) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    row = dep.splitlines()[1].split()
    # no kubelet: nothing becomes ready (UP-TO-DATE may count pending pods once controllers run)
    assert row[0] == "cols" and row[1] == "0/3" and row[3] == "0"
    svc = cluster.kubectl("-n", ns, "get", "services").stdout
    assert header(svc) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = svc.splitlines()[1].split()
    ip = cluster.json("-n", ns, "get", "service", "cols")["spec"]["clusterIP"]
    assert row[:5] == ["cols", "ClusterIP", ip, "<none>", "80/TCP,443/TCP"]


def _pod(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_get_with_label_and_field_selectors(cluster: Cluster, ns: str) -> None:
    docs = [_pod("p-front", {"tier": "front", "env": "prod"}), _pod("p-back", {"tier": "back", "env": "prod"}),
            _pod("p-dev", {"tier": "front", "env": "dev"})]
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump_all(docs))
    run = lambda *a: sorted(names(cluster.kubectl("-n", ns, "get", "pods", *a).stdout))
    assert run("-l", "tier=front") == ["p-dev", "p-front"]
    assert run("-l", "tier=front,env=prod") == ["p-front"]
    assert run("-l", "env in (dev),tier!=back") == ["p-dev"]
    assert run("-l", "!tier") == []
    assert run("--field-selector", "metadata.name=p-back") == ["p-back"]
    assert run("--field-selector", "metadata.name!=p-back") == ["p-dev", "p-front"]
    assert run("--field-selector", "status.phase=Pending") == ["p-back", "p-dev", "p-front"]
    assert run("--field-selector", "status.phase=Running") == []
    assert run("-l", "env=prod", "--field-selector", "status.phase=Pending,metadata.name=p-front") == ["p-front"]
    bad = cluster.kubectl("-n", ns, "get", "pods", "--field-selector", "spec.nope=x", check=False)
    assert bad.returncode != 0 and "field label not supported" in bad.stderr


def test_get_chunked_lists_everything(cluster: Cluster, ns: str) -> None:
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"chunk-{i}"}} for i in range(7)]
    cluster.kubectl("-n", ns, "create", "-f", "-", input=yaml.safe_dump_all(docs))
    res = cluster.kubectl("-n", ns, "get", "configmaps", "--chunk-size=2", "-v=6")
    assert sorted(n for n in names(res.stdout) if n.startswith("chunk-")) == [f"chunk-{i}" for i in range(7)]
    requests = [line for line in res.stderr.splitlines() if "GET" in line and "/configmaps" in line]
    assert len(requests) >= 4, res.stderr  # 7 objects, 2 a page
    assert all("limit=2" in r for r in requests)
    assert sum("continue=" in r for r in requests) >= 3
    as_json = json.loads(cluster.kubectl("-n", ns, "get", "configmaps", "--chunk-size=2", "-o", "json").stdout)
    assert len([i for i in as_json["items"] if i["metadata"]["name"].startswith("chunk-")]) == 7


def test_get_all_namespaces_shows_namespace_column(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(_pod("everywhere", {"a": "b"})))
    out = cluster.kubectl("get", "pods", "-A").stdout
    assert header(out)[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "everywhere"] for line in out.splitlines()[1:])
    out = cluster.kubectl("get", "pods", "--all-namespaces", "-o", "wide").stdout
    assert header(out)[:3] == ["NAMESPACE", "NAME", "READY"]


def test_describe(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "desc", "--image=nginx:1.25", "--replicas=2")
    cluster.kubectl("-n", ns, "create", "configmap", "desc", "--from-literal=greeting=hello")
    cluster.kubectl("-n", ns, "create", "service", "clusterip", "desc", "--tcp=80:8080")
    dep = cluster.kubectl("-n", ns, "describe", "deployment", "desc").stdout
    assert "Name:                   desc" in dep
    assert f"Namespace:              {ns}" in dep
    assert "Replicas:               2 desired" in dep
    assert "Image:         nginx:1.25" in dep
    assert "StrategyType:           RollingUpdate" in dep
    cm = cluster.kubectl("-n", ns, "describe", "configmap", "desc").stdout
    assert "greeting:" in cm and "hello" in cm
    svc = cluster.kubectl("-n", ns, "describe", "service", "desc").stdout
    assert "Type:                     ClusterIP" in svc
    assert "TargetPort:               8080/TCP" in svc
    assert "Selector:                 app=desc" in svc


def test_explain_lists_container_image(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "deployment.spec.template.spec.containers").stdout
    assert "KIND:       Deployment" in out
    assert "FIELD: containers <[]Container>" in out
    fields = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert {"image", "name", "env", "ports", "resources"} <= fields


def test_auth_can_i_admin(cluster: Cluster, ns: str) -> None:
    assert cluster.kubectl("auth", "can-i", "create", "deployments", "-n", ns).stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    who = cluster.json("auth", "whoami")
    assert "system:masters" in who["status"]["userInfo"]["groups"]
