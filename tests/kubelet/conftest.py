"""Fixtures for the kubelet tests: an in-process API server, an agent on the fake runtime."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.request import UserInfo
from kubelite.client import PODS, Client
from kubelite.kubelet.agent import run_agent
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.kubelet import Kubelet
from kubelite.kubelet.runtime.fake import FakeRuntime
from tests.e2e.conftest import free_port
from tests.inprocess import api_client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.02)


class Agent:
    """A running agent on a FakeRuntime; ``restart()`` stops and starts it on the same runtime."""

    def __init__(self, client: Client, cfg: AgentConfig, runtime: FakeRuntime) -> None:
        self.client, self.cfg, self.runtime = client, cfg, runtime
        self.kubelet: Kubelet | None = None
        self.task: asyncio.Task[None] | None = None
        self.admin: Client = client

    async def start(self) -> None:
        ready = asyncio.Event()

        def on_ready(k: Kubelet) -> None:
            self.kubelet = k
            ready.set()

        self.task = asyncio.create_task(run_agent(self.client, self.cfg, runtime=self.runtime, on_ready=on_ready),
                                        name="test-agent")
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait({waiter, self.task}, return_when=asyncio.FIRST_COMPLETED, timeout=10)
        waiter.cancel()
        if self.task.done():
            self.task.result()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def pod(self, name: str, ns: str = "default") -> dict[str, Any]:
        return await self.admin.get(PODS, name, namespace=ns)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    async with api_client(tmp_path) as (api, client):
        # The agent runs as a node identity: RBAC's system:node role must be enough.
        node_client = Client(LocalTransport(api, UserInfo("system:node:node-1", ("system:nodes", "system:authenticated"))),
                             field_manager="kubelet")
        # a free port for the streaming server: 10250 may be taken (a real kubelet, a parallel run)
        cfg = AgentConfig(node_name="node-1", root_dir=tmp_path / "agent", lease_interval=0.5, status_interval=0.5,
                          kubelet_port=free_port())
        a = Agent(node_client, cfg, FakeRuntime())
        a.admin = client
        await a.start()
        try:
            yield a
        finally:
            await a.stop()
            await node_client.close()


def make_pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "node-1", "containers": containers, "automountServiceAccountToken": False, **spec}}


def c(name: str = "app", command: tuple[str, ...] = ("serve",), **kw: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": list(command), **kw}


def cond(pod: dict[str, Any], ctype: str) -> str | None:
    for x in (pod.get("status") or {}).get("conditions") or ():
        if x.get("type") == ctype:
            return x.get("status")
    return None


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    for t in leaked:
        t.cancel()
    assert not leaked, f"leaked tasks: {[t.get_name() for t in leaked]}"
