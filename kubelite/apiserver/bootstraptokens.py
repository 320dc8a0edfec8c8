"""Bootstrap tokens: the bearer tokens a joining node presents before it has an identity.

As Kubernetes' bootstrap token authenticator: a token ``<id>.<secret>`` (6 and 16 characters of
``[a-z0-9]``) is valid while the Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token`` exists (not being deleted), holds the same ``token-secret``
(compared in constant time), says ``usage-bootstrap-authentication: "true"`` and its
``expiration``, if any, has not passed. The user is ``system:bootstrap:<id>`` in the groups
``system:bootstrappers``, the Secret's ``auth-extra-groups`` (each ``system:bootstrappers:...``)
and ``system:authenticated``.

``kubelite server`` keeps one such token for its join token (``DATA_DIR/node-token``, see
``kubelite.server.jointoken``) with ``ensure_token_secret``; an admin may add more Secrets the
kubeadm way and join nodes with them.
"""
from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
from typing import TYPE_CHECKING, Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.apiserver.request import UserInfo
from kubelite.machinery.errors import StatusError

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
BOOTSTRAPPERS = "system:bootstrappers"
USER_PREFIX = "system:bootstrap:"
TOKEN_RE = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
_EXTRA_GROUP_RE = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")


def parse_token(token: str) -> tuple[str, str] | None:
    """``("abcdef", "0123456789abcdef")`` for ``abcdef.0123456789abcdef``, else None."""
    m = TOKEN_RE.fullmatch(token)
    return (m.group(1), m.group(2)) if m else None


def _data(secret: dict[str, Any], key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    if not isinstance(raw, str):
        return ""
    try:
        return base64.b64decode(raw).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def user_for(secret: dict[str, Any], token_id: str, token_secret: str, now: dt.datetime) -> UserInfo | None:
    """The user a bootstrap token authenticates as against its Secret, or None (pure)."""
    if secret.get("type") != SECRET_TYPE or (secret.get("metadata") or {}).get("deletionTimestamp"):
        return None
    if _data(secret, "token-id") != token_id:
        return None
    if not hmac.compare_digest(_data(secret, "token-secret").encode(), token_secret.encode()):
        return None
    if _data(secret, "usage-bootstrap-authentication") != "true":
        return None
    expiration = _data(secret, "expiration")
    if expiration:
        expires = try_parse_time(expiration)
        if expires is None or expires <= now:
            return None  # kube treats an unparseable expiration as expired
    extra = [g.strip() for g in _data(secret, "auth-extra-groups").split(",") if g.strip()]
    if any(not _EXTRA_GROUP_RE.fullmatch(g) for g in extra):
        return None
    groups = tuple(dict.fromkeys([BOOTSTRAPPERS, *extra, "system:authenticated"]))
    return UserInfo(USER_PREFIX + token_id, groups)


def install(server: "ApiServer") -> None:
    secrets = server.rt("", "v1", "secrets")

    async def authenticate(token: str) -> UserInfo | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        token_id, token_secret = parsed
        secret = await server.store.try_get(secrets, NAMESPACE, SECRET_PREFIX + token_id)
        if secret is None:
            return None
        return user_for(secret, token_id, token_secret, server.clock())

    server.token_authenticators.append(authenticate)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def ensure_token_secret(server: "ApiServer", token_id: str, token_secret: str, *,
                              extra_groups: list[str], description: str, owner_label: str = "") -> None:
    """Create (or correct) the Secret that makes ``<token_id>.<token_secret>`` a bootstrap token.

    With ``owner_label``, the Secret carries that label (value "true") and every other bootstrap
    token Secret with it is deleted: a replaced join token stops working at once."""
    rt = server.rt("", "v1", "secrets")
    name = SECRET_PREFIX + token_id
    if owner_label:
        for old in (await server.store.list(rt, NAMESPACE)).items:
            meta = old.get("metadata") or {}
            if meta.get("name") != name and (meta.get("labels") or {}).get(owner_label) == "true":
                try:
                    await server.store.delete(rt, NAMESPACE, meta["name"])
                except StatusError as e:
                    if e.code != 404:
                        raise
    data = {"token-id": _b64(token_id), "token-secret": _b64(token_secret),
            "usage-bootstrap-authentication": _b64("true"), "usage-bootstrap-signing": _b64("true"),
            "auth-extra-groups": _b64(",".join(extra_groups)), "description": _b64(description)}
    labels = {owner_label: "true"} if owner_label else {}
    current = await server.store.try_get(rt, NAMESPACE, name)
    if current is not None and current.get("type") == SECRET_TYPE and current.get("data") == data \
            and all(((current.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items()):
        return
    if current is not None:
        await server.store.delete(rt, NAMESPACE, name)
    try:
        await server.store.create(rt, {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
                                       "metadata": {"name": name, "namespace": NAMESPACE, **(
                                           {"labels": labels} if labels else {})}, "data": data},
                                  namespace=NAMESPACE, manager="kubelite")
    except StatusError as e:
        if e.code != 409:
            raise
