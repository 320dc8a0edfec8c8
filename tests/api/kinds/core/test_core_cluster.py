"""Namespaces, Nodes, Events, Endpoints and ServiceAccounts."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.core.endpoints import ENDPOINTS, format_endpoints
from kubelite.api.kinds.core.event import EVENT
from kubelite.api.kinds.core.namespace import NAMESPACE
from kubelite.api.kinds.core.node import NODE, node_roles
from kubelite.api.kinds.core.serviceaccount import SERVICE_ACCOUNT
from kubelite.api.validation import validate_object_meta
from tests.api.kinds.core.builders import NOW, create, fields, meta, update


# --- Namespace -----------------------------------------------------------------------------------

def ns(name: str = "team-a", **body: object) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, namespace=None), **body}


def test_namespace_create() -> None:
    n = ns(spec={"finalizers": ["example.com/cleanup"]}, status={"phase": "Terminating"})
    assert create(NAMESPACE, n) == []
    assert n["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert n["spec"]["finalizers"] == ["example.com/cleanup", "kubernetes"]
    assert n["status"] == {"phase": "Active"}


def test_namespace_name_and_finalizers() -> None:
    rule = NAMESPACE.strategy.name_validator  # type: ignore[attr-defined]
    assert fields(validate_object_meta({"name": "a.b"}, namespaced=False, name_validator=rule)) == ["metadata.name"]
    n = ns(spec={"finalizers": ["custom"]})
    errs = create(NAMESPACE, n)
    assert [(e.field, e.message) for e in errs] == [
        ("spec.finalizers[0]", 'Invalid value: "custom": name is neither a standard finalizer name nor is it fully '
                               'qualified')]


def test_namespace_update_keeps_finalizers_and_label() -> None:
    old = ns()
    create(NAMESPACE, old)
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    new["metadata"]["labels"] = {"team": "a"}
    assert update(NAMESPACE, new, old) == []
    assert new["spec"]["finalizers"] == ["kubernetes"]
    assert new["metadata"]["labels"] == {"team": "a", "kubernetes.io/metadata.name": "team-a"}


def test_namespace_deletion_hooks_and_status_rules() -> None:
    n = ns()
    create(NAMESPACE, n)
    assert NAMESPACE.strategy.deletion_blocked(n) is True
    NAMESPACE.strategy.mark_deleted(n)
    assert n["status"]["phase"] == "Terminating"
    n["spec"]["finalizers"] = []
    assert NAMESPACE.strategy.deletion_blocked(n) is False

    old = ns()
    create(NAMESPACE, old)
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Terminating"}
    NAMESPACE.strategy.prepare_for_status_update(new, old)
    assert [(e.field, e.message) for e in NAMESPACE.strategy.validate_update(new, old)] == [
        ("status.Phase", 'Invalid value: "Terminating": may only be \'Active\' if `deletionTimestamp` is empty')]


def test_namespace_table_and_type() -> None:
    n = ns()
    create(NAMESPACE, n)
    assert NAMESPACE.strategy.row(n, NOW) == ["team-a", "Active", "5m"]
    assert NAMESPACE.strategy.field_labels(n) == {"status.phase": "Active"}
    assert NAMESPACE.namespaced is False and NAMESPACE.short_names == ("ns",)
    assert "deletecollection" not in NAMESPACE.verbs


# --- Node ------------------------------------------------------------------------------------------

def node(**status: object) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": meta("n1", namespace=None, labels={"node-role.kubernetes.io/control-plane": "",
                                                           "kubernetes.io/role": "worker"}),
            "spec": {}, "status": {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                              {"type": "Hostname", "address": "n1"}],
                "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "kernelVersion": "6.1.0", "containerRuntimeVersion": "kubelite://0.1"},
                **status}}


def test_node_create_keeps_status_and_defaults_allocatable() -> None:
    n = node()
    assert create(NODE, n) == []
    assert n["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    assert n["status"]["addresses"][0]["address"] == "192.168.1.10"


def test_node_row() -> None:
    n = node()
    create(NODE, n)
    assert NODE.strategy.row(n, NOW) == ["n1", "Ready", "control-plane,worker", "5m", "v1.32.4", "192.168.1.10",
                                         "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "kubelite://0.1"]
    n["spec"]["unschedulable"] = True
    n["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    assert NODE.strategy.row(n, NOW)[1] == "NotReady,SchedulingDisabled"
    n["status"]["conditions"] = []
    assert NODE.strategy.row(n, NOW)[1] == "Unknown,SchedulingDisabled"
    assert NODE.strategy.field_labels(n) == {"spec.unschedulable": "true"}
    assert node_roles({}) == []


@pytest.mark.parametrize("spec,expected", [
    ({"taints": [{"key": "k", "effect": "NoSchedule"}]}, []),
    ({"taints": [{"key": "k", "effect": "Sometimes"}]}, ["spec.taints[0].effect"]),
    ({"taints": [{"effect": "NoSchedule"}]}, ["spec.taints[0].key"]),
    ({"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule", "value": "v"}]},
     ["spec.taints[1]"]),
    ({"podCIDR": "10.244.0.0/24"}, []),
    ({"podCIDR": "10.244.0.0"}, ["spec.podCIDRs[0]"]),
])
def test_node_validation(spec: dict, expected: list[str]) -> None:
    n = node()
    n["spec"] = spec
    assert fields(create(NODE, n)) == expected


def test_node_pod_cidr_set_once() -> None:
    old = node()
    old["spec"] = {"podCIDR": "10.244.0.0/24"}
    create(NODE, old)
    new = copy.deepcopy(old)
    new["spec"]["podCIDR"] = "10.244.1.0/24"
    new["spec"].pop("podCIDRs")  # what a client changing only podCIDR sends
    assert fields(update(NODE, new, old)) == ["spec.podCIDRs"]


# --- Event -----------------------------------------------------------------------------------------

def event(**body: object) -> dict:
    base = {"apiVersion": "v1", "kind": "Event", "metadata": meta("web.17c8", namespace="default"),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                               "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "message": "Successfully pulled image \"nginx\" ", "type": "Normal",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T11:50:00Z", "lastTimestamp": "2024-05-01T11:58:00Z", "count": 3}
    base.update(body)
    return base


def test_event_validation() -> None:
    assert create(EVENT, event()) == []
    bad = event()
    bad["involvedObject"]["namespace"] = "other"
    assert [(e.field, e.message) for e in create(EVENT, bad)] == [
        ("involvedObject.namespace", 'Invalid value: "other": does not match event.namespace')]
    new_style = event(eventTime="2024-05-01T11:58:00.000000Z", reportingComponent="", action="")
    assert fields(create(EVENT, new_style)) == ["reportingComponent", "reportingInstance", "action"]


def test_event_field_labels() -> None:
    e = event()
    assert EVENT.strategy.field_labels(e) == {
        "involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "web",
        "involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "",
        "involvedObject.fieldPath": "spec.containers{app}", "reason": "Pulled", "reportingComponent": "",
        "source": "kubelet", "type": "Normal"}
    e2 = event(source={}, reportingComponent="deployment-controller")
    assert EVENT.strategy.field_labels(e2)["source"] == "deployment-controller"


def test_event_row() -> None:
    cols = EVENT.strategy.columns
    assert [c.name for c in cols if c.priority == 0] == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert EVENT.strategy.row(event(), NOW) == [
        "2m", "Normal", "Pulled", "pod/web", "spec.containers{app}", "kubelet, n1",
        'Successfully pulled image "nginx"', "10m", 3, "web.17c8"]
    series = event(firstTimestamp=None, lastTimestamp=None, count=None, eventTime="2024-05-01T11:59:00.123456Z",
                   series={"count": 7, "lastObservedTime": "2024-05-01T11:59:30.000000Z"})
    r = EVENT.strategy.row(series, NOW)
    assert (r[0], r[7], r[8]) == ("30s", "59s", 7)  # HumanDuration truncates 59.88s
    single = event(firstTimestamp=None, lastTimestamp=None, count=None, eventTime="2024-05-01T11:59:00.000000Z")
    r = EVENT.strategy.row(single, NOW)
    assert (r[0], r[8]) == ("60s", 1)


# --- Endpoints / ServiceAccount --------------------------------------------------------------------

def endpoints(*subsets: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("web"), "subsets": list(subsets)}


def test_endpoints_defaults_and_validation() -> None:
    ep = endpoints({"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]})
    assert create(ENDPOINTS, ep) == []
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    bad = endpoints({"addresses": [{"ip": "127.0.0.1"}, {"ip": "nope"}], "ports": [{"port": 80}, {"port": 81}]})
    assert fields(create(ENDPOINTS, bad)) == ["subsets[0].addresses[0].ip", "subsets[0].addresses[1].ip",
                                              "subsets[0].ports[0].name", "subsets[0].ports[1].name"]


def test_endpoints_cell() -> None:
    assert format_endpoints(endpoints()) == "<none>"
    ep = endpoints({"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)], "ports": [{"port": 80}, {"port": 443}]})
    assert format_endpoints(ep) == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
    headless = endpoints({"addresses": [{"ip": "10.0.0.1"}]})
    assert format_endpoints(headless) == "10.0.0.1"
    assert ENDPOINTS.strategy.row(ep, NOW)[0] == "web" and ENDPOINTS.singular == "endpoints"


def test_service_account() -> None:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("builder"),
          "secrets": [{"name": "t1"}], "imagePullSecrets": [{}]}
    assert fields(create(SERVICE_ACCOUNT, sa)) == ["imagePullSecrets[0].name"]
    assert SERVICE_ACCOUNT.strategy.row(sa, NOW) == ["builder", 1, "5m"]
    assert SERVICE_ACCOUNT.short_names == ("sa",)


def test_namespace_finalize_subresource() -> None:
    old = ns()
    create(NAMESPACE, old)
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    new["status"] = {"phase": "Terminating"}
    NAMESPACE.strategy.prepare_for_finalize(new, old)  # type: ignore[attr-defined]
    assert new["spec"]["finalizers"] == [] and new["status"] == {"phase": "Active"}
    assert NAMESPACE.strategy.validate(new) == []


def test_node_pod_cidrs_in_sync() -> None:
    n = node()
    n["spec"] = {"podCIDR": "10.244.0.0/24"}
    assert create(NODE, n) == []
    assert n["spec"]["podCIDRs"] == ["10.244.0.0/24"]


def test_namespace_finalizers_removable_only_while_deleting() -> None:
    old = ns()
    create(NAMESPACE, old)
    # what the finalize handler sends through the generic update path
    deleting = copy.deepcopy(old)
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    NAMESPACE.strategy.mark_deleted(deleting)
    done = copy.deepcopy(deleting)
    del done["spec"]["finalizers"]
    assert update(NAMESPACE, done, deleting) == []
    assert "finalizers" not in done["spec"] and not NAMESPACE.strategy.deletion_blocked(done)
    # adding one while deleting, or removing one from a live namespace, is ignored
    more = copy.deepcopy(deleting)
    more["spec"]["finalizers"] = ["kubernetes", "example.com/x"]
    update(NAMESPACE, more, deleting)
    assert more["spec"]["finalizers"] == ["kubernetes"]
    live = copy.deepcopy(old)
    del live["spec"]["finalizers"]
    update(NAMESPACE, live, old)
    assert live["spec"]["finalizers"] == ["kubernetes"]
