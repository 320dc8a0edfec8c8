"""Scheduler benchmark, SchedulingBasic-like: one process holding an in-process API server
(SQLite) and the scheduler, talking through the in-process transport, on this 2-core machine.

  - N nodes (default 5,000): Node objects created directly through the client, allocatable
    cpu 4 / memory 32Gi / pods 110, Ready;
  - M pods (default 10,000) with small requests (100m / 128Mi), created as fast as the API
    server takes them, while the scheduler runs;
  - throughput = M / (time from the first pod create to the last pod bound), as in
    kube-scheduler's scheduler_perf (target >= 1,000 pods/s; its CI floor on 5,000 nodes is
    680-810); plus where the time went: the scheduler's synchronous cycles (of which the pure
    filter/score decision), the pod creates, everything else (API server, watches, binds,
    events).

Prints figures; asserts nothing. When the throughput is below target it runs a smaller
profiled round and prints cProfile's top 15 functions by own time.

``--scheduler-only`` measures the scheduler alone: nodes fed straight into its cache, binds
recorded in memory -- the ceiling the scheduler puts on the end-to-end figure.

``--gc-tuned`` freezes the warm heap and raises the gen-0 GC threshold (a process-wide policy
for the server to adopt or not); full collections over a heap of 5,000 nodes and 10,000 pods
are a large share of the default run.

Usage: python bench/scheduler_bench.py [--nodes 5000] [--pods 10000] [--no-profile]
                                       [--scheduler-only] [--gc-tuned]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.server import ApiServer
from kubelite.client import NODES, PODS, Client, EventRecorder, SharedInformerFactory
from kubelite.scheduler import Scheduler
from kubelite.storage.sqlite import SQLiteStorage

TARGET = 1000.0


def node_object(name: str) -> dict:
    """What a freshly registered kubelet's Node looks like to the scheduler."""
    alloc = {"cpu": "4", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "topology.kubernetes.io/zone": f"zone-{hash(name) % 3}"}},
        "spec": {},
        "status": {"capacity": dict(alloc), "allocatable": dict(alloc),
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}]},
    }


def pod_object(name: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    }


async def create_all(client: Client, ref, objs: list[dict], concurrency: int = 64) -> float:
    """Create ``objs`` with ``concurrency`` requests in flight; returns the seconds it took."""
    it = iter(objs)
    t0 = time.perf_counter()

    async def worker() -> None:
        for obj in it:
            await client.create(ref, obj, namespace=obj["metadata"].get("namespace"))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def wait_scheduled(sched: Scheduler, total: int, timeout: float) -> float:
    """Wait until ``total`` binds succeeded; returns perf_counter() at that moment."""
    deadline = time.perf_counter() + timeout
    while sched.stats.scheduled < total:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {sched.stats.scheduled}/{total} pods bound after {timeout:.0f}s "
                               f"(queue: {sched.queue.pending()})")
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def run_round(client: Client, sched: Scheduler, prefix: str, count: int, timeout: float) -> dict:
    base = sched.stats.scheduled
    cycles0, algo0, attempts0 = sched.stats.cycle_seconds, sched.stats.algorithm_seconds, sched.stats.attempts
    pods = [pod_object(f"{prefix}-{i}") for i in range(count)]
    t0 = time.perf_counter()
    create_task = asyncio.create_task(create_all(client, PODS, pods))
    t_end = await wait_scheduled(sched, base + count, timeout)
    create_s = await create_task
    wall = t_end - t0
    return {"wall": wall, "create_s": create_s, "rate": count / wall,
            "cycles": sched.stats.cycle_seconds - cycles0, "algo": sched.stats.algorithm_seconds - algo0,
            "attempts": sched.stats.attempts - attempts0}


