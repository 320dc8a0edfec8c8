"""ReplicaSets and DaemonSets: defaults, validation, field selectors, template generation, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.apps._common import DAEMONSET_TEMPLATE_GENERATION
from kubelite.api.kinds.apps.daemonset import RESOURCE as DAEMONSET
from kubelite.api.kinds.apps.replicaset import RESOURCE as REPLICASET
from tests.api.kinds.kindtest import changed, create, created, fields, row, update, workload


def test_replicaset_defaults_and_initial_status() -> None:
    rs = created(REPLICASET, workload("ReplicaSet"))
    assert rs["spec"]["replicas"] == 1
    assert rs["status"] == {"replicas": 0}  # replicas has no omitempty in apps/v1


@pytest.mark.parametrize("path,value,expected", [
    ("spec.replicas", -2, ["spec.replicas"]),
    ("spec.selector", {}, ["spec.selector"]),
    ("spec.template.metadata.labels", {"app": "nope"}, ["spec.template.metadata.labels"]),
    ("spec.template.spec.restartPolicy", "Never", ["spec.template.spec.restartPolicy"]),
    ("spec.template", None, ["spec.template"]),
])
def test_replicaset_invalid(path: str, value: object, expected: list[str]) -> None:
    obj = changed(workload("ReplicaSet"), path, value)
    if value is None:
        REPLICASET.strategy.defaults(obj)
        obj["spec"].pop("template")
        assert fields(REPLICASET.strategy.validate(obj)) == expected
    else:
        assert fields(create(REPLICASET, obj)) == expected


def test_replicaset_empty_selector_message_matches_kubernetes() -> None:
    (err,) = create(REPLICASET, changed(workload("ReplicaSet"), "spec.selector", {}))
    assert err.message.endswith("empty selector is invalid for deployment")


def test_replicaset_selector_immutable_and_field_labels() -> None:
    old = created(REPLICASET, workload("ReplicaSet"))
    new = changed(old, "spec.selector.matchExpressions", [{"key": "app", "operator": "Exists"}])
    assert fields(update(REPLICASET, new, old)) == ["spec.selector"]
    assert REPLICASET.strategy.field_labels(changed(old, "status.replicas", 4)) == {"status.replicas": "4"}


def test_replicaset_columns() -> None:
    rs = created(REPLICASET, workload("ReplicaSet", replicas=2))
    rs["status"] = {"replicas": 2, "readyReplicas": 1}
    assert row(REPLICASET, rs) == {"Name": "web", "Desired": 2, "Current": 2, "Ready": 1, "Age": "5m",
                                   "Containers": "app", "Images": "nginx:1.27", "Selector": "app=web"}


def test_daemonset_defaults() -> None:
    ds = created(DAEMONSET, workload("DaemonSet"))
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["metadata"]["annotations"][DAEMONSET_TEMPLATE_GENERATION] == "1"
    assert ds["status"]["numberReady"] == 0


def test_daemonset_template_generation_moves_only_with_the_template() -> None:
    old = created(DAEMONSET, workload("DaemonSet"))
    same = changed(old, "spec.minReadySeconds", 5)
    same["metadata"]["annotations"][DAEMONSET_TEMPLATE_GENERATION] = "7"  # clients cannot move it
    assert update(DAEMONSET, same, old) == []
    assert same["metadata"]["annotations"][DAEMONSET_TEMPLATE_GENERATION] == "1"
    new = changed(old, "spec.template.spec.containers", [{"name": "app", "image": "nginx:2"}])
    assert update(DAEMONSET, new, old) == []
    assert new["metadata"]["annotations"][DAEMONSET_TEMPLATE_GENERATION] == "2"


@pytest.mark.parametrize("rolling,expected", [
    ({"maxUnavailable": 0, "maxSurge": 0}, ["spec.updateStrategy.rollingUpdate.maxUnavailable"]),
    ({"maxUnavailable": 1, "maxSurge": 1}, ["spec.updateStrategy.rollingUpdate.maxSurge"]),
    ({"maxUnavailable": "101%", "maxSurge": 0}, ["spec.updateStrategy.rollingUpdate.maxUnavailable"]),
    ({"maxUnavailable": 0, "maxSurge": "10%"}, []),
])
def test_daemonset_rolling_update_rules(rolling: dict, expected: list[str]) -> None:
    obj = changed(workload("DaemonSet"), "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": rolling})
    assert fields(create(DAEMONSET, obj)) == expected


def test_daemonset_other_invalid() -> None:
    obj = changed(workload("DaemonSet"), "spec.updateStrategy", {"type": "Sometimes"})
    obj = changed(obj, "spec.selector", None)
    assert fields(create(DAEMONSET, obj)) == ["spec.template.metadata.labels", "spec.updateStrategy"]


def test_daemonset_columns() -> None:
    ds = created(DAEMONSET, changed(workload("DaemonSet"), "spec.template.spec.nodeSelector",
                                    {"kubernetes.io/os": "linux"}))
    ds["status"].update({"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                         "updatedNumberScheduled": 3, "numberAvailable": 2})
    cells = row(DAEMONSET, ds)
    assert [cells[k] for k in ("Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age")] == \
        [3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m"]
