"""Helpers for the cluster-infrastructure controller tests (endpoints, namespace, GC, volumes,
quota, pod GC, node lifecycle): run controllers against the in-process API server, poll for
an outcome, and build the objects the tests need."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable

from kubelite.client import Client, SharedInformerFactory
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.controllers.base import Controller, ControllerContext

Obj = dict[str, Any]


@contextlib.asynccontextmanager
async def run_controllers(client: Client, *classes: type[Controller], clock: Clock = REAL_CLOCK,
                          options: dict[str, Any] | None = None) -> AsyncIterator[list[Controller]]:
    """Run ``classes`` on one shared context (informers on the real clock, so watches behave
    normally even when the controllers' own clock is fake) until the block ends."""
    factory = SharedInformerFactory(client)
    ctx = ControllerContext(client=client, factory=factory, clock=clock, options=options or {})
    controllers = [cls(ctx) for cls in classes]
    tasks = [asyncio.create_task(c.run(), name=f"test-{c.name}") for c in controllers]
    try:
        assert await factory.wait_for_sync(5.0), "informers did not sync"
        yield controllers
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await factory.stop()
        for rec in ctx._recorders.values():  # noqa: SLF001 - flush buffered events
            await rec.stop(1.0)


async def eventually(fn: Callable[[], Awaitable[Any]], *, timeout: float = 8.0, what: str = "condition") -> Any:
    """Poll ``fn`` until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        try:
            last = await fn()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
        await asyncio.sleep(0.02)


async def get_or_none(client: Client, ref: Any, name: str, namespace: str | None = None) -> Obj | None:
    try:
        return await client.get(ref, name, namespace=namespace)
    except Exception as e:  # noqa: BLE001
        if getattr(e, "code", None) == 404:
            return None
        raise


def pod(name: str, *, ns: str = "default", labels: dict[str, str] | None = None, node: str | None = None,
        ports: list[Obj] | None = None, **spec: Any) -> Obj:
    container: Obj = {"name": "main", "image": "nginx"}
    if ports:
        container["ports"] = ports
    body: Obj = {"containers": [container], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": body}


async def set_status(client: Client, obj: Obj, *, ip: str | None = None, ready: bool | None = None,
                     phase: str = "Running") -> Obj:
    """Play the kubelet: write a pod status (phase, IP, Ready condition)."""
    from kubelite.client import PODS
    fresh = await client.get(PODS, obj["metadata"]["name"], namespace=obj["metadata"]["namespace"])
    status: Obj = {"phase": phase}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    fresh["status"] = status
    return await client.update_status(PODS, fresh)
