"""The components ``kubelite server`` runs on top of the API server, each behind a switch.

Every component talks to the API through ``kubelite.client`` on the in-process transport
(same handlers as kubectl, no sockets), as its own identity so events and managedFields name
it. A component that fails is restarted after a short pause rather than taking the server
down; LeadershipLost (another replica took over) also lands here.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.request import UserInfo
from kubelite.apiserver.server import ApiServer
from kubelite.client import Client

log = logging.getLogger(__name__)
RESTART_DELAY = 2.0


def _client(api: ApiServer, user: str, manager: str) -> Client:
    identity = UserInfo(user, ("system:masters", "system:authenticated"))
    return Client(LocalTransport(api, identity, user_agent=manager), field_manager=manager)


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - restart, never crash the server
            log.exception("%s stopped unexpectedly; restarting in %.0fs", name, RESTART_DELAY)
            await asyncio.sleep(RESTART_DELAY)


async def controller_manager(api: ApiServer, options: dict | None = None) -> None:
    from kubelite.controllers.manager import ControllerManager

    async def run() -> None:
        client = _client(api, "system:kube-controller-manager", "kube-controller-manager")
        try:
            await ControllerManager(client, options=options or {}).run()
        finally:
            await client.close()

    await supervise("controller-manager", run)


async def scheduler(api: ApiServer) -> None:
    from kubelite.scheduler.scheduler import run_scheduler

    async def run() -> None:
        client = _client(api, "system:kube-scheduler", "default-scheduler")
        try:
            await run_scheduler(client)
        finally:
            await client.close()

    await supervise("scheduler", run)
