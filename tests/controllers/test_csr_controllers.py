"""The CSR signer and approver: what a signed certificate holds, which requests each signer
refuses, the serving-SAN rule, and both controllers against the in-process API server (a
bootstrap token's node-client CSR is approved and signed with no human; a user's CSR waits for
an approval; a request that breaks its signer's rules fails)."""
from __future__ import annotations

import datetime as dt
import base64
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.request import UserInfo
from kubelite.client import CERTIFICATESIGNINGREQUESTS as CSR, NODES, Client
from kubelite.controllers.csrapproving import CSRApprovingController, serving_sans_problem
from kubelite.controllers.csrcleaner import CSRCleanerController, expired
from kubelite.controllers.csrsigning import CSRSigningController, issue_certificate, signer_problem
from kubelite.server.join import build_csr, new_key
from tests.controllers.infra_harness import eventually, run_controllers
from tests.inprocess import api_client

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
BOOTSTRAP = UserInfo("system:bootstrap:abcdef", ("system:bootstrappers", "system:authenticated"))
NODE_N2 = UserInfo("system:node:n2", ("system:nodes", "system:authenticated"))


def make_ca(tmp: Path | None = None, days: int = 30, start: dt.datetime = NOW) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelite-ca")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start - dt.timedelta(days=1)).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    if tmp is not None:
        (tmp / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return cert, key


def user_request(cn: str = "bob", orgs: tuple[str, ...] = ()) -> x509.CertificateSigningRequest:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(new_key(), hashes.SHA256())


def test_issued_certificate() -> None:
    ca, ca_key = make_ca()
    req = build_csr(new_key(), "n2", dns=["n2"], ips=["10.0.0.7"])
    cert = x509.load_pem_x509_certificate(
        issue_certificate(req, ["digital signature", "server auth"], ca, ca_key, NOW, 3600))
    assert cert.subject == req.subject and cert.issuer == ca.subject
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(hours=1)
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == \
        req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    cert.verify_directly_issued_by(ca)
    # never outlives the CA
    long = x509.load_pem_x509_certificate(issue_certificate(req, ["server auth"], ca, ca_key, NOW, 10**9))
    assert long.not_valid_after_utc == ca.not_valid_after_utc


def test_signer_rules() -> None:
    node = build_csr(new_key(), "n2")
    assert signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET, node, ["client auth"]) == ""
    assert signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET, user_request(), ["client auth"]) == \
        "subject organization is not system:nodes"
    assert signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET, user_request("bob", ("system:nodes",)),
                          ["client auth"]) == 'subject common name does not begin with "system:node:"'
    assert signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT, user_request(), ["client auth"]) == ""
    assert "usages" in signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT, user_request(), ["server auth"])
    assert "usages" in signer_problem(csrkind.SIGNER_KUBE_APISERVER_CLIENT, user_request(), ["client auth", "cert sign"])


def _node(name: str, *addresses: tuple[str, str]) -> dict:
    return {"metadata": {"name": name}, "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]}}


def test_serving_sans_rule() -> None:
    nodes = [_node("n1", ("InternalIP", "10.0.0.1"), ("Hostname", "n1")),
             _node("n2", ("InternalIP", "10.0.0.2"), ("Hostname", "n2.lan"))]
    assert serving_sans_problem("n2", ["n2", "n2.lan"], ["10.0.0.2"], nodes) == ""
    assert serving_sans_problem("n3", ["n3"], ["10.0.0.3"], nodes) == ""  # not registered yet
    assert serving_sans_problem("n2", ["n1"], [], nodes) == "DNS names ['n1'] are not names of node n2"
    assert serving_sans_problem("n2", ["n2"], ["10.0.0.1"], nodes) == "IP addresses ['10.0.0.1'] belong to node n1"
    # agents sharing a machine all report loopback: that is nobody's to take
    nodes.append(_node("n0", ("InternalIP", "127.0.0.1")))
    assert serving_sans_problem("n2", ["n2"], ["127.0.0.1"], nodes) == ""


def _csr_body(req: x509.CertificateSigningRequest, signer: str, usages: list[str], prefix: str = "csr-") -> dict:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": prefix},
            "spec": {"request": csrkind.encode_request(req), "signerName": signer, "usages": usages}}


