"""The watch hub: its history ring stays within its count and byte bounds, resuming below the
ring reads storage, and the hub survives its storage watch failing (``Compacted`` included).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest
from tests.inprocess import api_client

CM = "/api/v1/namespaces/default/configmaps"


async def put(api, name: str, value: str, create: bool = False) -> int:  # noqa: ANN001
    body = json.dumps({"metadata": {"name": name}, "data": {"v": value}}).encode()
    method, path = ("POST", CM) if create else ("PUT", f"{CM}/{name}")
    r = await api.handle(ApiRequest(method, path, {}, {"Content-Type": "application/json"}, body, LOOPBACK_MASTER))
    assert r.status in (200, 201), r.body[:200]
    return int(json.loads(r.body)["metadata"]["resourceVersion"])


async def test_ring_is_bounded_by_bytes(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        hub = api.hub
        hub.ring_bytes = 5 * 1024 * 1024
        big = "x" * (900 * 1024)
        first = await put(api, "big", big, create=True)
        for i in range(30):
            await put(api, "big", big + str(i))
        await asyncio.sleep(0.1)  # the hub has seen every change
        assert hub.ring_used <= hub.ring_bytes, hub.ring_used
        assert len(hub.ring) < 10, len(hub.ring)
        assert hub.floor > first
        # a watcher resuming below the ring still gets every change, from storage
        sub = hub.subscribe("core/configmaps", "default", first)
        revs = []
        while len(revs) < 30:
            ch = await sub.next(5)
            assert ch is not None, revs
            revs.append(ch.revision)
        sub.close()
        assert revs == sorted(revs) and revs[0] > first


async def test_hub_survives_compacted_on_resume(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    """The hub's storage watch ends and its resume point is compacted: the hub ends its
    watchers with Compacted (they relist: HTTP watchers get a 410 ERROR event), drops the ring
    and follows storage again from the current revision -- it does not die."""
    async with api_client(tmp_path) as (api, _):
        hub = api.hub
        real_watch = api.storage.watch
        fail_next: list[bool] = []

        def watch(prefix: str, *, revision: int):  # noqa: ANN202
            if fail_next:
                fail_next.clear()
                from kubelite.storage import Compacted
                raise Compacted(revision, api.storage.current_revision())
            return real_watch(prefix, revision=revision)

        api.storage.watch = watch  # type: ignore[method-assign]
        await put(api, "a", "1", create=True)
        old_sub = hub.subscribe("core/configmaps", "default", api.storage.current_revision())
        r = await api.handle(ApiRequest("GET", CM, {"watch": "true", "resourceVersion": str(api.storage.current_revision())},
                                        {}, b"", LOOPBACK_MASTER))
        assert r.stream is not None
        fail_next.append(True)
        hub_task = hub._task
        hub_watcher = _hub_storage_watcher(api)
        hub_watcher.close()  # the storage watch ends; the hub resumes -> Compacted
        from kubelite.storage import Compacted
        try:
            await old_sub.next(5)
            raise AssertionError("the old subscriber was not ended")
        except Compacted:
            pass
        first = await r.stream.__anext__()
        assert b'"type":"ERROR"' in first and b'"code":410' in first, first
        await r.stream.aclose()
        assert hub._task is hub_task and not hub_task.done()
        assert hub.health() is None
        # and it carries on: new changes reach new subscribers
        sub = hub.subscribe("core/configmaps", "default", hub.revision)
        rev = await put(api, "a", "2")
        ch = await sub.next(5)
        assert ch is not None and ch.revision == rev
        sub.close()
        assert "ending" in caplog.text and "relist" in caplog.text


def _hub_storage_watcher(api):  # noqa: ANN001, ANN202
    """The SQLite watcher the API server's hub reads (prefix /registry/)."""
    (w,) = api.storage._hub._by_prefix["/registry/"]
    return w
