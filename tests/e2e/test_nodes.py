"""Nodes coming and going, end to end: the real kubectl against ``kubelite server`` with
``kubelite sim`` processes as the nodes. A DaemonSet covers every node and follows one added
later; a node whose sim is killed goes Unknown, gets the unreachable taints, and its pods are
evicted and recreated on the live nodes by their ReplicaSet.

The dead node has a server of its own (``dead_node``): for the ~40 s until the node lifecycle
controller gives up on it, a half-dead node would change what the other tests' scheduler
messages and DaemonSets see. Its slow check runs last (``finish_last``), so the wait overlaps
the rest of the session."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import (Cluster, Sim, apply, deployment_manifest, make_cluster, node_ready, pod_active,
                                pod_ready, pods_of, start_sim)

TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"


def test_daemonset_covers_every_node_and_follows_a_new_one(control_plane: Cluster, wns: str,
                                                           tmp_path: Path) -> None:
    k = control_plane
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"terminationGracePeriodSeconds": 1,
                                         "containers": [{"name": "agent", "image": "busybox"}]}}}}
    apply(k, wns, ds)
    k.kubectl("-n", wns, "rollout", "status", "daemonset/agent", "--timeout=60s")

    def coverage(count: int) -> dict[str, dict] | None:
        pods = [p for p in pods_of(k, wns, "app=agent") if pod_active(p) and pod_ready(p)]
        st = k.json("-n", wns, "get", "daemonset", "agent")["status"]
        if len(pods) != count or (st.get("desiredNumberScheduled"), st.get("numberReady")) != (count, count):
            return None
        return {p["spec"]["nodeName"]: p for p in pods}

    on = k.wait_for(lambda: coverage(3), timeout=30, what="one agent per node")
    assert sorted(on) == ["node-0", "node-1", "node-2"]
    pod = on["node-0"]
    # the DaemonSet pins each pod to its node by affinity and adds the daemon tolerations
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["node-0"]
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert {(TAINT_NOT_READY, "NoExecute"), (TAINT_UNREACHABLE, "NoExecute")} <= tolerated

    extra = Sim(cluster=k, prefix="extra", nodes=1, args=["--zones", "zone-a"],
                log_path=tmp_path / "sim-extra.log").start()
    try:
        on = k.wait_for(lambda: coverage(4), timeout=30, what="an agent on the new node")
        assert sorted(on) == ["extra-0", "node-0", "node-1", "node-2"]
    finally:
        extra.stop()
        k.kubectl("delete", "node", "extra-0", "--timeout=30s", check=False)
    k.wait_for(lambda: k.json("-n", wns, "get", "daemonset", "agent")["status"].get("desiredNumberScheduled") == 3,
               timeout=30, what="the DaemonSet to forget the removed node")


# -- a node that dies -------------------------------------------------------------------------

@dataclass
class DeadNode:
    cluster: Cluster
    ns: str
    pods: dict[str, str]  # the pods that ran on the dead node: name -> uid
    replicaset: str
    killed_at: float
    live: Sim
    doomed: Sim


@pytest.fixture(scope="session")
def dead_node(tmp_path_factory: pytest.TempPathFactory):
    """A server of its own; three pods of a Deployment run on ``doomed-0``, the only node when
    they were created; then two live nodes join and the doomed node's sim is killed -9."""
    c = make_cluster(tmp_path_factory.mktemp("dead-node"))
    c.start()
    sims: list[Sim] = []
    try:
        sims.append(start_sim(c, "doomed", 1, "--zones", "zone-a"))
        ns = "mover-" + uuid.uuid4().hex[:6]
        c.kubectl("create", "namespace", ns)
        fast = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
                for key in (TAINT_UNREACHABLE, TAINT_NOT_READY)]
        apply(c, ns, deployment_manifest("mover", 3, tolerations=fast))
        c.kubectl("-n", ns, "rollout", "status", "deployment/mover", "--timeout=60s")
        pods = pods_of(c, ns, "app=mover")
        sims.append(start_sim(c, "live", 2, "--zones", "zone-b,zone-c"))
        sims[0].kill9()
        yield DeadNode(cluster=c, ns=ns, pods={p["metadata"]["name"]: p["metadata"]["uid"] for p in pods},
                       replicaset=pods[0]["metadata"]["ownerReferences"][0]["name"], killed_at=time.monotonic(),
                       live=sims[1], doomed=sims[0])
    finally:
        for sim in sims:
            sim.stop()
        c.stop()


def test_pods_ran_on_the_node_before_it_died(dead_node: DeadNode) -> None:
    c, ns = dead_node.cluster, dead_node.ns
    assert dead_node.doomed.proc is not None and dead_node.doomed.proc.returncode == -9
    pods = pods_of(c, ns, "app=mover")
    assert {p["metadata"]["name"] for p in pods} == set(dead_node.pods)
    assert all(p["spec"]["nodeName"] == "doomed-0" and p["status"]["phase"] == "Running" for p in pods)


@pytest.mark.finish_last
def test_dead_nodes_pods_move_to_the_live_nodes(dead_node: DeadNode) -> None:
    c, ns = dead_node.cluster, dead_node.ns
    # node monitor grace 40 s from the last lease renewal, then 1 s of toleration
    timeout = max(10.0, dead_node.killed_at + 75 - time.monotonic())

    def moved() -> list[dict] | None:
        pods = pods_of(c, ns, "app=mover")
        live = [p for p in pods if pod_active(p) and pod_ready(p)]
        if len(live) == 3 and all(p["spec"]["nodeName"] in ("live-0", "live-1") for p in live):
            return pods
        return None

    pods = c.wait_for(moved, timeout=timeout, interval=1, what="the pods to be recreated on live nodes")
    node = c.json("get", "node", "doomed-0")
    assert node_ready(node) == "Unknown"
    ready = next(cond for cond in node["status"]["conditions"] if cond["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or ()}
    assert {(TAINT_UNREACHABLE, "NoExecute"), (TAINT_UNREACHABLE, "NoSchedule")} <= taints
    assert "NotReady" in c.kubectl("get", "node", "doomed-0", "--no-headers").stdout

    # the old pods were evicted (their kubelet is gone, so they stay Terminating) ...
    old = [p for p in pods if p["metadata"]["name"] in dead_node.pods]
    for pod in old:
        assert pod["metadata"].get("deletionTimestamp"), pod["metadata"]["name"]
        target = next(cond for cond in pod["status"]["conditions"] if cond["type"] == "DisruptionTarget")
        assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
    # ... and the same ReplicaSet replaced them
    new = [p for p in pods if p["metadata"]["name"] not in dead_node.pods]
    assert len(new) == 3 and not set(dead_node.pods.values()) & {p["metadata"]["uid"] for p in new}
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in new} == {dead_node.replicaset}
    dep = c.json("-n", ns, "get", "deployment", "mover")["status"]
    assert dep["availableReplicas"] == 3

    # the machine comes back: Ready again, taints gone, and its kubelet finishes the evictions
    dead_node.doomed.start()
    c.wait_for(lambda: not [t for t in c.json("get", "node", "doomed-0")["spec"].get("taints") or ()
                            if t["key"] == TAINT_UNREACHABLE], timeout=30, what="the unreachable taints to go")
    c.wait_for(lambda: not set(dead_node.pods) & {p["metadata"]["name"] for p in pods_of(c, ns, "app=mover")},
               timeout=30, what="the evicted pods to be removed")
