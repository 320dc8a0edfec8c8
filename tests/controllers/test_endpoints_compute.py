"""Table-driven tests of the endpoint computations shared by the Endpoints and EndpointSlice
controllers."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.controllers.endpoints import (apiserver_port, compute_subsets, desired_labels, find_port,
                                            kubernetes_subsets, services_for_pod, should_pod_be_in_endpoints,
                                            subsets_equal)
from kubelite.controllers.endpointslice import (CONTROLLER_NAME, MANAGED_BY_LABEL, MIRROR_CONTROLLER_NAME,
                                                SERVICE_NAME_LABEL, desired_groups, kubernetes_slice, mirror_groups,
                                                mirror_labels, reconcile, slice_labels)

Obj = dict[str, Any]


def mkpod(name: str, ip: str | None = "10.42.0.1", *, ready: bool = True, labels: dict[str, str] | None = None,
          ports: list[Obj] | None = None, phase: str = "Running", deleting: bool = False, node: str = "n1",
          hostname: str | None = None, subdomain: str | None = None, ns: str = "default") -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    spec: Obj = {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"metadata": meta, "spec": spec, "status": status}


def mksvc(name: str = "web", *, ports: list[Obj] | None = None, selector: dict[str, str] | None = None,
          cluster_ip: str = "10.43.0.10", publish: bool = False, labels: dict[str, str] | None = None,
          stype: str = "ClusterIP") -> Obj:
    spec: Obj = {"type": stype, "clusterIP": cluster_ip, "selector": {"app": "web"} if selector is None else selector,
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}] if ports is None else ports}
    if publish:
        spec["publishNotReadyAddresses"] = True
    return {"metadata": {"name": name, "namespace": "default", "uid": "svc-uid", "labels": labels or {}}, "spec": spec}


@pytest.mark.parametrize("target,pod_ports,expected", [
    (8080, [], 8080),
    ("8081", [], 8081),
    (None, [], 80),
    ("http", [{"name": "http", "containerPort": 9000}], 9000),
    ("http", [{"name": "http", "containerPort": 9000, "protocol": "UDP"}], None),
    ("metrics", [{"name": "http", "containerPort": 9000}], None),
])
def test_find_port(target: Any, pod_ports: list[Obj], expected: int | None) -> None:
    sp = {"port": 80, "protocol": "TCP"}
    if target is not None:
        sp["targetPort"] = target
    assert find_port(mkpod("a", ports=pod_ports), sp) == expected


def test_find_port_in_sidecar_init_container() -> None:
    p = mkpod("a")
    p["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always",
                                    "ports": [{"name": "proxy", "containerPort": 15001}]},
                                   {"name": "init", "ports": [{"name": "other", "containerPort": 1}]}]
    assert find_port(p, {"targetPort": "proxy", "port": 80}) == 15001
    assert find_port(p, {"targetPort": "other", "port": 80}) is None


@pytest.mark.parametrize("pod,include_terminating,expected", [
    (mkpod("a"), False, True),
    (mkpod("a", ip=None), False, False),
    (mkpod("a", phase="Succeeded"), True, False),
    (mkpod("a", phase="Failed"), True, False),
    (mkpod("a", deleting=True), False, False),
    (mkpod("a", deleting=True), True, True),
])
def test_should_pod_be_in_endpoints(pod: Obj, include_terminating: bool, expected: bool) -> None:
    assert should_pod_be_in_endpoints(pod, include_terminating) is expected


def _ips(subset: Obj, field: str) -> list[str]:
    return [a["ip"] for a in subset.get(field) or []]


def test_ready_and_not_ready_addresses() -> None:
    subsets = compute_subsets(mksvc(), [mkpod("a", "10.42.0.2"), mkpod("b", "10.42.0.1", ready=False),
                                        mkpod("c", None), mkpod("d", "10.42.0.4", deleting=True)])
    assert len(subsets) == 1
    s = subsets[0]
    assert _ips(s, "addresses") == ["10.42.0.2"]
    assert _ips(s, "notReadyAddresses") == ["10.42.0.1"]
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    addr = s["addresses"][0]
    assert addr["nodeName"] == "n1"
    assert addr["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}


def test_named_target_port_groups_addresses_by_port_set() -> None:
    svc = mksvc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                       {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}])
    a = mkpod("a", "10.42.0.5", ports=[{"name": "http", "containerPort": 8080}])
    b = mkpod("b", "10.42.0.6", ready=False)
    c = mkpod("c", "10.42.0.7", ports=[{"name": "http", "containerPort": 8081}])
    subsets = compute_subsets(svc, [a, b, c])
    by_ports = {tuple((p["name"], p["port"]) for p in s["ports"]): s for s in subsets}
    assert set(by_ports) == {(("http", 8080), ("metrics", 9090)), (("http", 8081), ("metrics", 9090)),
                             (("metrics", 9090),)}
    assert _ips(by_ports[(("metrics", 9090),)], "notReadyAddresses") == ["10.42.0.6"]
    assert _ips(by_ports[(("http", 8080), ("metrics", 9090))], "addresses") == ["10.42.0.5"]


def test_publish_not_ready_addresses_includes_unready_and_terminating() -> None:
    subsets = compute_subsets(mksvc(publish=True), [mkpod("a", ready=False), mkpod("b", "10.42.0.9", deleting=True)])
    assert _ips(subsets[0], "addresses") == ["10.42.0.1", "10.42.0.9"]
    assert "notReadyAddresses" not in subsets[0]


def test_headless_service_hostnames_and_portless() -> None:
    svc = mksvc("db", cluster_ip="None", ports=[])
    pods = [mkpod("db-0", "10.42.0.3", hostname="db-0", subdomain="db"),
            mkpod("x", "10.42.0.4", hostname="x", subdomain="other")]
    subsets = compute_subsets(svc, pods)
    assert len(subsets) == 1 and "ports" not in subsets[0]
    by_ip = {a["ip"]: a for a in subsets[0]["addresses"]}
    assert by_ip["10.42.0.3"]["hostname"] == "db-0"
    assert "hostname" not in by_ip["10.42.0.4"]
    assert desired_labels(svc) == {"service.kubernetes.io/headless": ""}


def test_cluster_ip_service_without_ports_has_no_endpoints() -> None:
    assert compute_subsets(mksvc(ports=[]), [mkpod("a")]) == []


def test_services_for_pod() -> None:
    services = [mksvc("web"), mksvc("all", selector={}), mksvc("other", selector={"app": "db"}),
                mksvc("ext", stype="ExternalName")]
    assert services_for_pod(services, mkpod("a")) == ["default/web"]


def test_subsets_equal_ignores_target_resource_version_and_default_protocol() -> None:
    a = [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "p", "resourceVersion": "5"}}],
          "ports": [{"port": 80}]}]
    b = [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "p"}}],
          "ports": [{"port": 80, "protocol": "TCP"}]}]
    assert subsets_equal(a, b)
    assert not subsets_equal(a, [])


def test_kubernetes_service_endpoints_use_target_port() -> None:
    svc = {"spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443, "protocol": "TCP"}]}}
    assert kubernetes_subsets(svc, "192.168.1.10") == [
        {"addresses": [{"ip": "192.168.1.10"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    assert apiserver_port({"spec": {"ports": [{"name": "https", "port": 443}]}})["port"] == 443
    sl = kubernetes_slice(svc, "192.168.1.10")
    assert sl["metadata"]["labels"] == {SERVICE_NAME_LABEL: "kubernetes"}
    assert sl["endpoints"] == [{"addresses": ["192.168.1.10"], "conditions": {"ready": True}}]
    assert sl["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]


# -- EndpointSlices -----------------------------------------------------------------------------

def test_slice_endpoint_conditions_include_terminating_pods() -> None:
    svc = mksvc(labels={"team": "a", SERVICE_NAME_LABEL: "spoof"})
    pods = [mkpod("a", "10.42.0.1"), mkpod("b", "10.42.0.2", ready=False), mkpod("c", "10.42.0.3", deleting=True),
            mkpod("d", "10.42.0.4", phase="Succeeded")]
    nodes = {"n1": {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}}
    groups = desired_groups(svc, pods, nodes)
    assert len(groups) == 1
    (ports, eps), = groups.values()
    assert ports == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conds = {e["targetRef"]["name"]: e["conditions"] for e in eps}
    assert conds == {"a": {"ready": True, "serving": True, "terminating": False},
                     "b": {"ready": False, "serving": False, "terminating": False},
                     "c": {"ready": False, "serving": True, "terminating": True}}
    assert all(e["zone"] == "z1" and e["nodeName"] == "n1" for e in eps)
    assert slice_labels(svc) == {"team": "a", SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME}


def test_publish_not_ready_makes_every_endpoint_ready() -> None:
    (_, eps), = desired_groups(mksvc(publish=True), [mkpod("b", ready=False)], {}).values()
    assert eps[0]["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_dual_stack_service_gets_one_group_per_family() -> None:
    svc = mksvc()
    svc["spec"]["ipFamilies"] = ["IPv4", "IPv6"]
    p = mkpod("a")
    p["status"]["podIPs"] = [{"ip": "10.42.0.1"}, {"ip": "fd00::1"}]
    groups = desired_groups(svc, [p], {})
    assert sorted(k[0] for k in groups) == ["IPv4", "IPv6"]


def _slice(name: str, n_from: int, n: int, svc: Obj) -> Obj:
    eps = [_ep(i) for i in range(n_from, n_from + n)]
    return {"metadata": {"name": name, "namespace": "default", "labels": slice_labels(svc),
                         "ownerReferences": [{"kind": "Service", "uid": "svc-uid"}]},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": eps}


def _ep(i: int) -> Obj:
    return {"addresses": [f"10.1.{i // 250}.{i % 250}"], "conditions": {"ready": True, "serving": True,
                                                                         "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": f"p{i}", "uid": f"u{i:04d}"}}


def test_reconcile_keeps_endpoints_in_place_and_fills_free_room() -> None:
    """The module's worked example: A(100) B(100) C(30); 20 of B's go, 50 new come."""
    svc = mksvc()
    existing = [_slice("web-a", 0, 100, svc), _slice("web-b", 100, 100, svc), _slice("web-c", 200, 30, svc)]
    wanted = [_ep(i) for i in range(0, 100)] + [_ep(i) for i in range(120, 230)] + [_ep(i) for i in range(300, 350)]
    key = ("IPv4", (("http", 8080, "TCP", ""),))
    create, update, delete = reconcile(svc, existing, {key: ([{"name": "http", "port": 8080, "protocol": "TCP"}],
                                                             sorted(wanted, key=lambda e: e["addresses"][0]))})
    assert create == [] and delete == []
    assert sorted(s["metadata"]["name"] for s in update) == ["web-b", "web-c"]
    sizes = {s["metadata"]["name"]: len(s["endpoints"]) for s in update}
    assert sizes == {"web-b": 100, "web-c": 60}


def test_reconcile_splits_into_slices_of_max_size_and_deletes_empty() -> None:
    svc = mksvc()
    key = ("IPv4", (("http", 8080, "TCP", ""),))
    ports = [{"name": "http", "port": 8080, "protocol": "TCP"}]
    create, update, delete = reconcile(svc, [], {key: (ports, [_ep(i) for i in range(7)])}, max_per_slice=3)
    assert [len(s["endpoints"]) for s in create] == [3, 3, 1]
    assert create[0]["metadata"]["generateName"] == "web-"
    assert create[0]["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    # Everything of slice "old" is gone; a different port group replaces it.
    old = _slice("web-old", 0, 2, svc)
    other_key = ("IPv4", (("http", 9090, "TCP", ""),))
    create, update, delete = reconcile(svc, [old], {other_key: ([{"name": "http", "port": 9090, "protocol": "TCP"}],
                                                                [_ep(5)])})
    assert [s["metadata"]["name"] for s in delete] == ["web-old"] and len(create) == 1 and update == []


def test_reconcile_placeholder_when_no_endpoints() -> None:
    svc = mksvc()
    create, update, delete = reconcile(svc, [], {})
    assert len(create) == 1 and create[0]["endpoints"] == [] and create[0]["ports"] == []
    placeholder = {**create[0], "metadata": {**create[0]["metadata"], "name": "web-x"}}
    assert reconcile(svc, [placeholder], {}) == ([], [], [])
    stale = _slice("web-a", 0, 2, svc)
    create, update, delete = reconcile(svc, [placeholder, stale], {})
    assert create == [] and update == [] and [s["metadata"]["name"] for s in delete] == ["web-a"]


def test_reconcile_is_a_fixed_point() -> None:
    svc = mksvc()
    existing = [_slice("web-a", 0, 10, svc)]
    key = ("IPv4", (("http", 8080, "TCP", ""),))
    groups = {key: ([{"name": "http", "port": 8080, "protocol": "TCP"}], [_ep(i) for i in range(10)])}
    assert reconcile(svc, existing, groups) == ([], [], [])


def test_mirror_groups_from_hand_written_endpoints() -> None:
    ep = {"metadata": {"name": "ext", "labels": {"team": "a", "endpointslice.kubernetes.io/skip-mirror": "false"}},
          "subsets": [{"addresses": [{"ip": "192.168.1.2", "hostname": "db"}], "notReadyAddresses": [{"ip": "fd00::2"}],
                       "ports": [{"name": "pg", "port": 5432}]}]}
    groups = mirror_groups(ep)
    v4 = groups[("IPv4", (("pg", 5432, "TCP", ""),))]
    v6 = groups[("IPv6", (("pg", 5432, "TCP", ""),))]
    assert v4 == ([{"name": "pg", "port": 5432, "protocol": "TCP"}],
                  [{"addresses": ["192.168.1.2"], "conditions": {"ready": True}, "hostname": "db"}])
    assert v6[1] == [{"addresses": ["fd00::2"], "conditions": {"ready": False}}]
    assert mirror_labels(ep) == {"team": "a", SERVICE_NAME_LABEL: "ext", MANAGED_BY_LABEL: MIRROR_CONTROLLER_NAME}
    owner = {"apiVersion": "v1", "kind": "Endpoints", "name": "ext", "uid": "ep-uid"}
    create, _, _ = reconcile(mksvc("ext", selector={}), [], groups, labels=mirror_labels(ep), owner=owner)
    assert len(create) == 2 and all(c["metadata"]["ownerReferences"] == [owner] for c in create)
