"""The HTTPS front end: aiohttp in, ``ApiRequest`` to ``ApiServer.handle``, bytes out.

Authentication happens here because it needs the TLS connection (``authn.authenticate``: client
certificate, bearer token, or anonymous); credentials that fail are answered 401 before any
path is served, public ones included.

No client can hold the server's resources for long: a connection that sends no complete
request head within ``IDLE_TIMEOUT`` of opening (or of its last reply) is closed, as is a
body that does not arrive within ``BODY_TIMEOUT`` (kube-apiserver's ReadHeaderTimeout and
request timeout play these parts), then drained for at most ``LINGER_TIMEOUT``. aiohttp's one
keep-alive timer covers both the idle and the header phase: it runs from the connection's
start and is only stopped by a whole request.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
from typing import Any

from aiohttp import web

from kubelite.apiserver import authn
from kubelite.apiserver.authn import user_from_peercert  # noqa: F401 - re-exported for callers
from kubelite.apiserver.request import ApiRequest, UserInfo, json_response
from kubelite.apiserver.server import ApiServer
from kubelite.machinery import errors

log = logging.getLogger(__name__)

MAX_REQUEST = 3 * 1024 * 1024
#: seconds a connection may sit without sending a complete request head (kube's ReadHeaderTimeout)
IDLE_TIMEOUT = 32.0
#: seconds the body of a request may take to arrive (kube's default --request-timeout)
BODY_TIMEOUT = 60.0
#: seconds the rest of an unread body is drained after an early reply (413, 504), so the
#: client reads the reply instead of a reset; then the connection is closed
LINGER_TIMEOUT = 2.0


def runner_options(idle_timeout: float = IDLE_TIMEOUT, linger: float = LINGER_TIMEOUT) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner`` that bound what one connection can hold."""
    return {"keepalive_timeout": idle_timeout, "lingering_time": linger, "logger": _ProtocolLog(log, {})}


class _ProtocolLog(logging.LoggerAdapter):
    """aiohttp's log for requests that never reach a handler (an over-long or malformed request
    line from any client, authenticated or not): one line naming the problem, the traceback only
    at debug level."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        detail = " ".join(str(exc).split()) if exc is not None else ""
        self.warning(f"{msg}: {type(exc).__name__}: {detail}" if exc else str(msg), *args,
                     exc_info=exc if self.isEnabledFor(logging.DEBUG) else None, **kwargs)


def make_app(api: ApiServer, *, body_timeout: float = BODY_TIMEOUT) -> web.Application:
    async def authenticate(request: web.Request) -> UserInfo | None:
        transport = request.transport
        return await authn.authenticate(transport.get_extra_info("peercert") if transport else None,
                                        request.headers, api.token_authenticators,
                                        anonymous=api.anonymous_auth)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_REQUEST:
            return _reply(json_response(errors.too_large().status(), 413))
        try:
            async with asyncio.timeout(body_timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reply(json_response(errors.too_large().status(), 413))
        except TimeoutError:
            err = errors.StatusError(504, "Timeout", f"the request body did not arrive within {body_timeout:g}s")
            reply = _reply(json_response(err.status(), 504))
            reply.force_close()  # the rest of a body may still be on its way: never read it as a request
            return reply
        user = await authenticate(request)
        if user is None:  # credentials that fail get 401 on every path (kube's authn filter)
            return _reply(json_response(errors.unauthorized().status(), 401))
        query_all: dict[str, list[str]] = {}
        for k, v in request.query.items():
            query_all.setdefault(k, []).append(v)
        req = ApiRequest(
            method=request.method, path=request.path, query={k: v[0] for k, v in query_all.items()},
            headers=request.headers, body=body, user=user, query_all=query_all, remote=request.remote or "",
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