async def scheduler_only(args: argparse.Namespace) -> None:
    """The scheduler alone: cache fed directly, binds recorded in memory (no API server)."""
    from kubelite.scheduler import RecordingBinder
    from kubelite.scheduler.framework.types import PodInfo

    sched = Scheduler(binder=RecordingBinder())
    for i in range(args.nodes):
        sched.cache.add_node(node_object(f"node-{i}"))
    for i in range(args.pods):
        pod = pod_object(f"pod-{i}")
        pod["metadata"]["uid"] = f"uid-{i}"
        sched.queue.add(PodInfo(pod))
    t0 = time.perf_counter()
    while sched.queue.pending()["active"]:
        await sched.schedule_next()
    await sched.wait_idle()
    wall = time.perf_counter() - t0
    st = sched.stats
    print(f"scheduler only ({args.nodes} nodes, {args.pods} pods, binds in memory): {args.pods / wall:.0f} pods/s; "
          f"cycle {1e6 * st.cycle_seconds / st.attempts:.0f} us/pod, filter+score "
          f"{1e6 * st.algorithm_seconds / st.attempts:.0f} us/pod")


async def main(args: argparse.Namespace) -> None:
    if args.scheduler_only:
        await scheduler_only(args)
        return
    with tempfile.TemporaryDirectory(prefix="sched-bench-") as tmp:
        api = ApiServer(SQLiteStorage(str(Path(tmp) / "state.db")))
        await api.start()
        client = Client(LocalTransport(api), field_manager="scheduler-bench")
        try:
            t0 = time.perf_counter()
            nodes_s = await create_all(client, NODES, [node_object(f"node-{i}") for i in range(args.nodes)])
            print(f"nodes: {args.nodes} created in {nodes_s:.1f}s ({args.nodes / nodes_s:.0f}/s)")

            factory = SharedInformerFactory(client)
            recorder = EventRecorder(client, "default-scheduler", host="bench")
            sched = Scheduler.for_client(client, factory, recorder=recorder)
            factory.start()
            await factory.wait_for_sync()
            print(f"scheduler: caches synced {time.perf_counter() - t0:.1f}s after start "
                  f"({sched.cache.node_count} nodes)")
            if args.gc_tuned:
                # What a server process can do once its caches are warm: move the long-lived
                # heap out of the collector's sight and collect young objects less often.
                gc.collect()
                gc.freeze()
                gc.set_threshold(50_000, 20, 100)
                print("gc: frozen after sync, thresholds (50000, 20, 100)")
            run = asyncio.create_task(sched.run(), name="scheduler")
            try:
                r = await run_round(client, sched, "pod", args.pods, args.timeout)
                print(f"pods: {args.pods} created in {r['create_s']:.1f}s "
                      f"({args.pods / r['create_s']:.0f}/s, concurrently with scheduling)")
                print(f"throughput: {r['rate']:.0f} pods/s from first create to last bound "
                      f"({r['wall']:.1f}s; target >= {TARGET:.0f}, kube CI floor 680-810 on 5,000 nodes)")
                per = 1e6 / max(r["attempts"], 1)
                print(f"scheduler cycles: {r['cycles']:.2f}s of {r['wall']:.2f}s wall "
                      f"({100 * r['cycles'] / r['wall']:.0f}%), {r['cycles'] * per:.0f} us/pod, of which "
                      f"filter+score {r['algo'] * per:.0f} us/pod; attempts {r['attempts']}")
                print(f"  -> scheduler-only capacity ~{r['attempts'] / max(r['cycles'], 1e-9):.0f} pods/s; "
                      f"the rest of the wall time is the API server, watches, binds and events")
                print(f"stats: {sched.stats}")
                if r["rate"] < TARGET and args.profile:
                    n = min(args.pods, 3000)
                    print(f"\nbelow target: profiling another {n} pods (cProfile, top 15 by own time)")
                    prof = cProfile.Profile()
                    prof.enable()
                    await run_round(client, sched, "prof", n, args.timeout)
                    prof.disable()
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
                    lines = out.getvalue().splitlines()
                    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
                    print("\n".join(lines[start:start + 17]))
            finally:
                run.cancel()
                try:
                    await run
                except asyncio.CancelledError:
                    pass
                await recorder.stop(timeout=1.0)
                await factory.stop()
        finally:
            await client.close()
            await api.stop()


def _run(coro) -> None:
    try:
        import uvloop  # the server runs on uvloop when it is installed
        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--gc-tuned", action="store_true",
                        help="gc.freeze() after the caches sync and raise the gen-0 threshold")
    parser.add_argument("--scheduler-only", action="store_true",
                        help="measure the scheduler alone (in-memory binds, no API server)")
    _run(main(parser.parse_args()))
