"""The Endpoints kind: the addresses behind a Service (written by the endpoints controller).

Defaults give every port protocol TCP. Validation follows Kubernetes' ValidateEndpoints:
addresses are IPs outside the loopback and link-local ranges (traffic to them would never
leave the node), ports are named when there are several, hostnames are DNS labels. The
ENDPOINTS column shows at most three ``ip:port`` pairs, then ``+ N more...``.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, index, is_dns1123_label, is_dns1123_subdomain, is_valid_ip, is_valid_port_num, required, validate_enum,
)
from kubelite.machinery.errors import FieldError, duplicate, invalid

PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_SHOWN = 3


def default_endpoints(ep: dict[str, Any]) -> None:
    for subset in ep.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _validate_address(addr: Any, path: str) -> list[FieldError]:
    if not isinstance(addr, dict):
        return [invalid(path, addr, "must be an object")]
    ip = addr.get("ip")
    p = child(path, "ip")
    if not isinstance(ip, str) or not is_valid_ip(ip):
        return [invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    errs: list[FieldError] = []
    parsed = ipaddress.ip_address(ip)
    if parsed.is_unspecified:
        errs.append(invalid(p, ip, "may not be unspecified (0.0.0.0)"))
    if parsed.is_loopback:
        errs.append(invalid(p, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if parsed.is_link_local:
        errs.append(invalid(p, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    multicast = ipaddress.ip_network("224.0.0.0/24" if parsed.version == 4 else "ff02::/10")
    if parsed in multicast:
        errs.append(invalid(p, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    if addr.get("hostname"):
        errs += [invalid(child(path, "hostname"), addr["hostname"], m) for m in is_dns1123_label(str(addr["hostname"]))]
    if addr.get("nodeName"):
        errs += [invalid(child(path, "nodeName"), addr["nodeName"], m)
                 for m in is_dns1123_subdomain(str(addr["nodeName"]))]
    return errs


def validate_endpoints(ep: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, subset in enumerate(ep.get("subsets") or []):
        sp = index("subsets", i)
        if not isinstance(subset, dict):
            errs.append(invalid(sp, subset, "must be an object"))
            continue
        for field_name in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(subset.get(field_name) or []):
                errs += _validate_address(addr, index(child(sp, field_name), j))
        ports = subset.get("ports") or []
        names: set[str] = set()
        for j, port in enumerate(ports):
            pp = index(child(sp, "ports"), j)
            if not isinstance(port, dict):
                errs.append(invalid(pp, port, "must be an object"))
                continue
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                errs.append(required(child(pp, "name")))
            elif name:
                errs += [invalid(child(pp, "name"), name, m) for m in is_dns1123_label(name)]
                if name in names:
                    errs.append(duplicate(child(pp, "name"), name))
                names.add(name)
            errs += [invalid(child(pp, "port"), port.get("port"), m) for m in is_valid_port_num(port.get("port"))]
            errs += validate_enum(port.get("protocol"), child(pp, "protocol"), PROTOCOLS)
    return errs


def format_endpoints(ep: dict[str, Any]) -> str:
    """``10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...`` (``<none>`` without subsets)."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    more = False
    for subset in subsets:
        addrs = [a.get("ip") or "" for a in (subset or {}).get("addresses") or [] if isinstance(a, dict)]
        ports = (subset or {}).get("ports") or []
        # A headless service's endpoints may have no ports: list the bare addresses.
        pairs_per_port = [list(addrs)] if not ports else [
            [f"[{ip}]:{p.get('port')}" if ":" in ip else f"{ip}:{p.get('port')}" for ip in addrs]
            for p in ports if isinstance(p, dict)]
        for pairs in pairs_per_port:
            count += len(pairs)
            for pair in pairs:
                if len(shown) == MAX_SHOWN:
                    more = True
                    break
                shown.append(pair)
    text = ",".join(shown)
    return f"{text} + {count - MAX_SHOWN} more..." if more else text


class EndpointsStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Endpoints", description="The set of all endpoints is the union of all subsets."),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_endpoints(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_endpoints(obj)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), format_endpoints(obj), age(obj, now)]


ENDPOINTS = ResourceType(
    group="", version="v1", kind="Endpoints", plural="endpoints", singular="endpoints", namespaced=True,
    strategy=EndpointsStrategy(), schema="io.k8s.api.core.v1.Endpoints", short_names=("ep",),
)
