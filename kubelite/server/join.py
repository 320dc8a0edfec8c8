"""A node's identity: how ``kubelite agent`` turns a join token into its own certificates.

The TLS bootstrap, as the kubelet does it with a bootstrap kubeconfig, pinned as k3s pins:

1. ``GET /cacerts`` without trusting the server; the bundle must hash to the token's
   ``<ca-hash>`` (else: wrong server or wrong token, and the secret is never sent);
2. with TLS now verified against that CA, create a CSR as the bootstrap token
   (``system:bootstrap:<id>``): EC P-256 key, ``CN=system:node:<name>``, ``O=system:nodes``,
   signer ``kubernetes.io/kube-apiserver-client-kubelet``; the controller manager's approver and
   signer answer it (``kubelite.controllers.csrapproving`` / ``csrsigning``);
3. as the node itself, a second CSR for the kubelet's serving certificate (signer
   ``kubernetes.io/kubelet-serving``, SANs = node name and node IP);
4. everything goes to ``DATA_DIR/agent/`` (directory 0700, files 0600): ``server-ca.crt``,
   ``client-kubelet.{crt,key}``, ``serving-kubelet.{crt,key}`` and ``kubelet.kubeconfig``
   (k3s' names).

On restart a certificate is reused while it is signed by the pinned CA, names this node (and,
for the serving one, covers the wanted names) and has at least 20 % of its lifetime left; a
client certificate past that point is renewed with itself (no token needed), one that is
invalid or missing is bootstrapped again with the token. Errors are ``JoinError`` with one line
for the user. Pure pieces (``build_csr``, ``certificate_problem``) are separate from the I/O.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.client import CERTIFICATESIGNINGREQUESTS, ApiError, Client, HTTPTransport, TransportError
from kubelite.server.jointoken import JoinToken
from kubelite.server.kubeconfig import write_client_kubeconfig

log = logging.getLogger("kubelite.agent")
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
RENEW_FRACTION = 0.2
CLIENT_USAGES = ["digital signature", "client auth"]
SERVING_USAGES = ["digital signature", "server auth"]


class JoinError(Exception):
    """Joining failed; the message is one line for the user."""


@dataclass(frozen=True)
class Identity:
    """Where a node agent keeps its identity (``DATA_DIR/agent``)."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "server-ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client-kubelet.crt"

    @property
    def client_key(self) -> Path:
        return self.dir / "client-kubelet.key"

    @property
    def serving_cert(self) -> Path:
        return self.dir / "serving-kubelet.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "serving-kubelet.key"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubelet.kubeconfig"


# -- pure ------------------------------------------------------------------------------------------

def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def build_csr(key: ec.EllipticCurvePrivateKey, node_name: str, *, dns: list[str] | None = None,
              ips: list[str] | None = None) -> x509.CertificateSigningRequest:
    """The PKCS#10 request for ``system:node:<node_name>`` in ``system:nodes`` (with SANs for a
    serving certificate)."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
                         x509.NameAttribute(NameOID.COMMON_NAME, NODE_PREFIX + node_name)])
    b = x509.CertificateSigningRequestBuilder().subject_name(subject)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256())


def certificate_problem(cert_pem: bytes, key_pem_bytes: bytes, ca_pem: bytes, now: dt.datetime, *,
                        common_name: str, dns: list[str] | None = None, ips: list[str] | None = None) -> str:
    """Why a stored certificate cannot be reused as it is ("" = reuse it; ``"renew"`` = valid
    but in the last 20 % of its life, so renew it with itself)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem_bytes, None)
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError as e:
        return f"unreadable: {e}"
    if cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return "the key does not match the certificate"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature and friends
        return "not issued by the cluster CA"
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns or cns[0].value != common_name:
        return f"issued to another name (want {common_name})"
    if dns is not None or ips is not None:
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have_dns = set(sans.get_values_for_type(x509.DNSName))
            have_ips = {str(i) for i in sans.get_values_for_type(x509.IPAddress)}
        except x509.ExtensionNotFound:
            have_dns, have_ips = set(), set()
        if have_dns != set(dns or []) or have_ips != set(ips or []):
            return "its names differ from the node's"
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now >= end:
        return "expired"
    if (end - now) < (end - start) * RENEW_FRACTION:
        return "renew"
    return ""


