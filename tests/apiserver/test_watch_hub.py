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
