"""PersistentVolumes, PersistentVolumeClaims, ResourceQuotas and LimitRanges."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.core.limitrange import LIMIT_RANGE
from kubelite.api.kinds.core.persistentvolume import PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM, access_modes_string
from kubelite.api.kinds.core.resourcequota import RESOURCE_QUOTA
from tests.api.kinds.core.builders import NOW, create, fields, meta, update


def pv(**spec: object) -> dict:
    base: dict = {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta("pv1", namespace=None), "spec": base}


def pvc(**spec: object) -> dict:
    base: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("data"), "spec": base}


def test_pv_defaults() -> None:
    v = pv()
    assert create(PERSISTENT_VOLUME, v) == []
    assert v["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert v["spec"]["volumeMode"] == "Filesystem"
    assert v["spec"]["hostPath"] == {"path": "/data", "type": ""}
    assert v["status"] == {"phase": "Pending"}


@pytest.mark.parametrize("spec,expected", [
    ({"accessModes": []}, ["spec.accessModes"]),
    ({"accessModes": ["ReadWriteSometimes"]}, ["spec.accessModes"]),
    ({"capacity": {}}, ["spec.capacity"]),
    ({"capacity": {"storage": "10Gi", "cpu": "1"}}, ["spec.capacity"]),
    ({"capacity": {"storage": "lots"}}, ["spec.capacity[storage]"]),
    ({"hostPath": None}, ["spec"]),
    ({"nfs": {"server": "s", "path": "/p"}}, ["spec.nfs"]),
    ({"persistentVolumeReclaimPolicy": "Keep"}, ["spec.persistentVolumeReclaimPolicy"]),
    ({"hostPath": None, "local": {"path": "/mnt"}}, ["spec.nodeAffinity"]),
])
def test_pv_validation(spec: dict, expected: list[str]) -> None:
    assert fields(create(PERSISTENT_VOLUME, pv(**spec))) == expected


def test_pv_source_immutable_and_row() -> None:
    old = pv(claimRef={"namespace": "default", "name": "data"}, storageClassName="local")
    create(PERSISTENT_VOLUME, old)
    new = copy.deepcopy(old)
    new["spec"]["hostPath"]["path"] = "/other"
    assert fields(update(PERSISTENT_VOLUME, new, old)) == ["spec.persistentvolumesource"]
    old["status"] = {"phase": "Bound"}
    assert PERSISTENT_VOLUME.strategy.row(old, NOW) == [
        "pv1", "10Gi", "RWO", "Retain", "Bound", "default/data", "local", "<unset>", "", "5m", "Filesystem"]


def test_access_modes_string() -> None:
    assert access_modes_string(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]) == "RWO,RWX"
    assert access_modes_string(None) == ""


def test_pvc_defaults_and_validation() -> None:
    c = pvc()
    assert create(PERSISTENT_VOLUME_CLAIM, c) == []
    assert c["spec"]["volumeMode"] == "Filesystem" and c["status"] == {"phase": "Pending"}
    bad = pvc(accessModes=[], resources={"requests": {}}, storageClassName="Fast")
    errs = create(PERSISTENT_VOLUME_CLAIM, bad)
    assert fields(errs) == ["spec.accessModes", "spec.resources[storage]", "spec.storageClassName"]
    assert errs[0].message == "Required value: at least 1 access mode is required"
    zero = pvc(resources={"requests": {"storage": "0"}})
    assert fields(create(PERSISTENT_VOLUME_CLAIM, zero)) == ["spec.resources[storage]"]


def test_pvc_update_rules() -> None:
    old = pvc()
    create(PERSISTENT_VOLUME_CLAIM, old)
    # the binder may set volumeName once
    bound = copy.deepcopy(old)
    bound["spec"]["volumeName"] = "pv1"
    assert update(PERSISTENT_VOLUME_CLAIM, bound, old) == []
    # other spec changes are forbidden
    changed = copy.deepcopy(old)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    errs = update(PERSISTENT_VOLUME_CLAIM, changed, old)
    assert fields(errs) == ["spec"] and "spec is immutable after creation" in errs[0].message
    # a bound claim may grow but not shrink
    old_bound = copy.deepcopy(bound)
    old_bound["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
    grow = copy.deepcopy(old_bound)
    grow["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert update(PERSISTENT_VOLUME_CLAIM, grow, old_bound) == []
    shrink = copy.deepcopy(old_bound)
    shrink["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert fields(update(PERSISTENT_VOLUME_CLAIM, shrink, old_bound)) == ["spec.resources.requests.storage"]
    assert PERSISTENT_VOLUME_CLAIM.strategy.row(old_bound, NOW) == [
        "data", "Bound", "pv1", "1Gi", "RWO", "", "<unset>", "5m", "Filesystem"]


def quota(spec_hard: dict, **status: object) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("compute"), "spec": {"hard": spec_hard},
            "status": status}


def test_quota_validation() -> None:
    assert create(RESOURCE_QUOTA, quota({"cpu": "4", "requests.memory": "8Gi", "pods": "10",
                                         "count/deployments.apps": "5", "example.com/gpu": "2"})) == []
    errs = create(RESOURCE_QUOTA, quota({"cpus": "4", "pods": "1.5", "memory": "-1"}))
    assert [(e.field, e.message) for e in errs] == [
        ("spec.hard[cpus]", 'Invalid value: "cpus": must be a standard resource for quota'),
        ("spec.hard[pods]", 'Invalid value: "1.5": must be an integer'),
        ("spec.hard[memory]", 'Invalid value: "-1": must be greater than or equal to 0')]
    scoped = quota({"pods": "1"})
    scoped["spec"]["scopes"] = ["BestEffort", "Someday"]
    assert fields(create(RESOURCE_QUOTA, scoped)) == ["spec.scopes[1]"]


def test_quota_status_reset_and_row() -> None:
    q = quota({"cpu": "4"}, hard={"cpu": "4"}, used={"cpu": "1"})
    create(RESOURCE_QUOTA, q)
    assert "status" not in q  # the quota controller computes it
    q["status"] = {"hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "2"},
                   "used": {"requests.cpu": "500m", "pods": "3", "limits.memory": "1024Mi"}}
    assert [c.name for c in RESOURCE_QUOTA.strategy.columns] == ["Name", "Request", "Limit", "Age"]
    assert RESOURCE_QUOTA.strategy.row(q, NOW) == [
        "compute", "pods: 3/10, requests.cpu: 500m/1", "limits.cpu: 0/2, limits.memory: 1Gi/2Gi", "5m"]


def limits(*items: dict) -> dict:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("limits"), "spec": {"limits": list(items)}}


def test_limit_range_defaults() -> None:
    lr = limits({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"memory": "256Mi"}})
    assert create(LIMIT_RANGE, lr) == []
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"memory": "256Mi", "cpu": "2"}
    assert item["defaultRequest"] == {"memory": "256Mi", "cpu": "2"}


@pytest.mark.parametrize("item,message", [
    ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}, "min value 2 is greater than max value 1"),
    ({"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}}, "default value 2 is greater than max value 1"),
    ({"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "2"}},
     "default request value 2 is greater than default limit value 1"),
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}, "ratio 500m is less than 1"),
])
def test_limit_range_ordering(item: dict, message: str) -> None:
    errs = create(LIMIT_RANGE, limits(item))
    assert {e.field for e in errs} == {"spec.limits[0][cpu]"}
    assert any(e.message.endswith(message) for e in errs)


def test_limit_range_pod_type_and_row() -> None:
    errs = create(LIMIT_RANGE, limits({"type": "Pod", "default": {"cpu": "1"}}))
    assert fields(errs) == ["spec.limits[0].default"]
    assert fields(create(LIMIT_RANGE, limits({"type": "Widget"}))) == ["spec.limits[0].type"]
    lr = limits()
    assert [c.name for c in LIMIT_RANGE.strategy.columns] == ["Name", "Created At"]
    assert LIMIT_RANGE.strategy.row(lr, NOW) == ["limits", "2024-05-01T11:55:00Z"]
