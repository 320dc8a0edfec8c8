"""networking.k8s.io/v1 NetworkPolicy: pod-level allow rules for ingress and egress traffic.

A policy with no ``policyTypes`` is an Ingress policy, plus Egress when it lists egress rules
(so "no egress rules" is not read as "deny all egress" by accident). Ports default to TCP.
A peer is an ``ipBlock`` *or* pod/namespace selectors; ``except`` ranges must lie inside the
block. No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, format_label_selector, set_default
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import (
    is_valid_port_name, is_valid_port_num, required, validate_cidr, validate_label_selector,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

PROTOCOLS = ["SCTP", "TCP", "UDP"]


class NetworkPolicyStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Pod-Selector", description="Selects the pods to which this NetworkPolicy object applies."),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "podSelector", {})
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in rule.get("ports") or []:
                    set_default(port, "protocol", "TCP")
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                rpath = f"spec.{direction}[{i}]"
                for j, port in enumerate(rule.get("ports") or []):
                    errs += _validate_port(port, f"{rpath}.ports[{j}]")
                for j, peer in enumerate(rule.get(peers_key) or []):
                    errs += _validate_peer(peer, f"{rpath}.{peers_key}[{j}]")
        types = spec.get("policyTypes") or []
        for i, kind in enumerate(types):
            if kind not in ("Ingress", "Egress"):
                errs.append(not_supported(f"spec.policyTypes[{i}]", kind, ["Egress", "Ingress"]))
        if len(types) > 2:
            errs.append(invalid("spec.policyTypes", types, "may not specify more than two policyTypes"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        sel = (obj.get("spec") or {}).get("podSelector")
        return [obj["metadata"].get("name", ""), format_label_selector(sel), age_cell(obj, now)]


def _validate_port(port: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    proto = port.get("protocol")
    if proto is not None and proto not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", proto, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, int) and not isinstance(number, bool):
        errs += [invalid(f"{path}.port", number, m) for m in is_valid_port_num(number)]
        if end is not None:
            errs += [invalid(f"{path}.endPort", end, m) for m in is_valid_port_num(end)]
            if isinstance(end, int) and end < number:
                errs.append(invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
    elif isinstance(number, str):
        errs += [invalid(f"{path}.port", number, m) for m in is_valid_port_name(number)]
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
    elif end is not None:
        errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    return errs


def _validate_peer(peer: dict[str, Any], path: str) -> list[FieldError]:
    set_fields = [f for f in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(f) is not None]
    if not set_fields:
        return [required(path, "must specify a peer")]
    if len(set_fields) > 1 and "ipBlock" in set_fields:
        return [forbidden(path, "may not specify both ipBlock and another peer")]
    errs = validate_label_selector(peer.get("podSelector"), f"{path}.podSelector")
    errs += validate_label_selector(peer.get("namespaceSelector"), f"{path}.namespaceSelector")
    block = peer.get("ipBlock")
    if block is not None:
        errs += _validate_ip_block(block, f"{path}.ipBlock")
    return errs


def _validate_ip_block(block: dict[str, Any], path: str) -> list[FieldError]:
    cidr = block.get("cidr")
    if not cidr:
        return [required(f"{path}.cidr")]
    errs = validate_cidr(cidr, f"{path}.cidr")
    if errs:
        return errs
    outer = ipaddress.ip_network(cidr, strict=False)
    for i, exc in enumerate(block.get("except") or []):
        epath = f"{path}.except[{i}]"
        exc_errs = validate_cidr(exc, epath)
        if exc_errs:
            errs += exc_errs
            continue
        inner = ipaddress.ip_network(exc, strict=False)
        # An except range has to carve a hole out of the block, not repeat or exceed it.
        if inner.version != outer.version or not inner.subnet_of(outer) or inner.prefixlen <= outer.prefixlen:  # type: ignore[arg-type]
            errs.append(invalid(epath, exc, "must be a strict subset of `cidr`"))
    return errs


RESOURCE = ResourceType(
    group="networking.k8s.io", version="v1", kind="NetworkPolicy", plural="networkpolicies", singular="networkpolicy",
    namespaced=True, strategy=NetworkPolicyStrategy(), schema="io.k8s.api.networking.v1.NetworkPolicy",
    short_names=("netpol",),
)
