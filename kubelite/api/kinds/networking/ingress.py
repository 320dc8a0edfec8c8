"""networking.k8s.io/v1 Ingress: HTTP routing rules, their validation and ``kubectl get ing`` columns.

Every path needs a ``pathType`` (v1 has no default): ``Exact`` and ``Prefix`` paths must be
absolute and free of ``//``, ``/./``, ``/../`` and encoded slashes, because controllers match
them literally; ``ImplementationSpecific`` is left to the controller. A backend is either a
Service (name plus port name *or* number) or a typed resource reference, never both. Hosts
are DNS names, optionally with one leading ``*.`` label, never IP addresses.
Also exports the DNS/backend helpers IngressClass shares. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, StatusStrategy, age_cell
from kubelite.api.registry import Column, ResourceType
from kubelite.api.validation import (
    DNS1123_SUBDOMAIN_FMT, is_dns1035_label, is_dns1123_subdomain, is_valid_port_name, is_valid_port_num,
    regex_error, required,
)
from kubelite.machinery.errors import FieldError, invalid, not_supported

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_FMT = r"\*\." + DNS1123_SUBDOMAIN_FMT
_WILDCARD = re.compile(_WILDCARD_FMT)
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if _WILDCARD.fullmatch(value) is None:
        errs.append(regex_error("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                                "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
                                "and end with an alphanumeric character", _WILDCARD_FMT, "*.example.com"))
    return errs


def validate_host(host: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        ipaddress.ip_address(host)
        errs.append(invalid(path, host, "must be a DNS name, not an IP address"))
    except ValueError:
        pass
    check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
    return errs + [invalid(path, host, m) for m in check(host)]


def validate_typed_ref(ref: dict[str, Any], path: str) -> list[FieldError]:
    """A TypedLocalObjectReference (resource backend, IngressClass parameters)."""
    errs: list[FieldError] = []
    if ref.get("apiGroup"):
        errs += [invalid(f"{path}.apiGroup", ref["apiGroup"], m) for m in is_dns1123_subdomain(ref["apiGroup"])]
    for f in ("kind", "name"):
        value = ref.get(f)
        if not value:
            errs.append(required(f"{path}.{f}"))
        elif value in (".", "..") or "/" in value or "%" in value:
            errs.append(invalid(f"{path}.{f}", value, "may not contain '/' or '%' and may not be '.' or '..'"))
    return errs


def validate_backend(backend: dict[str, Any], path: str) -> list[FieldError]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return validate_typed_ref(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    name = service.get("name")
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs += [invalid(f"{path}.service.name", name, m) for m in is_dns1035_label(name)]
    port = service.get("port") or {}
    port_name, port_number = port.get("name") or "", port.get("number") or 0
    if port_name and port_number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(f"{path}.service.port.name", port_name, m) for m in is_valid_port_name(port_name)]
    elif port_number:
        errs += [invalid(f"{path}.service.port.number", port_number, m) for m in is_valid_port_num(port_number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _validate_http_path(p: dict[str, Any], path: str) -> list[FieldError]:
    kind, value = p.get("pathType"), p.get("path") or ""
    if kind is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        for seq in _INVALID_PATH_SEQUENCES:
            if seq in value:
                errs.append(invalid(f"{path}.path", value, f"must not contain '{seq}'"))
        for suffix in _INVALID_PATH_SUFFIXES:
            if value.endswith(suffix):
                errs.append(invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", kind, list(PATH_TYPES)))
    return errs + validate_backend(p.get("backend") or {}, f"{path}.backend")


def validate_ingress_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    rules, default = spec.get("rules") or [], spec.get("defaultBackend")
    errs: list[FieldError] = []
    if not rules and default is None:
        errs.append(invalid(path, "[]", "either `defaultBackend` or `rules` must be specified"))
    if default is not None:
        errs += validate_backend(default, f"{path}.defaultBackend")
    for i, rule in enumerate(rules):
        rpath = f"{path}.rules[{i}]"
        if rule.get("host"):
            errs += validate_host(rule["host"], f"{rpath}.host")
        http = rule.get("http")
        if http is not None:
            paths = http.get("paths") or []
            if not paths:
                errs.append(required(f"{rpath}.http.paths"))
            for j, p in enumerate(paths):
                errs += _validate_http_path(p, f"{rpath}.http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            errs += [invalid(f"{path}.tls[{i}].hosts[{j}]", host, m) for m in check(host)]
        secret = tls.get("secretName")
        if secret:
            errs += [invalid(f"{path}.tls[{i}].secretName", secret, m) for m in is_dns1123_subdomain(secret)]
    cls = spec.get("ingressClassName")
    if cls is not None:
        errs += [invalid(f"{path}.ingressClassName", cls, m) for m in is_dns1123_subdomain(cls)]
    return errs


class IngressStrategy(StatusStrategy):
    # IngressStatus.loadBalancer is a struct: Kubernetes always writes it, empty at first
    initial_status = {"loadBalancer": {}}

    columns = (
        NAME_COLUMN,
        Column("Class", description=(
            "The name of the IngressClass resource that should be used for additional configuration")),
        Column("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
        Column("Address", description="Address is a list containing ingress points for the load-balancer"),
        Column("Ports", description="Ports of TLS configurations that open"),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_ingress_spec(spec, "spec")
        annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
        cls = spec.get("ingressClassName")
        if annotation is not None and cls is not None and annotation != cls:
            errs.append(invalid(f"annotations.{INGRESS_CLASS_ANNOTATION}", annotation,
                                "must match `ingressClassName` when both are specified"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_ingress_spec(obj.get("spec") or {}, "spec")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec = obj.get("spec") or {}
        lb = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        address = ",".join(sorted({i.get("ip") or i.get("hostname") for i in lb if i.get("ip") or i.get("hostname")}))
        return [
            obj["metadata"].get("name", ""),
            spec.get("ingressClassName") or "<none>",
            format_hosts(spec.get("rules") or []),
            address,
            "80, 443" if spec.get("tls") else "80",
            age_cell(obj, now),
        ]


def format_hosts(rules: list[dict[str, Any]]) -> str:
    """The HOSTS cell: the first three hosts, ``*`` when no rule names one. Like the printers,
    "+ N more" counts the *rules* past the third once three hosts were listed."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


RESOURCE = ResourceType(
    group="networking.k8s.io", version="v1", kind="Ingress", plural="ingresses", singular="ingress",
    namespaced=True, strategy=IngressStrategy(), schema="io.k8s.api.networking.v1.Ingress",
    short_names=("ing",), subresources=("status",),
)
