"""The embedded node agent end to end: ``kubelite server`` (agent on, the process runtime, real
processes) driven by the real kubectl. Periods are short so the whole module stays well under
two minutes; every pod runs on the host network, so ports are picked free on 127.0.0.1."""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, agent_cluster, free_port

NODE = "e2e-agent"
PYTHON = sys.executable      # the test's interpreter: the in-cluster client test needs its packages
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    with agent_cluster(tmp_path_factory.mktemp("agent"), NODE, "--kubelet-arg", "node-status-update-frequency=2s") as c:
        yield c


def apply(c: Cluster, obj: dict) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps(obj))


def pod(name: str, command: list[str], **spec: object) -> dict:
    containers = spec.pop("containers", None) or [{"name": "main", "image": "host", "command": command,
                                                   **spec.pop("container", {})}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


def status(c: Cluster, name: str) -> dict:
    return c.json("get", "pod", name)["status"]


def container(c: Cluster, name: str) -> dict:
    return (status(c, name).get("containerStatuses") or [{}])[0]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.read().decode()


def test_node_reports_machine(node: Cluster) -> None:
    n = node.json("get", "node", NODE)
    assert n["status"]["capacity"]["cpu"] == str(os.cpu_count())
    assert n["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("process://")
    assert n["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
    lease = node.json("get", "lease", "-n", "kube-node-lease", NODE)
    assert lease["spec"]["holderIdentity"] == NODE


def test_deployment_serves_http(node: Cluster, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "index.html").write_text("hello from kubelite\n")
    apply(node, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                              "terminationGracePeriodSeconds": 2,
                              "containers": [{"name": "http", "image": "python",
                                              "command": [PYTHON, "-m", "http.server", str(port),
                                                          "--bind", "127.0.0.1", "--directory", str(tmp_path)],
                                              "readinessProbe": {"httpGet": {"path": "/", "port": port},
                                                                 "periodSeconds": 1}}]}}}})
    node.kubectl("rollout", "status", "deployment/web", "--timeout=40s")
    assert get(f"http://127.0.0.1:{port}/index.html") == "hello from kubelite\n"
    out = node.kubectl("get", "pods", "-l", "app=web").stdout
    assert "1/1" in out and "Running" in out
    # the agent restarting (the whole server here) leaves the pod running and re-adopts it
    name = node.json("get", "pods", "-l", "app=web")["items"][0]["metadata"]["name"]
    before = container(node, name)["containerID"]
    node.stop()
    assert get(f"http://127.0.0.1:{port}/index.html") == "hello from kubelite\n"
    node.start()
    node.wait_for(lambda: container(node, name).get("ready"), timeout=30, what="ready after restart")
    assert container(node, name)["containerID"] == before
    assert container(node, name)["restartCount"] == 0
    assert get(f"http://127.0.0.1:{port}/index.html") == "hello from kubelite\n"


def test_crashloop_backoff_grows(node: Cluster) -> None:
    apply(node, pod("crash", ["sh", "-c", "exit 3"]))

    def waiting_message() -> str | None:
        w = (container(node, "crash").get("state") or {}).get("waiting") or {}
        return w.get("message") if w.get("reason") == "CrashLoopBackOff" else None

    first = node.wait_for(waiting_message, timeout=20, what="CrashLoopBackOff")
    assert first.startswith("back-off 10s restarting failed container=main pod=crash_default(")
    node.wait_for(lambda: "back-off 20s" in (waiting_message() or ""), timeout=25, what="back-off 20s")
    cs = container(node, "crash")
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] >= 2
    assert "CrashLoopBackOff" in node.kubectl("get", "pod", "crash").stdout
    events = node.kubectl("get", "events", "--field-selector", "involvedObject.name=crash").stdout
    assert "BackOff" in events and "Back-off restarting failed container main" in events


