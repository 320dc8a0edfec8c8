"""Fixtures for the simulated-node tests: an in-process API server + client, and a poller."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from kubelite.apiserver.server import ApiServer
from kubelite.client import Client
from tests.inprocess import api_client


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, Client]]:
    async with api_client(tmp_path) as pair:
        yield pair


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``check`` (real time) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    for t in leaked:
        t.cancel()
    assert not leaked, f"leaked tasks: {[t.get_name() for t in leaked]}"
