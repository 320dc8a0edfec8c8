"""The CSR cleaner (kube-controller-manager's ``csrcleaner``): deletes CertificateSigningRequests
that have served their purpose, so node joins and renewals do not pile up forever.

Kubernetes' lifetimes, from the condition's ``lastUpdateTime`` (else the CSR's creation):
approved, denied or failed requests go after 1 hour, pending ones after 24 hours, and any request
whose issued certificate has expired goes at once. Every ``csr_cleaner_interval`` seconds
(default one hour) the informer cache is swept; ``sync`` re-checks one CSR and deletes it.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from cryptography import x509

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.api.helpers.times import parse_time
from kubelite.client import CERTIFICATESIGNINGREQUESTS, is_not_found
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

PENDING_EXPIRATION = dt.timedelta(hours=24)
DONE_EXPIRATION = dt.timedelta(hours=1)  # approved, denied, failed


def _since(csr: Obj, cond: Obj | None) -> dt.datetime | None:
    for ts in ((cond or {}).get("lastUpdateTime"), (csr.get("metadata") or {}).get("creationTimestamp")):
        if ts:
            try:
                return parse_time(ts)
            except ValueError:
                continue
    return None


def expired(csr: Obj, now: dt.datetime) -> bool:
    """Whether the cleaner deletes ``csr`` at ``now`` (pure)."""
    pem = csrkind.certificate_pem(csr)
    if pem:
        try:
            certs = x509.load_pem_x509_certificates(pem)
        except ValueError:
            certs = []
        if certs and certs[0].not_valid_after_utc <= now:
            return True
    for ctype in (csrkind.APPROVED, csrkind.DENIED, csrkind.FAILED):
        cond = csrkind.condition(csr, ctype)
        if cond is not None:
            since = _since(csr, cond)
            return since is not None and now - since > DONE_EXPIRATION
    since = _since(csr, None)
    return since is not None and now - since > PENDING_EXPIRATION


class CSRCleanerController(Controller):
    name = "csrcleaner"
    workers = 1

    def setup(self) -> None:
        self.interval = float(self.ctx.options.get("csr_cleaner_interval") or 3600.0)
        self.csrs = self.ctx.factory.informer(CERTIFICATESIGNINGREQUESTS)

    async def run(self) -> None:
        sweeper = asyncio.create_task(self._sweep(), name="csrcleaner-sweep")
        try:
            await super().run()
        finally:
            sweeper.cancel()

    async def _sweep(self) -> None:
        await self.ctx.factory.wait_for_sync()
        while True:
            now = self.clock.wall()
            for csr in self.csrs.list():
                if expired(csr, now):
                    self.enqueue(csr)
            await self.clock.sleep(self.interval)

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or not expired(csr, self.clock.wall()):
            return
        try:
            await self.client.delete(CERTIFICATESIGNINGREQUESTS, csr["metadata"]["name"])
        except Exception as e:  # noqa: BLE001
            if not is_not_found(e):
                raise
        log.info("csrcleaner: deleted certificate signing request %s", key)