def renewal_due(cert_pem: bytes) -> dt.datetime | None:
    """When a certificate enters the last 20 % of its life (None if it cannot be read)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return None
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return end - (end - start) * RENEW_FRACTION


# -- I/O -------------------------------------------------------------------------------------------

def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _prepare_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def default_node_ip(server: str) -> str:
    """The address this machine reaches the server from (a UDP connect sends nothing)."""
    host = urlsplit(server).hostname or "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_DGRAM)
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


async def fetch_ca(server: str, token: JoinToken) -> bytes:
    """The cluster CA from ``/cacerts``, checked against the token's hash (step 1)."""
    client = Client(HTTPTransport(server, insecure_skip_tls_verify=True, timeout=15.0))
    try:
        resp = await client.request("GET", "/cacerts", accept="*/*", raw=True)
    except TransportError as e:
        raise JoinError(f"cannot reach the server at {server}: {e}") from None
    except ApiError as e:
        raise JoinError(f"the server at {server} does not serve its CA at /cacerts ({e.code}): "
                        "is it a kubelite server?") from None
    finally:
        await client.close()
    ca = resp.body
    if not token.matches_ca(ca):
        raise JoinError(f"the CA certificate of the server at {server} does not match the hash in the join "
                        "token: wrong server or wrong token")
    try:
        x509.load_pem_x509_certificates(ca)
    except ValueError:
        raise JoinError(f"the server at {server} served an unreadable CA bundle") from None
    return ca


def _api_error(e: Exception, server: str, what: str) -> JoinError:
    if isinstance(e, TransportError):
        text = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            # the CA is the pinned one, so the serving certificate does not name this address
            detail = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text.split("certificate verify failed:", 1)[-1])
            detail = detail.strip().rstrip('")]. ') or "verification failed"
            return JoinError(f"the server's certificate is not valid for {server} ({detail}); join with an "
                             "address the server's certificate names")
        return JoinError(f"cannot reach the server at {server}: {e}")
    if isinstance(e, ApiError):
        if e.code == 401:
            return JoinError(f"the server at {server} rejected the credentials while {what} "
                             "(401 Unauthorized): is the join token still valid?")
        return JoinError(f"{what} failed: {e.message}")
    return JoinError(f"{what} failed: {type(e).__name__}: {e}")


