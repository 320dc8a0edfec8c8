"""The CSR signing controller (kube-controller-manager's ``csrsigning``): issues certificates
from the cluster CA for approved CertificateSigningRequests of the built-in signers.

Signers and what each accepts (kube's ``pkg/controller/certificates/signer`` rules):

=============================================  =============================================
``kubernetes.io/kube-apiserver-client``         any subject; usages within digital signature,
                                               key encipherment, client auth (client auth
                                               required)
``kubernetes.io/kube-apiserver-client-kubelet`` ``O=system:nodes``, ``CN=system:node:<name>``,
                                               no SANs; usages as above
``kubernetes.io/kubelet-serving``               ``O=system:nodes``, ``CN=system:node:<name>``,
                                               DNS/IP SANs only (at least one); usages within
                                               digital signature, key encipherment, server auth
=============================================  =============================================

A request that breaks its signer's rules gets a ``Failed`` condition (reason
``SignerValidationFailure``) instead of a certificate. The certificate's lifetime is the
request's ``expirationSeconds`` capped at ``cluster_signing_duration`` (kube's
``--cluster-signing-duration``, one year by default) and at the CA's own expiry; it starts five
minutes in the past, as kube backdates, so a node whose clock lags a little can use it at once.

Options (from the controller manager): ``cluster_signing_cert_file`` and
``cluster_signing_key_file`` (the CA; without them nothing is signed),
``cluster_signing_duration`` (seconds). Keys are CSR names; ``sync`` reads the informer cache
and writes ``status.certificate`` through the status subresource.
"""
from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.client import CERTIFICATESIGNINGREQUESTS
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

DEFAULT_DURATION = 365 * 24 * 3600
BACKDATE = dt.timedelta(minutes=5)
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
CLIENT_USAGES = {"digital signature", "key encipherment", "client auth"}
SERVING_USAGES = {"digital signature", "key encipherment", "server auth"}

_KEY_USAGE_FLAGS = {
    "digital signature": "digital_signature", "content commitment": "content_commitment",
    "key encipherment": "key_encipherment", "key agreement": "key_agreement",
    "data encipherment": "data_encipherment", "cert sign": "key_cert_sign", "crl sign": "crl_sign",
    "encipher only": "encipher_only", "decipher only": "decipher_only",
}
_EXT_KEY_USAGES = {
    "any": x509.ObjectIdentifier("2.5.29.37.0"), "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION, "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}


# -- pure rules ------------------------------------------------------------------------------------

def _sans(req: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def san_values(req: x509.CertificateSigningRequest) -> dict[str, list[str]]:
    """The request's SANs by kind: ``{"dns": [...], "ip": [...], "email": [...], "uri": [...]}``."""
    sans = _sans(req)
    if sans is None:
        return {"dns": [], "ip": [], "email": [], "uri": []}
    return {"dns": sans.get_values_for_type(x509.DNSName),
            "ip": [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)],
            "email": sans.get_values_for_type(x509.RFC822Name),
            "uri": sans.get_values_for_type(x509.UniformResourceIdentifier)}


