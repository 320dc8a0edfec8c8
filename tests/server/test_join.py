"""The join token (format, CA hash, file) and the pure parts of the TLS bootstrap: the node's
CSR and the reuse/renew decision for stored certificates."""
from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api.kinds.certificates.certificatesigningrequest import parse_request
from kubelite.controllers.csrsigning import (issue_certificate, kubelet_client_problem,
                                             kubelet_serving_problem, san_values)
from kubelite.server import jointoken
from kubelite.server.join import build_csr, certificate_problem, key_pem, new_key

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def make_ca(cn: str = "kubelite-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert, key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# -- the token ------------------------------------------------------------------------------------

def test_token_format_round_trip_and_hash() -> None:
    ca, _ = make_ca()
    t = jointoken.generate(pem(ca))
    text = str(t)
    assert text.startswith("K10") and "::server:" in text
    assert jointoken.parse(text) == t
    assert t.ca_hash == jointoken.ca_hash(pem(ca)) and len(t.ca_hash) == 64
    assert len(t.token_id) == 6 and len(t.secret) == 16 and t.bearer == f"{t.token_id}.{t.secret}"
    assert t.matches_ca(pem(ca))
    other, _ = make_ca("another")
    assert not t.matches_ca(pem(other))


@pytest.mark.parametrize("text", [
    "", "abcdef.0123456789abcdef", "K10abc::server:abcdef.0123456789abcdef",
    "K10" + "0" * 64 + "::server:ABCDEF.0123456789abcdef", "K10" + "0" * 64 + "::server:abcdef.short",
])
def test_bad_tokens_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid join token"):
        jointoken.parse(text)


def test_token_file_is_private_kept_and_remade_for_a_new_ca(tmp_path: Path) -> None:
    ca, _ = make_ca()
    first = jointoken._load_or_create(tmp_path / "node-token", pem(ca))
    path = tmp_path / "node-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == str(first)
    assert jointoken._load_or_create(path, pem(ca)) == first  # restarts keep the token
    new_ca, _ = make_ca("rotated")
    remade = jointoken._load_or_create(path, pem(new_ca))
    assert remade != first and remade.matches_ca(pem(new_ca))


# -- the node's requests -------------------------------------------------------------------------

def test_client_csr_is_a_kubelet_client_request() -> None:
    key = new_key()
    req = parse_request(build_csr(key, "n2").public_bytes(serialization.Encoding.PEM))
    assert req.subject.rfc4514_string() == "CN=system:node:n2,O=system:nodes"
    assert kubelet_client_problem(req, ["digital signature", "client auth"]) == ""
    assert "usages" in kubelet_client_problem(req, ["server auth"])


def test_serving_csr_carries_the_node_names() -> None:
    req = build_csr(new_key(), "n2", dns=["n2"], ips=["10.0.0.7"])
    assert san_values(req) == {"dns": ["n2"], "ip": ["10.0.0.7"], "email": [], "uri": []}
    assert kubelet_serving_problem(req, ["digital signature", "server auth"]) == ""
    assert kubelet_client_problem(req, ["client auth"]) == "DNS names are not allowed"
    assert "at least one" in kubelet_serving_problem(build_csr(new_key(), "n2"), ["server auth"])


# -- reuse or renew ------------------------------------------------------------------------------

def _issued(ca, ca_key, key, node="n2", seconds=3600, now=NOW, **sans) -> bytes:  # noqa: ANN001
    return issue_certificate(build_csr(key, node, **sans), ["digital signature", "client auth"], ca, ca_key, now, seconds)


def test_certificate_reuse_and_renewal() -> None:
    ca, ca_key = make_ca()
    key = new_key()
    cert = _issued(ca, ca_key, key, seconds=10_000)
    check = lambda now, **kw: certificate_problem(cert, key_pem(key), pem(ca), now,  # noqa: E731
                                                  common_name=kw.pop("cn", "system:node:n2"), **kw)
    assert check(NOW) == ""
    # lifetime is 5 min backdate + 10,000 s; the last 20 % (2060 s) asks for renewal
    assert check(NOW + dt.timedelta(seconds=7_900)) == ""
    assert check(NOW + dt.timedelta(seconds=8_000)) == "renew"
    assert check(NOW + dt.timedelta(seconds=10_001)) == "expired"
    assert "another name" in check(NOW, cn="system:node:n3")
    other_ca, _ = make_ca("other")
    assert certificate_problem(cert, key_pem(key), pem(other_ca), NOW, common_name="system:node:n2") == \
        "not issued by the cluster CA"
    assert certificate_problem(cert, key_pem(new_key()), pem(ca), NOW, common_name="system:node:n2") == \
        "the key does not match the certificate"
    assert certificate_problem(b"", b"", pem(ca), NOW, common_name="system:node:n2").startswith("unreadable")


def test_serving_certificate_must_cover_the_wanted_names() -> None:
    ca, ca_key = make_ca()
    key = new_key()
    cert = _issued(ca, ca_key, key, dns=["n2"], ips=["10.0.0.7"])
    ok = certificate_problem(cert, key_pem(key), pem(ca), NOW, common_name="system:node:n2", dns=["n2"], ips=["10.0.0.7"])
    moved = certificate_problem(cert, key_pem(key), pem(ca), NOW, common_name="system:node:n2", dns=["n2"], ips=["10.0.0.8"])
    assert (ok, moved) == ("", "its names differ from the node's")


def test_renewal_is_due_at_80_percent() -> None:
    from kubelite.server.join import renewal_due
    ca, ca_key = make_ca()
    cert = _issued(ca, ca_key, new_key(), seconds=10_000)
    # 5 min backdate + 10,000 s = 10,300 s of life; renew 2,060 s before the end
    assert renewal_due(cert) == NOW + dt.timedelta(seconds=10_000 - 2_060)
    assert renewal_due(b"junk") is None


async def test_rotation_renews_when_due_and_reloads_the_client_certificate(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import asyncio

    from kubelite.server import agent as agent_mod
    from kubelite.server.join import Identity

    ca, ca_key = make_ca()
    identity = Identity(tmp_path)
    key = new_key()
    now = dt.datetime.now(dt.timezone.utc)
    # due about 1.6 s from now: end = now + 77 s, life = 377 s, 20 % = 75.4 s
    identity.client_cert.write_bytes(_issued(ca, ca_key, key, seconds=77, now=now))
    calls: list[str] = []
    reloaded = asyncio.Event()

    async def fake_ensure(ident, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(kw["node_name"])
        ident.client_cert.write_bytes(_issued(ca, ca_key, key, seconds=10_000, now=dt.datetime.now(dt.timezone.utc)))
        return ["renewed client certificate", "reused serving certificate"]

    class FakeTransport:
        def reload_client_certificate(self, cert: str, key_file: str) -> None:
            assert cert == str(identity.client_cert)
            reloaded.set()

    monkeypatch.setattr(agent_mod, "ensure_identity", fake_ensure)
    monkeypatch.setattr(agent_mod, "MIN_WAIT_SECONDS", 0.1)
    opts = agent_mod.AgentOptions(server="https://127.0.0.1:1", token=None, node_name="n2", data_dir=tmp_path)
    task = asyncio.create_task(agent_mod._rotate_certificates(identity, opts, None, "127.0.0.1", FakeTransport()))
    try:
        await asyncio.wait_for(reloaded.wait(), 10)
        await asyncio.sleep(0.3)
        assert calls == ["n2"]  # renewed once; the fresh certificate is not due for hours
    finally:
        task.cancel()


def test_a_certificate_for_another_address_is_one_clear_line() -> None:
    from kubelite.client import TransportError
    from kubelite.server.join import _api_error
    e = TransportError("POST /apis/x: ClientConnectorCertificateError: Cannot connect to host 10.1.2.3:6443 ssl:True "
                       "[SSLCertVerificationError: (1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                       "IP address mismatch, certificate is not valid for '10.1.2.3'. (_ssl.c:1006)\")]")
    assert str(_api_error(e, "https://10.1.2.3:6443", "x")) == (
        "the server's certificate is not valid for https://10.1.2.3:6443 (IP address mismatch, certificate is not "
        "valid for '10.1.2.3'); join with an address the server's certificate names")


async def test_a_denied_request_is_a_clear_error(tmp_path: Path) -> None:
    import asyncio

    from kubelite.apiserver.local import LocalTransport
    from kubelite.apiserver.request import UserInfo
    from kubelite.client import CERTIFICATESIGNINGREQUESTS, Client
    from kubelite.server.join import JoinError, request_certificate
    from tests.inprocess import api_client

    async with api_client(tmp_path) as (api, admin):
        node = Client(LocalTransport(api, UserInfo("system:node:n2", ("system:nodes", "system:authenticated"))))

        async def deny() -> None:
            while True:
                items = (await admin.list(CERTIFICATESIGNINGREQUESTS)).items
                if items:
                    csr = items[0]
                    csr["status"]["conditions"] = [{"type": "Denied", "status": "True", "reason": "Nope",
                                                    "message": "not this node"}]
                    await admin.update(CERTIFICATESIGNINGREQUESTS, csr, subresource="approval")
                    return
                await asyncio.sleep(0.02)

        denier = asyncio.create_task(deny())
        with pytest.raises(JoinError, match=r"certificate signing request csr-\w+ was denied: not this node"):
            await request_certificate(node, build_csr(new_key(), "n2"), signer="kubernetes.io/kube-apiserver-client-kubelet",
                                      usages=["client auth"], generate_name="csr-", server="https://x", interval=0.05)
        await denier
        with pytest.raises(JoinError, match=r"was not answered within 0s \(approve it with: kubectl certificate approve"):
            await request_certificate(node, build_csr(new_key(), "n2"), signer="kubernetes.io/kube-apiserver-client-kubelet",
                                      usages=["client auth"], generate_name="csr-", server="https://x", timeout=0.1,
                                      interval=0.05)
        await node.close()
