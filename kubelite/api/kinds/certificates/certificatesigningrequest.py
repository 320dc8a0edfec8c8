"""certificates.k8s.io/v1 CertificateSigningRequest: a request for an X.509 certificate that a
signer issues once someone (a person with ``kubectl certificate approve``, or the node-client
approver) has approved it.

What lives here, as kube-apiserver's ``pkg/registry/certificates`` and
``pkg/apis/certificates/validation`` define it:

* create: the client's ``spec.username/uid/groups/extra`` are dropped (the API server fills them
  from the requesting user, see ``kubelite.apiserver.certificates``) and ``status`` starts empty,
  so nobody can create a pre-approved request;
* the main endpoint never changes ``spec`` or ``status`` (a CSR is immutable after create);
* ``/status`` changes conditions other than Approved/Denied and may set ``status.certificate``
  once; ``/approval`` changes only the conditions (that is where Approved/Denied are added);
* validation: ``spec.request`` must be a PEM ``CERTIFICATE REQUEST`` with a valid signature,
  ``usages`` known and unique, ``signerName`` ``example.com/name``, ``expirationSeconds`` >= 600,
  Approved/Denied/Failed only ``True``, Approved and Denied mutually exclusive, conditions never
  removed, ``status.certificate`` only CERTIFICATE PEM blocks.

Pure helpers the signer, the approver and the node agent share are at the bottom
(``parse_request``, ``condition``, ``is_approved``...). Cluster-scoped; short name ``csr``.
"""
from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, dig, name_of
from kubelite.api.registry import Column, ResourceType, Strategy, human_duration
from kubelite.api.validation import is_dns1123_label, is_dns1123_subdomain, required
from kubelite.machinery.errors import FieldError, duplicate, forbidden, invalid, not_supported

SIGNER_KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
SIGNER_KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
SIGNER_KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
#: condition types whose status may only be True
_TRUE_ONLY = (APPROVED, DENIED, FAILED)
MIN_EXPIRATION_SECONDS = 600

#: every KeyUsage value Kubernetes accepts, sorted as its validation lists them
KEY_USAGES = sorted([
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
    "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
])