def subject_of(req: x509.CertificateSigningRequest) -> tuple[str, list[str]]:
    """(common name, organisations) of a request's subject."""
    cns = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = [str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (str(cns[0].value) if cns else ""), orgs


def _usages_problem(usages: list[str], allowed: set[str], required: str) -> str:
    if required not in usages or not set(usages) <= allowed:
        return f"usages did not match {sorted(allowed)} (must include {required!r}): {sorted(usages)}"
    return ""


def kubelet_client_problem(req: x509.CertificateSigningRequest, usages: list[str]) -> str:
    """Why a request is no kubelet client certificate request ("" if it is one)."""
    cn, orgs = subject_of(req)
    if orgs != [NODES_GROUP]:
        return f"subject organization is not {NODES_GROUP}"
    if not cn.startswith(NODE_PREFIX) or len(cn) == len(NODE_PREFIX):
        return f'subject common name does not begin with "{NODE_PREFIX}"'
    sans = san_values(req)
    for kind, label in (("dns", "DNS names"), ("email", "email addresses"), ("ip", "IP addresses"), ("uri", "URIs")):
        if sans[kind]:
            return f"{label} are not allowed"
    return _usages_problem(usages, CLIENT_USAGES, "client auth")


def kubelet_serving_problem(req: x509.CertificateSigningRequest, usages: list[str]) -> str:
    """Why a request is no kubelet serving certificate request ("" if it is one)."""
    cn, orgs = subject_of(req)
    if orgs != [NODES_GROUP]:
        return f"subject organization is not {NODES_GROUP}"
    if not cn.startswith(NODE_PREFIX) or len(cn) == len(NODE_PREFIX):
        return f'subject common name does not begin with "{NODE_PREFIX}"'
    sans = san_values(req)
    if sans["email"] or sans["uri"]:
        return "email addresses and URIs are not allowed"
    if not sans["dns"] and not sans["ip"]:
        return "at least one DNS name or IP address is required"
    return _usages_problem(usages, SERVING_USAGES, "server auth")


def signer_problem(signer: str, req: x509.CertificateSigningRequest, usages: list[str]) -> str:
    if signer == csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET:
        return kubelet_client_problem(req, usages)
    if signer == csrkind.SIGNER_KUBELET_SERVING:
        return kubelet_serving_problem(req, usages)
    if signer == csrkind.SIGNER_KUBE_APISERVER_CLIENT:
        return _usages_problem(usages, CLIENT_USAGES, "client auth")
    return f"unknown signer {signer}"


SIGNERS = (csrkind.SIGNER_KUBE_APISERVER_CLIENT, csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET,
           csrkind.SIGNER_KUBELET_SERVING)


def issue_certificate(req: x509.CertificateSigningRequest, usages: list[str], ca_cert: x509.Certificate,
                      ca_key: Any, now: dt.datetime, seconds: int) -> bytes:
    """The PEM certificate for ``req``: its subject and SANs, key usages from ``usages``,
    valid from ``now - 5m`` for ``seconds`` (capped at the CA's expiry)."""
    not_after = min(now + dt.timedelta(seconds=seconds), ca_cert.not_valid_after_utc)
    flags = {v: False for v in _KEY_USAGE_FLAGS.values()}
    for u in usages:
        if u in _KEY_USAGE_FLAGS:
            flags[_KEY_USAGE_FLAGS[u]] = True
    if not (flags["key_agreement"]):
        flags["encipher_only"] = flags["decipher_only"] = False  # meaningless without key agreement
    public_key = req.public_key()
    if not isinstance(public_key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise ValueError("unsupported public key type")
    b = (x509.CertificateBuilder().subject_name(req.subject).issuer_name(ca_cert.subject).public_key(public_key)
         .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(**flags), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]  # the CA key signs: never X25519/X448
                        critical=False))
    ekus = list(dict.fromkeys(_EXT_KEY_USAGES[u] for u in usages if u in _EXT_KEY_USAGES))
    if ekus:
        b = b.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    sans = _sans(req)
    if sans is not None and len(sans):
        b = b.add_extension(sans, critical=False)
    return b.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def validity_seconds(csr: Obj, maximum: int) -> int:
    requested = (csr.get("spec") or {}).get("expirationSeconds")
    if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
        return min(requested, maximum)
    return maximum


def _load_ca(cert_file: str, key_file: str) -> tuple[x509.Certificate, Any]:
    with open(cert_file, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return cert, key


# -- the controller ----------------------------------------------------------------------------------

class CSRSigningController(Controller):
    name = "csrsigning"
    workers = 2

    def setup(self) -> None:
        opts = self.ctx.options
        self.cert_file = opts.get("cluster_signing_cert_file") or ""
        self.key_file = opts.get("cluster_signing_key_file") or ""
        self.max_seconds = int(opts.get("cluster_signing_duration") or DEFAULT_DURATION)
        self._ca: tuple[x509.Certificate, Any] | None = None
        self.csrs = self.ctx.factory.informer(CERTIFICATESIGNINGREQUESTS)
        self.csrs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

    async def _authority(self) -> tuple[x509.Certificate, Any] | None:
        if self._ca is None and self.cert_file and self.key_file:
            self._ca = await asyncio.to_thread(_load_ca, self.cert_file, self.key_file)
        return self._ca

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(key)
        if csr is None or not csrkind.is_approved(csr) or csrkind.is_denied(csr) or csrkind.is_failed(csr) \
                or csrkind.certificate_pem(csr):
            return
        spec = csr.get("spec") or {}
        signer = spec.get("signerName")
        if signer not in SIGNERS:
            return  # another signer's request
        ca = await self._authority()
        if ca is None:
            log.debug("csrsigning: no cluster signing CA configured; not signing %s", key)
            return
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            req = csrkind.parse_request(csrkind.decode_bytes(spec.get("request")) or b"")
            problem = signer_problem(str(signer), req, usages)
        except ValueError as e:
            problem, req = str(e), None
        new = copy.deepcopy(csr)
        status = new.setdefault("status", {})
        if problem or req is None:
            status.setdefault("conditions", []).append({
                "type": csrkind.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": problem})
        elif ca[0].not_valid_after_utc <= self.clock.wall():
            status.setdefault("conditions", []).append({
                "type": csrkind.FAILED, "status": "True", "reason": "SignerValidationFailure",
                "message": f"the signer has expired: NotAfter={ca[0].not_valid_after_utc.isoformat()}"})
        else:
            try:
                pem = issue_certificate(req, usages, ca[0], ca[1], self.clock.wall(),
                                        validity_seconds(csr, self.max_seconds))
                status["certificate"] = base64.b64encode(pem).decode()
            except ValueError as e:  # e.g. a key type we cannot certify: a failure, not a retry
                status.setdefault("conditions", []).append({
                    "type": csrkind.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": str(e)})
        await self.client.update_status(CERTIFICATESIGNINGREQUESTS, new)
