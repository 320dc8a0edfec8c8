"""An in-process API server for integration tests of components built on the client library.

``async with api_client(tmp_path) as (api, client):`` gives a real ApiServer on a real SQLite
store, and a ``kubelite.client.Client`` that reaches it through the in-process transport (the
same handlers kubectl hits, minus sockets).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.server import ApiServer
from kubelite.client import ApiError, Client
from kubelite.client.resources import ResourceRef
from kubelite.storage.sqlite import SQLiteStorage


@contextlib.asynccontextmanager
async def api_client(tmp_path: Path, *, field_manager: str = "test") -> AsyncIterator[tuple[ApiServer, Client]]:
    api = ApiServer(SQLiteStorage(str(tmp_path / "state.db")))
    await api.start()
    client = Client(LocalTransport(api), field_manager=field_manager)
    try:
        yield api, client
    finally:
        await client.close()
        await api.stop()


async def is_gone(client: Client, ref: ResourceRef, name: str, namespace: str | None = "default") -> bool:
    """Whether GET answers 404 (the object is deleted, not only marked)."""
    try:
        await client.get(ref, name, namespace=namespace)
    except ApiError as e:
        return e.code == 404
    return False
