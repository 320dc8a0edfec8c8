"""Ingress, IngressClass and NetworkPolicy: path types, backends, hosts, defaults, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.networking.ingress import RESOURCE as INGRESS
from kubelite.api.kinds.networking.ingressclass import RESOURCE as INGRESS_CLASS
from kubelite.api.kinds.networking.networkpolicy import RESOURCE as NETPOL
from tests.api.kinds.kindtest import changed, create, created, fields, meta, row, update

BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


def ingress(*paths: dict, host: str = "example.com", **spec: object) -> dict:
    rule = {"host": host, "http": {"paths": list(paths) or [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(),
            "spec": {"rules": [rule], **spec}}


def test_valid_ingress_and_initial_status() -> None:
    ing = created(INGRESS, ingress(ingressClassName="nginx"))
    assert ing["status"] == {"loadBalancer": {}}


@pytest.mark.parametrize("path,expected", [
    ({"path": "/", "backend": BACKEND}, ["spec.rules[0].http.paths[0].pathType"]),
    ({"path": "api", "pathType": "Prefix", "backend": BACKEND}, ["spec.rules[0].http.paths[0].path"]),
    ({"path": "/a//b", "pathType": "Exact", "backend": BACKEND}, ["spec.rules[0].http.paths[0].path"]),
    ({"path": "/a/..", "pathType": "Exact", "backend": BACKEND}, ["spec.rules[0].http.paths[0].path"]),
    ({"path": "/a/%2F", "pathType": "Prefix", "backend": BACKEND}, ["spec.rules[0].http.paths[0].path"]),
    ({"path": "a(.*)", "pathType": "ImplementationSpecific", "backend": BACKEND},
     ["spec.rules[0].http.paths[0].path"]),
    ({"path": "/", "pathType": "Regex", "backend": BACKEND}, ["spec.rules[0].http.paths[0].pathType"]),
    ({"path": "/", "pathType": "Prefix", "backend": {}}, ["spec.rules[0].http.paths[0].backend"]),
    ({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {}}}},
     ["spec.rules[0].http.paths[0].backend"]),
    ({"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "Web", "port": {"name": "http", "number": 80}}}},
     ["spec.rules[0].http.paths[0].backend.service.name", "spec.rules[0].http.paths[0].backend"]),
    ({"path": "/", "pathType": "Prefix", "backend": {**BACKEND, "resource": {"kind": "Bucket", "name": "b"}}},
     ["spec.rules[0].http.paths[0].backend"]),
])
def test_invalid_paths(path: dict, expected: list[str]) -> None:
    assert fields(create(INGRESS, ingress(path))) == expected


def test_path_type_message() -> None:
    (err,) = create(INGRESS, ingress({"path": "/", "backend": BACKEND}))
    assert err.message == "Required value: pathType must be specified"


@pytest.mark.parametrize("host,ok", [("a.example.com", True), ("*.example.com", True), ("10.0.0.1", False),
                                     ("*.*.example.com", False), ("Example.com", False)])
def test_hosts(host: str, ok: bool) -> None:
    assert fields(create(INGRESS, ingress(host=host))) == ([] if ok else ["spec.rules[0].host"])


def test_rules_or_default_backend_required() -> None:
    obj = ingress()
    obj["spec"] = {}
    assert fields(create(INGRESS, obj)) == ["spec"]
    obj["spec"] = {"defaultBackend": BACKEND}
    assert create(INGRESS, obj) == []


def test_class_annotation_must_agree() -> None:
    obj = ingress(ingressClassName="nginx")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert fields(create(INGRESS, obj)) == ["annotations.kubernetes.io/ingress.class"]


def test_ingress_columns() -> None:
    ing = created(INGRESS, ingress(tls=[{"hosts": ["example.com"], "secretName": "tls"}]))
    ing["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}]}}
    assert row(INGRESS, ing) == {"Name": "web", "Class": "<none>", "Hosts": "example.com",
                                 "Address": "10.0.0.9,lb.example.com", "Ports": "80, 443", "Age": "5m"}
    many = ingress()
    many["spec"]["rules"] = [{"host": f"h{i}.example.com"} for i in range(5)] + [{}]
    assert row(INGRESS, created(INGRESS, many))["Hosts"] == "h0.example.com,h1.example.com,h2.example.com + 3 more..."
    assert row(INGRESS, created(INGRESS, ingress(host="")))["Hosts"] == "*"


def ingress_class(**spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": meta("nginx", None),
            "spec": {"controller": "k8s.io/ingress-nginx", **spec}}


def test_ingress_class() -> None:
    ic = created(INGRESS_CLASS, ingress_class(parameters={"apiGroup": "k8s.example.com", "kind": "Params",
                                                          "name": "p"}))
    assert ic["spec"]["parameters"]["scope"] == "Cluster"
    assert row(INGRESS_CLASS, ic) == {"Name": "nginx", "Controller": "k8s.io/ingress-nginx",
                                      "Parameters": "Params.k8s.example.com/p", "Age": "5m"}
    assert fields(create(INGRESS_CLASS, ingress_class(controller="nginx"))) == ["spec.controller"]
    ns_scoped = ingress_class(parameters={"kind": "P", "name": "p", "scope": "Namespace"})
    assert fields(create(INGRESS_CLASS, ns_scoped)) == ["spec.parameters.namespace"]
    assert fields(update(INGRESS_CLASS, changed(ic, "spec.controller", "example.com/other"), ic)) == \
        ["spec.controller"]


def netpol(**spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny"), "spec": spec}


def test_network_policy_defaults() -> None:
    np = created(NETPOL, netpol(ingress=[{"ports": [{"port": 80}]}]))
    assert np["spec"]["podSelector"] == {}
    assert np["spec"]["policyTypes"] == ["Ingress"]
    assert np["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP"
    assert created(NETPOL, netpol(egress=[{}]))["spec"]["policyTypes"] == ["Ingress", "Egress"]


@pytest.mark.parametrize("spec,expected", [
    ({"ingress": [{"ports": [{"port": 80, "endPort": 70}]}]}, ["spec.ingress[0].ports[0].endPort"]),
    ({"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}, ["spec.ingress[0].ports[0].endPort"]),
    ({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}, ["spec.ingress[0].ports[0].protocol"]),
    ({"egress": [{"to": [{}]}]}, ["spec.egress[0].to[0]"]),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}, ["spec.egress[0].to[0]"]),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16", "10.1.0.0/16"]}}]}]},
     ["spec.egress[0].to[0].ipBlock.except[0]"]),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}, ["spec.egress[0].to[0].ipBlock.cidr"]),
    ({"policyTypes": ["Ingress", "Sideways"]}, ["spec.policyTypes[1]"]),
])
def test_network_policy_invalid(spec: dict, expected: list[str]) -> None:
    assert fields(create(NETPOL, netpol(**spec))) == expected


def test_network_policy_columns() -> None:
    np = created(NETPOL, netpol(podSelector={"matchLabels": {"app": "db"}}))
    assert row(NETPOL, np) == {"Name": "deny", "Pod-Selector": "app=db", "Age": "5m"}
    assert row(NETPOL, created(NETPOL, netpol()))["Pod-Selector"] == "<none>"
