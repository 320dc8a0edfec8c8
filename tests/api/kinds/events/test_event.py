"""events.k8s.io Events: conversion with core/v1 both ways, strict create rules, columns, fields."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.events.event import RESOURCE as EVENT, from_storage, to_storage
from tests.api.kinds.kindtest import NOW, changed, create, created, fields, meta, row, update

REGARDING = {"apiVersion": "v1", "kind": "Pod", "name": "web-1", "namespace": "default", "uid": "p1"}


def event(**body: object) -> dict:
    base = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web-1.17a"),
            "eventTime": "2024-05-01T11:58:00.123456Z", "reportingController": "kubelite.io/kubelet",
            "reportingInstance": "node-1", "action": "Pulling", "reason": "Pulling", "type": "Normal",
            "regarding": REGARDING, "note": "Pulling image nginx"}
    base.update(body)
    return {k: v for k, v in base.items() if v is not None}


def test_to_core_and_back() -> None:
    e = event(series={"count": 3, "lastObservedTime": "2024-05-01T11:59:00.000000Z"},
              related={"kind": "Node", "name": "node-1"})
    core = to_storage(copy.deepcopy(e))
    assert core["apiVersion"] == "v1"
    assert core["involvedObject"] == REGARDING
    assert (core["message"], core["reportingComponent"], core["reportingInstance"]) == \
        ("Pulling image nginx", "kubelite.io/kubelet", "node-1")
    assert "regarding" not in core and "note" not in core
    assert from_storage(core) == e


def test_core_event_reads_as_events_k8s_io() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": meta("web-1.17b"), "involvedObject": REGARDING,
            "reason": "Scheduled", "message": "Successfully assigned", "source": {"component": "default-scheduler"},
            "firstTimestamp": "2024-05-01T11:57:00Z", "lastTimestamp": "2024-05-01T11:58:00Z", "count": 2,
            "type": "Normal", "reportingComponent": "", "reportingInstance": ""}
    e = from_storage(core)
    assert e["regarding"] == REGARDING and e["note"] == "Successfully assigned"
    assert e["deprecatedSource"] == {"component": "default-scheduler"}
    assert (e["deprecatedFirstTimestamp"], e["deprecatedLastTimestamp"], e["deprecatedCount"]) == \
        ("2024-05-01T11:57:00Z", "2024-05-01T11:58:00Z", 2)
    assert "reportingController" not in e and "reportingInstance" not in e
    assert to_storage(e) == {k: v for k, v in core.items() if v != ""}


@pytest.mark.parametrize("body,expected", [
    ({}, []),
    ({"eventTime": None}, ["eventTime"]),
    ({"reportingController": None}, ["reportingController"]),
    ({"action": None, "reportingInstance": None}, ["reportingInstance", "action"]),
    ({"reason": "x" * 129}, ["reason"]),
    ({"type": "Fatal"}, ["type"]),
    ({"deprecatedCount": 2, "deprecatedSource": {"component": "x"}}, ["deprecatedCount", "deprecatedSource"]),
    ({"series": {"count": 1}}, ["series.count", "series.lastObservedTime"]),
    ({"regarding": {**REGARDING, "namespace": "other"}}, []),
    ({"regarding": {"kind": "Node", "name": "n1"}}, ["involvedObject.namespace"]),
])
def test_validation(body: dict, expected: list[str]) -> None:
    obj = event(**body)
    if body.get("regarding") == {"kind": "Node", "name": "n1"}:
        obj["metadata"]["namespace"] = "apps"
    assert fields(create(EVENT, obj)) == expected


def test_most_fields_are_immutable() -> None:
    old = created(EVENT, event())
    new = changed(changed(old, "note", "changed"), "series", {"count": 2, "lastObservedTime": "2024-05-01T11:59:00Z"})
    assert fields(update(EVENT, new, old)) == ["message"]


def test_columns_and_field_labels() -> None:
    e = created(EVENT, event(series={"count": 4, "lastObservedTime": "2024-05-01T11:59:30.000000Z"}))
    assert row(EVENT, e) == {"Last Seen": "30s", "Type": "Normal", "Reason": "Pulling", "Object": "pod/web-1",
                             "Subobject": "", "Source": "kubelite.io/kubelet, node-1", "Message": "Pulling image nginx",
                             "First Seen": "119s", "Count": 4, "Name": "web-1.17a"}
    labels = EVENT.strategy.field_labels(e)
    assert labels["regarding.name"] == "web-1" and labels["reportingController"] == "kubelite.io/kubelet"
    assert EVENT.storage_resource == "core/events" and NOW.year == 2024
