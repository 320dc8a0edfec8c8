"""resourceVersion semantics of LIST and WATCH, as kube-apiserver's watch cache serves them:
a version the store has not reached is waited for (~3 s) and then answered 504 "Too large
resource version"; ``resourceVersionMatch=Exact`` lists the objects as they were at that
version, or 410 once it is compacted; a watch's ``timeoutSeconds`` holds however busy the
resource is.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest
from kubelite.apiserver.watch import Change, Subscription, WatchHub
from tests.inprocess import api_client

CM = "/api/v1/namespaces/default/configmaps"


async def call(api: Any, method: str, path: str, query: dict[str, str] | None = None, body: Any = None):  # noqa: ANN201
    data = json.dumps(body).encode() if body is not None else b""
    return await api.handle(ApiRequest(method, path, query or {}, {"Content-Type": "application/json"}, data,
                                       LOOPBACK_MASTER))


async def churn(api: Any, stop: asyncio.Event) -> None:
    """Keep changing one ConfigMap, as a busy resource does."""
    i = 0
    while not stop.is_set():
        i += 1
        await call(api, "PUT", f"{CM}/busy", body={"metadata": {"name": "busy"}, "data": {"i": str(i)}})
        await asyncio.sleep(0.02)


async def test_watch_from_a_future_version_answers_too_large_after_a_short_wait(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        await call(api, "POST", CM, body={"metadata": {"name": "busy"}})
        future = api.storage.current_revision() + 100_000
        stop = asyncio.Event()
        writer = asyncio.create_task(churn(api, stop))
        try:
            t0 = time.monotonic()
            r = await call(api, "GET", CM, {"watch": "true", "resourceVersion": str(future), "timeoutSeconds": "30",
                                            "allowWatchBookmarks": "true"})
            took = time.monotonic() - t0
        finally:
            stop.set()
            await writer
        assert r.stream is None and r.status == 504, r.status
        status = json.loads(r.body)
        assert status["reason"] == "Timeout" and status["code"] == 504
        assert status["message"].startswith(f"Timeout: Too large resource version: {future}, current: ")
        assert status["details"]["causes"] == [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
        assert status["details"]["retryAfterSeconds"] == 1
        assert 2.5 < took < 6, took


async def test_watch_from_a_version_reached_within_the_wait_streams_real_versions(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        await call(api, "POST", CM, body={"metadata": {"name": "busy"}})
        soon = api.storage.current_revision() + 5
        stop = asyncio.Event()
        writer = asyncio.create_task(churn(api, stop))
        try:
            r = await call(api, "GET", CM, {"watch": "true", "resourceVersion": str(soon), "timeoutSeconds": "1"})
            assert r.status == 200 and r.stream is not None
            events = [json.loads(line) async for chunk in r.stream for line in chunk.splitlines()]
        finally:
            stop.set()
            await writer
        assert events, "changes after the version were delivered"
        assert all(int(e["object"]["metadata"]["resourceVersion"]) > soon for e in events)


async def test_subscription_timeout_holds_while_skipped_changes_arrive() -> None:
    """Changes at or below the subscriber's version are skipped; they must not restart the
    timeout (a future-version watch used to run for ever on a busy resource)."""
    sub = Subscription(WatchHub.__new__(WatchHub), "core/configmaps", "", after=10_000)

    async def feed() -> None:
        for rev in range(1, 10_000):
            sub.queue.put_nowait(Change(rev, "PUT", "core/configmaps", "default", b"{}", None, 0))
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(feed())
    t0 = time.monotonic()
    try:
        assert await sub.next(0.5) is None
    finally:
        feeder.cancel()
    assert time.monotonic() - t0 < 1.0


async def test_list_exact_serves_that_revision_or_gone(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        await call(api, "POST", CM, body={"metadata": {"name": "a"}, "data": {"v": "1"}})
        then = api.storage.current_revision()
        await call(api, "PUT", f"{CM}/a", body={"metadata": {"name": "a"}, "data": {"v": "2"}})
        await call(api, "POST", CM, body={"metadata": {"name": "b"}})
        r = await call(api, "GET", CM, {"resourceVersion": str(then), "resourceVersionMatch": "Exact"})
        assert r.status == 200, r.body
        listed = json.loads(r.body)
        assert listed["metadata"]["resourceVersion"] == str(then)
        assert [(o["metadata"]["name"], o["data"]) for o in listed["items"]] == [("a", {"v": "1"})]
        # NotOlderThan (and a bare resourceVersion) serve the latest
        for query in ({"resourceVersion": str(then), "resourceVersionMatch": "NotOlderThan"}, {"resourceVersion": str(then)}):
            names = [o["metadata"]["name"] for o in json.loads((await call(api, "GET", CM, query)).body)["items"]]
            assert names == ["a", "b"]
        await api.storage.compact(api.storage.current_revision())
        r = await call(api, "GET", CM, {"resourceVersion": str(then), "resourceVersionMatch": "Exact"})
        assert r.status == 410, r.body
        assert json.loads(r.body)["reason"] == "Expired"
        t0 = time.monotonic()
        r = await call(api, "GET", CM, {"resourceVersion": str(then + 1000), "resourceVersionMatch": "Exact"})
        assert r.status == 504 and time.monotonic() - t0 > 2.5


async def test_list_options_are_validated_as_kube_does(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        cases = [
            ({"resourceVersionMatch": "Exact"}, "resourceVersionMatch is forbidden unless resourceVersion is provided"),
            ({"resourceVersion": "0", "resourceVersionMatch": "Exact"}, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
            ({"resourceVersion": "1", "resourceVersionMatch": "Newest"}, 'Unsupported value: "Newest"'),
        ]
        for query, message in cases:
            r = await call(api, "GET", CM, query)
            status = json.loads(r.body)
            assert r.status == 422 and status["details"]["kind"] == "ListOptions", status
            assert message in status["message"], status
        r = await call(api, "GET", CM, {"resourceVersion": "x"})
        assert r.status == 400
