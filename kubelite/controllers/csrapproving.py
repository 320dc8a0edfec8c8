"""The CSR approving controller (kube-controller-manager's ``csrapproving``): approves the node
certificate requests a cluster can judge by itself, so that joining a node needs no human.

Requests it approves (anything else waits for ``kubectl certificate approve``):

* ``kubernetes.io/kube-apiserver-client-kubelet`` requests shaped as a kubelet client
  certificate (``O=system:nodes``, ``CN=system:node:<name>``, no SANs, client usages) when a
  SubjectAccessReview says the requestor may ``create certificatesigningrequests/nodeclient``
  (a bootstrap token: kube's *nodeclient* recogniser) or, when the requestor is the very node
  named in the CN, ``.../selfnodeclient`` (a renewal);
* ``kubernetes.io/kubelet-serving`` requests from a node for itself (requestor = CN =
  ``system:node:<name>``, in group ``system:nodes``) whose DNS SANs are the node's name (or
  DNS addresses its Node reports) and whose IP SANs are no other Node's address (loopback
  excepted: agents sharing one machine all report 127.0.0.1, and nobody dials another machine's
  loopback). Kubernetes
  leaves these to an external approver; kubelite approves them the way k3s signs its agents'
  serving certificates, because its own agents need them to serve logs and exec.

It never denies: a request it does not recognise is left alone. Keys are CSR names.
"""
from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.client import CERTIFICATESIGNINGREQUESTS, NODES
from kubelite.controllers.base import Controller
from kubelite.controllers.csrsigning import (NODE_PREFIX, NODES_GROUP, kubelet_client_problem,
                                             kubelet_serving_problem, san_values, subject_of)

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CLIENT_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
SELF_CLIENT_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
SERVING_MESSAGE = "Auto approving kubelet serving certificate for the node's own names and addresses."
_DNS_ADDRESS_TYPES = ("Hostname", "InternalDNS", "ExternalDNS")


def serving_sans_problem(node_name: str, dns: list[str], ips: list[str], nodes: list[Obj]) -> str:
    """Whether a node may have a serving certificate for these names ("" = yes): DNS names are
    its own name or DNS addresses of its Node; no IP but loopback belongs to another Node."""
    own = next((n for n in nodes if (n.get("metadata") or {}).get("name") == node_name), None)
    allowed_dns = {node_name}
    for a in ((own or {}).get("status") or {}).get("addresses") or []:
        if a.get("type") in _DNS_ADDRESS_TYPES and a.get("address"):
            allowed_dns.add(str(a["address"]))
    bad = sorted(set(dns) - allowed_dns)
    if bad:
        return f"DNS names {bad} are not names of node {node_name}"
    for n in nodes:
        name = (n.get("metadata") or {}).get("name")
        if name == node_name:
            continue
        theirs = {a.get("address") for a in (n.get("status") or {}).get("addresses") or []}
        taken = sorted(ip for ip in set(ips) & theirs if not ipaddress.ip_address(ip).is_loopback)
        if taken:
            return f"IP addresses {taken} belong to node {name}"
    return ""


class CSRApprovingController(Controller):
    name = "csrapproving"
    workers = 1

    def setup(self) -> None:
        self.csrs = self.ctx.factory.informer(CERTIFICATESIGNINGREQUESTS)
        self.nodes = self.ctx.factory.informer(NODES)
        self.csrs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or csrkind.is_approved(csr) or csrkind.is_denied(csr) or csrkind.certificate_pem(csr):
            return
        spec = csr.get("spec") or {}
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            req = csrkind.parse_request(csrkind.decode_bytes(spec.get("request")) or b"")
        except ValueError:
            return
        signer = spec.get("signerName")
        if signer == csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET:
            if kubelet_client_problem(req, usages):
                return
            cn, _ = subject_of(req)
            if spec.get("username") == cn:
                if await self._may_create(spec, "selfnodeclient"):
                    await self._approve(csr, SELF_CLIENT_MESSAGE)
                    return
            if await self._may_create(spec, "nodeclient"):
                await self._approve(csr, CLIENT_MESSAGE)
        elif signer == csrkind.SIGNER_KUBELET_SERVING:
            cn, _ = subject_of(req)
            if kubelet_serving_problem(req, usages) or spec.get("username") != cn \
                    or NODES_GROUP not in (spec.get("groups") or []):
                return
            sans = san_values(req)
            problem = serving_sans_problem(cn[len(NODE_PREFIX):], sans["dns"], sans["ip"], self.nodes.list())
            if problem:
                log.info("csrapproving: not approving %s: %s", key, problem)
                return
            await self._approve(csr, SERVING_MESSAGE)

    async def _may_create(self, spec: Obj, subresource: str) -> bool:
        """A SubjectAccessReview for the requestor: ``create certificatesigningrequests/<sub>``."""
        sar: dict[str, Any] = {
            "user": spec.get("username") or "", "groups": list(spec.get("groups") or []),
            "resourceAttributes": {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                                   "subresource": subresource, "verb": "create"}}
        if spec.get("uid"):
            sar["uid"] = spec["uid"]
        if spec.get("extra"):
            sar["extra"] = spec["extra"]
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": sar}
        out = await self.client.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
        return bool((out.get("status") or {}).get("allowed"))

    async def _approve(self, csr: Obj, message: str) -> None:
        new = copy.deepcopy(csr)
        new.setdefault("status", {}).setdefault("conditions", []).append({
            "type": csrkind.APPROVED, "status": "True", "reason": "AutoApproved", "message": message})
        await self.client.update(CERTIFICATESIGNINGREQUESTS, new, subresource="approval")
