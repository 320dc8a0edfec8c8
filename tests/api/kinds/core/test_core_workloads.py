"""ReplicationControllers and PodTemplates, plus the discovery facts of every core/v1 kind."""
from __future__ import annotations

import copy

import pytest

from kubelite.api import schema
from kubelite.api.kinds.core import RESOURCES
from kubelite.api.kinds.core.podtemplate import POD_TEMPLATE
from kubelite.api.kinds.core.replicationcontroller import REPLICATION_CONTROLLER
from tests.api.kinds.core.builders import NOW, container, create, fields, meta, update


def rc(**spec: object) -> dict:
    base: dict = {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta("web"), "spec": base}


def test_rc_defaults_from_template() -> None:
    r = rc()
    assert create(REPLICATION_CONTROLLER, r) == []
    assert r["spec"]["replicas"] == 1
    assert r["spec"]["selector"] == {"app": "web"}
    assert r["metadata"]["labels"] == {"app": "web"}
    assert r["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert r["status"] == {"replicas": 0}


@pytest.mark.parametrize("spec,expected", [
    ({"selector": {"app": "other"}}, ["spec.template.metadata.labels"]),
    ({"replicas": -1}, ["spec.replicas"]),
    ({"template": None}, ["spec.selector", "spec.template"]),
    ({"template": {"metadata": {"labels": {"app": "web"}},
                   "spec": {"containers": [container()], "restartPolicy": "Never"}}},
     ["spec.template.spec.restartPolicy"]),
])
def test_rc_validation(spec: dict, expected: list[str]) -> None:
    assert fields(create(REPLICATION_CONTROLLER, rc(**spec))) == expected


def test_rc_selector_mismatch_message() -> None:
    (err,) = create(REPLICATION_CONTROLLER, rc(selector={"app": "other"}))
    assert err.message == 'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'


def test_rc_status_and_row() -> None:
    old = rc(replicas=3)
    create(REPLICATION_CONTROLLER, old)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 3, "readyReplicas": 4}
    REPLICATION_CONTROLLER.strategy.prepare_for_status_update(new, old)
    assert fields(REPLICATION_CONTROLLER.strategy.validate_update(new, old)) == ["status.readyReplicas"]
    new["status"] = {"replicas": 3, "readyReplicas": 2}
    assert REPLICATION_CONTROLLER.strategy.validate_update(new, old) == []
    assert REPLICATION_CONTROLLER.strategy.field_labels(new) == {"status.replicas": "3"}
    assert REPLICATION_CONTROLLER.strategy.row(new, NOW) == ["web", 3, 3, 2, "5m", "app", "nginx:1.27", "app=web"]
    # main endpoint: status ignored, spec change bumps generation
    upd = copy.deepcopy(new)
    upd["spec"]["replicas"] = 5
    upd["status"] = {"replicas": 99}
    assert update(REPLICATION_CONTROLLER, upd, new) == []
    assert upd["status"] == new["status"]
    assert REPLICATION_CONTROLLER.strategy.spec_changed(upd, new)


def test_pod_template() -> None:
    pt = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta("tmpl"),
          "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                       "spec": {"containers": [container("a", "nginx"), container("b", "redis:7")]}}}
    assert create(POD_TEMPLATE, pt) == []
    assert pt["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert [c.name for c in POD_TEMPLATE.strategy.columns] == ["Name", "Containers", "Images", "Pod Labels"]
    assert POD_TEMPLATE.strategy.row(pt, NOW) == ["tmpl", "a,b", "nginx,redis:7", "app=web,tier=fe"]
    bad = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta("t"), "template": {"spec": {"containers": []}}}
    assert fields(create(POD_TEMPLATE, bad)) == ["template.spec.containers"]


# kubectl api-resources for the core group of kube-apiserver 1.32 (only the kinds kubelite serves)
DISCOVERY = {
    "pods": ("pod", True, ("po",), ("all",)),
    "services": ("service", True, ("svc",), ("all",)),
    "endpoints": ("endpoints", True, ("ep",), ()),
    "configmaps": ("configmap", True, ("cm",), ()),
    "secrets": ("secret", True, (), ()),
    "namespaces": ("namespace", False, ("ns",), ()),
    "nodes": ("node", False, ("no",), ()),
    "events": ("event", True, ("ev",), ()),
    "serviceaccounts": ("serviceaccount", True, ("sa",), ()),
    "persistentvolumes": ("persistentvolume", False, ("pv",), ()),
    "persistentvolumeclaims": ("persistentvolumeclaim", True, ("pvc",), ()),
    "resourcequotas": ("resourcequota", True, ("quota",), ()),
    "limitranges": ("limitrange", True, ("limits",), ()),
    "replicationcontrollers": ("replicationcontroller", True, ("rc",), ("all",)),
    "podtemplates": ("podtemplate", True, (), ()),
}
STATUS = {"pods", "services", "namespaces", "nodes", "persistentvolumes", "persistentvolumeclaims", "resourcequotas",
          "replicationcontrollers"}


def test_discovery_facts() -> None:
    by_plural = {rt.plural: rt for rt in RESOURCES}
    assert set(by_plural) == set(DISCOVERY)
    for plural, (singular, namespaced, short, categories) in DISCOVERY.items():
        rt = by_plural[plural]
        assert (rt.group, rt.version, rt.singular, rt.namespaced, rt.short_names, rt.categories) == (
            "", "v1", singular, namespaced, short, categories), plural
        assert ("status" in rt.subresources) is (plural in STATUS), plural
        assert rt.strategy.has_status is (plural in STATUS), plural
        assert rt.schema == f"io.k8s.api.core.v1.{rt.kind}" and schema.has_message(rt.schema)


def test_every_kind_has_a_row_per_column() -> None:
    for rt in RESOURCES:
        obj = {"apiVersion": "v1", "kind": rt.kind, "metadata": meta("x", namespace="default" if rt.namespaced else None)}
        rt.strategy.defaults(obj)
        rt.strategy.prepare_for_create(obj)
        assert len(rt.strategy.row(obj, NOW)) == len(rt.strategy.columns), rt.kind