async def request_certificate(client: Client, csr: x509.CertificateSigningRequest, *, signer: str,
                              usages: list[str], generate_name: str, server: str,
                              timeout: float = 300.0, interval: float = 0.5) -> bytes:
    """Create a CSR and wait for its certificate (JoinError if denied, failed or not answered)."""
    obj = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
           "metadata": {"generateName": generate_name},
           "spec": {"request": csrkind.encode_request(csr), "signerName": signer, "usages": usages}}
    try:
        created = await client.create(CERTIFICATESIGNINGREQUESTS, obj)
    except (ApiError, TransportError) as e:
        raise _api_error(e, server, f"creating a certificate signing request for {signer}") from None
    name = created["metadata"]["name"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    warned = False
    current = created
    while True:
        if csrkind.is_denied(current):
            msg = (csrkind.condition(current, csrkind.DENIED) or {}).get("message") or "no reason given"
            raise JoinError(f"certificate signing request {name} was denied: {msg}")
        if csrkind.is_failed(current):
            msg = (csrkind.condition(current, csrkind.FAILED) or {}).get("message") or "no reason given"
            raise JoinError(f"certificate signing request {name} failed: {msg}")
        pem = csrkind.certificate_pem(current)
        if pem:
            return pem
        if not warned and loop.time() > started + 10:
            warned = True
            log.warning("certificate signing request %s is not approved yet (approve it with: "
                        "kubectl certificate approve %s)", name, name)
        if loop.time() > deadline:
            raise JoinError(f"certificate signing request {name} was not answered within {timeout:.0f}s "
                            f"(approve it with: kubectl certificate approve {name})")
        await asyncio.sleep(interval)
        try:
            current = await client.get(CERTIFICATESIGNINGREQUESTS, name)
        except (ApiError, TransportError) as e:
            raise _api_error(e, server, f"waiting for certificate signing request {name}") from None


async def ensure_identity(identity: Identity, *, server: str, token: JoinToken | None, node_name: str,
                          node_ip: str, timeout: float = 300.0) -> list[str]:
    """Make ``identity`` hold valid client and serving certificates for ``node_name``; returns
    what was done ("reused client certificate", "new serving certificate", ...)."""
    await asyncio.to_thread(_prepare_dir, identity.dir)
    if token is not None:
        ca = await fetch_ca(server, token)
        if await asyncio.to_thread(read_file, identity.ca) != ca:
            await asyncio.to_thread(_write_private, identity.ca, ca)
    else:
        ca = await asyncio.to_thread(read_file, identity.ca)
        if not ca:
            raise JoinError("a join token is required to join (--token, --token-file or KUBELITE_TOKEN)")
    now = dt.datetime.now(dt.timezone.utc)
    done: list[str] = []
    cn = NODE_PREFIX + node_name

    problem = certificate_problem(await asyncio.to_thread(read_file, identity.client_cert),
                                  await asyncio.to_thread(read_file, identity.client_key), ca, now, common_name=cn)
    if problem:
        key = new_key()
        if problem == "renew":
            transport = HTTPTransport(server, ca_data=ca, cert_file=str(identity.client_cert),
                                      key_file=str(identity.client_key), timeout=30.0)
        elif token is None:
            raise JoinError(f"the node's client certificate cannot be used ({problem}); a join token is "
                            "required to join again (--token, --token-file or KUBELITE_TOKEN)")
        else:
            transport = HTTPTransport(server, ca_data=ca, token=token.bearer, timeout=30.0)
        client = Client(transport, field_manager="kubelite-agent")
        try:
            cert = await request_certificate(
                client, build_csr(key, node_name), signer=csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET,
                usages=CLIENT_USAGES, generate_name="node-csr-", server=server, timeout=timeout)
        finally:
            await client.close()
        await asyncio.to_thread(_write_private, identity.client_key, key_pem(key))
        await asyncio.to_thread(_write_private, identity.client_cert, cert)
        done.append("renewed client certificate" if problem == "renew" else "new client certificate")
    else:
        done.append("reused client certificate")
    await asyncio.to_thread(write_client_kubeconfig, identity.kubeconfig, server, ca_file=identity.ca,
                            cert_file=identity.client_cert, key_file=identity.client_key)

    dns, ips = [node_name], [node_ip]
    problem = certificate_problem(await asyncio.to_thread(read_file, identity.serving_cert),
                                  await asyncio.to_thread(read_file, identity.serving_key), ca, now,
                                  common_name=cn, dns=dns, ips=ips)
    if problem:
        key = new_key()
        client = Client(HTTPTransport(server, ca_data=ca, cert_file=str(identity.client_cert),
                                      key_file=str(identity.client_key), timeout=30.0),
                        field_manager="kubelite-agent")
        try:
            cert = await request_certificate(
                client, build_csr(key, node_name, dns=dns, ips=ips), signer=csrkind.SIGNER_KUBELET_SERVING,
                usages=SERVING_USAGES, generate_name="csr-", server=server, timeout=timeout)
        finally:
            await client.close()
        await asyncio.to_thread(_write_private, identity.serving_key, key_pem(key))
        await asyncio.to_thread(_write_private, identity.serving_cert, cert)
        done.append("new serving certificate")
    else:
        done.append("reused serving certificate")
    return done
