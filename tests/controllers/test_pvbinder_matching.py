"""Table-driven tests of PV/PVC matching, class resolution and local-path volumes."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.controllers.volume import localpath
from kubelite.controllers.volume.pvbinder import (claim_class, default_class, find_matching_volume,
                                                  node_affinity_allows, pod_claim_names)

Obj = dict[str, Any]


def claim(size: str = "1Gi", *, cls: str | None = "fast", modes: tuple[str, ...] = ("ReadWriteOnce",),
          selector: Obj | None = None, mode: str = "Filesystem") -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "volumeMode": mode}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": "data", "namespace": "ns", "uid": "claim-uid"}, "spec": spec}


def pv(name: str, size: str = "1Gi", *, cls: str = "fast", modes: tuple[str, ...] = ("ReadWriteOnce",),
       phase: str = "Available", claim_ref: Obj | None = None, labels: dict[str, str] | None = None,
       node: str | None = None, deleting: bool = False, mode: str = "Filesystem") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                 "volumeMode": mode, "hostPath": {"path": f"/d/{name}"}}
    if claim_ref:
        spec["claimRef"] = claim_ref
    if node:
        spec["nodeAffinity"] = localpath.node_affinity(node)
    meta: Obj = {"name": name, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def _name(v: Any) -> str | None:
    return None if v is None else v["metadata"]["name"]


@pytest.mark.parametrize("volumes,expected", [
    ([pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi")], "small"),        # smallest that fits
    ([pv("other-class", "1Gi", cls="slow")], None),
    ([pv("rox", modes=("ReadOnlyMany",))], None),                                   # modes must cover the claim's
    ([pv("both", modes=("ReadWriteOnce", "ReadOnlyMany"))], "both"),
    ([pv("bound", phase="Bound")], None),
    ([pv("taken", claim_ref={"name": "x", "namespace": "ns"})], None),
    ([pv("mine", "100Mi", phase="Bound", claim_ref={"name": "data", "namespace": "ns", "uid": "claim-uid"}),
      pv("fits", "1Gi")], "mine"),                                                 # pre-bound wins
    ([pv("stale", claim_ref={"name": "data", "namespace": "ns", "uid": "old-uid"})], None),
    ([pv("going", deleting=True)], None),
    ([pv("block", mode="Block")], None),
])
def test_find_matching_volume(volumes: list[Obj], expected: str | None) -> None:
    assert _name(find_matching_volume(claim(), volumes)) == expected


def test_selector_and_empty_class() -> None:
    vols = [pv("a", labels={"tier": "gold"}), pv("b", labels={"tier": "silver"})]
    assert _name(find_matching_volume(claim(selector={"matchLabels": {"tier": "silver"}}), vols)) == "b"
    assert _name(find_matching_volume(claim(cls=""), [pv("nocls", cls=""), pv("c")])) == "nocls"


def test_delayed_binding_and_node_affinity() -> None:
    vols = [pv("on-n1", node="n1"), pv("on-n2", node="n2")]
    assert find_matching_volume(claim(), vols, delay_binding=True) is None
    assert _name(find_matching_volume(claim(), vols, node="n2", delay_binding=True)) == "on-n2"
    prebound = pv("pre", node="n1", claim_ref={"name": "data", "namespace": "ns"})
    assert _name(find_matching_volume(claim(), [prebound], delay_binding=True)) == "pre"
    assert find_matching_volume(claim(), [prebound], node="n2", delay_binding=True) is None


@pytest.mark.parametrize("expr,labels,expected", [
    ({"key": "zone", "operator": "In", "values": ["a"]}, {"zone": "a"}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "b"}, True),
    ({"key": "zone", "operator": "Exists"}, {}, False),
    ({"key": "zone", "operator": "DoesNotExist"}, {}, True),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "8"}, True),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, {"cores": "8"}, False),
])
def test_node_affinity(expr: Obj, labels: dict[str, str], expected: bool) -> None:
    vol = {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [expr]}]}}}}
    assert node_affinity_allows(vol, "n1", labels) is expected
    assert node_affinity_allows({"spec": {}}, "n1", {}) is True


def test_claim_class_resolution() -> None:
    assert claim_class(claim(cls=None)) is None
    assert claim_class(claim(cls="")) == ""
    c = claim(cls="x")
    c["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "beta"}
    assert claim_class(c) == "beta"


def test_default_class_picks_newest_default() -> None:
    classes: list[Obj] = [{"metadata": {"name": "a", "creationTimestamp": "2025-01-01T00:00:00Z",
                             "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
               {"metadata": {"name": "b", "creationTimestamp": "2025-02-01T00:00:00Z",
                             "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
               {"metadata": {"name": "c", "creationTimestamp": "2025-03-01T00:00:00Z"}}]
    assert default_class(classes)["metadata"]["name"] == "b"  # type: ignore[index]
    assert default_class(classes[2:]) is None


def test_local_path_volume() -> None:
    c = claim("2Gi", cls="local-path")
    sc = localpath.default_storage_class()
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["reclaimPolicy"] == "Delete"
    vol = localpath.build_pv(c, sc, "n1", "/data/storage/")
    assert vol["metadata"]["name"] == "pvc-claim-uid"
    assert vol["spec"]["hostPath"] == {"path": "/data/storage/pvc-claim-uid_ns_data", "type": "DirectoryOrCreate"}
    assert vol["spec"]["capacity"] == {"storage": "2Gi"}
    assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert vol["spec"]["claimRef"]["uid"] == "claim-uid"
    assert node_affinity_allows(vol, "n1", {"kubernetes.io/hostname": "n1"})
    assert not node_affinity_allows(vol, "n2", {"kubernetes.io/hostname": "n2"})
    assert localpath.unsupported_access_modes(claim(modes=("ReadWriteMany", "ReadWriteOnce"))) == ["ReadWriteMany"]
    assert localpath.base_dir({"data_dir": "/var/lib/x"}) == "/var/lib/x/storage"
    assert localpath.base_dir({"local_path_dir": "/mnt"}) == "/mnt"


def test_pod_claim_names() -> None:
    p = {"metadata": {"name": "web", "namespace": "ns"},
         "spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                              {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}},
                              {"name": "cfg", "configMap": {"name": "x"}}]}}
    assert pod_claim_names(p) == ["ns/data", "ns/web-scratch"]
