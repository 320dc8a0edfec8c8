"""The BUILTIN registry: every group is there, names match kube-apiserver's discovery, and every
strategy copes with sparse objects (what the store may hold or a client may send)."""
from __future__ import annotations

import copy

import pytest

from kubelite.api import kinds, schema
from kubelite.api.registry import ResourceType
from kubelite.machinery.errors import FieldError, StatusError
from tests.api.kinds.kindtest import CREATED, NOW

# (group/version, plural): (kind, singular, namespaced, short names, categories, subresources)
EXPECTED = {
    ("apps/v1", "deployments"): ("Deployment", "deployment", True, ("deploy",), ("all",), ("status", "scale")),
    ("apps/v1", "replicasets"): ("ReplicaSet", "replicaset", True, ("rs",), ("all",), ("status", "scale")),
    ("apps/v1", "daemonsets"): ("DaemonSet", "daemonset", True, ("ds",), ("all",), ("status",)),
    ("apps/v1", "statefulsets"): ("StatefulSet", "statefulset", True, ("sts",), ("all",), ("status", "scale")),
    ("apps/v1", "controllerrevisions"): ("ControllerRevision", "controllerrevision", True, (), (), ()),
    ("batch/v1", "jobs"): ("Job", "job", True, (), ("all",), ("status",)),
    ("batch/v1", "cronjobs"): ("CronJob", "cronjob", True, ("cj",), ("all",), ("status",)),
    ("autoscaling/v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", "horizontalpodautoscaler", True,
                                                     ("hpa",), ("all",), ("status",)),
    ("autoscaling/v1", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", "horizontalpodautoscaler", True,
                                                     ("hpa",), ("all",), ("status",)),
    ("networking.k8s.io/v1", "ingresses"): ("Ingress", "ingress", True, ("ing",), (), ("status",)),
    ("networking.k8s.io/v1", "ingressclasses"): ("IngressClass", "ingressclass", False, (), (), ()),
    ("networking.k8s.io/v1", "networkpolicies"): ("NetworkPolicy", "networkpolicy", True, ("netpol",), (), ()),
    ("discovery.k8s.io/v1", "endpointslices"): ("EndpointSlice", "endpointslice", True, (), (), ()),
    ("coordination.k8s.io/v1", "leases"): ("Lease", "lease", True, (), (), ()),
    ("events.k8s.io/v1", "events"): ("Event", "event", True, ("ev",), (), ()),
    ("rbac.authorization.k8s.io/v1", "roles"): ("Role", "role", True, (), (), ()),
    ("rbac.authorization.k8s.io/v1", "clusterroles"): ("ClusterRole", "clusterrole", False, (), (), ()),
    ("rbac.authorization.k8s.io/v1", "rolebindings"): ("RoleBinding", "rolebinding", True, (), (), ()),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings"): ("ClusterRoleBinding", "clusterrolebinding", False,
                                                              (), (), ()),
    ("storage.k8s.io/v1", "storageclasses"): ("StorageClass", "storageclass", False, ("sc",), (), ()),
    ("policy/v1", "poddisruptionbudgets"): ("PodDisruptionBudget", "poddisruptionbudget", True, ("pdb",), (),
                                            ("status",)),
    ("scheduling.k8s.io/v1", "priorityclasses"): ("PriorityClass", "priorityclass", False, ("pc",), (), ()),
    ("apiextensions.k8s.io/v1", "customresourcedefinitions"): (
        "CustomResourceDefinition", "customresourcedefinition", False, ("crd", "crds"), ("api-extensions",),
        ("status",)),
}

MINE = [rt for rt in kinds.builtin() if rt.group != ""]


def test_every_group_and_kind_is_served_once() -> None:
    served = {(rt.group_version, rt.plural): rt for rt in kinds.BUILTIN}
    assert len(served) == len(kinds.BUILTIN)
    for key, (kind, singular, namespaced, short, categories, subresources) in EXPECTED.items():
        rt = served[key]
        assert (rt.kind, rt.singular, rt.namespaced, rt.short_names, rt.categories, rt.subresources) == \
            (kind, singular, namespaced, short, categories, subresources), key
    assert any(rt.group == "" for rt in kinds.BUILTIN)  # core comes first
    assert kinds.BUILTIN[0].group == ""


@pytest.mark.parametrize("rt", MINE, ids=lambda rt: f"{rt.group_version}/{rt.plural}")
def test_schema_names_exist(rt: ResourceType) -> None:
    assert rt.schema is not None and schema.has_message(rt.schema)


@pytest.mark.parametrize("rt", [rt for rt in MINE if not rt.virtual], ids=lambda rt: f"{rt.group_version}/{rt.plural}")
def test_sparse_objects_do_not_crash(rt: ResourceType) -> None:
    obj = {"apiVersion": rt.api_version, "kind": rt.kind,
           "metadata": {"name": "x", "namespace": "default" if rt.namespaced else None, "uid": "u",
                        "creationTimestamp": CREATED}}
    s = rt.strategy
    cells = s.row(copy.deepcopy(obj), NOW)
    assert len(cells) == len(s.columns)
    assert isinstance(s.field_labels({"metadata": {}, "spec": {}, "status": {}}), dict)
    s.defaults(obj)
    s.prepare_for_create(obj)
    errs = s.validate(obj)
    assert all(isinstance(e, FieldError) for e in errs)
    if rt.to_storage is not None:
        assert rt.from_storage is not None
        rt.from_storage(rt.to_storage(obj))
    assert len(s.row(obj, NOW)) == len(s.columns)


def test_virtual_kinds() -> None:
    virtual = {rt.plural for rt in kinds.BUILTIN if rt.virtual}
    assert {"selfsubjectaccessreviews", "subjectaccessreviews", "localsubjectaccessreviews",
            "selfsubjectrulesreviews", "selfsubjectreviews", "tokenreviews"} <= virtual
    with pytest.raises(StatusError):
        kinds.lookup("authentication.k8s.io/v1", "TokenReview").strategy.validate({})  # type: ignore[union-attr]


def test_lookups() -> None:
    assert kinds.lookup("apps/v1", "Deployment").plural == "deployments"  # type: ignore[union-attr]
    assert kinds.lookup("apps/v2", "Deployment") is None
    assert kinds.by_group_version_resource()[("batch", "v1", "cronjobs")].kind == "CronJob"
    assert [rt.group_version for rt in kinds.find("hpa")] == ["autoscaling/v2", "autoscaling/v1"]
    assert [rt.group for rt in kinds.find("ev")] == ["", "events.k8s.io"]
    assert [rt.plural for rt in kinds.find("ingresses.networking")] == ["ingresses"]
    assert kinds.storage_version_of("autoscaling/horizontalpodautoscalers").version == "v2"
    assert kinds.storage_version_of("core/events").group == ""
