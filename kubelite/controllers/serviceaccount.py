"""The service account controller: every active namespace has a ServiceAccount named
``default`` (kube-controller-manager's ``serviceaccount`` controller), recreated if deleted.

Pods that name no service account run as ``default``, so it must exist before the first pod
of a namespace is admitted. Keys are namespace names: a new namespace, or the deletion of a
``default`` ServiceAccount, enqueues the namespace. Terminating namespaces are left alone --
the namespace controller is emptying them and creating objects there is refused anyway.
"""
from __future__ import annotations

import logging
from typing import Any

from kubelite.client import NAMESPACES, SERVICEACCOUNTS, is_already_exists
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

#: the accounts every namespace gets
MANAGED_ACCOUNTS = ("default",)


class ServiceAccountController(Controller):
    name = "serviceaccount"
    workers = 1

    def setup(self) -> None:
        self.namespaces = self.ctx.factory.informer(NAMESPACES)
        self.accounts = self.ctx.factory.informer(SERVICEACCOUNTS)
        self.namespaces.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _account_deleted(self, sa: Obj) -> None:
        meta = sa.get("metadata") or {}
        if meta.get("name") in MANAGED_ACCOUNTS and meta.get("namespace"):
            self.queue.add(meta["namespace"])

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp") \
                or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        for name in MANAGED_ACCOUNTS:
            if self.accounts.get(f"{key}/{name}") is not None:
                continue
            try:
                await self.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": name, "namespace": key}})
            except Exception as e:  # noqa: BLE001
                if is_already_exists(e):
                    continue  # our cache lags; fine
                if getattr(e, "code", None) in (403, 404):
                    log.debug("serviceaccount %s/%s: %s", key, name, e)  # namespace going away
                    continue
                raise
