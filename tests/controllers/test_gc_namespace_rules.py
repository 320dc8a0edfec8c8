"""Table-driven tests of the garbage collector's decisions, namespace deletion conditions, the
pod GC's threshold and API discovery parsing."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.client import ResourceRef
from kubelite.controllers.discovery import Discovery, ResourceMapper, parse_resource_list
from kubelite.controllers.garbagecollector import deletion_decision, node_of
from kubelite.controllers.namespace import DeletionReport, desired_conditions, update_conditions
from kubelite.controllers.podgc import terminated_to_delete

Obj = dict[str, Any]


@pytest.mark.parametrize("states,finalizers,has_deps,expected", [
    ({"a": "solid"}, (), False, ("keep", None)),
    ({"a": "dangling"}, (), False, ("delete", "Background")),
    ({"a": "dangling", "b": "solid"}, (), False, ("remove-refs", ["a"])),
    ({"a": "waiting", "b": "solid"}, (), False, ("remove-refs", ["a"])),
    ({"a": "waiting"}, (), False, ("delete", "Background")),
    ({"a": "waiting"}, (), True, ("delete", "Foreground")),
    ({"a": "dangling"}, ("orphan",), False, ("delete", "Orphan")),
    ({"a": "dangling"}, ("foregroundDeletion",), False, ("delete", "Foreground")),
    ({"a": "unknown"}, (), False, ("keep", None)),              # unresolvable owner: keep
    ({"a": "unknown", "b": "dangling"}, (), False, ("remove-refs", ["b"])),
])
def test_deletion_decision(states: dict[str, str], finalizers: tuple[str, ...], has_deps: bool,
                           expected: tuple[str, Any]) -> None:
    assert deletion_decision(states, finalizers, has_deps) == expected


def test_node_of() -> None:
    ref = ResourceRef("", "v1", "pods", True, "Pod")
    n = node_of(ref, {"metadata": {"uid": "u", "name": "p", "namespace": "ns", "deletionTimestamp": "x",
                                   "finalizers": ["foregroundDeletion"],
                                   "ownerReferences": [{"uid": "o", "apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                        "name": "rs", "blockOwnerDeletion": True},
                                                       {"apiVersion": "v1", "kind": "X", "name": "no-uid"}]}})
    assert n.waiting_for_dependents and len(n.owners) == 1 and n.owners[0].block


def test_namespace_conditions() -> None:
    report = DeletionReport(remaining={"pods.": 2, "widgets.example.com": 1}, finalizers={"example.com/guard": 1})
    want = desired_conditions(report)
    assert want["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: pods. has 2 resource instances, widgets.example.com has 1 resource instances")
    assert want["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: example.com/guard in 1 resource instances")
    assert want["NamespaceDeletionDiscoveryFailure"] == ("False", "ResourcesDiscovered",
                                                         "All resources successfully discovered")
    conds, changed = update_conditions([], want, "2025-01-01T00:00:00Z")
    assert changed and len(conds) == 5
    assert update_conditions(conds, want, "2025-01-01T00:01:00Z") == (conds, False)
    clear = desired_conditions(DeletionReport(discovery_errors={"x.io/v1": "503 boom"}))
    conds2, changed = update_conditions(conds, clear, "2025-01-01T00:02:00Z")
    by_type = {c["type"]: c for c in conds2}
    assert by_type["NamespaceContentRemaining"]["status"] == "False"
    assert by_type["NamespaceContentRemaining"]["lastTransitionTime"] == "2025-01-01T00:02:00Z"
    assert by_type["NamespaceDeletionDiscoveryFailure"]["reason"] == "DiscoveryFailed"
    assert not DeletionReport(discovery_errors={"x": "y"}).done
    assert DeletionReport(remaining={"pods.": 0}).done


def _p(name: str, phase: str, created: str) -> Obj:
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": {"phase": phase}}


def test_terminated_pods_beyond_threshold_oldest_first() -> None:
    pods = [_p("new", "Succeeded", "2025-01-03T00:00:00Z"), _p("old", "Failed", "2025-01-01T00:00:00Z"),
            _p("mid", "Succeeded", "2025-01-02T00:00:00Z"), _p("run", "Running", "2024-01-01T00:00:00Z")]
    assert [p["metadata"]["name"] for p in terminated_to_delete(pods, 1)] == ["old", "mid"]
    assert terminated_to_delete(pods, 3) == []
    assert terminated_to_delete(pods, 0) == []


def test_discovery_parsing_and_mapping() -> None:
    doc = {"groupVersion": "apps/v1", "resources": [
        {"name": "deployments", "namespaced": True, "kind": "Deployment", "verbs": ["list", "delete", "watch"]},
        {"name": "deployments/status", "namespaced": True, "kind": "Deployment", "verbs": ["get"]}]}
    (res,) = parse_resource_list(doc)
    assert res.ref == ResourceRef("apps", "v1", "deployments", True, "Deployment")
    assert res.supports("list", "delete") and not res.supports("deletecollection")
    mapper = Discovery(resources=[res]).mapper()
    assert mapper.ref_for("apps/v1", "Deployment") == res.ref
    assert mapper.ref_for("apps/v1beta2", "Deployment") == res.ref     # same group, other version
    assert mapper.ref_for("v1", "Deployment") is None
    assert ResourceMapper([]).ref_for("v1", "Pod") is None
