"""APIService: kube-aggregator's validation, defaults, the Table, and the local APIServices
the server registers for its own group/versions."""
from __future__ import annotations

import copy

from kubelite.api import kinds
from kubelite.api.kinds.apiregistration.apiservice import RESOURCE as APISVC
from kubelite.api.kinds.apiregistration.apiservice import local_apiservices, local_available
from tests.api.kinds.kindtest import NOW, create, created, fields, meta


def svc(name: str = "v1beta1.metrics.k8s.io", **spec: object) -> dict:
    body = {"service": {"name": "metrics-server", "namespace": "kube-system"}, "group": "metrics.k8s.io",
            "version": "v1beta1", "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100, "versionPriority": 100,
            **spec}
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": meta(name, None),
            "spec": {k: v for k, v in body.items() if v is not None}}


def test_service_backed_defaults_and_row() -> None:
    a = created(APISVC, svc())
    assert a["spec"]["service"]["port"] == 443 and a["status"] == {}
    assert APISVC.strategy.row(a, NOW)[:3] == ["v1beta1.metrics.k8s.io", "kube-system/metrics-server", "Unknown"]
    a["status"] = {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}
    assert APISVC.strategy.row(a, NOW)[2] == "False (MissingEndpoints)"


def test_validation_messages() -> None:
    errs = create(APISVC, svc("v1.wrong", groupPriorityMinimum=0, versionPriority=1001))
    assert [f"{e.field}: {e.message}" for e in errs] == [
        'metadata.name: Invalid value: "v1.wrong": must be `spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"',
        "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
        "spec.versionPriority: Invalid value: 1001: must be positive and less than 1000"]
    assert fields(create(APISVC, svc("v2.", group="", version="v2"))) == ["spec.group"]
    local = svc(service=None, caBundle="aGVsbG8=")
    assert [e.message for e in create(APISVC, local)] == [
        'Invalid value: "5 bytes": local APIServices may not have a caBundle',
        "Invalid value: true: local APIServices may not have insecureSkipTLSVerify"]
    both = svc(caBundle="aGVsbG8=")
    assert [e.message for e in create(APISVC, both)] == ["Invalid value: true: may not be true if caBundle is present"]
    assert fields(create(APISVC, svc(service={"port": 0}))) == \
        ["spec.service.namespace", "spec.service.name", "spec.service.port"]
    old = created(APISVC, svc())
    bad = copy.deepcopy(old)
    bad["status"] = {"conditions": [{"type": "Available", "status": "Maybe"}]}
    assert fields(APISVC.strategy.validate_update(bad, old)) == ["status.conditions[0].status"]  # the status path


def test_local_apiservices_of_the_built_in_groups() -> None:
    served = list(dict.fromkeys((t.group, t.version) for t in kinds.BUILTIN))
    objs = {o["metadata"]["name"]: o for o in local_apiservices(served)}
    assert objs["v1."]["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert objs["v1.apps"]["spec"]["groupPriorityMinimum"] == 17800
    assert objs["v2.autoscaling"]["spec"]["versionPriority"] == 30
    assert "v1.apiregistration.k8s.io" not in objs  # the aggregator's own group is no APIService
    assert "v1.resource.k8s.io" in objs
    for o in objs.values():
        assert create(APISVC, copy.deepcopy(o)) == []
        assert o["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    avail = local_available("2024-05-01T12:00:00Z")["conditions"][0]
    assert (avail["status"], avail["reason"], avail["message"]) == ("True", "Local", "Local APIServices are always available")