async def test_controllers_approve_and_sign_node_certificates(tmp_path: Path) -> None:
    ca, _ = make_ca(tmp_path, start=dt.datetime.now(dt.timezone.utc))
    opts = {"cluster_signing_cert_file": str(tmp_path / "ca.crt"), "cluster_signing_key_file": str(tmp_path / "ca.key"),
            "cluster_signing_duration": 7200}
    async with api_client(tmp_path) as (api, admin):
        bootstrap = Client(LocalTransport(api, BOOTSTRAP))
        node = Client(LocalTransport(api, NODE_N2))
        async with run_controllers(admin, CSRApprovingController, CSRSigningController, options=opts):
            # 1. a bootstrap token asks for a node client certificate: approved and signed
            client_csr = await bootstrap.create(CSR, _csr_body(
                build_csr(new_key(), "n2"), csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET,
                ["digital signature", "client auth"], "node-csr-"))
            assert client_csr["spec"]["username"] == "system:bootstrap:abcdef"

            async def issued(name: str) -> dict | None:
                obj = await admin.get(CSR, name)
                return obj if csrkind.certificate_pem(obj) else None

            done = await eventually(lambda: issued(client_csr["metadata"]["name"]), what="node client certificate")
            assert csrkind.condition(done, "Approved")["reason"] == "AutoApproved"
            assert csrkind.condition(done, "Approved")["message"] == \
                "Auto approving kubelet client certificate after SubjectAccessReview."
            cert = x509.load_pem_x509_certificate(csrkind.certificate_pem(done))
            cert.verify_directly_issued_by(ca)
            assert cert.subject.rfc4514_string() == "CN=system:node:n2,O=system:nodes"
            assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(seconds=7200 + 300)

            # 2. the node renews as itself and asks for its serving certificate
            renewal = await node.create(CSR, _csr_body(build_csr(new_key(), "n2"),
                                                       csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET, ["client auth"]))
            serving = await node.create(CSR, _csr_body(build_csr(new_key(), "n2", dns=["n2"], ips=["10.9.9.9"]),
                                                       csrkind.SIGNER_KUBELET_SERVING, ["digital signature", "server auth"]))
            renewed = await eventually(lambda: issued(renewal["metadata"]["name"]), what="renewal")
            assert "self kubelet client" in csrkind.condition(renewed, "Approved")["message"]
            await eventually(lambda: issued(serving["metadata"]["name"]), what="serving certificate")

            # 3. a node may not get a serving certificate for another node's address
            await admin.create(NODES, {"metadata": {"name": "n1"}})
            n1 = await admin.get(NODES, "n1")
            n1["status"] = {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
            await admin.update_status(NODES, n1)
            stolen = await node.create(CSR, _csr_body(build_csr(new_key(), "n2", dns=["n2"], ips=["10.0.0.1"]),
                                                      csrkind.SIGNER_KUBELET_SERVING, ["server auth"]))
            # 4. a bootstrap token asking for someone else's client certificate is not approved
            other = await bootstrap.create(CSR, _csr_body(user_request("bob"), csrkind.SIGNER_KUBE_APISERVER_CLIENT,
                                                          ["client auth"]))
            # 5. a user request waits for a human, then is signed; a malformed one fails
            bad = await admin.create(CSR, _csr_body(user_request("bob"), csrkind.SIGNER_KUBE_APISERVER_CLIENT_KUBELET,
                                                    ["client auth"]))
            for obj in (other, bad):
                approve = await admin.get(CSR, obj["metadata"]["name"])
                assert not csrkind.is_approved(approve)
                approve["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}]
                await admin.update(CSR, approve, subresource="approval")
            await eventually(lambda: issued(other["metadata"]["name"]), what="approved user certificate")

            async def failed() -> dict | None:
                obj = await admin.get(CSR, bad["metadata"]["name"])
                return obj if csrkind.is_failed(obj) else None

            f = await eventually(failed, what="Failed condition")
            assert csrkind.condition(f, "Failed")["reason"] == "SignerValidationFailure"
            assert not csrkind.certificate_pem(f)
            assert not csrkind.is_approved(await admin.get(CSR, stolen["metadata"]["name"]))
        await bootstrap.close()
        await node.close()


async def test_an_expired_ca_fails_requests(tmp_path: Path) -> None:
    make_ca(tmp_path)  # expired a month after NOW, long ago
    opts = {"cluster_signing_cert_file": str(tmp_path / "ca.crt"), "cluster_signing_key_file": str(tmp_path / "ca.key")}
    async with api_client(tmp_path) as (api, admin):
        async with run_controllers(admin, CSRSigningController, options=opts):
            created = await admin.create(CSR, _csr_body(user_request(), csrkind.SIGNER_KUBE_APISERVER_CLIENT, ["client auth"]))
            created["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "T", "message": "m"}]
            await admin.update(CSR, created, subresource="approval")

            async def failed() -> dict | None:
                obj = await admin.get(CSR, created["metadata"]["name"])
                return obj if csrkind.is_failed(obj) else None

            f = await eventually(failed, what="Failed condition")
            assert csrkind.condition(f, "Failed")["message"].startswith("the signer has expired")


async def test_without_a_ca_nothing_is_signed(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, admin):
        async with run_controllers(admin, CSRSigningController) as (signer,):
            created = await admin.create(CSR, _csr_body(user_request(), csrkind.SIGNER_KUBE_APISERVER_CLIENT, ["client auth"]))
            created["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "T", "message": "m"}]
            await admin.update(CSR, created, subresource="approval")
            import asyncio
            await asyncio.sleep(0.3)
            obj = await admin.get(CSR, created["metadata"]["name"])
            assert not csrkind.certificate_pem(obj) and not csrkind.is_failed(obj)


def _aged(created: str, *conditions: tuple[str, str], certificate: bytes = b"") -> dict:
    obj = {"metadata": {"name": "x", "creationTimestamp": created},
           "status": {"conditions": [{"type": t, "status": "True", "lastUpdateTime": at} for t, at in conditions]}}
    if certificate:
        obj["status"]["certificate"] = base64.b64encode(certificate).decode()
    return obj


def test_cleaner_lifetimes() -> None:
    now = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.timezone.utc)
    assert not expired(_aged("2026-01-01T13:00:00Z"), now)  # pending 23 h
    assert expired(_aged("2026-01-01T11:00:00Z"), now)  # pending 25 h
    assert not expired(_aged("2026-01-01T00:00:00Z", ("Approved", "2026-01-02T11:30:00Z")), now)
    assert expired(_aged("2026-01-02T10:00:00Z", ("Approved", "2026-01-02T10:30:00Z")), now)
    assert expired(_aged("2026-01-02T10:00:00Z", ("Denied", "2026-01-02T10:59:00Z")), now)
    assert not expired(_aged("2026-01-02T11:00:00Z", ("Failed", "2026-01-02T11:01:00Z")), now)
    ca, ca_key = make_ca(start=now - dt.timedelta(days=2))
    cert = issue_certificate(build_csr(new_key(), "n2"), ["client auth"], ca, ca_key, now - dt.timedelta(hours=3), 3600)
    assert expired(_aged("2026-01-02T11:59:00Z", certificate=cert), now)  # its certificate ran out


async def test_cleaner_deletes_old_requests(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, admin):
        fresh = await admin.create(CSR, _csr_body(user_request(), csrkind.SIGNER_KUBE_APISERVER_CLIENT, ["client auth"]))
        old = await admin.create(CSR, _csr_body(user_request(), csrkind.SIGNER_KUBE_APISERVER_CLIENT, ["client auth"]))
        old["status"]["conditions"] = [{"type": "Denied", "status": "True", "reason": "No", "message": "no",
                                        "lastUpdateTime": "2020-01-01T00:00:00Z"}]
        await admin.update(CSR, old, subresource="approval")
        async with run_controllers(admin, CSRCleanerController, options={"csr_cleaner_interval": 0.1}):
            async def gone() -> bool:
                names = {c["metadata"]["name"] for c in (await admin.list(CSR)).items}
                return old["metadata"]["name"] not in names
            await eventually(gone, what="the old denied CSR deleted")
            assert await admin.get(CSR, fresh["metadata"]["name"])