def test_readiness_and_liveness(node: Cluster) -> None:
    apply(node, pod("unready", ["sleep", "3600"],
                    container={"readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1}}))
    apply(node, pod("unlive", ["sleep", "3600"],
                    container={"livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1,
                                                 "failureThreshold": 2}}))
    node.wait_for(lambda: status(node, "unready").get("phase") == "Running", what="unready Running")
    time.sleep(2.5)
    st = status(node, "unready")
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "False"
    assert st["containerStatuses"][0]["ready"] is False
    node.wait_for(lambda: container(node, "unlive").get("restartCount", 0) >= 1, timeout=20, what="liveness restart")
    events = node.kubectl("describe", "pod", "unlive").stdout
    assert "Liveness probe failed" in events and "failed liveness probe, will be restarted" in events


def test_memory_hog_is_oom_killed(node: Cluster) -> None:
    apply(node, pod("hog", [PYTHON, "-c", "b = bytearray(512 * 1024 * 1024); import time; time.sleep(60)"],
                    restartPolicy="Never",
                    container={"resources": {"limits": {"memory": "64Mi"}}}))
    node.wait_for(lambda: status(node, "hog").get("phase") == "Failed", timeout=30, what="hog Failed")
    term = container(node, "hog")["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137


def test_delete_runs_prestop_and_honours_grace(node: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    apply(node, pod("stubborn", ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"],
                    terminationGracePeriodSeconds=3,
                    volumes=[{"name": "out", "hostPath": {"path": str(out)}}],
                    container={"volumeMounts": [{"name": "out", "mountPath": "/out"}],
                               "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo bye > /out/prestop"]}}}}))
    node.wait_for(lambda: status(node, "stubborn").get("phase") == "Running", what="Running")
    t0 = time.monotonic()
    node.kubectl("delete", "pod", "stubborn", "--timeout=20s")
    took = time.monotonic() - t0
    assert (out / "prestop").read_text() == "bye\n"
    assert 2.5 <= took < 12, took


def test_job_pod_succeeds(node: Cluster) -> None:
    node.kubectl("create", "job", "once", "--image=host", "--", "sh", "-c", "echo done")
    node.kubectl("wait", "--for=condition=complete", "job/once", "--timeout=40s")
    pods = node.json("get", "pods", "-l", "job-name=once")["items"]
    assert pods[0]["status"]["phase"] == "Succeeded"
    assert pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_configmap_and_secret_as_env_and_files(node: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    node.kubectl("create", "configmap", "app-config", "--from-literal=greeting=hello")
    node.kubectl("create", "secret", "generic", "app-secret", "--from-literal=password=s3cret")
    script = ('echo "$GREETING $PASSWORD" > /out/env; cat /etc/secret/password > /out/secret; '
              'cat /var/run/secrets/kubernetes.io/serviceaccount/namespace > /out/ns; '
              'while true; do cat /etc/config/greeting > /out/cm.tmp; mv /out/cm.tmp /out/cm; sleep 0.2; done')
    apply(node, pod("configured", ["sh", "-c", script],
                    volumes=[{"name": "out", "hostPath": {"path": str(out)}},
                             {"name": "cfg", "configMap": {"name": "app-config"}},
                             {"name": "sec", "secret": {"secretName": "app-secret"}}],
                    container={"env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app-config",
                                                                                              "key": "greeting"}}},
                                       {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret",
                                                                                           "key": "password"}}}],
                               "volumeMounts": [{"name": "out", "mountPath": "/out"},
                                                {"name": "cfg", "mountPath": "/etc/config"},
                                                {"name": "sec", "mountPath": "/etc/secret", "readOnly": True}]}))
    node.wait_for(lambda: (out / "ns").exists() and (out / "ns").read_text(), timeout=30, what="files written")
    assert (out / "env").read_text() == "hello s3cret\n"
    assert (out / "cm").read_text() == "hello" and (out / "secret").read_text() == "s3cret"
    assert (out / "ns").read_text() == "default"
    # an update of the ConfigMap reaches the running container's files (the env stays as started)
    node.kubectl("patch", "configmap", "app-config", "-p", '{"data":{"greeting":"updated"}}')
    node.wait_for(lambda: (out / "cm").read_text() == "updated", timeout=20, what="updated file in the pod")


