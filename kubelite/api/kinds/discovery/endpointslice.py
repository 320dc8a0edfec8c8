"""discovery.k8s.io/v1 EndpointSlice: a Service's ready/serving/terminating endpoints, in pieces.

The endpointslice controller writes them (label ``kubernetes.io/service-name``); kube-proxy
and DNS read them. Each address must match the slice's ``addressType`` (IPv4, IPv6 or FQDN),
which cannot change after create. Ports default to TCP with an empty name. No status.
Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, set_default
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import (
    is_dns1123_label, is_dns1123_subdomain, is_valid_ip, is_valid_ipv4, is_valid_port_num, required,
    too_many, validate_immutable, validate_labels,
)
from kubelite.machinery.errors import FieldError, duplicate, invalid, not_supported

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000


class EndpointSliceStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("AddressType", description="addressType specifies the type of address carried by this EndpointSlice."),
        Column("Ports", description=(
            "ports specifies the list of network ports exposed by each endpoint in this slice.")),
        Column("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        for port in obj.get("ports") or []:
            set_default(port, "name", "")
            set_default(port, "protocol", "TCP")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        kind = obj.get("addressType")
        errs: list[FieldError] = []
        if not kind:
            errs.append(required("addressType"))
        elif kind not in ADDRESS_TYPES:
            errs.append(not_supported("addressType", kind, ADDRESS_TYPES))
        endpoints = obj.get("endpoints") or []
        if len(endpoints) > MAX_ENDPOINTS:
            errs.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
        for i, ep in enumerate(endpoints):
            errs += _validate_endpoint(ep, kind, f"endpoints[{i}]")
        ports = obj.get("ports") or []
        if len(ports) > MAX_PORTS:
            errs.append(too_many("ports", len(ports), MAX_PORTS))
        seen: set[str] = set()
        for i, port in enumerate(ports):
            path = f"ports[{i}]"
            name = port.get("name") or ""
            if name:
                errs += [invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
            if name in seen:
                errs.append(duplicate(f"{path}.name", name))
            seen.add(name)
            proto = port.get("protocol")
            if proto is None:
                errs.append(required(f"{path}.protocol"))
            elif proto not in PROTOCOLS:
                errs.append(not_supported(f"{path}.protocol", proto, PROTOCOLS))
            if port.get("port") is not None:
                errs += [invalid(f"{path}.port", port["port"], m) for m in is_valid_port_num(port["port"])]
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_immutable(obj.get("addressType"), old.get("addressType"), "addressType")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        ports = []
        for p in obj.get("ports") or []:
            if p.get("port") is not None:
                ports.append(str(p["port"]))
            else:
                ports.append(p["name"] if p.get("name") is not None else "*")
        addresses = [a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []]
        return [obj["metadata"].get("name", ""), obj.get("addressType", ""), _list_with_more(ports),
                _list_with_more(addresses), age_cell(obj, now)]


def _list_with_more(items: list[str]) -> str:
    """The printers' ``listWithMoreString``: three items, then "+ N more...", ``<unset>`` if none."""
    if not items:
        return "<unset>"
    if len(items) > 3:
        return f"{','.join(items[:3])} + {len(items) - 3} more..."
    return ",".join(items)


def _validate_endpoint(ep: dict[str, Any], kind: str | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    addresses = ep.get("addresses") or []
    if not addresses:
        errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        errs.append(too_many(f"{path}.addresses", len(addresses), MAX_ADDRESSES))
    for i, addr in enumerate(addresses):
        apath = f"{path}.addresses[{i}]"
        if kind == "IPv4" and not is_valid_ipv4(addr):
            errs.append(invalid(apath, addr, "must be a valid IPv4 address"))
        elif kind == "IPv6" and (not is_valid_ip(addr) or is_valid_ipv4(addr)):
            errs.append(invalid(apath, addr, "must be a valid IPv6 address"))
        elif kind == "FQDN":
            errs += [invalid(apath, addr, m) for m in is_dns1123_subdomain(addr)]
            if addr and "." not in addr:
                errs.append(invalid(apath, addr, "should be a domain with at least two segments separated by dots"))
    if ep.get("nodeName"):
        errs += [invalid(f"{path}.nodeName", ep["nodeName"], m) for m in is_dns1123_subdomain(ep["nodeName"])]
    if ep.get("hostname"):
        errs += [invalid(f"{path}.hostname", ep["hostname"], m) for m in is_dns1123_label(ep["hostname"])]
    errs += validate_labels(ep.get("deprecatedTopology"), f"{path}.deprecatedTopology")
    return errs


RESOURCE = ResourceType(
    group="discovery.k8s.io", version="v1", kind="EndpointSlice", plural="endpointslices", singular="endpointslice",
    namespaced=True, strategy=EndpointSliceStrategy(), schema="io.k8s.api.discovery.v1.EndpointSlice",
)
