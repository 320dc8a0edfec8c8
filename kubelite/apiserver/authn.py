"""Authentication of one request, as kube-apiserver's authenticator chain decides it.

The chain: a client certificate signed by the cluster CA (CN = user, O = groups) wins; else a
bearer token, offered to each token authenticator in turn (service-account JWTs, bootstrap
tokens...); else the request is anonymous. Three outcomes, as in Kubernetes:

- a user (``system:authenticated`` added);
- **failed**: credentials were presented and none accepted them (a bad, expired, malformed or
  revoked token) -- 401 on every path, public ones included, never silently anonymous;
- anonymous (``system:anonymous`` in ``system:unauthenticated``) when nothing was presented and
  ``--anonymous-auth`` is on (the default); authorization then lets it reach only the public
  health and version paths (``system:public-info-viewer``) and answers 403 elsewhere. With
  anonymous auth off, a request without credentials fails (401).

A token authenticator that raises (a malformed JWT tripping a parser) counts as a rejection,
never a 500: authentication answers only yes or no. Used by the HTTPS front end and TokenReview.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable, Iterable, Mapping

from kubelite.apiserver.request import ANONYMOUS, UserInfo

log = logging.getLogger(__name__)

TokenAuthenticator = Callable[[str], Awaitable[UserInfo | None]]


def user_from_peercert(cert: dict | None) -> UserInfo | None:
    """The user named by a verified client certificate (``ssl`` peercert dict), if any."""
    if not cert:
        return None
    cn, orgs = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return UserInfo(cn, tuple(orgs) + ("system:authenticated",))


async def authenticate_token(authenticators: Iterable[TokenAuthenticator], token: str) -> UserInfo | None:
    """The user a bearer token names, or None when no authenticator accepts it."""
    if not token:
        return None
    for authn in authenticators:
        try:
            user = await authn(token)
        except Exception:  # noqa: BLE001 - a token that trips an authenticator is just not valid
            log.debug("token authenticator %r failed on a token", authn, exc_info=True)
            continue
        if user is not None:
            return user
    return None


async def authenticate(peercert: dict | None, headers: Mapping[str, str],
                       authenticators: Iterable[TokenAuthenticator], *, anonymous: bool = True) -> UserInfo | None:
    """Who sent the request; None means authentication failed (answer 401)."""
    user = user_from_peercert(peercert)
    if user is not None:
        return user
    auth = headers.get("Authorization", "")
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await authenticate_token(authenticators, token.strip())
    return ANONYMOUS if anonymous else None
