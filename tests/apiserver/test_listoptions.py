"""List/watch options: kube's ListOptions validation and streaming lists (sendInitialEvents),
through the real handlers (the in-process API server)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubelite.apiserver import listoptions
from kubelite.client import CONFIGMAPS, ApiError
from tests.inprocess import api_client


def messages(query: dict[str, str], watch: bool) -> list[str]:
    return [f"{e.field}: {e.message}" for e in listoptions.validate(query, watch=watch)]


def test_validation_messages_are_kubes() -> None:
    stream = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"}
    assert messages(stream, watch=True) == []
    assert messages({**stream, "sendInitialEvents": "false"}, watch=True) == []
    assert messages({"sendInitialEvents": "true"}, watch=True) == [
        "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"]
    assert messages({"resourceVersionMatch": "Exact"}, watch=True) == [
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        'resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"']
    assert messages({"sendInitialEvents": "true"}, watch=False) == [
        "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"]
    assert messages({"resourceVersionMatch": "NotOlderThan"}, watch=False) == [
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"]
    assert messages({"resourceVersionMatch": "Exact", "resourceVersion": "0"}, watch=False) == [
        'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"']
    assert messages({"resourceVersionMatch": "Newest", "resourceVersion": "5"}, watch=False) == [
        'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""']
    assert messages({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "5"}, watch=False) == []


async def test_streaming_list_ends_its_initial_events_with_a_bookmark(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_api, client):
        for name in ("a", "b"):
            await client.create(CONFIGMAPS, {"metadata": {"name": name}, "data": {"k": name}}, namespace="default")
        events = []
        async with client.watch(CONFIGMAPS, namespace="default", send_initial_events=True, timeout_seconds=5) as w:
            async for etype, obj in w:
                events.append((etype, obj))
                if etype == "BOOKMARK":
                    break
        assert [(t, o["metadata"].get("name")) for t, o in events] == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
        end = events[-1][1]["metadata"]
        assert end["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(end["resourceVersion"]) >= max(int(o["metadata"]["resourceVersion"]) for _, o in events[:2])

        # sendInitialEvents=false without a resourceVersion: "start at most recent", no state
        async with client.watch(CONFIGMAPS, namespace="default", send_initial_events=False, timeout_seconds=5) as w:
            first = asyncio.ensure_future(w.__anext__())
            await asyncio.sleep(0.05)
            await client.create(CONFIGMAPS, {"metadata": {"name": "c"}}, namespace="default")
            etype, obj = await asyncio.wait_for(first, 5)
        assert (etype, obj["metadata"]["name"]) == ("ADDED", "c")


async def test_invalid_options_are_a_422_listoptions_status(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_api, client):
        with pytest.raises(ApiError) as e:
            await client.request("GET", "/api/v1/namespaces/default/configmaps", query={"sendInitialEvents": "true"})
        assert e.value.code == 422
        assert e.value.message == 'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: ' \
                                  'sendInitialEvents is forbidden for list'
        with pytest.raises(ApiError) as e:
            await client.request("GET", "/api/v1/configmaps", query={"watch": "true", "sendInitialEvents": "yes"})
        assert e.value.code == 400
