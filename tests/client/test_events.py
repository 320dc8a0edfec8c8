"""Event recorder: Event shape, de-duplication by PATCH, similar-event aggregation, dropping."""
from __future__ import annotations

import re
from typing import Any, AsyncIterator

import pytest

from kubelite.client import Client, EventRecorder, FakeClock, FakeRecorder

from .fakeapi import FakeAPI

POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "prod", "uid": "u-1", "resourceVersion": "42"}}
NODE: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "uid": "u-n"}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def recorder(client: Client, clock: FakeClock) -> AsyncIterator[EventRecorder]:
    r = EventRecorder(client, "kubelet", host="node-a", clock=clock)
    yield r
    await r.stop()


def events(api: FakeAPI) -> list[dict]:
    return api.of("/events")


async def test_event_shape(recorder: EventRecorder, api: FakeAPI) -> None:
    recorder.event(POD, "Normal", "Pulled", "Container image \"nginx\" already present on machine",
                   field_path="spec.containers{web}")
    assert await recorder.flush(1)
    [ev] = events(api)
    assert re.fullmatch(r"web-1\.[0-9a-f]+", ev["metadata"]["name"])
    assert ev["metadata"]["namespace"] == "prod"
    assert ev["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "name": "web-1", "namespace": "prod",
                                    "uid": "u-1", "resourceVersion": "42", "fieldPath": "spec.containers{web}"}
    assert ev["source"] == {"component": "kubelet", "host": "node-a"}
    assert ev["reportingComponent"] == "kubelet" and ev["reportingInstance"] == "node-a"
    assert ev["type"] == "Normal" and ev["reason"] == "Pulled" and ev["count"] == 1
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2025-01-01T00:00:00Z"
    assert ev["eventTime"] is None


async def test_repeats_patch_count_within_ten_minutes(recorder: EventRecorder, api: FakeAPI,
                                                      clock: FakeClock) -> None:
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    await recorder.flush(1)
    await clock.advance(60)
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    await recorder.flush(1)
    await clock.advance(590)  # 10 min after the first, but only 9m50s after the previous one
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    await recorder.flush(1)
    [ev] = events(api)
    assert ev["count"] == 3
    assert ev["firstTimestamp"] == "2025-01-01T00:00:00Z" and ev["lastTimestamp"] == "2025-01-01T00:10:50Z"
    patches = [r for r in api.requests if r.method == "PATCH"]
    assert len(patches) == 2 and patches[0].content_type == "application/merge-patch+json"
    assert patches[0].path == f"/api/v1/namespaces/prod/events/{ev['metadata']['name']}"
    # More than 10 minutes of quiet: a fresh Event.
    await clock.advance(601)
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    await recorder.flush(1)
    assert sorted(e["count"] for e in events(api)) == [1, 3]


async def test_distinct_keys_make_distinct_events(recorder: EventRecorder, api: FakeAPI) -> None:
    recorder.event(POD, "Normal", "Pulled", "one")
    recorder.event(POD, "Normal", "Pulled", "two")
    recorder.event(POD, "Warning", "Pulled", "one")
    recorder.event(POD, "Normal", "Created", "one")
    recorder.event({**POD, "metadata": {**POD["metadata"], "uid": "u-2"}}, "Normal", "Pulled", "one")
    recorder.event(POD, "Normal", "Pulled", "one")  # the only repeat
    await recorder.flush(1)
    evs = events(api)
    assert len(evs) == 5
    assert len({e["metadata"]["name"] for e in evs}) == 5
    assert sorted(e["count"] for e in evs) == [1, 1, 1, 1, 2]


async def test_similar_events_are_combined(recorder: EventRecorder, api: FakeAPI) -> None:
    for i in range(12):
        recorder.event(POD, "Warning", "FailedMount", f"volume vol-{i} not ready")
    await recorder.flush(1)
    evs = events(api)
    # 9 individual events, then the 10th and later fold into one combined event.
    assert len(evs) == 10
    combined = [e for e in evs if e["message"].startswith("(combined from similar events): ")]
    assert len(combined) == 1
    assert combined[0]["count"] == 3 and combined[0]["message"].endswith("vol-11 not ready")


async def test_cluster_scoped_objects_go_to_default(recorder: EventRecorder, api: FakeAPI) -> None:
    recorder.event(NODE, "Normal", "NodeReady", "Node node-a status is now: NodeReady")
    await recorder.flush(1)
    [ev] = events(api)
    assert ev["metadata"]["namespace"] == "default" and "namespace" not in ev["involvedObject"]


async def test_deleted_event_is_recreated_with_tally(recorder: EventRecorder, api: FakeAPI) -> None:
    recorder.event(POD, "Normal", "Killing", "Stopping container web")
    await recorder.flush(1)
    [ev] = events(api)
    api.remove("/events", "prod", ev["metadata"]["name"])  # expired by the server's TTL
    recorder.event(POD, "Normal", "Killing", "Stopping container web")
    await recorder.flush(1)
    [ev2] = events(api)
    assert ev2["count"] == 2 and ev2["metadata"]["name"] != ev["metadata"]["name"]
    assert ev2["firstTimestamp"] == ev["firstTimestamp"]


async def test_non_blocking_bounded_buffer(client: Client, api: FakeAPI, clock: FakeClock) -> None:
    rec = EventRecorder(client, "ctrl", clock=clock, buffer=2)
    for i in range(5):  # no await in between: the writer cannot run
        rec.event(POD, "Normal", "R", f"m{i}")
    rec.event(POD, "Bogus", "R", "invalid type is dropped")
    assert rec.dropped == 3
    await rec.flush(1)
    assert sorted(e["message"] for e in events(api)) == ["m0", "m1"]
    await rec.stop()


async def test_write_failures_do_not_stop_the_writer(client: Client, api: FakeAPI, clock: FakeClock) -> None:
    from kubelite.client.transport import Response
    fail = {"n": 1}

    def hook(req):  # noqa: ANN001
        if fail["n"]:
            fail["n"] -= 1
            return Response(500, {}, b"")
        return None
    api.hooks.append(hook)
    rec = EventRecorder(client, "ctrl", clock=clock)
    rec.event(POD, "Normal", "A", "lost")
    rec.event(POD, "Normal", "B", "kept")
    await rec.flush(1)
    assert [e["reason"] for e in events(api)] == ["B"]
    await rec.stop()


def test_fake_recorder() -> None:
    r = FakeRecorder()
    r.event(POD, "Normal", "Scheduled", "ok")
    assert r.events == [("Normal", "Scheduled", "ok", {
        "kind": "Pod", "apiVersion": "v1", "name": "web-1", "namespace": "prod", "uid": "u-1",
        "resourceVersion": "42"})]
