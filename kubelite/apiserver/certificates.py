"""The API server's side of CertificateSigningRequests: the ``approval`` subresource and the
admission rules kube-apiserver applies to CSRs.

* ``/approval`` (``kubectl certificate approve|deny`` GETs the CSR, adds an Approved or Denied
  condition and PUTs it here): only ``status.conditions`` change (the kind's strategy says how).
* admission, as kube-apiserver's plugins and request context do:
  - on create, ``spec.username/uid/groups/extra`` are the requesting user's (never the client's);
  - ``CertificateSubjectRestriction``: no ``system:masters`` organisation for the
    ``kube-apiserver-client`` signer;
  - ``CertificateApproval``: adding Approved/Denied needs the ``approve`` verb on
    ``signers`` (name = the signerName, or ``<domain>/*``) in certificates.k8s.io;
  - ``CertificateSigning``: setting ``status.certificate`` needs ``sign`` on ``signers``;
  - conditions without ``lastUpdateTime``/``lastTransitionTime`` get the server's time
    (``lastTransitionTime`` is kept from an old condition of the same type and status).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

from cryptography.x509.oid import NameOID

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.api.helpers.times import format_time
from kubelite.api.registry import ResourceType
from kubelite.apiserver import codec, fields
from kubelite.apiserver.authz import Attributes
from kubelite.apiserver.handlers import Target, dry_run, field_validation
from kubelite.apiserver.request import CURRENT_USER, ApiRequest, ApiResponse, UserInfo
from kubelite.machinery import errors
from kubelite.machinery.patch import json_patch, merge_patch, strategic_merge

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

Obj = dict[str, Any]
PLURAL = "certificatesigningrequests"
GROUP = "certificates.k8s.io"
APPROVAL_TYPES = (csrkind.APPROVED, csrkind.DENIED)


def install(server: "ApiServer") -> None:
    server.store.admission.append(CSRAdmission(server))
    server.resources.subresource_handlers[(PLURAL, "approval")] = _approval_handler(server)


def _forbidden(name: str, detail: str) -> errors.StatusError:
    return errors.StatusError(403, "Forbidden", f'{PLURAL}.{GROUP} "{name}" is forbidden: {detail}',
                              {"name": name, "group": GROUP, "kind": PLURAL})


def _condition_types(obj: Obj, *types: str) -> list[Obj]:
    return [c for c in ((obj.get("status") or {}).get("conditions") or [])
            if isinstance(c, dict) and c.get("type") in types]


class CSRAdmission:
    def __init__(self, server: "ApiServer") -> None:
        self.server = server

    async def __call__(self, rt: ResourceType, obj: Obj, old: Obj | None, *, dry_run: bool) -> None:
        if rt.group != GROUP or rt.plural != PLURAL:
            return
        user = CURRENT_USER.get()
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
        name = (obj.get("metadata") or {}).get("name", "")
        if old is None:
            if spec is not None and user is not None:
                _set_requestor(spec, user)
            await self._subject_restriction(obj, name)
            return
        self._populate_timestamps(obj, old)
        if user is None or user.is_master:
            return
        signer = str((spec or {}).get("signerName") or "")
        if _condition_types(obj, *APPROVAL_TYPES) != _condition_types(old, *APPROVAL_TYPES) \
                and not await self._may(user, "approve", signer):
            raise _forbidden(name, f'user not permitted to approve requests with signerName "{signer}"')
        new_cert = (obj.get("status") or {}).get("certificate")
        if new_cert and new_cert != (old.get("status") or {}).get("certificate") \
                and not await self._may(user, "sign", signer):
            raise _forbidden(name, f'user not permitted to sign requests with signerName "{signer}"')

    async def _may(self, user: UserInfo, verb: str, signer: str) -> bool:
        """kube's ``certificates.IsAuthorizedForSignerName``: the exact signer, or ``domain/*``."""
        authz = self.server.authorizer
        for target in (signer, signer.split("/", 1)[0] + "/*"):
            allowed, _ = await authz.authorize(Attributes(user, verb, GROUP, "signers", "", "", target))
            if allowed:
                return True
        return False

    async def _subject_restriction(self, obj: Obj, name: str) -> None:
        spec = obj.get("spec") or {}
        if spec.get("signerName") != csrkind.SIGNER_KUBE_APISERVER_CLIENT:
            return
        try:
            req = csrkind.parse_request(csrkind.decode_bytes(spec.get("request")) or b"")
        except ValueError:
            return  # validation reports it
        orgs = [a.value for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if "system:masters" in orgs:
            raise _forbidden(name, f"use of {csrkind.SIGNER_KUBE_APISERVER_CLIENT} signer with system:masters "
                                   "group is not allowed")

    def _populate_timestamps(self, obj: Obj, old: Obj) -> None:
        conds = (obj.get("status") or {}).get("conditions")
        if not isinstance(conds, list):
            return
        now = format_time(self.server.clock())
        old_conds = _condition_types(old, *{c["type"] for c in conds if isinstance(c, dict) and isinstance(c.get("type"), str)})
        for c in conds:
            if not isinstance(c, dict):
                continue
            if not c.get("lastUpdateTime"):
                c["lastUpdateTime"] = now
            if not c.get("lastTransitionTime"):
                prev = next((o.get("lastTransitionTime") for o in old_conds if o.get("type") == c.get("type")
                             and o.get("status") == c.get("status") and o.get("lastTransitionTime")), None)
                c["lastTransitionTime"] = prev or now


def _set_requestor(spec: Obj, user: UserInfo) -> None:
    spec["username"] = user.name
    if user.uid:
        spec["uid"] = user.uid
    if user.groups:
        spec["groups"] = list(user.groups)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}


