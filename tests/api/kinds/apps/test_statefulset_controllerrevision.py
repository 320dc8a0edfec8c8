"""StatefulSets (defaults, allowed updates, name rule, columns) and ControllerRevisions."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.apps.controllerrevision import RESOURCE as REVISION
from kubelite.api.kinds.apps.statefulset import RESOURCE as STATEFULSET
from tests.api.kinds.kindtest import changed, create, created, fields, meta, row, update, workload


def sts(**spec: object) -> dict:
    return workload("StatefulSet", serviceName="web", **spec)


def test_defaults() -> None:
    s = created(STATEFULSET, sts(volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]))
    spec = s["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (1, 10)
    claim = spec["volumeClaimTemplates"][0]
    assert (claim["spec"]["volumeMode"], claim["status"]["phase"]) == ("Filesystem", "Pending")
    assert s["status"] == {"availableReplicas": 0, "replicas": 0}


def test_explicit_rolling_update_type_gets_no_partition() -> None:
    s = created(STATEFULSET, sts(updateStrategy={"type": "RollingUpdate"}))
    assert s["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


@pytest.mark.parametrize("spec,expected", [
    ({"podManagementPolicy": "Random"}, ["spec.podManagementPolicy"]),
    ({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}},
     ["spec.updateStrategy.rollingUpdate"]),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     ["spec.updateStrategy.rollingUpdate.partition"]),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}},
     ["spec.updateStrategy.rollingUpdate.maxUnavailable"]),
    ({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}},
     ["spec.persistentVolumeClaimRetentionPolicy.whenDeleted"]),
    ({"selector": {}}, ["spec.selector"]),
    ({"ordinals": {"start": -1}}, ["spec.ordinals.start"]),
])
def test_invalid(spec: dict, expected: list[str]) -> None:
    obj = sts()
    obj["spec"].update(spec)
    assert fields(create(STATEFULSET, obj)) == expected


def test_only_some_spec_fields_may_change() -> None:
    old = created(STATEFULSET, sts())
    ok = changed(changed(old, "spec.replicas", 5), "spec.template.spec.containers",
                 [{"name": "app", "image": "nginx:2"}])
    assert update(STATEFULSET, ok, old) == []
    bad = changed(old, "spec.serviceName", "other")
    errs = update(STATEFULSET, bad, old)
    assert fields(errs) == ["spec"]
    assert "updates to statefulset spec for fields other than 'replicas'" in errs[0].message


def test_name_is_a_dns_label() -> None:
    validator = STATEFULSET.strategy.name_validator
    assert validator("web") == []
    assert validator("web.example") != []


def test_columns() -> None:
    s = created(STATEFULSET, sts(replicas=3))
    s["status"]["readyReplicas"] = 2
    assert row(STATEFULSET, s) == {"Name": "web", "Ready": "2/3", "Age": "5m", "Containers": "app",
                                   "Images": "nginx:1.27"}


def revision(**body: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta(
        "web-6d4f", ownerReferences=[{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                       "uid": "u", "controller": True}]), **body}


def test_controller_revision() -> None:
    assert fields(create(REVISION, revision(revision=-1))) == ["data", "revision"]
    old = created(REVISION, revision(data={"spec": {}}, revision=1))
    assert fields(update(REVISION, changed(old, "data", {"spec": {"x": 1}}), old)) == ["data"]
    assert row(REVISION, old) == {"Name": "web-6d4f", "Controller": "statefulset.apps/web", "Revision": 1, "Age": "5m"}
