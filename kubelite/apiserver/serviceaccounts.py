"""Service account tokens: the ``serviceaccounts/token`` subresource (TokenRequest, what
``kubectl create token`` calls) and the bearer-token authenticator that accepts them.

Tokens are JWTs signed ES256 with the cluster's service-account key (DATA_DIR/tls/sa.key),
carrying Kubernetes' claims (``sub`` = ``system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``
and the ``kubernetes.io`` block naming the service account and its uid). A token is accepted
while it is unexpired, its signature checks out and the service account it names still exists
with the same uid -- deleting and recreating a service account invalidates its old tokens.
"""
from __future__ import annotations

import base64
import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from kubelite.api.helpers.times import format_time
from kubelite.apiserver import codec
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
            if header.get("alg") != "ES256" or len(raw) != 64:
                return None
            sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self.key.public_key().verify(sig, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, TypeError, orjson.JSONDecodeError):
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
        claims = {
            "iss": ISSUER, "sub": f"system:serviceaccount:{t.namespace}:{t.name}", "aud": audiences,
            "iat": now, "nbf": now, "exp": now + seconds,
            "kubernetes.io": {"namespace": t.namespace,
                              "serviceaccount": {"name": t.name, "uid": sa["metadata"]["uid"]}},
        }
        bound = spec.get("boundObjectRef")
        if isinstance(bound, dict) and bound.get("kind") in ("Pod", "Secret", "Node"):
            claims["kubernetes.io"][bound["kind"].lower()] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        expires = format_time(dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc))
        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": t.name, "namespace": t.namespace, "creationTimestamp": None},
               "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": bound},
               "status": {"token": "" if dry_run(req) else issuer.sign(claims), "expirationTimestamp": expires}}
        return json_response(out, 201)

    async def authenticate(token: str) -> UserInfo | None:
        claims = issuer.verify(token)
        if claims is None or claims.get("iss") != ISSUER or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] < time.time():
            return None
        info = claims.get("kubernetes.io") or {}
        sa_info = info.get("serviceaccount") or {}
        namespace, name = info.get("namespace"), sa_info.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            return None
        sa = await store.try_get(server.rt("", "v1", "serviceaccounts"), namespace, name)
        if sa is None or sa["metadata"].get("uid") != sa_info.get("uid"):
            return None  # the account was deleted (or recreated): its tokens die with it
        return UserInfo(f"system:serviceaccount:{namespace}:{name}",
                        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
                        sa_info.get("uid", ""))

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
