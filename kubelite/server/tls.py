"""The cluster's PKI: a CA, the API server's serving certificate, the admin client certificate.

Generated on first start into DATA_DIR/tls and reused afterwards, so kubeconfigs written
earlier stay valid across restarts. The serving certificate is re-issued when the set of
names it must cover (bind address, hostname) changes.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class ClusterPKI:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.dir / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "serving.key"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The API server's client certificate towards kubelets (kube-apiserver's
        ``--kubelet-client-certificate``): logs, exec, attach, port-forward, node proxy."""
        return self.dir / "kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.dir / "kubelet-client.key"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load(pki: ClusterPKI) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _issue(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, subject: x509.Name,
           key: ec.EllipticCurvePrivateKey, *, server: bool, sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + VALIDITY)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                        critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca_key, hashes.SHA256())


def _sans(bind_address: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName("kubernetes"),
                                     x509.DNSName("kubernetes.default"), x509.DNSName("kubernetes.default.svc"),
                                     x509.DNSName("kubernetes.default.svc.cluster.local")]
    host = socket.gethostname()
    if host and host != "localhost":
        names.append(x509.DNSName(host))
    ips = {"127.0.0.1", "10.43.0.1"}
    try:
        ip = ipaddress.ip_address(bind_address)
        if not ip.is_unspecified:
            ips.add(str(ip))
    except ValueError:
        names.append(x509.DNSName(bind_address))
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    return names


def issue_client_cert(pki: ClusterPKI, user: str, groups: list[str], cert_path: Path, key_path: Path) -> None:
    """A client certificate for ``user`` in ``groups`` signed by the cluster CA (node agents use this)."""
    ca, ca_key = _load(pki)
    key = _key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject = x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, user)])
    _write_key(key_path, key)
    _write_cert(cert_path, _issue(ca, ca_key, subject, key, server=False))


def ensure_pki(data_dir: Path, bind_address: str) -> ClusterPKI:
    pki = ClusterPKI(data_dir / "tls")
    pki.dir.mkdir(parents=True, exist_ok=True)
    if not pki.ca_cert.exists() or not pki.ca_key.exists():
        key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelite-ca")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_key(pki.ca_key, key)
        _write_cert(pki.ca_cert, cert)
        for p in (pki.serving_cert, pki.admin_cert, pki.kubelet_client_cert):
            p.unlink(missing_ok=True)
    ca, ca_key = _load(pki)
    wanted = _sans(bind_address)
    if pki.serving_cert.exists():
        current = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
        try:
            have = list(current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            have = []
        if set(map(str, have)) != set(map(str, wanted)):
            pki.serving_cert.unlink()
    if not pki.serving_cert.exists():
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
        _write_key(pki.serving_key, key)
        _write_cert(pki.serving_cert, _issue(ca, ca_key, subject, key, server=True, sans=wanted))
    if not pki.admin_cert.exists():
        issue_client_cert(pki, "admin", ["system:masters"], pki.admin_cert, pki.admin_key)
    if not pki.kubelet_client_cert.exists():
        issue_client_cert(pki, KUBELET_CLIENT_USER, ["system:masters"], pki.kubelet_client_cert, pki.kubelet_client_key)
    return pki


#: who the API server is when it calls a kubelet (kubeadm's name for the same certificate)
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"


def issue_serving_cert(pki: ClusterPKI, name: str, ips: list[str], dns: list[str], cert_path: Path,
                       key_path: Path) -> None:
    """A serving certificate signed by the cluster CA (a kubelet's, for its node addresses)."""
    ca, ca_key = _load(pki)
    key = _key()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    _write_key(key_path, key)
    _write_cert(cert_path, _issue(ca, ca_key, subject, key, server=True, sans=sans))
