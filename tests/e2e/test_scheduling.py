"""The scheduler end to end: the real kubectl against ``kubelite server`` with three simulated
nodes of 4 CPUs (``control_plane``: node-0/1/2 in zone-a/b/c). Resource fit and the
FailedScheduling event kubectl shows, taints and tolerations (NoSchedule and NoExecute),
nodeSelector and node affinity, topology spread over zones -- and pods left Pending getting
scheduled once the cluster changes (scale-down, node label, uncordon)."""
from __future__ import annotations

from collections import Counter

from tests.e2e.conftest import Cluster, apply, deployment_manifest, pod_active, pod_ready, pods_of

ZONE = "topology.kubernetes.io/zone"
ZONE_OF = {"node-0": "zone-a", "node-1": "zone-b", "node-2": "zone-c"}


def _pod(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "nginx"}], **spec}}


def _cpu(request: str) -> dict:
    return {"requests": {"cpu": request}}


def _scheduling_failure(k: Cluster, ns: str, pod: str) -> str:
    """The latest FailedScheduling message for ``pod`` (waits for one)."""
    def message() -> str | None:
        events = k.json("-n", ns, "get", "events", "--field-selector",
                        f"reason=FailedScheduling,involvedObject.name={pod}")["items"]
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return events[-1]["message"] if events else None
    return k.wait_for(message, timeout=30, what=f"a FailedScheduling event for {pod}")


def _running_on(k: Cluster, ns: str, selector: str, count: int) -> list[str]:
    """Wait until ``count`` active pods matching ``selector`` run Ready; their nodes."""
    def nodes() -> list[str] | None:
        pods = [p for p in pods_of(k, ns, selector) if pod_active(p)]
        ok = len(pods) == count and all(pod_ready(p) for p in pods)
        return sorted(p["spec"]["nodeName"] for p in pods) if ok else None
    return k.wait_for(nodes, timeout=30, what=f"{count} running pods of {selector}")


def _node_count(k: Cluster) -> int:
    return len(k.json("get", "nodes")["items"])