def test_in_cluster_python_client_lists_pods(node: Cluster, tmp_path: Path) -> None:
    pytest.importorskip("kubernetes")
    out = tmp_path / "out"
    out.mkdir()
    node.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    node.kubectl("create", "rolebinding", "pod-reader", "--role=pod-reader", "--serviceaccount=default:default")
    script = ("from kubernetes import client, config\n"
              "config.load_incluster_config()\n"
              "pods = client.CoreV1Api().list_namespaced_pod('default').items\n"
              "open('/out/result', 'w').write(' '.join(sorted(p.metadata.name for p in pods)))\n")
    apply(node, pod("insider", [PYTHON, "-c", script], restartPolicy="Never",
                    volumes=[{"name": "out", "hostPath": {"path": str(out)}}],
                    container={"volumeMounts": [{"name": "out", "mountPath": "/out"}]}))
    node.wait_for(lambda: status(node, "insider").get("phase") in ("Succeeded", "Failed"), timeout=40, what="done")
    assert status(node, "insider")["phase"] == "Succeeded", status(node, "insider")
    assert "insider" in (out / "result").read_text().split()


def test_cordon_and_drain(node: Cluster) -> None:
    apply(node, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "drained"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "drained"}},
                          "template": {"metadata": {"labels": {"app": "drained"}}, "spec": {
                              "terminationGracePeriodSeconds": 1,
                              "containers": [{"name": "c", "image": "host", "command": ["sleep", "3600"]}]}}}})
    node.kubectl("rollout", "status", "deployment/drained", "--timeout=30s")
    first = node.json("get", "pods", "-l", "app=drained")["items"][0]["metadata"]["name"]
    node.kubectl("drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--pod-selector=app=drained",
                 "--timeout=30s")
    try:
        assert node.json("get", "node", NODE)["spec"]["unschedulable"] is True
        pods = node.json("get", "pods", "-l", "app=drained")["items"]
        assert first not in [p["metadata"]["name"] for p in pods]          # evicted and gone
        assert all(p["status"].get("phase") == "Pending" for p in pods)    # the replacement cannot schedule
    finally:
        node.kubectl("uncordon", NODE)
    node.kubectl("rollout", "status", "deployment/drained", "--timeout=30s")


def test_init_containers_and_sidecar(node: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mounts = [{"name": "out", "mountPath": "/out"}]
    apply(node, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "layered"}, "spec": {
        "terminationGracePeriodSeconds": 1, "volumes": [{"name": "out", "hostPath": {"path": str(out)}}],
        "initContainers": [
            {"name": "first", "image": "host", "command": ["sh", "-c", "echo first >> /out/order"], "volumeMounts": mounts},
            {"name": "side", "image": "host", "restartPolicy": "Always", "volumeMounts": mounts,
             "command": ["sh", "-c", "echo side >> /out/order; exec sleep 3600"],
             "startupProbe": {"exec": {"command": ["test", "-f", "/out/order"]}, "periodSeconds": 1}},
            {"name": "second", "image": "host", "command": ["sh", "-c", "echo second >> /out/order"],
             "volumeMounts": mounts}],
        "containers": [{"name": "main", "image": "host", "volumeMounts": mounts,
                        "command": ["sh", "-c", "echo main >> /out/order; exec sleep 3600"]}]}})
    node.wait_for(lambda: "2/2" in node.kubectl("get", "pod", "layered").stdout, timeout=30, what="2/2 Ready")
    assert (out / "order").read_text().split() == ["first", "side", "second", "main"]
    inits = {s["name"]: s for s in status(node, "layered")["initContainerStatuses"]}
    assert inits["first"]["state"]["terminated"]["reason"] == "Completed"
    assert "running" in inits["side"]["state"] and inits["side"]["started"]
