"""Which namespaces exist, for the create path's "namespace must exist" check, without a storage
read per create: the set is loaded at start and follows the namespaces' changes through the
watch hub. A namespace the hub has not delivered yet (created a moment ago) falls back to a read.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from kubelite.machinery import errors
from kubelite.machinery.errors import StatusError

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

log = logging.getLogger(__name__)


class NamespaceIndex:
    def __init__(self, server: "ApiServer") -> None:
        self.server = server
        self.terminating: dict[str, bool] = {}  # name -> being deleted
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        rt = self.server.rt("", "v1", "namespaces")
        page = await self.server.store.list(rt, None)
        self.terminating = {ns["metadata"]["name"]: bool(ns["metadata"].get("deletionTimestamp")) for ns in page.items}
        sub = self.server.hub.subscribe(rt.storage_resource, "", page.resource_version)
        self._task = asyncio.create_task(self._follow(sub), name="namespace-index")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, sub: Any) -> None:
        while True:
            try:
                ch = await sub.next()
            except StopAsyncIteration:
                return
            except Exception:  # noqa: BLE001 - fell behind: reload and follow again
                log.warning("namespace index resynchronising")
                await self.start()
                return
            if ch is None:
                continue
            name = ch.obj["metadata"]["name"]
            if ch.type == "DELETE":
                self.terminating.pop(name, None)
            else:
                self.terminating[name] = bool(ch.obj["metadata"].get("deletionTimestamp"))

    async def check(self, namespace: str) -> None:
        """404 if the namespace does not exist, 403 if it is being deleted (as kube-apiserver)."""
        terminating = self.terminating.get(namespace)
        if terminating is None:
            ns = await self.server.store.try_get(self.server.rt("", "v1", "namespaces"), None, namespace)
            if ns is None:
                raise errors.not_found("namespaces", "", namespace)
            terminating = bool(ns["metadata"].get("deletionTimestamp"))
        if terminating:
            raise StatusError(403, "Forbidden",
                              f"unable to create new content in namespace {namespace} because it is being terminated",
                              {"name": namespace, "kind": "namespaces"})
