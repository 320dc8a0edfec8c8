"""Fixtures for client tests: a fresh fake API and a Client on it; fails tests that leak tasks."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from kubelite.client import Client

from .fakeapi import FakeAPI


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
async def client(api: FakeAPI) -> AsyncIterator[Client]:
    c = Client(api.transport, field_manager="test")
    yield c
    await c.close()


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    for t in leaked:
        t.cancel()
    assert not leaked, f"leaked tasks: {[t.get_name() for t in leaked]}"
