"""CertificateSigningRequests: request/usages/signer/duration validation, immutability of spec,
status vs approval rules, requestor fields dropped on create, and the printer columns."""
from __future__ import annotations

import base64
import copy

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api.kinds.certificates.certificatesigningrequest import (RESOURCE as CSR, condition_summary,
                                                                      parse_request)
from tests.api.kinds.kindtest import create, created, fields, meta, row, update

KEY = ec.generate_private_key(ec.SECP256R1())


def pem_request(cn: str = "bob", key: ec.EllipticCurvePrivateKey = KEY) -> bytes:
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256())
    return req.public_bytes(serialization.Encoding.PEM)


def self_signed_pem() -> bytes:
    import datetime as dt
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(KEY, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def csr(**spec: object) -> dict:
    body = {"request": b64(pem_request()), "signerName": "example.com/signer", "usages": ["client auth"]}
    body.update(spec)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": meta("bob", None), "spec": body}


def tampered_request() -> bytes:
    """A PEM CSR whose signature no longer matches its content (one byte of the key changed)."""
    der = bytearray(x509.load_pem_x509_csr(pem_request()).public_bytes(serialization.Encoding.DER))
    der[-80] ^= 0x01
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)) + b"-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize("spec,expected", [
    ({}, []),
    ({"request": b64(b"not pem")}, ["spec.request"]),
    ({"request": b64(self_signed_pem())}, ["spec.request"]),
    ({"usages": []}, ["spec.usages"]),
    ({"usages": ["client auth", "flying"]}, ["spec.usages[1]"]),
    ({"usages": ["client auth", "client auth"]}, ["spec.usages[1]"]),
    ({"signerName": ""}, ["spec.signerName"]),
    ({"signerName": "nodomain"}, ["spec.signerName"]),
    ({"signerName": "example/x"}, ["spec.signerName"]),
    ({"signerName": "Example.com/x"}, ["spec.signerName"]),
    ({"signerName": "kubernetes.io/legacy-unknown"}, ["spec.signerName"]),
    ({"expirationSeconds": 599}, ["spec.expirationSeconds"]),
    ({"expirationSeconds": 600}, []),
])
def test_create_validation(spec: dict, expected: list[str]) -> None:
    assert fields(create(CSR, csr(**spec))) == expected


def test_messages_are_kubes() -> None:
    errs = {e.field: e.message for e in create(CSR, csr(request=b64(b"junk"), expirationSeconds=60, usages=[]))}
    assert errs["spec.request"] == "Invalid value: []byte{0x6a, 0x75, 0x6e, 0x6b}: PEM block type must be CERTIFICATE REQUEST"
    assert errs["spec.expirationSeconds"] == "Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"
    assert errs["spec.usages"] == "Required value: usages must be provided"


def test_bad_signature_is_refused() -> None:
    with pytest.raises(ValueError, match="x509"):
        parse_request(tampered_request())


def test_create_drops_client_requestor_and_status() -> None:
    obj = csr(username="system:admin", groups=["system:masters"], uid="u", extra={"a": ["b"]})
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    out = created(CSR, obj)
    assert "username" not in out["spec"] and "groups" not in out["spec"] and "extra" not in out["spec"]
    assert out["status"] == {}


def test_spec_and_status_are_immutable_through_the_main_endpoint() -> None:
    old = created(CSR, csr())
    new = copy.deepcopy(old)
    new["spec"]["usages"] = ["server auth"]
    new["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    assert update(CSR, new, old) == []
    assert new["spec"] == old["spec"] and new["status"] == {}


def _status_update(new: dict, old: dict) -> list:
    CSR.strategy.prepare_for_status_update(new, old)
    return CSR.strategy.validate_update(new, old)


def _approval_update(new: dict, old: dict) -> list:
    CSR.strategy.prepare_for_approval_update(new, old)
    return CSR.strategy.validate_approval_update(new, old)


APPROVED = {"type": "Approved", "status": "True", "reason": "R", "message": "m"}
DENIED = {"type": "Denied", "status": "True", "reason": "R", "message": "m"}


def test_approval_only_through_the_approval_subresource() -> None:
    old = created(CSR, csr())
    via_status = copy.deepcopy(old)
    via_status["status"]["conditions"] = [APPROVED]
    errs = _status_update(via_status, old)
    assert [e.message for e in errs] == ['Forbidden: updates may not add a condition of type "Approved"']
    via_approval = copy.deepcopy(old)
    via_approval["status"]["conditions"] = [APPROVED]
    via_approval["spec"]["signerName"] = "example.com/other"  # ignored: only conditions change
    assert _approval_update(via_approval, old) == []
    assert via_approval["spec"] == old["spec"]


def test_approval_rules() -> None:
    old = created(CSR, csr())
    both = copy.deepcopy(old)
    both["status"]["conditions"] = [APPROVED, DENIED]
    assert fields(_approval_update(both, old)) == ["status.conditions[1].type"]
    false_approval = copy.deepcopy(old)
    false_approval["status"]["conditions"] = [dict(APPROVED, status="False")]
    assert fields(_approval_update(false_approval, old)) == ["status.conditions[0].status"]
    approved = copy.deepcopy(old)
    approved["status"]["conditions"] = [APPROVED]
    removed = copy.deepcopy(approved)
    removed["status"]["conditions"] = []
    assert [e.message for e in _approval_update(removed, approved)] == [
        'Forbidden: updates may not remove a condition of type "Approved"']


def test_certificate_set_once_through_status_only() -> None:
    old = created(CSR, csr())
    old["status"]["conditions"] = [APPROVED]
    issued = copy.deepcopy(old)
    issued["status"]["certificate"] = b64(self_signed_pem())
    assert _status_update(issued, old) == []
    again = copy.deepcopy(issued)
    again["status"]["certificate"] = b64(self_signed_pem())
    assert [e.message for e in _status_update(again, issued)] == [
        "Forbidden: updates may not modify existing certificate content"]
    garbage = copy.deepcopy(old)
    garbage["status"]["certificate"] = b64(pem_request())
    assert [e.message for e in _status_update(garbage, old)] == [
        'Invalid value: "<certificate data>": only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"']
    via_approval = copy.deepcopy(old)
    via_approval["status"]["certificate"] = b64(self_signed_pem())
    assert _approval_update(via_approval, old) == []  # the approval endpoint ignores the certificate
    assert "certificate" not in via_approval["status"]


@pytest.mark.parametrize("conditions,certificate,expected", [
    ([], False, "Pending"),
    ([APPROVED], False, "Approved"),
    ([APPROVED], True, "Approved,Issued"),
    ([DENIED], False, "Denied"),
    ([APPROVED, {"type": "Failed", "status": "True"}], False, "Approved,Failed"),
])
def test_condition_column(conditions: list, certificate: bool, expected: str) -> None:
    obj = csr()
    obj["status"] = {"conditions": conditions}
    if certificate:
        obj["status"]["certificate"] = "eA=="
    assert condition_summary(obj) == expected


def test_columns() -> None:
    obj = created(CSR, csr(expirationSeconds=86400))
    obj["spec"]["username"] = "system:bootstrap:abcdef"
    assert row(CSR, obj) == {"Name": "bob", "Age": "5m", "SignerName": "example.com/signer",
                             "Requestor": "system:bootstrap:abcdef", "RequestedDuration": "24h",
                             "Condition": "Pending"}
    assert row(CSR, created(CSR, csr()))["RequestedDuration"] == "<none>"
    assert CSR.strategy.field_labels(obj) == {"spec.signerName": "example.com/signer"}
