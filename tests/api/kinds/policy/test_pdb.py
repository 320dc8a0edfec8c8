"""PodDisruptionBudgets: minAvailable/maxUnavailable rules, initial status, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.policy.poddisruptionbudget import RESOURCE as PDB
from tests.api.kinds.kindtest import create, created, fields, meta, row


def pdb(**spec: object) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("web-pdb"),
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


@pytest.mark.parametrize("spec,expected", [
    ({"minAvailable": 2}, []),
    ({"maxUnavailable": "50%"}, []),
    ({"minAvailable": 1, "maxUnavailable": 1}, ["spec"]),
    ({"minAvailable": "120%"}, ["spec.minAvailable"]),
    ({"maxUnavailable": -1}, ["spec.maxUnavailable"]),
    ({"minAvailable": "half"}, ["spec.minAvailable"]),
    ({"unhealthyPodEvictionPolicy": "Never"}, ["spec.unhealthyPodEvictionPolicy"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
     ["spec.selector.matchExpressions[0].operator"]),
])
def test_validation(spec: dict, expected: list[str]) -> None:
    assert fields(create(PDB, pdb(**spec))) == expected


def test_initial_status_and_columns() -> None:
    p = created(PDB, pdb(minAvailable="50%"))
    assert p["status"] == {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}
    p["status"]["disruptionsAllowed"] = 1
    assert row(PDB, p) == {"Name": "web-pdb", "Min Available": "50%", "Max Unavailable": "N/A",
                           "Allowed Disruptions": 1, "Age": "5m"}
