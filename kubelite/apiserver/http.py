"""The HTTPS front end: aiohttp in, ``ApiRequest`` to ``ApiServer.handle``, bytes out.

Authentication happens here because it needs the TLS connection: a client certificate signed
by the cluster CA names the user (CN) and groups (O), as in Kubernetes; bearer tokens are
checked by the token authenticators the server is given (service account tokens slot in
there). Anything else is anonymous, which the server answers with 401 except on the health
and version paths.
"""
from __future__ import annotations

import contextlib
import logging
import ssl
from typing import Awaitable, Callable

from aiohttp import web

from kubelite.apiserver.request import ANONYMOUS, ApiRequest, UserInfo, json_response
from kubelite.apiserver.server import ApiServer
from kubelite.machinery import errors

log = logging.getLogger(__name__)

TokenAuthenticator = Callable[[str], Awaitable[UserInfo | None]]
MAX_REQUEST = 3 * 1024 * 1024


def user_from_peercert(cert: dict | None) -> UserInfo | None:
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


def make_app(api: ApiServer) -> web.Application:
    authenticators: list[TokenAuthenticator] = api.token_authenticators

    async def authenticate(request: web.Request) -> UserInfo:
        transport = request.transport
        user = user_from_peercert(transport.get_extra_info("peercert") if transport else None)
        if user is not None:
            return user
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:].strip()
            for authn in authenticators:
                user = await authn(token)
                if user is not None:
                    return user
        return ANONYMOUS

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_REQUEST:
            return _reply(json_response(errors.too_large().status(), 413))
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reply(json_response(errors.too_large().status(), 413))
        query_all: dict[str, list[str]] = {}
        for k, v in request.query.items():
            query_all.setdefault(k, []).append(v)
        req = ApiRequest(
            method=request.method, path=request.path, query={k: v[0] for k, v in query_all.items()},
            headers=request.headers, body=body, user=await authenticate(request), query_all=query_all,
        )
        resp = await api.handle(req)
        if resp.upgrade is not None:
            return await resp.upgrade(request)
        if resp.stream is None:
            return _reply(resp)
        out = web.StreamResponse(status=resp.status, headers={"Content-Type": resp.content_type, **resp.headers})
        out.enable_chunked_encoding()
        await out.prepare(request)
        try:
            async for chunk in resp.stream:
                await out.write(chunk)
        except ConnectionResetError:
            return out  # the client went away (kubectl -w interrupted): nothing to report
        finally:
            await resp.stream.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await out.write_eof()
        return out

    app = web.Application(client_max_size=MAX_REQUEST + 1)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _reply(resp) -> web.Response:  # noqa: ANN001 - ApiResponse
    return web.Response(status=resp.status, body=resp.body,
                        headers={"Content-Type": resp.content_type, **resp.headers})


def server_ssl_context(cert_file: str, key_file: str, ca_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(ca_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # no certificate = anonymous or token, judged per request
    ctx.set_alpn_protocols(["http/1.1"])  # never offer h2: we speak HTTP/1.1 only
    return ctx
