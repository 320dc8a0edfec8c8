"""CSIStorageCapacity: required class, quantities, fixed class and topology, the Table."""
from __future__ import annotations

from kubelite.api.kinds.storage.csistoragecapacity import RESOURCE as CAP
from tests.api.kinds.kindtest import NOW, changed, create, created, fields, meta, update


def cap(**body: object) -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": meta("csisc-1", "kube-system"),
            "storageClassName": "fast", "nodeTopology": {"matchLabels": {"topology.example.com/zone": "a"}},
            "capacity": "100Gi", **body}


def test_capacity_rules() -> None:
    c = created(CAP, cap(maximumVolumeSize="10Gi"))
    assert CAP.strategy.row(c, NOW) == ["csisc-1", "fast", "100Gi"]
    assert fields(create(CAP, cap(storageClassName=""))) == ["storageClassName"]
    assert fields(create(CAP, cap(capacity="-1Gi"))) == ["capacity"]
    assert fields(create(CAP, cap(nodeTopology={"matchExpressions": [{"key": "k", "operator": "Sometimes"}]}))) == \
        ["nodeTopology.matchExpressions[0].operator"]
    assert update(CAP, changed(c, "capacity", "50Gi"), c) == []
    assert fields(update(CAP, changed(c, "storageClassName", "slow"), c)) == ["storageClassName"]
    assert fields(update(CAP, changed(c, "nodeTopology", {"matchLabels": {"zone": "b"}}), c)) == ["nodeTopology"]
