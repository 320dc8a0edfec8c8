"""Leases: duration and transition checks, coordinated-election strategy, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.coordination.lease import RESOURCE as LEASE
from tests.api.kinds.kindtest import create, created, fields, meta, row


def lease(**spec: object) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("kube-scheduler", "kube-system"),
            "spec": spec}


@pytest.mark.parametrize("spec,expected", [
    ({"holderIdentity": "node-1_abc", "leaseDurationSeconds": 15, "leaseTransitions": 0}, []),
    ({"leaseDurationSeconds": 0}, ["spec.leaseDurationSeconds"]),
    ({"leaseTransitions": -1}, ["spec.leaseTransitions"]),
    ({"strategy": "OldestEmulationVersion", "preferredHolder": "a"}, []),
    ({"preferredHolder": "a"}, ["spec.preferredHolder"]),
    ({"strategy": "whoever"}, ["spec.strategy"]),
])
def test_validation(spec: dict, expected: list[str]) -> None:
    assert fields(create(LEASE, lease(**spec))) == expected


def test_columns() -> None:
    assert row(LEASE, created(LEASE, lease(holderIdentity="node-1_abc"))) == \
        {"Name": "kube-scheduler", "Holder": "node-1_abc", "Age": "5m"}
    assert row(LEASE, created(LEASE, lease()))["Holder"] == ""