def test_pod_that_fits_nowhere_stays_pending_with_a_reason(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    n = _node_count(k)
    apply(k, wns, _pod("huge", containers=[{"name": "app", "image": "nginx", "resources": _cpu("1000")}]))
    msg = _scheduling_failure(k, wns, "huge")
    assert msg.startswith(f"0/{n} nodes are available: {n} Insufficient cpu."), msg
    pod = k.json("-n", wns, "get", "pod", "huge")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    described = k.kubectl("-n", wns, "describe", "pod", "huge").stdout
    assert "FailedScheduling" in described and f"{n} Insufficient cpu" in described
    assert "Pending" in k.kubectl("-n", wns, "get", "pod", "huge", "--no-headers").stdout


def test_requests_are_accounted_and_a_freed_node_takes_the_pending_pod(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    hog = deployment_manifest("hog", 3)
    hog["spec"]["template"]["spec"]["containers"][0]["resources"] = _cpu("3")
    apply(k, wns, hog)
    # 3 CPUs of 4 per pod: necessarily one per node
    assert _running_on(k, wns, "app=hog", 3) == ["node-0", "node-1", "node-2"]
    apply(k, wns, _pod("late", containers=[{"name": "app", "image": "nginx", "resources": _cpu("2")}]))
    msg = _scheduling_failure(k, wns, "late")
    assert msg.startswith("0/3 nodes are available: 3 Insufficient cpu."), msg
    k.kubectl("-n", wns, "scale", "deployment/hog", "--replicas=2")
    k.wait_for(lambda: len(pods_of(k, wns, "app=hog")) == 2, timeout=30, what="a hog pod to go")
    freed = set(ZONE_OF) - {p["spec"]["nodeName"] for p in pods_of(k, wns, "app=hog")}
    assert _running_on(k, wns, "app=late", 1) == sorted(freed)


def test_taints_repel_pods_without_tolerations(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    k.kubectl("taint", "nodes", "node-2", "dedicated=infra:NoSchedule")
    try:
        apply(k, wns, deployment_manifest("plain", 6))
        assert "node-2" not in _running_on(k, wns, "app=plain", 6)

        pinned = {"kubernetes.io/hostname": "node-2"}
        apply(k, wns, _pod("intolerant", nodeSelector=pinned))
        msg = _scheduling_failure(k, wns, "intolerant")
        assert msg.startswith("0/3 nodes are available:"), msg
        assert "1 node(s) had untolerated taint {dedicated: infra}" in msg, msg
        assert "2 node(s) didn't match Pod's node affinity/selector" in msg, msg

        tolerate = [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]
        apply(k, wns, _pod("tolerant", nodeSelector=pinned, tolerations=tolerate))
        assert _running_on(k, wns, "app=tolerant", 1) == ["node-2"]

        # NoExecute evicts the running pods that do not tolerate it
        k.kubectl("taint", "nodes", "node-2", "evict=now:NoExecute")
        k.wait_for(lambda: k.kubectl("-n", wns, "get", "pod", "tolerant", check=False).returncode != 0, timeout=30,
                   what="the pod without a NoExecute toleration to be evicted")
    finally:
        for taint in ("dedicated-", "evict-"):  # one at a time: a missing one fails the command
            k.kubectl("taint", "nodes", "node-2", taint, check=False)
    assert not k.json("get", "node", "node-2")["spec"].get("taints")


def test_node_selector_and_node_affinity(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, deployment_manifest("in-b", 3, nodeSelector={ZONE: "zone-b"}))
    not_a = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": ZONE, "operator": "NotIn", "values": ["zone-a"]}]}]}}}
    apply(k, wns, deployment_manifest("not-a", 6, affinity=not_a))
    assert _running_on(k, wns, "app=in-b", 3) == ["node-1"] * 3
    assert "node-0" not in _running_on(k, wns, "app=not-a", 6)

    # a selector nothing matches: Pending until a node gets the label
    apply(k, wns, _pod("wants-ssd", nodeSelector={"disk": "ssd"}))
    msg = _scheduling_failure(k, wns, "wants-ssd")
    assert msg.startswith("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."), msg
    k.kubectl("label", "nodes", "node-0", "disk=ssd")
    try:
        assert _running_on(k, wns, "app=wants-ssd", 1) == ["node-0"]
    finally:
        k.kubectl("label", "nodes", "node-0", "disk-", check=False)


def _spread(name: str, replicas: int) -> dict:
    """A Deployment drawn to zone-a (preferred affinity) but bound by maxSkew 1 across zones."""
    pull = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-a"]}]}}]}}
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": name}}}]
    return deployment_manifest(name, replicas, affinity=pull, topologySpreadConstraints=spread)


def test_topology_spread_over_zones(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, _spread("spread", 7))
    nodes = _running_on(k, wns, "app=spread", 7)
    assert sorted(Counter(ZONE_OF[n] for n in nodes).values()) == [2, 2, 3], nodes


def test_topology_spread_counts_a_cordoned_zone(control_plane: Cluster, wns: str) -> None:
    """zone-c's only node is cordoned: it still counts as a domain with no pods (nodeTaintsPolicy
    Ignore), so zones a and b may hold one pod each; the rest waits until the uncordon."""
    k = control_plane
    k.kubectl("cordon", "node-2")
    try:
        apply(k, wns, _spread("capped", 5))

        def placed() -> list[str] | None:
            pods = pods_of(k, wns, "app=capped")
            bound = sorted(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName"))
            return bound if len(pods) == 5 and len(bound) == 2 else None

        assert k.wait_for(placed, timeout=30, what="two pods bound") == ["node-0", "node-1"]
        pending = next(p["metadata"]["name"] for p in pods_of(k, wns, "app=capped") if not p["spec"].get("nodeName"))
        msg = _scheduling_failure(k, wns, pending)
        assert "2 node(s) didn't match pod topology spread constraints" in msg, msg
        assert "1 node(s) were unschedulable" in msg or "node.kubernetes.io/unschedulable" in msg, msg
    finally:
        k.kubectl("uncordon", "node-2")
    nodes = _running_on(k, wns, "app=capped", 5)
    assert sorted(Counter(ZONE_OF[n] for n in nodes).values()) == [1, 2, 2], nodes
