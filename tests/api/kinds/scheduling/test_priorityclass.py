"""PriorityClasses: the system prefix, the user ceiling, immutable value, defaults, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.scheduling.priorityclass import RESOURCE as PC, system_priority_class_objects
from tests.api.kinds.kindtest import changed, create, created, fields, meta, row, update


def pc(name: str = "high", value: int = 1000, **body: object) -> dict:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": meta(name, None),
            "value": value, **body}


@pytest.mark.parametrize("name,value,body,expected", [
    ("high", 1000, {}, []),
    ("high", 1_000_000_001, {}, ["value"]),
    ("system-high", 10, {}, ["metadata.name"]),
    ("system-node-critical", 2_000_001_000, {}, []),
    ("system-node-critical", 5, {}, ["metadata.name"]),
    ("high", 1, {"preemptionPolicy": "Sometimes"}, ["preemptionPolicy"]),
])
def test_validation(name: str, value: int, body: dict, expected: list[str]) -> None:
    assert fields(create(PC, pc(name, value, **body))) == expected


def test_defaults_update_and_columns() -> None:
    p = created(PC, pc(globalDefault=True))
    assert p["preemptionPolicy"] == "PreemptLowerPriority"
    assert fields(update(PC, changed(p, "value", 5), p)) == ["value"]
    assert fields(update(PC, changed(p, "preemptionPolicy", "Never"), p)) == ["preemptionPolicy"]
    assert update(PC, changed(p, "description", "x"), p) == []
    assert row(PC, p) == {"Name": "high", "Value": 1000, "Global-Default": True, "Age": "5m",
                          "PreemptionPolicy": "PreemptLowerPriority"}


def test_bootstrap_objects_are_valid() -> None:
    for obj in system_priority_class_objects():
        assert create(PC, obj) == []