def _approval_handler(server: "ApiServer"):  # noqa: ANN202 - a subresource handler
    store = server.store
    strategy = csrkind.RESOURCE.strategy
    assert isinstance(strategy, csrkind.CertificateSigningRequestStrategy)

    async def approval(req: ApiRequest, t: Target) -> ApiResponse:
        rt = t.rt
        if t.verb == "get":
            return server.resources._object_response(req, rt, await store.get(rt, None, t.name))
        if t.verb not in ("update", "patch"):
            raise errors.method_not_allowed()
        body = await codec.decode_body_async(req.body, req.content_type, server.resources.resolve_kind)
        ctype = codec.media_type(req.content_type)
        mode = field_validation(req)
        if t.verb == "update" and isinstance(body, dict):
            fields.check_fields(rt, body, mode)  # decoded as its type: wrong JSON types are a 400

        def mutate(current: Obj) -> Obj:
            old = copy.deepcopy(current)
            if t.verb == "update":
                if not isinstance(body, dict):
                    raise errors.bad_request("the request body must be a CertificateSigningRequest object")
                server.resources._check_kind(t, body)
                sent = str((body.get("metadata") or {}).get("resourceVersion") or "")
                if sent and sent != current["metadata"].get("resourceVersion"):
                    raise errors.conflict(rt.plural, rt.group, t.name, errors.STALE_OBJECT)
                new = copy.deepcopy(body)
            elif ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise errors.bad_request("json patch must be a list of operations")
                new = json_patch(current, body)
            elif ctype == "application/merge-patch+json":
                new = merge_patch(current, body)
            elif ctype == "application/strategic-merge-patch+json":
                if not isinstance(body, dict):
                    raise errors.bad_request("strategic merge patch must be an object")
                new = strategic_merge(current, body, cast(str, rt.schema))  # built-in CSR
            else:
                raise errors.unsupported_media_type(ctype)
            if not isinstance(new, dict) or not isinstance(new.get("status", {}), dict):
                raise errors.bad_request("the object and its status must be JSON objects")
            if t.verb == "patch":
                fields.check_fields(rt, new, mode)
            strategy.prepare_for_approval_update(new, old)
            errs = strategy.validate_approval_update(new, old)
            if errs:
                raise errors.invalid_object(rt.kind, rt.group, t.name, errs)
            return new

        obj, _ = await store.update(rt, None, t.name, mutate, subresource="approval",
                                    manager=req.query.get("fieldManager") or _agent(req), dry_run=dry_run(req))
        return server.resources._object_response(req, rt, obj)

    return approval


def _agent(req: ApiRequest) -> str:
    ua = req.headers.get("User-Agent") or req.headers.get("user-agent") or ""
    return ua.split("/", 1)[0] if ua else "unknown"
