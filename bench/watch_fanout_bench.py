"""Watch fan-out inside the API server, without sockets: N watchers of one ConfigMap through
the same handlers HTTPS watches use (selector filtering, encoding, per-watcher queues), driven by
merge patches. Isolates the server's fan-out cost from TLS and from client processes that, on a
2-core machine, compete with the server for CPU (api_bench.py measures the whole path).

Usage: python bench/watch_fanout_bench.py [--watchers 1000] [--ticks 20]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest  # noqa: E402
from kubelite.apiserver.server import ApiServer  # noqa: E402
from kubelite.storage.sqlite import SQLiteStorage  # noqa: E402


def request(method: str, path: str, body: object = None, query: dict | None = None,
            ctype: str = "application/json") -> ApiRequest:
    return ApiRequest(method, path, query or {}, {"Content-Type": ctype},
                      orjson.dumps(body) if body is not None else b"", LOOPBACK_MASTER)


async def main(args: argparse.Namespace) -> None:
    api = ApiServer(SQLiteStorage(str(Path(tempfile.mkdtemp()) / "state.db")))
    await api.start()
    base = "/api/v1/namespaces/default/configmaps"
    r = await api.handle(request("POST", base, {"metadata": {"name": "tick"}, "data": {"t": "0"}}))
    rv = orjson.loads(r.body)["metadata"]["resourceVersion"]
    got: dict[bytes, list[float]] = {}

    async def watcher() -> None:
        resp = await api.handle(request("GET", base, query={"watch": "true", "resourceVersion": rv,
                                                             "fieldSelector": "metadata.name=tick"}))
        assert resp.stream is not None
        async for chunk in resp.stream:
            now = time.perf_counter()
            i = chunk.find(b'"t":"')
            got.setdefault(chunk[i + 5:chunk.index(b'"', i + 5)], []).append(now)

    tasks = [asyncio.create_task(watcher()) for _ in range(args.watchers)]
    await asyncio.sleep(1.0)
    lat: list[float] = []
    for k in range(1, args.ticks + 1):
        t = time.perf_counter()
        await api.handle(request("PATCH", f"{base}/tick", {"data": {"t": str(k)}}, ctype="application/merge-patch+json"))
        key = str(k).encode()
        while len(got.get(key, [])) < args.watchers:
            await asyncio.sleep(0.001)
        lat += [(x - t) * 1000 for x in got[key]]
    lat.sort()
    print(f"in-process fan-out, {args.watchers} watchers x {args.ticks} events: "
          f"p50 {lat[len(lat) // 2]:.1f} ms, p99 {lat[int(len(lat) * 0.99)]:.1f} ms")
    for task in tasks:
        task.cancel()
    await api.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--ticks", type=int, default=20)
    asyncio.run(main(p.parse_args()))
