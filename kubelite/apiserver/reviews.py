"""Virtual kinds answered from the request itself: access reviews and "who am I".

``kubectl auth can-i`` POSTs a SelfSubjectAccessReview, ``--list`` a SelfSubjectRulesReview,
``kubectl auth whoami`` a SelfSubjectReview, webhook authenticators a TokenReview (answered by
the server's token authenticators); nothing is stored, the reply is the request with
``status`` filled in by the authorizer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.apiserver.authn import REQUESTED_AUDIENCES, Audiences, authenticate_token
from kubelite.apiserver.authz import Attributes
from kubelite.apiserver.request import ApiRequest, ApiResponse, UserInfo, json_response
from kubelite.machinery import errors

if TYPE_CHECKING:
    from kubelite.apiserver.handlers import Target
    from kubelite.apiserver.server import ApiServer


def install(server: "ApiServer") -> None:
    authorizer = server.authorizer

    def envelope(t: "Target", body: dict[str, Any]) -> dict[str, Any]:
        out = dict(body)
        out["apiVersion"], out["kind"] = t.rt.api_version, t.rt.kind
        out.setdefault("metadata", {})
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in ("resourceVersion", "uid")}
        out["metadata"]["creationTimestamp"] = None
        return out

    async def access_review(req: ApiRequest, t: "Target", body: dict[str, Any]) -> ApiResponse:
        spec = body.get("spec")
        if not isinstance(spec, dict):
            raise errors.invalid_object(t.rt.kind, t.rt.group, "", [errors.required("spec")])
        if t.rt.kind == "SelfSubjectAccessReview":
            user = req.user
        else:
            user = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), spec.get("uid", ""))
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes") or {}
        if not ra and not nra:
            raise errors.invalid_object(t.rt.kind, t.rt.group, "", [errors.FieldError(
                "spec.resourceAttributes", "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified", "FieldValueInvalid")])
        if ra:
            namespace = ra.get("namespace", "") if t.rt.kind != "LocalSubjectAccessReview" else (t.namespace or "")
            attrs = Attributes(user, ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""),
                               ra.get("subresource", ""), namespace, ra.get("name", ""))
            allowed, reason = await authorizer.authorize(attrs)
        else:
            allowed = await authorizer.authorize_path(user, str(nra.get("verb", "")), str(nra.get("path", "")))
            reason = ""
        out = envelope(t, body)
        out["status"] = {"allowed": allowed}
        if reason:
            out["status"]["reason"] = reason
        return json_response(out, 201)

    async def rules_review(req: ApiRequest, t: "Target", body: dict[str, Any]) -> ApiResponse:
        ns = (body.get("spec") or {}).get("namespace", "")
        out = envelope(t, body)
        rules = await authorizer.rules_for(req.user, ns)
        if req.user.is_master:
            non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        else:
            non_resource = [{"verbs": r.get("verbs") or [], "nonResourceURLs": r["nonResourceURLs"]}
                            for r in await authorizer.all_rules_for(req.user, "") if r.get("nonResourceURLs")]
        out["status"] = {"resourceRules": rules, "nonResourceRules": non_resource, "incomplete": False}
        return json_response(out, 201)

    async def self_review(req: ApiRequest, t: "Target", body: dict[str, Any]) -> ApiResponse:
        out = envelope(t, body)
        out["status"] = {"userInfo": req.user.as_user_info()}
        return json_response(out, 201)

    async def token_review(req: ApiRequest, t: "Target", body: dict[str, Any]) -> ApiResponse:
        token = body["spec"]["token"]  # the strategy refused an empty one
        wanted = body["spec"].get("audiences") or []
        audiences = Audiences([str(a) for a in wanted] if isinstance(wanted, list) else [])
        if not audiences.wanted:
            audiences.wanted = list(server.api_audiences)
        scope = REQUESTED_AUDIENCES.set(audiences)
        try:
            user = await authenticate_token(server.token_authenticators, str(token))
        finally:
            REQUESTED_AUDIENCES.reset(scope)
        out = envelope(t, body)
        # as kube: an unknown token is no error, just not authenticated (and an empty user)
        out["status"] = {"authenticated": True, "user": user.as_user_info()} if user else {"user": {}}
        if user is not None:
            out["status"]["audiences"] = audiences.matched or audiences.wanted
        return json_response(out, 201)

    h = server.resources.virtual_handlers
    h["TokenReview"] = token_review
    for kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
        h[kind] = access_review
    h["SelfSubjectRulesReview"] = rules_review
    h["SelfSubjectReview"] = self_review
