"""Service account tokens: the ``serviceaccounts/token`` subresource (TokenRequest, what
``kubectl create token`` calls) and the bearer-token authenticator that accepts them.

Tokens are JWTs signed ES256 with the cluster's service-account key (DATA_DIR/tls/sa.key),
carrying Kubernetes' claims (``sub`` = ``system:serviceaccount:<ns>:<name>``, ``aud``, ``iat``,
``nbf``, ``exp``, ``jti`` and the ``kubernetes.io`` block naming the service account and the
object the token is bound to). A token is accepted, as kube-apiserver's service-account
authenticator accepts it, only when all hold:

- the signature checks out (ES256 with our key; anything malformed is just "no");
- the issuer is ours and one of its audiences is an API audience (default: the issuer URL,
  kube's default) -- a token minted with ``--audience vault`` does not work against the API;
- ``nbf <= now <= exp``, with kube's 60 s leeway for clock skew;
- the service account still exists with the same uid, and so does the bound object (a Pod or a
  Secret, ``kubectl create token --bound-object-kind``) and its deletionTimestamp, if any, is
  still ahead: a pod-bound token dies with its pod, even if another pod of the same name
  replaces it.

TokenRequest checks the bound object when the token is minted (it must exist, match a uid the
request names, and a Pod must run as that service account) and records its uid.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from kubelite.api.helpers.times import format_time, try_parse_time
from kubelite.apiserver import codec
from kubelite.apiserver.authn import REQUESTED_AUDIENCES
from kubelite.apiserver.handlers import Target, dry_run
from kubelite.apiserver.request import ApiRequest, ApiResponse, UserInfo, json_response
from kubelite.machinery import errors

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_AUDIENCES = [ISSUER]
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32
#: go-jose's DefaultLeeway, which kube's validator applies to nbf/exp
LEEWAY = 60
#: kinds a token may be bound to -> their plural
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and verifies service-account JWTs with one EC P-256 key."""

    def __init__(self, key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the service account key must be an EC private key")
        self.key = key
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashes.Hash(hashes.SHA256())
        digest.update(der)
        self.kid = _b64(digest.finalize())

    def sign(self, claims: dict[str, Any]) -> str:
        header = _b64(orjson.dumps({"alg": "ES256", "kid": self.kid}))
        body = _b64(orjson.dumps(claims))
        r, s = decode_dss_signature(self.key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{header}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this issuer signed, or None (malformed, forged)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            raw = _unb64(parts[2])
            if not isinstance(header, dict) or header.get("alg") != "ES256" or len(raw) != 64:
                return None
            sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self.key.public_key().verify(sig, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, TypeError, orjson.JSONDecodeError, binascii.Error):
            return None
        return claims if isinstance(claims, dict) else None


def install(server: "ApiServer", issuer: TokenIssuer) -> None:
    store = server.store

    async def token_request(req: ApiRequest, t: Target) -> ApiResponse:
        if t.verb != "create":
            raise errors.method_not_allowed()
        body = codec.decode_body(req.body, req.content_type, server.resources.resolve_kind)
        if not isinstance(body, dict) or not isinstance(body.get("spec", {}), dict):
            raise errors.bad_request("the request body must be a TokenRequest object")
        spec = body.get("spec") or {}
        sa = await store.get(t.rt, t.namespace, t.name)
        seconds = spec.get("expirationSeconds") or DEFAULT_EXPIRATION
        audiences = spec.get("audiences") or DEFAULT_AUDIENCES
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not MIN_EXPIRATION <= seconds <= MAX_EXPIRATION:
            raise errors.invalid_object("TokenRequest", "authentication.k8s.io", t.name, [errors.invalid(
                "spec.expirationSeconds", seconds, f"may not specify a duration less than {MIN_EXPIRATION // 60} minutes")])
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise errors.invalid_object("TokenRequest", "authentication.k8s.io", t.name,
                                        [errors.invalid("spec.audiences", audiences, "must be a list of strings")])
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "sub": f"system:serviceaccount:{t.namespace}:{t.name}", "aud": audiences,
            "iat": now, "nbf": now, "exp": now + seconds,
            "kubernetes.io": {"namespace": t.namespace,
                              "serviceaccount": {"name": t.name, "uid": sa["metadata"]["uid"]}},
        }
        bound = spec.get("boundObjectRef")
        if bound is not None:
            claims["kubernetes.io"].update(await bound_claims(bound, t.namespace or "", t.name))
        claims["jti"] = str(uuid.uuid4())
        expires = format_time(dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc))
        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": t.name, "namespace": t.namespace, "creationTimestamp": None},
               "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": bound},
               "status": {"token": "" if dry_run(req) else issuer.sign(claims), "expirationTimestamp": expires}}
        return json_response(out, 201)

    async def bound_claims(bound: Any, namespace: str, sa_name: str) -> dict[str, Any]:
        """The ``kubernetes.io`` entry naming the object a token is bound to (kube's TokenREST)."""
        if not isinstance(bound, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        api_version = str(bound.get("apiVersion") or "v1")
        if bound.get("kind") not in BOUND_KINDS or api_version != "v1":
            gv = api_version if "/" in api_version else "/" + api_version
            raise errors.bad_request(f"cannot bind token to object of type {gv}, Kind={bound.get('kind', '')}")
        kind, name = bound["kind"], str(bound.get("name") or "")
        plural = BOUND_KINDS[kind]
        obj = await store.get(server.rt("", "v1", plural), None if kind == "Node" else namespace, name)
        if kind == "Pod" and ((obj.get("spec") or {}).get("serviceAccountName") or "default") != sa_name:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with different serviceaccount name.')
        uid = obj["metadata"]["uid"]
        if bound.get("uid") and bound["uid"] != uid:
            raise errors.conflict(kind, "", name, f"the UID in the bound object reference ({bound['uid']}) does not "
                                  "match the UID in record. The object might have been deleted and then recreated")
        return {kind.lower(): {"name": name, "uid": uid}}

    async def bound_object_alive(kind: str, namespace: str, ref: Any) -> bool:
        if not isinstance(ref, dict):
            return False
        obj = await store.try_get(server.rt("", "v1", BOUND_KINDS[kind]), None if kind == "Node" else namespace,
                                  str(ref.get("name", "")))
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            return False  # gone, or replaced by another object of the same name
        # a terminating pod keeps its tokens through its grace period, as in kube
        deleting = obj["metadata"].get("deletionTimestamp")
        deadline = try_parse_time(deleting)
        return not deleting or (deadline is not None and deadline > dt.datetime.now(dt.timezone.utc))

    async def authenticate(token: str) -> UserInfo | None:
        claims = issuer.verify(token)
        if claims is None or claims.get("iss") != ISSUER:
            return None
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        requested = REQUESTED_AUDIENCES.get()
        wanted = requested.wanted if requested is not None else server.api_audiences
        matched = [a for a in wanted if a in audiences]
        if not matched:
            return None  # minted for someone else
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp + LEEWAY < now:
            return None
        if nbf is not None and (not isinstance(nbf, int) or nbf - LEEWAY > now):
            return None
        info = claims.get("kubernetes.io")
        if not isinstance(info, dict):
            return None
        sa_info = info.get("serviceaccount")
        if not isinstance(sa_info, dict):
            return None
        namespace, name = info.get("namespace"), sa_info.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            return None
        sa = await store.try_get(server.rt("", "v1", "serviceaccounts"), namespace, name)
        if sa is None or sa["metadata"].get("uid") != sa_info.get("uid"):
            return None  # the account was deleted (or recreated): its tokens die with it
        extra: dict[str, tuple[str, ...]] = {}
        for kind in BOUND_KINDS:
            ref = info.get(kind.lower())
            if ref is None:
                continue
            if not await bound_object_alive(kind, namespace, ref):
                return None  # the pod (secret, node) it was bound to is gone
            if kind in ("Pod", "Node"):
                extra[f"authentication.kubernetes.io/{kind.lower()}-name"] = (str(ref["name"]),)
                extra[f"authentication.kubernetes.io/{kind.lower()}-uid"] = (str(ref["uid"]),)
        if requested is not None:
            requested.matched = matched
        if isinstance(claims.get("jti"), str):
            extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims['jti']}",)
        return UserInfo(f"system:serviceaccount:{namespace}:{name}",
                        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
                        str(sa_info.get("uid", "")), extra)

    server.resources.subresource_handlers[("serviceaccounts", "token")] = token_request
    server.token_authenticators.append(authenticate)


def ensure_key(path: "Any") -> bytes:
    """The service-account signing key at ``path`` (a pathlib.Path), created on first use."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o600)
    return path.read_bytes()
