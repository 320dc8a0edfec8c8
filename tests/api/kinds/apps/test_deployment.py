"""Deployments: defaults users see, validation paths and messages, updates, generation, columns."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.apps.deployment import RESOURCE as DEPLOYMENT
from tests.api.kinds.kindtest import changed, create, created, fields, row, update, workload


def deploy(**spec: object) -> dict:
    return workload("Deployment", **spec)


def test_defaults_show_through() -> None:
    d = created(DEPLOYMENT, deploy())
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["containers"][0]["terminationMessagePolicy"] == "File"
    assert d["status"] == {}


def test_defaults_keep_what_the_user_set() -> None:
    d = created(DEPLOYMENT, deploy(replicas=0, strategy={"type": "Recreate"}, revisionHistoryLimit=2))
    assert d["spec"]["replicas"] == 0
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    assert d["spec"]["revisionHistoryLimit"] == 2


def test_template_defaults_match_a_replicaset_copy() -> None:
    """helm --wait compares the RS template with the deployment's: defaulting twice is a no-op."""
    d = created(DEPLOYMENT, deploy())
    again = copy.deepcopy(d)
    DEPLOYMENT.strategy.defaults(again)
    assert again == d


@pytest.mark.parametrize("spec,expected", [
    ({"replicas": -1}, ["spec.replicas"]),
    ({"selector": None}, ["spec.selector", "spec.template.metadata.labels"]),
    ({"selector": {}}, ["spec.selector"]),
    ({"selector": {"matchLabels": {"app": "other"}}}, ["spec.template.metadata.labels"]),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}},
     ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "1", "maxUnavailable": "150%"}}},
     ["spec.strategy.rollingUpdate.maxSurge", "spec.strategy.rollingUpdate.maxUnavailable"]),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {}}}, ["spec.strategy.rollingUpdate"]),
    ({"strategy": {"type": "BlueGreen"}}, ["spec.strategy"]),
    ({"progressDeadlineSeconds": 10, "minReadySeconds": 10}, ["spec.progressDeadlineSeconds"]),
    ({"minReadySeconds": -5}, ["spec.minReadySeconds"]),
])
def test_invalid_specs(spec: dict, expected: list[str]) -> None:
    obj = deploy()
    for k, v in spec.items():
        obj = changed(obj, f"spec.{k}", v)
    assert fields(create(DEPLOYMENT, obj)) == expected


def test_selector_mismatch_message_is_kubernetes_wording() -> None:
    (err,) = create(DEPLOYMENT, changed(deploy(), "spec.selector", {"matchLabels": {"app": "x"}}))
    assert err.message == 'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'


def test_workload_pods_must_restart_always() -> None:
    obj = changed(deploy(), "spec.template.spec.restartPolicy", "OnFailure")
    obj = changed(obj, "spec.template.spec.activeDeadlineSeconds", 30)
    errs = create(DEPLOYMENT, obj)
    assert fields(errs) == ["spec.template.spec.restartPolicy", "spec.template.spec.activeDeadlineSeconds"]
    assert errs[0].message == 'Unsupported value: "OnFailure": supported values: "Always"'


def test_pod_spec_is_validated() -> None:
    obj = changed(deploy(), "spec.template.spec.containers", [{"name": "app"}])
    assert "spec.template.spec.containers[0].image" in fields(create(DEPLOYMENT, obj))


def test_selector_is_immutable() -> None:
    old = created(DEPLOYMENT, deploy())
    new = changed(old, "spec.selector", {"matchLabels": {"app": "web", "tier": "x"}})
    new = changed(new, "spec.template.metadata.labels", {"app": "web", "tier": "x"})
    errs = update(DEPLOYMENT, new, old)
    assert fields(errs) == ["spec.selector"]
    assert errs[0].message.endswith("field is immutable")


def test_generation_follows_spec_and_annotations_not_status() -> None:
    old = created(DEPLOYMENT, deploy())
    s = DEPLOYMENT.strategy
    assert not s.spec_changed(changed(old, "status.replicas", 3), old)
    assert not s.spec_changed(changed(old, "metadata.labels", {"a": "b"}), old)
    assert s.spec_changed(changed(old, "spec.replicas", 3), old)
    assert s.spec_changed(changed(old, "metadata.annotations", {"kubernetes.io/change-cause": "x"}), old)


def test_main_endpoint_ignores_status() -> None:
    old = created(DEPLOYMENT, deploy())
    old["status"] = {"replicas": 1}
    new = changed(old, "status", {"replicas": 9})
    assert update(DEPLOYMENT, new, old) == []
    assert new["status"] == {"replicas": 1}


def test_columns() -> None:
    d = created(DEPLOYMENT, deploy(replicas=3))
    d["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}
    assert [c.name for c in DEPLOYMENT.strategy.columns if c.priority == 0] == \
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert row(DEPLOYMENT, d) == {"Name": "web", "Ready": "2/3", "Up-to-date": 3, "Available": 1, "Age": "5m",
                                  "Containers": "app", "Images": "nginx:1.27", "Selector": "app=web"}


def test_discovery_and_scale() -> None:
    assert (DEPLOYMENT.short_names, DEPLOYMENT.categories, DEPLOYMENT.subresources) == \
        (("deploy",), ("all",), ("status", "scale"))
    assert DEPLOYMENT.scale is not None and DEPLOYMENT.scale.spec_replicas == "spec.replicas"
