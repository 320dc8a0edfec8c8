"""Simulated-node benchmark: one process holding an in-process API server (SQLite) and a
``SimCluster``, on this 2-core machine.

Measures the targets of the ``kubelite sim`` issue (kwok's CI takes 60 s for each):
  - 5,000 simulated nodes Ready (every Node object exists with Ready=True), target <= 20 s,
    and the process RSS once they are;
  - 10,000 pods created pre-bound (``spec.nodeName`` round-robin over the nodes) all Running,
    counted from the first create, target <= 30 s; and the lease renewals the API server
    absorbed meanwhile.

Usage: python bench/sim_bench.py [--nodes 5000] [--pods 10000] [--lease-interval 10]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubelite.apiserver.local import LocalTransport  # noqa: E402
from kubelite.apiserver.server import ApiServer  # noqa: E402
from kubelite.client import NODES, PODS, Client  # noqa: E402
from kubelite.sim import SimCluster, tune_gc  # noqa: E402
from kubelite.storage.sqlite import SQLiteStorage  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


async def count_ready_nodes(client: Client, prefix: str) -> int:
    nodes = (await client.list_all(NODES, label_selector="kubelite.io/simulated=true", page_size=1000)).items
    return sum(1 for n in nodes if n["metadata"]["name"].startswith(prefix + "-") and ready(n))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sim-bench-") as tmp:
        api = ApiServer(SQLiteStorage(str(Path(tmp) / "state.db")))
        await api.start()
        client = Client(LocalTransport(api), field_manager="bench")
        sim = SimCluster(client, nodes=args.nodes, prefix="sim", lease_interval=args.lease_interval,
                         zones=["zone-a", "zone-b", "zone-c"])
        if not args.default_gc:
            tune_gc()  # what `kubelite sim` does for its process
        rss0 = rss_mb()
        try:
            t0 = time.perf_counter()
            await sim.start()
            t_start = time.perf_counter() - t0
            n_ready = await count_ready_nodes(client, "sim")
            t_ready = time.perf_counter() - t0
            print(f"nodes: {n_ready}/{args.nodes} Ready in {t_ready:.2f} s "
                  f"(start() returned after {t_start:.2f} s; target <= 20 s)")
            print(f"RSS: {rss_mb():.0f} MB with {args.nodes} nodes (was {rss0:.0f} MB before the sim)")

            # Watch pods from "now" and count distinct pods seen Running.
            rv = (await client.list(PODS, limit=1)).resource_version
            running: set[str] = set()
            done = asyncio.Event()

            async def watch() -> None:
                while not done.is_set():
                    async with client.watch(PODS, resource_version=rv, allow_bookmarks=False) as events:
                        async for _etype, obj in events:
                            if (obj.get("status") or {}).get("phase") == "Running":
                                running.add(obj["metadata"]["name"])
                                if len(running) >= args.pods:
                                    done.set()
                                    return

            watcher = asyncio.create_task(watch(), name="bench-watch")
            renewals0 = sim.stats.lease_renewals
            sem = asyncio.Semaphore(100)

            async def create(i: int) -> None:
                body = {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"bench-{i}", "namespace": "default", "labels": {"app": "bench"}},
                        "spec": {"nodeName": f"sim-{i % args.nodes}",
                                 "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}
                async with sem:
                    await client.create(PODS, body)

            t1 = time.perf_counter()
            await asyncio.gather(*(create(i) for i in range(args.pods)))
            t_created = time.perf_counter() - t1
            try:
                await asyncio.wait_for(done.wait(), timeout=args.timeout)
            finally:
                watcher.cancel()
            t_running = time.perf_counter() - t1
            print(f"pods: {len(running)}/{args.pods} Running in {t_running:.2f} s from the first create "
                  f"(creates took {t_created:.2f} s; target <= 30 s)")
            print(f"lease renewals meanwhile: {sim.stats.lease_renewals - renewals0} "
                  f"({(sim.stats.lease_renewals - renewals0) / t_running:.0f}/s); "
                  f"write errors: {sim.stats.write_errors}")
            print(f"RSS: {rss_mb():.0f} MB with {args.nodes} nodes and {args.pods} pods")
            print(f"GC: {'default' if args.default_gc else 'tuned (kubelite.sim.tune_gc)'}; {sim.stats}")
        finally:
            await sim.stop()
            await client.close()
            await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--lease-interval", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--default-gc", action="store_true", help="keep Python's default GC thresholds")
    ns = parser.parse_args()
    if ns.no_uvloop:
        asyncio.run(main(ns))
    else:
        import uvloop
        uvloop.run(main(ns))
