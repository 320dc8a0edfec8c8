"""Environment building: $(VAR) expansion, service variables, valueFrom sources."""
from __future__ import annotations

import base64

import pytest

from kubelite.kubelet.pods.envvars import (ConfigError, container_env, expand, expand_command, field_value,
                                           resource_value, service_env)


@pytest.mark.parametrize("text,want", [
    ("plain", "plain"),
    ("$(A)", "1"),
    ("x$(A)y", "x1y"),
    ("$$(A)", "$(A)"),
    ("$$", "$"),
    ("$$$(A)", "$1"),
    ("$(MISSING)", "$(MISSING)"),
    ("$(A", "$(A"),
    ("$A", "$A"),
    ("$", "$"),
    ("$(A)$(B)", "12"),
    ("$()", "$()"),
    ("a$", "a$"),
])
def test_expand(text: str, want: str) -> None:
    assert expand(text, {"A": "1", "B": "2"}) == want


def svc(name: str, ns: str, ip: str, *ports: tuple[str, int, str]) -> dict:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}}


def test_service_env_docker_links() -> None:
    env = service_env([svc("my-svc", "app", "10.43.0.5", ("http", 80, "TCP"), ("dns", 53, "UDP"))], "app", True)
    assert env == {
        "MY_SVC_SERVICE_HOST": "10.43.0.5", "MY_SVC_SERVICE_PORT": "80",
        "MY_SVC_SERVICE_PORT_HTTP": "80", "MY_SVC_SERVICE_PORT_DNS": "53",
        "MY_SVC_PORT": "tcp://10.43.0.5:80",
        "MY_SVC_PORT_80_TCP": "tcp://10.43.0.5:80", "MY_SVC_PORT_80_TCP_PROTO": "tcp",
        "MY_SVC_PORT_80_TCP_PORT": "80", "MY_SVC_PORT_80_TCP_ADDR": "10.43.0.5",
        "MY_SVC_PORT_53_UDP": "udp://10.43.0.5:53", "MY_SVC_PORT_53_UDP_PROTO": "udp",
        "MY_SVC_PORT_53_UDP_PORT": "53", "MY_SVC_PORT_53_UDP_ADDR": "10.43.0.5",
    }


@pytest.mark.parametrize("links,ns,expect", [
    (True, "app", {"MY_SVC_SERVICE_HOST", "KUBERNETES_SERVICE_HOST"}),
    (False, "app", {"KUBERNETES_SERVICE_HOST"}),       # kubernetes is always there
    (True, "other", {"KUBERNETES_SERVICE_HOST"}),      # other namespaces' services are not
])
def test_service_env_scope(links: bool, ns: str, expect: set[str]) -> None:
    services = [svc("my-svc", "app", "10.43.0.5", ("", 80, "TCP")), svc("kubernetes", "default", "10.43.0.1", ("https", 443, "TCP")),
                svc("headless", "app", "None", ("", 80, "TCP"))]
    env = service_env(services, ns, links)
    assert {k for k in env if k.endswith("_SERVICE_HOST")} == expect


def test_service_env_api_override() -> None:
    env = service_env([svc("kubernetes", "default", "10.43.0.1", ("https", 443, "TCP"))], "x", True, ("127.0.0.1", 6443))
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert env["KUBERNETES_PORT_6443_TCP"] == "tcp://127.0.0.1:6443"


POD = {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1", "labels": {"app": "web", "tier": "fe"},
                    "annotations": {"note": 'say "hi"'}},
       "spec": {"nodeName": "n1", "serviceAccountName": "sa",
                "containers": [{"name": "app", "resources": {"limits": {"cpu": "250m", "memory": "64Mi"},
                                                             "requests": {"cpu": "100m"}}}]}}


@pytest.mark.parametrize("path,want", [
    ("metadata.name", "web"), ("metadata.namespace", "ns1"), ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"), ("metadata.annotations['note']", 'say "hi"'),
    ("metadata.labels['nope']", ""), ("spec.nodeName", "n1"), ("spec.serviceAccountName", "sa"),
    ("status.podIP", "10.0.0.9"), ("status.hostIP", "10.0.0.1"), ("status.podIPs", "10.0.0.9"),
    ("metadata.labels", 'app="web"\ntier="fe"'), ("metadata.annotations", 'note="say \\"hi\\""'),
])
def test_field_value(path: str, want: str) -> None:
    assert field_value(POD, path, host_ip="10.0.0.1", pod_ip="10.0.0.9") == want


@pytest.mark.parametrize("resource,divisor,want", [
    ("limits.cpu", None, "1"), ("limits.cpu", "1m", "250"), ("requests.cpu", "1m", "100"),
    ("limits.memory", "1Mi", "64"), ("limits.memory", None, str(64 * 1024 * 1024)),
    ("requests.memory", None, "0"), ("limits.ephemeral-storage", "1Gi", "10"),
])
def test_resource_value(resource: str, divisor: str | None, want: str) -> None:
    assert resource_value(POD, "app", resource, divisor, {"ephemeral-storage": "10Gi"}) == want


def lookup_from(objs: dict) -> object:
    return lambda kind, name: objs.get((kind, name))


def test_container_env_order_sources_and_expansion() -> None:
    objs = {("configmap", "cfg"): {"data": {"MODE": "prod", "PORT": "8080"}},
            ("secret", "sec"): {"data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}}}
    container = {"name": "app",
                 "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                 "env": [{"name": "A", "value": "x"},
                         {"name": "B", "value": "$(A)-$(CFG_PORT)-$(MY_SVC_SERVICE_HOST)-$$(A)"},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASSWORD"}}},
                         {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": True}}},
                         {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}}],
                 "command": ["run", "$(B)"], "args": ["--pw=$(PW)", "$(UNSET)"]}
    env = container_env(POD, container, lookup=lookup_from(objs), services_env={"MY_SVC_SERVICE_HOST": "10.1.1.1"},
                        host_ip="h", pod_ip="p", node_allocatable={})
    d = dict(env)
    assert [k for k, _ in env][:3] == ["CFG_MODE", "CFG_PORT", "A"]
    assert d["B"] == "x-8080-10.1.1.1-$(A)"
    assert d["PW"] == "s3cret" and d["NAME"] == "web" and d["CPU"] == "250"
    assert "OPT" not in d
    assert d["MY_SVC_SERVICE_HOST"] == "10.1.1.1"
    assert expand_command(container, env) == ["run", "x-8080-10.1.1.1-$(A)", "--pw=s3cret", "$(UNSET)"]


@pytest.mark.parametrize("env,message", [
    ([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}], 'configmap "absent" not found'),
    ([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nokey"}}}],
     "couldn't find key nokey in ConfigMap ns1/cfg"),
    ([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nosec", "key": "k"}}}], 'secret "nosec" not found'),
])
def test_missing_required_reference_is_a_config_error(env: list, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        container_env(POD, {"name": "app", "env": env}, lookup=lookup_from({("configmap", "cfg"): {"data": {}}}),
                      services_env={}, host_ip="h", pod_ip="p", node_allocatable={})
