"""The HTTPS front end: aiohttp in, ``ApiRequest`` to ``ApiServer.handle``, bytes out.

Authentication happens here because it needs the TLS connection (``authn.authenticate``: client
certificate, bearer token, or anonymous); credentials that fail are answered 401 before any
path is served, public ones included.
"""
from __future__ import annotations

import contextlib
import logging
import ssl

from aiohttp import web

from kubelite.apiserver import authn
from kubelite.apiserver.authn import user_from_peercert  # noqa: F401 - re-exported for callers
from kubelite.apiserver.request import ApiRequest, UserInfo, json_response
from kubelite.apiserver.server import ApiServer
from kubelite.machinery import errors

log = logging.getLogger(__name__)

MAX_REQUEST = 3 * 1024 * 1024


def make_app(api: ApiServer) -> web.Application:
    async def authenticate(request: web.Request) -> UserInfo | None:
        transport = request.transport
        return await authn.authenticate(transport.get_extra_info("peercert") if transport else None,
                                        request.headers, api.token_authenticators,
                                        anonymous=api.anonymous_auth)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_REQUEST:
            return _reply(json_response(errors.too_large().status(), 413))
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reply(json_response(errors.too_large().status(), 413))
        user = await authenticate(request)
        if user is None:  # credentials that fail get 401 on every path (kube's authn filter)
            return _reply(json_response(errors.unauthorized().status(), 401))
        query_all: dict[str, list[str]] = {}
        for k, v in request.query.items():
            query_all.setdefault(k, []).append(v)
        req = ApiRequest(
            method=request.method, path=request.path, query={k: v[0] for k, v in query_all.items()},
            headers=request.headers, body=body, user=user, query_all=query_all,
        )
        resp = await api.handle(req)
        if resp.stream is None:
            return _reply(resp)
        out = web.StreamResponse(status=resp.status, headers=_headers(resp))
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
    return web.Response(status=resp.status, body=resp.body, headers=_headers(resp))


def _headers(resp) -> dict[str, str]:  # noqa: ANN001 - ApiResponse
    """The reply's headers, none able to break the framing: aiohttp refuses to send a value
    holding CR or LF (the client would get an empty reply), so those become spaces here."""
    out = {"Content-Type": resp.content_type, **resp.headers}
    for k, v in out.items():
        if "\r" in v or "\n" in v:
            out[k] = v.replace("\r", " ").replace("\n", " ")
    return out


def server_ssl_context(cert_file: str, key_file: str, ca_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(ca_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # no certificate = anonymous or token, judged per request
    ctx.set_alpn_protocols(["http/1.1"])  # never offer h2: we speak HTTP/1.1 only
    return ctx
