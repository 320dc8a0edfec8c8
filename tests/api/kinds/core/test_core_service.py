"""Services: defaults, validation, allocated values kept across updates, Table cells."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.core.service import SERVICE
from kubelite.api.validation import validate_object_meta
from tests.api.kinds.core.builders import NOW, create, fields, meta, update


def svc(**spec: object) -> dict:
    base: dict = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("web"), "spec": base}


def test_defaults() -> None:
    s = svc(ports=[{"port": 80}, {"name": "b", "port": 443, "targetPort": "https"}])
    s["spec"]["ports"][0]["name"] = "a"
    assert create(SERVICE, s) == []
    spec = s["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80},
                             {"name": "b", "port": 443, "targetPort": "https", "protocol": "TCP"}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert "externalTrafficPolicy" not in spec
    assert s["status"] == {"loadBalancer": {}}


def test_defaults_by_type() -> None:
    lb = svc(type="LoadBalancer")
    create(SERVICE, lb)
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    ext = svc(type="ExternalName", externalName="db.example.com", ports=[])
    assert create(SERVICE, ext) == []
    assert "ipFamilies" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]
    headless = svc(clusterIP="None", selector=None, ports=[])
    assert create(SERVICE, headless) == []
    assert headless["spec"]["clusterIPs"] == ["None"]
    assert headless["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    affinity = svc(sessionAffinity="ClientIP")
    create(SERVICE, affinity)
    assert affinity["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_name_is_dns1035() -> None:
    rule = SERVICE.strategy.name_validator  # type: ignore[attr-defined]
    errs = validate_object_meta({"name": "1web", "namespace": "default"}, namespaced=True, name_validator=rule)
    assert fields(errs) == ["metadata.name"]
    assert "DNS-1035 label" in errs[0].message


@pytest.mark.parametrize("spec,expected", [
    ({"ports": []}, ["spec.ports"]),
    ({"ports": [{"port": 80}, {"port": 81}]}, ["spec.ports[0].name", "spec.ports[1].name"]),
    ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}, ["spec.ports[1].name"]),
    ({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}, ["spec.ports[1]"]),
    ({"ports": [{"port": 0}]}, ["spec.ports[0].port", "spec.ports[0].targetPort"]),  # targetPort defaults to port
    ({"ports": [{"port": 80, "protocol": "ICMP"}]}, ["spec.ports[0].protocol"]),
    ({"ports": [{"port": 80, "targetPort": 70000}]}, ["spec.ports[0].targetPort"]),
    ({"ports": [{"port": 80, "nodePort": 30080}]}, ["spec.ports[0].nodePort"]),
    ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}, ["spec.ports[0].nodePort"]),
    ({"clusterIP": "10.0.0.300"}, ["spec.clusterIPs[0]"]),
    ({"type": "Magic"}, ["spec.type"]),
    ({"type": "ExternalName", "ports": []}, ["spec.externalName"]),
    ({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.0.0.1"}, ["spec.clusterIPs"]),
    ({"type": "NodePort", "clusterIP": "None"}, ["spec.clusterIPs[0]"]),
    ({"selector": {"app": "-x"}}, ["spec.selector"]),
    ({"sessionAffinity": "Sticky"}, ["spec.sessionAffinity"]),
    ({"externalIPs": ["nope"]}, ["spec.externalIPs[0]"]),
])
def test_validation_paths(spec: dict, expected: list[str]) -> None:
    assert fields(create(SERVICE, svc(**spec))) == expected


def test_messages() -> None:
    errs = create(SERVICE, svc(ports=[{"port": 80, "nodePort": 30080}]))
    assert errs[0].message == "Forbidden: may not be used when `type` is 'ClusterIP'"
    errs = create(SERVICE, svc(type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert errs[0].message == ("Invalid value: 80: provided port is not in the valid range. The range of valid ports "
                               "is 30000-32767")


def _stored(**spec: object) -> dict:
    s = svc(**spec)
    create(SERVICE, s)
    # what the API server's allocator adds after validation
    s["spec"]["clusterIP"], s["spec"]["clusterIPs"] = "10.96.0.10", ["10.96.0.10"]
    for p in s["spec"]["ports"]:
        if s["spec"]["type"] == "NodePort":
            p["nodePort"] = 31000
    return s


def test_update_keeps_allocated_values_when_omitted() -> None:
    old = _stored(type="NodePort")
    new = svc(type="NodePort")  # e.g. `kubectl replace` of the original manifest
    assert update(SERVICE, new, old) == []
    assert new["spec"]["clusterIP"] == "10.96.0.10" and new["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert new["spec"]["ports"][0]["nodePort"] == 31000


def test_cluster_ip_is_immutable() -> None:
    old = _stored()
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"], new["spec"]["clusterIPs"] = "None", ["None"]
    errs = update(SERVICE, new, old)
    assert [(e.field, e.message) for e in errs] == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"None"}: may not change once set')]


def test_status_update_keeps_spec() -> None:
    old = _stored(type="LoadBalancer")
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
    new["spec"]["type"] = "ClusterIP"
    SERVICE.strategy.prepare_for_status_update(new, old)
    assert SERVICE.strategy.validate_update(new, old) == []
    assert new["spec"]["type"] == "LoadBalancer"


def test_columns_and_rows() -> None:
    assert [c.name for c in SERVICE.strategy.columns] == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)",
                                                          "Age", "Selector"]
    s = _stored()
    assert SERVICE.strategy.row(s, NOW) == ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5m", "app=web"]
    np = _stored(type="NodePort", ports=[{"port": 80}])
    assert SERVICE.strategy.row(np, NOW)[4] == "80:31000/TCP"
    lb = _stored(type="LoadBalancer")
    assert SERVICE.strategy.row(lb, NOW)[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}, {"hostname": "lb.example.com"}]}}
    assert SERVICE.strategy.row(lb, NOW)[3] == "192.0.2.10,lb.example.com"
    ext = svc(type="ExternalName", externalName="db.example.com", ports=[], selector=None)
    create(SERVICE, ext)
    assert SERVICE.strategy.row(ext, NOW)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    assert SERVICE.strategy.row(ext, NOW)[6] == "<none>"


def test_resource_type() -> None:
    assert (SERVICE.plural, SERVICE.short_names, SERVICE.categories, SERVICE.subresources) == (
        "services", ("svc",), ("all",), ("status",))


def test_cluster_ip_family_must_match() -> None:
    errs = create(SERVICE, svc(clusterIP="fd00::10"))
    assert [(e.field, e.message) for e in errs] == [
        ("spec.clusterIPs[0]", 'Invalid value: "fd00::10": expected an IPv4 value as indicated by `ipFamilies[0]`')]
    assert create(SERVICE, svc(clusterIP="10.96.0.20")) == []
