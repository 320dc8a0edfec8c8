"""Helpers for the workload controller tests: object builders, a harness that runs controllers
against the in-process API server, and a "fake kubelet" that marks pods Running/Ready (no
scheduler or kubelet runs in these tests)."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from kubelite.client import PODS, Client, SharedInformerFactory
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.controllers.base import Controller, ControllerContext

Obj = dict[str, Any]


def template(labels: dict[str, str], image: str = "nginx:1.27", **spec: Any) -> Obj:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "main", "image": image}], **spec}}


def deployment(name: str, replicas: int = 3, image: str = "nginx:1.27", **spec: Any) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": template(labels, image), **spec}}


def replicaset(name: str, replicas: int = 3, **spec: Any) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": template(labels), **spec}}


def now_ts(clock: Clock = REAL_CLOCK) -> str:
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


async def set_pod_phase(client: Client, pod: Obj, phase: str = "Running", ready: bool = True,
                        node: str | None = "node-a", clock: Clock = REAL_CLOCK) -> Obj:
    """Act as scheduler + kubelet: bind (if ``node``) and write a status."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if node and not (pod.get("spec") or {}).get("nodeName"):
        await client.bind(pod, node)
    fresh = await client.get(PODS, name, namespace=ns)
    ts = now_ts(clock)
    conds = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
             {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts}]
    fresh["status"] = {"phase": phase, "conditions": conds, "podIP": "10.42.0.9", "startTime": ts}
    return await client.update_status(PODS, fresh)


async def reap_terminating(client: Client, selector: str | None = None) -> int:
    """Act as kubelet for pods being deleted: confirm the deletion (grace period 0)."""
    n = 0
    for p in await list_pods(client, selector, active_only=False):
        if p["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(Exception):
                await client.delete(PODS, p["metadata"]["name"], namespace=p["metadata"]["namespace"],
                                    grace_period_seconds=0)
                n += 1
    return n


async def eventually(fn: Callable[[], Awaitable[Any]], *, timeout: float = 8.0, interval: float = 0.02,
                     what: str = "condition", clock: Any = None) -> Any:
    """Poll ``fn`` until it returns something truthy (and return it). With a FakeClock, each
    poll lets 10 ms of fake time pass, so rate-limited retries (5 ms, 10 ms, ...) still fire."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await fn()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
        await asyncio.sleep(interval)
        if clock is not None:
            await clock.advance(0.01)


async def list_pods(client: Client, selector: str | None = None, active_only: bool = True) -> list[Obj]:
    items = (await client.list(PODS, namespace="default", label_selector=selector)).items
    if active_only:
        items = [p for p in items if not p["metadata"].get("deletionTimestamp")
                 and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    return items


@contextlib.asynccontextmanager
async def running(client: Client, *controller_classes: type[Controller], clock: Clock = REAL_CLOCK,
                  options: dict[str, Any] | None = None) -> AsyncIterator[list[Controller]]:
    """Run controllers sharing one context until the block ends."""
    factory = SharedInformerFactory(client, clock=clock)
    ctx = ControllerContext(client=client, factory=factory, clock=clock, options=options or {})
    controllers = [cls(ctx) for cls in controller_classes]
    tasks = [asyncio.create_task(c.run(), name=f"test-{c.name}") for c in controllers]
    try:
        await factory.wait_for_sync(5.0)
        yield controllers
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await factory.stop()
        for rec in ctx._recorders.values():
            await rec.stop(1.0)


def names(objs: Iterable[Obj]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