class CertificateSigningRequestStrategy(Strategy):
    has_status = True

    columns = (
        NAME_COLUMN,
        AGE_COLUMN,
        Column("SignerName", description="signerName indicates the requested signer, and is a qualified name."),
        Column("Requestor", description="username contains the name of the user that created the "
                                        "CertificateSigningRequest. Populated by the API server on creation "
                                        "and immutable."),
        Column("RequestedDuration", description="expirationSeconds is the requested duration of validity of "
                                                "the issued certificate."),
        Column("Condition", description="conditions applied to the request. Known conditions are \"Approved\", "
                                        "\"Denied\", and \"Failed\"."),
    )

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for k in ("username", "uid", "groups", "extra"):
                spec.pop(k, None)
        obj["status"] = {}

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        _take(obj, old, "spec")
        _take(obj, old, "status")

    def prepare_for_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(obj, old)  # spec and metadata from old
        # Approved/Denied may change only through /approval: keep the old instances in place
        # (an added or removed one is left for validation to refuse).
        new_conds = _conditions(obj)
        old_conds = _conditions(old)
        for ctype in (APPROVED, DENIED):
            old_idx = [i for i, c in enumerate(old_conds) if c.get("type") == ctype]
            new_idx = [i for i, c in enumerate(new_conds) if c.get("type") == ctype]
            if len(old_idx) == len(new_idx):
                for o, n in zip(old_idx, new_idx):
                    new_conds[n] = copy.deepcopy(old_conds[o])

    def prepare_for_approval_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """``/approval``: everything but ``status.conditions`` comes from ``old``."""
        conditions = (obj.get("status") or {}).get("conditions") if isinstance(obj.get("status"), dict) else None
        managed = (obj.get("metadata") or {}).get("managedFields") if isinstance(obj.get("metadata"), dict) else None
        obj.clear()
        obj.update(copy.deepcopy(old))
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        status = obj.setdefault("status", {})
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return False  # the spec never changes; kube keeps generation 0 as well

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"spec.signerName": str(dig(obj, "spec", "signerName") or "")}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return _validate(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        """The main endpoint and ``/status`` (the main endpoint cannot change status at all,
        so the status rules are the only ones that can fire)."""
        return _validate_update(obj, old, approval=False)

    def validate_approval_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return _validate_update(obj, old, approval=True)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec = obj.get("spec") or {}
        seconds = spec.get("expirationSeconds")
        duration = human_duration(dt.timedelta(seconds=seconds)) if isinstance(seconds, int) else "<none>"
        return [name_of(obj), age_cell(obj, now), spec.get("signerName") or "<none>",
                spec.get("username") or "", duration, condition_summary(obj)]


def _take(obj: dict[str, Any], old: dict[str, Any], key: str) -> None:
    if key in old:
        obj[key] = copy.deepcopy(old[key])
    else:
        obj.pop(key, None)


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    status = obj.get("status")
    conds = status.get("conditions") if isinstance(status, dict) else None
    return [c for c in conds if isinstance(c, dict)] if isinstance(conds, list) else []


# -- validation ---------------------------------------------------------------------------------

def _go_bytes(data: bytes) -> str:
    """How Go's ``%#v`` shows a ``[]byte`` in a field error (kube reports the whole request)."""
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def decode_bytes(value: Any) -> bytes | None:
    """A ``bytes`` field's JSON form (base64) decoded, None if it is not valid base64."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return None


def parse_request(pem: bytes) -> x509.CertificateSigningRequest:
    """``certificates.ParseCSR`` + ``CheckSignature``: the PKCS#10 request in ``pem`` (ValueError
    with kube's message if it is not one, or its signature does not verify)."""
    start = pem.find(b"-----BEGIN ")
    if start < 0 or not pem[start:].startswith(b"-----BEGIN CERTIFICATE REQUEST-----"):
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(pem[start:])
    except ValueError as e:
        raise ValueError(f"x509: {e}") from None
    if not csr.is_signature_valid:
        raise ValueError("x509: signature verification failure")
    return csr


def _validate(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    raw = decode_bytes(spec.get("request")) or b""
    try:
        parse_request(raw)
    except ValueError as e:
        errs.append(FieldError("spec.request", f"Invalid value: {_go_bytes(raw)}: {e}"))
    usages = spec["usages"] if isinstance(spec.get("usages"), list) else []
    if not usages:
        errs.append(required("spec.usages", "usages must be provided"))
    for i, u in enumerate(usages):
        if u not in KEY_USAGES:
            errs.append(not_supported(f"spec.usages[{i}]", u, KEY_USAGES))
    seen: set[Any] = set()
    for i, u in enumerate(usages):
        if u in seen:
            errs.append(duplicate(f"spec.usages[{i}]", u))
        seen.add(u)
    signer = spec.get("signerName") or ""
    if signer == LEGACY_UNKNOWN_SIGNER:
        errs.append(invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version"))
    else:
        errs += validate_signer_name("spec.signerName", signer)
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds < MIN_EXPIRATION_SECONDS:
        errs.append(invalid("spec.expirationSeconds", seconds,
                            "may not specify a duration less than 600 seconds (10 minutes)"))
    errs += _validate_conditions(_conditions(obj))
    cert = (obj.get("status") or {}).get("certificate") if isinstance(obj.get("status"), dict) else None
    if cert:
        problem = _certificate_problem(decode_bytes(cert) or b"")
        if problem:
            errs.append(FieldError("status.certificate", f'Invalid value: "<certificate data>": {problem}'))
    return errs


def validate_signer_name(path: str, signer: str) -> list[FieldError]:
    """``example.com/signer-name``: a domain of DNS labels (at least two) and a path of subdomains."""
    if not signer:
        return [required(path, "signerName must be provided")]
    parts = signer.split("/")
    if len(parts) != 2:
        return [invalid(path, signer, "must be a fully qualified domain and path of the form 'example.com/signer-name'")]
    domain, name = parts
    errs: list[FieldError] = []
    if len(domain) > 253:
        errs.append(FieldError(path, "Too long: may not be more than 253 bytes", "FieldValueTooLong"))
    labels = domain.split(".")
    for lbl in labels:
        problems = is_dns1123_label(lbl)
        if problems:
            errs += [invalid(path, domain, f'validating label "{lbl}": {p}') for p in problems]
            break
    if len(labels) < 2:
        errs.append(invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    for lbl in name.split("."):
        problems = is_dns1123_subdomain(lbl)
        if problems:
            errs += [invalid(path, name, f'validating label "{lbl}": {p}') for p in problems]
            break
    if len(signer) > 253 + 253 + 63 + 1 + 1:
        errs.append(FieldError(path, "Too long: may not be more than 571 bytes", "FieldValueTooLong"))
    return errs


def _validate_conditions(conds: list[dict[str, Any]]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    approved = denied = False
    for i, c in enumerate(conds):
        path = f"status.conditions[{i}]"
        ctype = c.get("type") or ""
        if not ctype:
            errs.append(required(f"{path}.type"))
        allowed = ["True"] if ctype in _TRUE_ONLY else ["False", "True", "Unknown"]
        status = c.get("status") or ""
        if not status:
            errs.append(required(f"{path}.status"))
        elif status not in allowed:
            errs.append(not_supported(f"{path}.status", status, allowed))
        if ctype == APPROVED:
            approved = True
            if denied:
                errs.append(invalid(f"{path}.type", ctype, "Approved and Denied conditions are mutually exclusive"))
        elif ctype == DENIED:
            denied = True
            if approved:
                errs.append(invalid(f"{path}.type", ctype, "Approved and Denied conditions are mutually exclusive"))
        if ctype in seen:
            errs.append(duplicate(f"{path}.type", ctype))
        seen.add(ctype)
    return errs


def _certificate_problem(data: bytes) -> str:
    """``validateCertificate``: one or more CERTIFICATE PEM blocks, no headers, each parseable."""
    blocks = 0
    rest = data
    while True:
        start = rest.find(b"-----BEGIN ")
        if start < 0:
            break
        head_end = rest.find(b"-----", start + 11)
        if head_end < 0:
            break
        block_type = rest[start + 11:head_end].decode(errors="replace")
        end_marker = b"-----END " + block_type.encode() + b"-----"
        end = rest.find(end_marker, head_end)
        if end < 0:
            break
        block = rest[start:end + len(end_marker)]
        if block_type != "CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{block_type}"'
        lines = block.split(b"\n")
        if len(lines) > 2 and b":" in lines[1]:
            return "no PEM block headers are permitted"
        try:
            x509.load_pem_x509_certificate(block)
        except ValueError as e:
            return f"x509: {e}"
        blocks += 1
        rest = rest[end + len(end_marker):]
    return "" if blocks else "must contain at least one CERTIFICATE PEM block"


def _validate_update(obj: dict[str, Any], old: dict[str, Any], *, approval: bool) -> list[FieldError]:
    errs = _validate(obj)
    new_conds, old_conds = _conditions(obj), _conditions(old)

    def of(conds: list[dict[str, Any]], ctype: str) -> list[dict[str, Any]]:
        return [c for c in conds if c.get("type") == ctype]

    for ctype in (APPROVED, DENIED, FAILED):
        if len(of(new_conds, ctype)) < len(of(old_conds, ctype)):
            errs.append(forbidden("status.conditions", f'updates may not remove a condition of type "{ctype}"'))
    if not approval:
        for ctype in (APPROVED, DENIED):
            n, o = of(new_conds, ctype), of(old_conds, ctype)
            if len(n) > len(o):
                errs.append(forbidden("status.conditions", f'updates may not add a condition of type "{ctype}"'))
            elif len(n) == len(o) and n != o:
                errs.append(forbidden("status.conditions", f'updates may not modify a condition of type "{ctype}"'))
    new_cert = (obj.get("status") or {}).get("certificate") or ""
    old_cert = (old.get("status") or {}).get("certificate") or ""
    if new_cert != old_cert:
        if approval:
            errs.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif old_cert:
            errs.append(forbidden("status.certificate", "updates may not modify existing certificate content"))
    return errs


# -- helpers for signers, approvers and requesters ------------------------------------------------

def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in _conditions(obj):
        if c.get("type") == ctype:
            return c
    return None


def is_approved(obj: dict[str, Any]) -> bool:
    c = condition(obj, APPROVED)
    return c is not None and c.get("status") == "True"


def is_denied(obj: dict[str, Any]) -> bool:
    c = condition(obj, DENIED)
    return c is not None and c.get("status") == "True"


def is_failed(obj: dict[str, Any]) -> bool:
    c = condition(obj, FAILED)
    return c is not None and c.get("status") == "True"


def certificate_pem(obj: dict[str, Any]) -> bytes:
    """The issued certificate chain (PEM), empty while none was issued."""
    return decode_bytes((obj.get("status") or {}).get("certificate")) or b""


def condition_summary(obj: dict[str, Any]) -> str:
    """The printers' ``extractCSRStatus``: Denied > Approved > Pending, then ``,Failed`` and ``,Issued``."""
    types = {c.get("type") for c in _conditions(obj)}
    out = DENIED if DENIED in types else APPROVED if APPROVED in types else "Pending"
    if FAILED in types:
        out += ",Failed"
    if (obj.get("status") or {}).get("certificate"):
        out += ",Issued"
    return out


def encode_request(csr: x509.CertificateSigningRequest) -> str:
    """A request as ``spec.request`` carries it: PEM, base64 in JSON."""
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


RESOURCE = ResourceType(
    group="certificates.k8s.io", version="v1", kind="CertificateSigningRequest",
    plural="certificatesigningrequests", singular="certificatesigningrequest", namespaced=False,
    strategy=CertificateSigningRequestStrategy(), schema="io.k8s.api.certificates.v1.CertificateSigningRequest",
    short_names=("csr",), subresources=("status", "approval"),
)
