"""resource.k8s.io/v1 (dynamic resource allocation): defaults, kube's structural rules, fixed
specs, the Table columns and field selectors."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.resource.deviceclass import RESOURCE as CLASS
from kubelite.api.kinds.resource.resourceclaim import CLAIM, TEMPLATE, claim_state
from kubelite.api.kinds.resource.resourceslice import RESOURCE as SLICE
from tests.api.kinds.kindtest import NOW, create, created, fields, meta, update


def claim(*requests: dict) -> dict:
    reqs = list(requests) or [{"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": meta("c"),
            "spec": {"devices": {"requests": reqs}}}


def rslice(**spec: object) -> dict:
    body = {"driver": "gpu.example.com", "pool": {"name": "node-1", "generation": 0, "resourceSliceCount": 1},
            "nodeName": "node-1", "devices": [{"name": "gpu-0"}, {"name": "gpu-1"}], **spec}
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": meta("s", None),
            "spec": {k: v for k, v in body.items() if v is not None}}


def test_claim_defaults_and_state() -> None:
    c = created(CLAIM, claim())
    exact = c["spec"]["devices"]["requests"][0]["exactly"]
    assert (exact["allocationMode"], exact["count"]) == ("ExactCount", 1)
    assert c["status"] == {} and claim_state(c) == "pending"
    c["status"] = {"allocation": {"devices": {"results": []}}, "reservedFor": [{"resource": "pods", "name": "p",
                                                                                "uid": "u"}]}
    assert claim_state(c) == "allocated,reserved"
    assert CLAIM.strategy.row(c, NOW)[:2] == ["c", "allocated,reserved"]
    whole = created(CLAIM, claim({"name": "all", "exactly": {"deviceClassName": "gpu", "allocationMode": "All"}}))
    assert "count" not in whole["spec"]["devices"]["requests"][0]["exactly"]


@pytest.mark.parametrize("requests,expected", [
    ([{"name": "x"}], ["spec.devices.requests[0]"]),
    ([{"name": "x", "exactly": {"deviceClassName": "a"}, "firstAvailable": [{"name": "y", "deviceClassName": "a"}]}],
     ["spec.devices.requests[0]"]),
    ([{"name": "Bad_Name", "exactly": {"deviceClassName": "a"}}], ["spec.devices.requests[0].name"]),
    ([{"name": "x", "exactly": {"deviceClassName": "a"}}, {"name": "x", "exactly": {"deviceClassName": "a"}}],
     ["spec.devices.requests[1].name"]),
    ([{"name": "x", "exactly": {}}], ["spec.devices.requests[0].exactly.deviceClassName"]),
    ([{"name": "x", "exactly": {"deviceClassName": "a", "allocationMode": "Some"}}],
     ["spec.devices.requests[0].exactly.allocationMode"]),
    ([{"name": "x", "exactly": {"deviceClassName": "a", "count": 0}}], ["spec.devices.requests[0].exactly.count"]),
    ([{"name": "x", "exactly": {"deviceClassName": "a", "selectors": [{}]}}],
     ["spec.devices.requests[0].exactly.selectors[0]"]),
    ([{"name": "x", "firstAvailable": [{"name": "s", "deviceClassName": "a"}] * 2}],
     ["spec.devices.requests[0].firstAvailable[1].name"]),
])
def test_claim_rules(requests: list, expected: list[str]) -> None:
    assert fields(create(CLAIM, claim(*copy.deepcopy(requests)))) == expected


def test_claim_messages_and_fixed_spec() -> None:
    errs = create(CLAIM, claim({"name": "x"}))
    assert errs[0].message == "Required value: exactly one of `exactly` or `firstAvailable` is required"
    old = created(CLAIM, claim())
    new = copy.deepcopy(old)
    new["spec"]["devices"]["requests"][0]["exactly"]["count"] = 2
    assert fields(update(CLAIM, new, old)) == ["spec"]
    assert update(CLAIM, copy.deepcopy(old), old) == []
    constrained = claim()
    constrained["spec"]["devices"]["constraints"] = [{"requests": ["gpu", "nic"], "matchAttribute": "numa"}]
    assert fields(create(CLAIM, constrained)) == ["spec.devices.constraints[0].requests[1]"]


def test_template_and_class() -> None:
    tmpl = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate", "metadata": meta("t"),
            "spec": {"spec": {"devices": {"requests": [{"name": "gpu"}]}}}}
    assert fields(create(TEMPLATE, tmpl)) == ["spec.spec.devices.requests[0]"]
    cls = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": meta("gpu", None),
           "spec": {"selectors": [{"cel": {"expression": 'device.driver == "gpu.example.com"'}}]}}
    assert create(CLASS, cls) == []
    cls["spec"]["config"] = [{"opaque": {"driver": "Not A Driver", "parameters": {}}}]
    assert fields(create(CLASS, cls)) == ["spec.config[0].opaque.driver"]


def test_slice_rules() -> None:
    s = created(SLICE, rslice())
    assert SLICE.strategy.row(s, NOW)[:4] == ["s", "node-1", "gpu.example.com", "node-1"]
    assert SLICE.strategy.field_labels(s) == {"spec.nodeName": "node-1", "spec.driver": "gpu.example.com"}
    errs = create(SLICE, rslice(nodeName=None))
    assert [e.message for e in errs] == [
        "Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"]
    assert fields(create(SLICE, rslice(allNodes=True))) == ["spec"]
    assert fields(create(SLICE, rslice(driver="", pool={"name": "", "resourceSliceCount": 0}))) == \
        ["spec.driver", "spec.pool.name", "spec.pool.resourceSliceCount"]
    assert fields(create(SLICE, rslice(devices=[{"name": "a"}, {"name": "a"}, {}]))) == \
        ["spec.devices[1].name", "spec.devices[2].name"]
    moved = copy.deepcopy(s)
    moved["spec"]["nodeName"] = "node-2"
    assert fields(update(SLICE, moved, s)) == ["spec.nodeName"]
