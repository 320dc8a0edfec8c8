"""Pure pod logic: IP pools, admission, and the statuses a simulated kubelet writes."""
from __future__ import annotations

import pytest

from kubelite.api.helpers.resources import pod_requests
from kubelite.sim import pods as P


def make_pod(*containers: dict, init: tuple[dict, ...] = (), **spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": list(containers), "initContainers": list(init), **spec},
            "status": {"phase": "Pending", "qosClass": "Burstable"}}


def c(name: str, image: str = "nginx", **requests: str) -> dict:
    out: dict = {"name": name, "image": image}
    if requests:
        out["resources"] = {"requests": {k.replace("_", "-"): v for k, v in requests.items()}}
    return out


def test_ip_pool_round_robin_reuse_and_reserve() -> None:
    pool = P.PodIPPool("10.64.0.0/30")  # two usable addresses
    assert pool.allocate("a") == "10.64.0.1"
    assert pool.allocate("a") == "10.64.0.1"  # idempotent per key
    assert pool.allocate("b") == "10.64.0.2"
    assert pool.allocate("c") is None
    pool.release("a")
    assert pool.allocate("c") == "10.64.0.1"
    pool2 = P.PodIPPool("10.64.1.0/24")
    assert pool2.reserve("x", "10.64.1.7") and pool2.get("x") == "10.64.1.7"
    assert not pool2.reserve("y", "10.64.1.7")  # taken
    assert not pool2.reserve("y", "10.99.0.1") and not pool2.reserve("y", "bogus")
    pool2.release("x")
    assert pool2.reserve("y", "10.64.1.7")


@pytest.mark.parametrize("image, want", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("ghcr.io/a/b@sha256:abc", "ghcr.io/a/b@sha256:abc"),
])
def test_normalize_image(image, want) -> None:
    assert P.normalize_image(image) == want


def test_running_status() -> None:
    pod = make_pod(c("zeta"), c("alpha", "busybox"), init=(c("setup"), {**c("proxy"), "restartPolicy": "Always"}))
    pod["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "False"}]
    st = P.running_status(pod, pod_ip="10.64.0.9", host_ip="10.200.0.1", now="T")
    assert st["phase"] == "Running" and st["podIP"] == "10.64.0.9" and st["hostIPs"] == [{"ip": "10.200.0.1"}]
    assert st["qosClass"] == "Burstable" and st["startTime"] == "T"
    types = {x["type"]: x["status"] for x in st["conditions"]}
    assert types == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True", "DisruptionTarget": "False"}
    assert [s["name"] for s in st["containerStatuses"]] == ["alpha", "zeta"]
    assert all(s["ready"] and s["started"] and s["state"]["running"]["startedAt"] == "T"
               for s in st["containerStatuses"])
    setup, proxy = st["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed" and not setup["started"]
    assert proxy["state"]["running"] and proxy["started"]
    assert st["containerStatuses"][0]["containerID"] != st["containerStatuses"][1]["containerID"]


def test_readiness_gates() -> None:
    pod = make_pod(c("a"), readinessGates=[{"conditionType": "example.com/lb"}])
    st = P.running_status(pod, pod_ip="10.64.0.9", host_ip="10.200.0.1", now="T")
    ready = next(x for x in st["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ReadinessGatesNotReady"
    pod["status"] = {**st, "conditions": st["conditions"] + [{"type": "example.com/lb", "status": "True"}]}
    assert P.ready_mismatch(pod)
    st2 = P.running_status(pod, pod_ip="10.64.0.9", host_ip="10.200.0.1", now="T2")
    assert next(x for x in st2["conditions"] if x["type"] == "Ready")["status"] == "True"


def test_succeeded_and_rejected_status() -> None:
    pod = make_pod(c("a"), init=(c("i"),), restartPolicy="Never")
    pod["status"] = P.running_status(pod, pod_ip="10.64.0.9", host_ip="10.200.0.1", now="T0")
    st = P.succeeded_status(pod, now="T1")
    assert st["phase"] == "Succeeded" and st["podIP"] == "10.64.0.9"
    cs = st["containerStatuses"][0]
    assert cs["state"]["terminated"] == {"exitCode": 0, "reason": "Completed", "containerID": cs["containerID"],
                                         "startedAt": "T0", "finishedAt": "T1"}
    conds = {x["type"]: x for x in st["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "PodCompleted"
    assert conds["PodScheduled"]["lastTransitionTime"] == "T0"  # unchanged status keeps its time
    rej = P.rejected_status(pod, "OutOfcpu", "no", host_ip="10.200.0.1", now="T")
    assert rej["phase"] == "Failed" and rej["reason"] == "OutOfcpu"
    patch = P.status_patch(pod, rej)
    assert patch["metadata"] == {"uid": "u1"}


def test_slim_pod_keeps_what_statuses_read() -> None:
    pod = make_pod(c("a", cpu="1"), init=(c("i"),), restartPolicy="Never", hostNetwork=True,
                   volumes=[{"name": "v"}], nodeName="n")
    pod["metadata"].update(labels={"x": "y"}, managedFields=[{}], deletionTimestamp="T",
                           deletionGracePeriodSeconds=5, resourceVersion="7")
    pod["spec"]["containers"][0]["env"] = [{"name": "E", "value": "v"}]
    slim = P.slim_pod(pod)
    assert "labels" not in slim["metadata"] and "managedFields" not in slim["metadata"]
    assert slim["metadata"]["deletionGracePeriodSeconds"] == 5 and slim["metadata"]["resourceVersion"] == "7"
    assert "volumes" not in slim["spec"] and "env" not in slim["spec"]["containers"][0]
    assert pod_requests(slim) == pod_requests(pod)
    now = "T"
    assert P.running_status(slim, pod_ip="1.2.3.4", host_ip="1.2.3.4", now=now) == \
        P.running_status(pod, pod_ip="1.2.3.4", host_ip="1.2.3.4", now=now)
