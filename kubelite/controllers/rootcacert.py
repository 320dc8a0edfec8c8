"""The root CA certificate publisher (kube-controller-manager's ``root-ca-cert-publisher``):
every active namespace holds a ConfigMap ``kube-root-ca.crt`` whose ``ca.crt`` is the cluster
CA, kept equal to it (recreated when deleted, reset when edited). Pods' default
``kube-api-access-*`` volume projects it, so in-cluster clients can verify the API server.

The CA comes from ``options["root_ca_file"]``, else ``<options["data_dir"]>/tls/ca.crt``; with
neither readable the controller does nothing. Keys are namespace names.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kubelite.client import CONFIGMAPS, NAMESPACES, is_already_exists, is_not_found
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
NAME = "kube-root-ca.crt"
DESCRIPTION = "kubernetes.io/description"


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 1

    def setup(self) -> None:
        opts = self.ctx.options
        path = opts.get("root_ca_file") or (Path(opts["data_dir"]) / "tls" / "ca.crt" if opts.get("data_dir") else None)
        try:
            self.ca = Path(path).read_text() if path else ""
        except OSError:
            self.ca = ""
        self.namespaces = self.ctx.factory.informer(NAMESPACES)
        self.configmaps = self.ctx.factory.informer(CONFIGMAPS)
        self.namespaces.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.configmaps.add_handler(on_update=lambda old, new: self._cm(new), on_delete=self._cm)

    def _cm(self, cm: dict[str, Any]) -> None:
        meta = cm.get("metadata") or {}
        if meta.get("name") == NAME and meta.get("namespace"):
            self.queue.add(meta["namespace"])

    async def sync(self, key: str) -> None:
        if not self.ca:
            return
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp") \
                or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        want = {"ca.crt": self.ca}
        cm = self.configmaps.get(f"{key}/{NAME}")
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "namespace": key,
                             "annotations": {DESCRIPTION: "Contains a CA bundle that can be used to verify the "
                                                          "kube-apiserver when using internal endpoints such as the "
                                                          "internal service IP or kubernetes.default.svc. No other "
                                                          "usage is guaranteed across distributions of Kubernetes "
                                                          "clusters."}},
                "data": want}
        try:
            if cm is None:
                await self.client.create(CONFIGMAPS, body)
            elif cm.get("data") != want:
                await self.client.patch(CONFIGMAPS, NAME, {"data": want}, namespace=key)
        except Exception as e:  # noqa: BLE001
            if is_already_exists(e) or is_not_found(e) or getattr(e, "code", None) == 403:
                return  # cache lag, or the namespace is going away
            raise
