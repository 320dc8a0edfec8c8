"""The real kubectl writing to a real ``kubelite server``: apply (client- and server-side),
label/annotate, the three patch types, scale, replace, delete with finalizers, server dry runs.

Each test works in its own namespace (the ``ns`` fixture) on the session's shared server.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster

#: the API-only kubectl tests run with both supported kubectls (1.37 and 1.36)
pytestmark = pytest.mark.every_kubectl


def deployment(name: str, *, replicas: int = 1, env: list[dict[str, str]] | None = None,
               ports: list[int] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.25"}
    if env is not None:
        container["env"] = env
    if ports is not None:
        container["ports"] = [{"containerPort": p, "name": f"p{p}"} for p in ports]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def apply(cluster: Cluster, ns: str, obj: dict[str, Any], *extra: str) -> str:
    return cluster.kubectl("-n", ns, "apply", *extra, "-f", "-", input=yaml.safe_dump(obj)).stdout.strip()


def test_apply_created_configured_unchanged(cluster: Cluster, ns: str) -> None:
    dep = deployment("ap", replicas=1)
    assert apply(cluster, ns, dep) == "deployment.apps/ap created"
    assert apply(cluster, ns, dep) == "deployment.apps/ap unchanged"
    rv = cluster.json("-n", ns, "get", "deploy", "ap")["metadata"]["resourceVersion"]
    changed = copy.deepcopy(dep)
    changed["spec"]["replicas"] = 3
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert apply(cluster, ns, changed) == "deployment.apps/ap configured"
    got = cluster.json("-n", ns, "get", "deploy", "ap")
    assert got["spec"]["replicas"] == 3
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert got["metadata"]["generation"] >= 2  # (controllers, when running, may bump it further)
    assert int(got["metadata"]["resourceVersion"]) > int(rv)
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]
    assert apply(cluster, ns, changed) == "deployment.apps/ap unchanged"
    # an unchanged apply of a kind no controller writes leaves it untouched
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ap"}, "data": {"k": "v"}}
    assert apply(cluster, ns, cm) == "configmap/ap created"
    rv = cluster.json("-n", ns, "get", "cm", "ap")["metadata"]["resourceVersion"]
    assert apply(cluster, ns, cm) == "configmap/ap unchanged"
    assert cluster.json("-n", ns, "get", "cm", "ap")["metadata"]["resourceVersion"] == rv


def test_apply_strategic_merge_removes_env_and_port(cluster: Cluster, ns: str) -> None:
    full = deployment("smp", env=[{"name": "KEEP", "value": "1"}, {"name": "DROP", "value": "2"}], ports=[80, 443])
    apply(cluster, ns, full)
    # a field set by someone else must survive the apply (SMP touches only what apply owns)
    cluster.kubectl("-n", ns, "annotate", "deploy", "smp", "owner=other")
    less = deployment("smp", env=[{"name": "KEEP", "value": "1"}], ports=[80])
    assert apply(cluster, ns, less) == "deployment.apps/smp configured"
    got = cluster.json("-n", ns, "get", "deploy", "smp")
    c = got["spec"]["template"]["spec"]["containers"][0]
    assert c["env"] == [{"name": "KEEP", "value": "1"}]
    assert [p["containerPort"] for p in c["ports"]] == [80]
    assert got["metadata"]["annotations"]["owner"] == "other"
    # dropping the whole list removes it
    apply(cluster, ns, deployment("smp"))
    c = cluster.json("-n", ns, "get", "deploy", "smp")["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in c and "ports" not in c


def test_label_and_annotate_with_removal(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "lab")
    assert cluster.kubectl("-n", ns, "label", "cm", "lab", "team=blue", "tier=web").stdout.strip() == "configmap/lab labeled"
    assert cluster.kubectl("-n", ns, "get", "cm", "-l", "team=blue", "-o", "name").stdout.split() == ["configmap/lab"]
    taken = cluster.kubectl("-n", ns, "label", "cm", "lab", "team=red", check=False)
    assert taken.returncode != 0 and "--overwrite" in taken.stderr
    cluster.kubectl("-n", ns, "label", "cm", "lab", "team=red", "--overwrite")
    cluster.kubectl("-n", ns, "label", "cm", "lab", "tier-")
    assert cluster.json("-n", ns, "get", "cm", "lab")["metadata"]["labels"] == {"team": "red"}
    assert cluster.kubectl("-n", ns, "annotate", "cm", "lab", "note=hello world").stdout.strip() == "configmap/lab annotated"
    assert cluster.json("-n", ns, "get", "cm", "lab")["metadata"]["annotations"] == {"note": "hello world"}
    cluster.kubectl("-n", ns, "annotate", "cm", "lab", "note-")
    cluster.kubectl("-n", ns, "label", "cm", "lab", "team-")
    meta = cluster.json("-n", ns, "get", "cm", "lab")["metadata"]
    assert not meta.get("annotations") and not meta.get("labels")


def test_patch_strategic_merge_json(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("pt", env=[{"name": "A", "value": "1"}]))
    sm = '{"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}'
    assert cluster.kubectl("-n", ns, "patch", "deploy", "pt", "-p", sm).stdout.strip() == "deployment.apps/pt patched"
    env = cluster.json("-n", ns, "get", "deploy", "pt")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert sorted(e["name"] for e in env) == ["A", "B"]  # merged by name, not replaced
    # a merge patch replaces lists wholesale
    mp = '{"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "busybox"}]}}}}'
    cluster.kubectl("-n", ns, "patch", "deploy", "pt", "--type", "merge", "-p", mp)
    c = cluster.json("-n", ns, "get", "deploy", "pt")["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "busybox" and "env" not in c[0]
    jp = '[{"op": "replace", "path": "/spec/replicas", "value": 4}, {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]'
    cluster.kubectl("-n", ns, "patch", "deploy", "pt", "--type", "json", "-p", jp)
    got = cluster.json("-n", ns, "get", "deploy", "pt")
    assert got["spec"]["replicas"] == 4 and got["metadata"]["labels"]["x"] == "y"
    failed = cluster.kubectl("-n", ns, "patch", "deploy", "pt", "--type", "json",
                             "-p", '[{"op": "test", "path": "/spec/replicas", "value": 9}]', check=False)
    assert failed.returncode != 0
    unchanged = cluster.kubectl("-n", ns, "patch", "deploy", "pt", "--type", "merge", "-p", '{"spec": {"replicas": 4}}')
    assert "no change" in unchanged.stdout


def test_scale_deployment_uses_scale_subresource(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("sc", replicas=1))
    res = cluster.kubectl("-n", ns, "scale", "deployment", "sc", "--replicas=5", "-v=6")
    assert res.stdout.strip() == "deployment.apps/sc scaled"
    assert "/deployments/sc/scale" in res.stderr
    assert cluster.json("-n", ns, "get", "deploy", "sc")["spec"]["replicas"] == 5
    bad = cluster.kubectl("-n", ns, "scale", "deployment", "sc", "--replicas=2", "--current-replicas=3", check=False)
    assert bad.returncode != 0
    assert cluster.json("-n", ns, "get", "deploy", "sc")["spec"]["replicas"] == 5
    scale = json.loads(cluster.kubectl("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/sc/scale").stdout)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5 and scale["status"]["selector"] == "app=sc"


def test_replace_and_stale_replace_conflicts(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "rep", "--from-literal=v=1")
    current = cluster.json("-n", ns, "get", "cm", "rep")
    fresh = copy.deepcopy(current)
    fresh["data"]["v"] = "2"
    out = cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(fresh)).stdout.strip()
    assert out == "configmap/rep replaced"
    assert cluster.json("-n", ns, "get", "cm", "rep")["data"] == {"v": "2"}
    stale = copy.deepcopy(current)  # still carries the first resourceVersion
    stale["data"]["v"] = "3"
    res = cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(stale), check=False)
    assert res.returncode != 0
    assert "Conflict" in res.stderr and "the object has been modified" in res.stderr
    assert cluster.json("-n", ns, "get", "cm", "rep")["data"] == {"v": "2"}


def test_delete_by_name_and_file(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "byname")
    assert cluster.kubectl("-n", ns, "delete", "cm", "byname").stdout.strip() == f'configmap "byname" deleted from {ns} namespace'
    assert cluster.kubectl("-n", ns, "get", "cm", "byname", check=False).returncode != 0
    path = tmp_path / "del.yaml"
    path.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f1", "namespace": ns}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "f2", "namespace": ns}}]))
    cluster.kubectl("create", "-f", str(path))
    out = cluster.kubectl("delete", "-f", str(path)).stdout
    assert 'configmap "f1" deleted' in out and 'secret "f2" deleted' in out
    gone = cluster.kubectl("-n", ns, "get", "cm/f1", "secret/f2", "--ignore-not-found", "-o", "name").stdout
    assert gone.strip() == ""
    missing = cluster.kubectl("-n", ns, "delete", "cm", "never-was", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    for i in range(3):
        cluster.kubectl("-n", ns, "create", "configmap", f"sel-{i}")
    cluster.kubectl("-n", ns, "label", "cm", "sel-0", "sel-1", "doomed=yes")
    out = cluster.kubectl("-n", ns, "delete", "cm", "-l", "doomed=yes").stdout
    assert sorted(out.splitlines()) == [f'configmap "sel-0" deleted from {ns} namespace',
                                          f'configmap "sel-1" deleted from {ns} namespace']
    # (kube-root-ca.crt may be there too once its publisher runs)
    left = set(cluster.kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split()) - {"configmap/kube-root-ca.crt"}
    assert left == {"configmap/sel-2"}
    assert 'configmap "sel-2" deleted' in cluster.kubectl("-n", ns, "delete", "cm", "--all").stdout
    assert "sel-2" not in cluster.kubectl("-n", ns, "get", "cm", "-o", "name").stdout


def test_delete_with_finalizer_waits_for_its_removal(cluster: Cluster, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}}
    cluster.kubectl("-n", ns, "create", "-f", "-", input=yaml.safe_dump(cm))
    out = cluster.kubectl("-n", ns, "delete", "cm", "held", "--wait=false").stdout.strip()
    assert out == f'configmap "held" deleted from {ns} namespace'
    held = cluster.json("-n", ns, "get", "cm", "held")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    # a second delete changes nothing; adding a finalizer to a dying object is refused
    cluster.kubectl("-n", ns, "delete", "cm", "held", "--wait=false")
    add = cluster.kubectl("-n", ns, "patch", "cm", "held", "--type", "merge",
                          "-p", '{"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}', check=False)
    assert add.returncode != 0 and "finalizers" in add.stderr
    cluster.kubectl("-n", ns, "patch", "cm", "held", "--type", "json", "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    assert cluster.kubectl("-n", ns, "get", "cm", "held", check=False).returncode != 0


def test_server_dry_run_changes_nothing(cluster: Cluster, ns: str) -> None:
    out = cluster.kubectl("-n", ns, "create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "json").stdout
    shown = json.loads(out)
    assert shown["metadata"]["name"] == "dry" and shown["data"] == {"a": "b"}
    assert cluster.kubectl("-n", ns, "get", "cm", "dry", check=False).returncode != 0
    cluster.kubectl("-n", ns, "create", "configmap", "real", "--from-literal=a=b")
    before = cluster.json("-n", ns, "get", "cm", "real")
    res = cluster.kubectl("-n", ns, "delete", "cm", "real", "--dry-run=server").stdout
    assert "(server dry run)" in res
    assert cluster.json("-n", ns, "get", "cm", "real")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    dup = cluster.kubectl("-n", ns, "create", "configmap", "real", "--dry-run=server", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    cluster.kubectl("-n", ns, "label", "cm", "real", "x=y", "--dry-run=server")
    assert not cluster.json("-n", ns, "get", "cm", "real")["metadata"].get("labels")


def test_server_side_apply_conflict_and_force(cluster: Cluster, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"owned": "one", "a": "1"}}
    out = apply(cluster, ns, cm, "--server-side", "--field-manager=first")
    assert out == "configmap/ssa serverside-applied"
    managers = {m["manager"] for m in cluster.json("-n", ns, "get", "cm", "ssa", "--show-managed-fields")["metadata"]["managedFields"]}
    assert managers == {"first"}
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"owned": "two"}}
    res = cluster.kubectl("-n", ns, "apply", "--server-side", "--field-manager=second", "-f", "-",
                          input=yaml.safe_dump(theirs), check=False)
    assert res.returncode != 0
    assert "conflict" in res.stderr.lower() and '"first"' in res.stderr and ".data.owned" in res.stderr
    assert cluster.json("-n", ns, "get", "cm", "ssa")["data"]["owned"] == "one"
    apply(cluster, ns, theirs, "--server-side", "--field-manager=second", "--force-conflicts")
    got = cluster.json("-n", ns, "get", "cm", "ssa", "--show-managed-fields")
    assert got["data"] == {"owned": "two", "a": "1"}
    by_manager = {m["manager"]: m["fieldsV1"] for m in got["metadata"]["managedFields"]}
    assert "f:owned" in by_manager["second"]["f:data"] and "f:owned" not in by_manager["first"]["f:data"]
    # the first manager dropping "a" from its config removes it
    apply(cluster, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {}},
          "--server-side", "--field-manager=first")
    assert cluster.json("-n", ns, "get", "cm", "ssa")["data"] == {"owned": "two"}
