"""EndpointSlices: port defaults, address validation per addressType, immutability, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.discovery.endpointslice import RESOURCE as SLICE
from tests.api.kinds.kindtest import changed, create, created, fields, meta, row, update


def eps(address_type: str = "IPv4", addresses: tuple[str, ...] = ("10.1.0.5",), **body: object) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("web-abc12"),
            "addressType": address_type, "endpoints": [{"addresses": list(addresses)}],
            "ports": [{"port": 80}], **body}


def test_port_defaults() -> None:
    s = created(SLICE, eps())
    assert s["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


@pytest.mark.parametrize("kind,addresses,expected", [
    ("IPv4", ("10.1.0.5", "10.1.0.6"), []),
    ("IPv4", ("fd00::1",), ["endpoints[0].addresses[0]"]),
    ("IPv6", ("fd00::1",), []),
    ("IPv6", ("10.1.0.5",), ["endpoints[0].addresses[0]"]),
    ("FQDN", ("db.example.com",), []),
    ("FQDN", ("db",), ["endpoints[0].addresses[0]"]),
    ("IPv4", (), ["endpoints[0].addresses"]),
    ("IPX", ("10.1.0.5",), ["addressType"]),
])
def test_addresses(kind: str, addresses: tuple[str, ...], expected: list[str]) -> None:
    assert fields(create(SLICE, eps(kind, addresses))) == expected


def test_ports_invalid() -> None:
    obj = eps(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 70000, "protocol": "ICMP"}])
    assert fields(create(SLICE, obj)) == ["ports[1].name", "ports[1].protocol", "ports[1].port"]


def test_address_type_immutable() -> None:
    old = created(SLICE, eps())
    new = changed(old, "addressType", "IPv6")
    new["endpoints"] = [{"addresses": ["fd00::1"]}]
    assert fields(update(SLICE, new, old)) == ["addressType"]


def test_columns() -> None:
    s = created(SLICE, eps(addresses=("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"),
                           ports=[{"port": 80}, {"name": "metrics"}]))
    assert row(SLICE, s) == {"Name": "web-abc12", "AddressType": "IPv4", "Ports": "80,metrics",
                             "Endpoints": "10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...", "Age": "5m"}
    empty = created(SLICE, eps(endpoints=[], ports=[]))
    assert (row(SLICE, empty)["Ports"], row(SLICE, empty)["Endpoints"]) == ("<unset>", "<unset>")
