"""StorageClasses: defaults, provisioner and mode checks, forbidden updates, default-class column."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.storage.storageclass import RESOURCE as SC
from tests.api.kinds.kindtest import changed, create, created, fields, meta, row, update


def sc(**body: object) -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta("local", None),
            "provisioner": "kubelite.io/local-path", **body}


def test_defaults() -> None:
    s = created(SC, sc())
    assert (s["reclaimPolicy"], s["volumeBindingMode"]) == ("Delete", "Immediate")


@pytest.mark.parametrize("body,expected", [
    ({"provisioner": ""}, ["provisioner"]),
    ({"provisioner": "bad provisioner!"}, ["provisioner"]),
    ({"reclaimPolicy": "Recycle"}, ["reclaimPolicy"]),
    ({"volumeBindingMode": "Later"}, ["volumeBindingMode"]),
    ({"parameters": {"": "x"}}, ["parameters"]),
    ({"allowedTopologies": [{"matchLabelExpressions": [{"key": "zone"}]}]},
     ["allowedTopologies[0].matchLabelExpressions[0].values"]),
])
def test_invalid(body: dict, expected: list[str]) -> None:
    assert fields(create(SC, sc(**body))) == expected


def test_updates() -> None:
    old = created(SC, sc(parameters={"type": "ssd"}))
    assert update(SC, changed(old, "allowVolumeExpansion", True), old) == []
    for path, value in (("parameters", {"type": "hdd"}), ("provisioner", "example.com/x"),
                        ("reclaimPolicy", "Retain"), ("volumeBindingMode", "WaitForFirstConsumer")):
        errs = update(SC, changed(old, path, value), old)
        assert fields(errs) == [path]


def test_columns() -> None:
    s = created(SC, sc(volumeBindingMode="WaitForFirstConsumer"))
    s["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    assert row(SC, s) == {"Name": "local (default)", "Provisioner": "kubelite.io/local-path", "ReclaimPolicy": "Delete",
                          "VolumeBindingMode": "WaitForFirstConsumer", "AllowVolumeExpansion": False, "Age": "5m"}
