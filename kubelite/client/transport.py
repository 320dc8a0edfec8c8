"""The client's single I/O seam: ``Transport``, plus its HTTP and mock implementations.

Everything above this module (``rest.Client``, informers, the event recorder, leader election)
talks to the API server only through the three methods of ``Transport``, so the same code runs
over HTTPS (``HTTPTransport``, aiohttp), in-process against the API server's handlers (the API
server package provides that transport), or against a test handler (``MockTransport``). Paths are
absolute API paths (``/api/v1/namespaces/default/pods``); query values are already strings;
bodies are bytes. A transport never interprets Kubernetes semantics: a 404 is a ``Response``
with ``status == 404``, not an exception. Only a failure to talk at all (refused connection,
TLS failure, timeout, stream cut) raises ``TransportError``.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import ssl
import tempfile
import time
from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, AsyncContextManager, AsyncIterable, AsyncIterator,
                    Awaitable, Callable, Mapping, Protocol, Union, runtime_checkable)

import orjson

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

    from kubelite.client.kubeconfig import KubeConfig


class TransportError(ConnectionError):
    """The server could not be reached or the connection broke (not an HTTP error status)."""


class Response:
    """A complete reply. ``headers`` is case-insensitive for ``HTTPTransport``; other transports
    use lower-case keys (``{"content-type": "application/json"}``)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Mapping[str, str] | None = None, body: bytes = b"") -> None:
        self.status = status
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.body = body

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


@runtime_checkable
class StreamResponse(Protocol):
    """A reply read incrementally (watch streams, followed logs).

    ``async for line in stream`` yields the body line by line, each *without* its trailing
    newline (empty lines may be yielded; callers skip them). When ``status`` is not 2xx the
    lines are the error body (a ``Status`` object). ``close()`` abandons the stream early.
    """

    status: int
    headers: Mapping[str, str]

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """The narrow I/O interface every client component uses.

    ``request`` sends one request and returns the whole reply. ``stream`` is used as
    ``async with transport.stream("GET", path, query={"watch": "true", ...}) as resp:`` and
    yields lines as they arrive; leaving the block closes the stream. ``close`` releases
    connections. Implementations must be safe for many concurrent requests on one event loop.
    """

    async def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                      body: bytes | None = None, content_type: str | None = None,
                      accept: str = "application/json") -> Response: ...

    def stream(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
               accept: str = "application/json") -> AsyncContextManager[StreamResponse]: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Helpers any transport can use


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Re-cut arbitrary byte chunks into lines (without the ``\\n``); a final unterminated line
    is yielded too. Unlike aiohttp's ``readline`` there is no line-length limit, because one
    watch event can carry a megabyte-sized object."""
    pending: list[bytes] = []
    async for chunk in chunks:
        if b"\n" not in chunk:
            if chunk:
                pending.append(chunk)
            continue
        if pending:
            pending.append(chunk)
            chunk = b"".join(pending)
            pending = []
        *lines, rest = chunk.split(b"\n")
        for line in lines:
            yield line
        if rest:
            pending.append(rest)
    if pending:
        yield b"".join(pending)


class LineStream:
    """A ``StreamResponse`` over an async iterable of lines (or of raw chunks with
    ``chunks=True``). Used by ``MockTransport`` and usable by in-process transports."""

    __slots__ = ("status", "headers", "_source", "_closed", "_on_close")

    def __init__(self, status: int, lines: AsyncIterable[bytes], headers: Mapping[str, str] | None = None,
                 *, chunks: bool = False, on_close: Callable[[], Any] | None = None) -> None:
        self.status = status
        self.headers: Mapping[str, str] = headers if headers is not None else {"content-type": "application/json"}
        self._source: AsyncIterable[bytes] = split_lines(lines) if chunks else lines
        self._closed = False
        self._on_close = on_close

    @classmethod
    def from_body(cls, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> "LineStream":
        async def gen() -> AsyncIterator[bytes]:
            for line in body.split(b"\n"):
                yield line
        return cls(status, gen(), headers)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            return
        async for line in self._source:
            if self._closed:
                return
            yield line.rstrip(b"\r\n") if line.endswith(b"\n") else line

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        if self._on_close is not None:
            res = self._on_close()
            if inspect.isawaitable(res):
                await res


# ---------------------------------------------------------------------------------------------
# MockTransport


@dataclass(slots=True)
class Request:
    """What a ``MockTransport`` handler receives."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes | None
    content_type: str | None
    accept: str
    stream: bool

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


HandlerResult = Union[Response, StreamResponse]
Handler = Callable[[Request], Union[HandlerResult, Awaitable[HandlerResult]]]


class MockTransport:
    """A ``Transport`` that hands every request to ``handler(request)`` (sync or async) and
    returns its ``Response``, or for ``stream`` its ``StreamResponse`` (a plain ``Response`` is
    turned into a stream of its body's lines). With ``record=True`` requests are kept in
    ``self.requests`` for assertions."""

    def __init__(self, handler: Handler, *, record: bool = False) -> None:
        self.handler = handler
        self.record = record
        self.requests: list[Request] = []
        self.closed = False

    async def _call(self, req: Request) -> HandlerResult:
        if self.closed:
            raise TransportError("transport is closed")
        if self.record:
            self.requests.append(req)
        res = self.handler(req)
        if inspect.isawaitable(res):
            res = await res
        return res

    async def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                      body: bytes | None = None, content_type: str | None = None,
                      accept: str = "application/json") -> Response:
        res = await self._call(Request(method, path, dict(query or {}), body, content_type, accept, False))
        if isinstance(res, Response):
            return res
        lines = [line async for line in res]
        await res.close()
        return Response(res.status, res.headers, b"\n".join(lines))

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                     accept: str = "application/json") -> AsyncIterator[StreamResponse]:
        res = await self._call(Request(method, path, dict(query or {}), None, None, accept, True))
        stream: StreamResponse = LineStream.from_body(res.status, res.body, res.headers) \
            if isinstance(res, Response) else res
        try:
            yield stream
        finally:
            await stream.close()

    async def close(self) -> None:
        self.closed = True


# ---------------------------------------------------------------------------------------------
# HTTPTransport


def _as_bytes(data: bytes | str | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


def build_ssl_context(*, ca_data: bytes | str | None = None, ca_file: str | None = None,
                      cert_file: str | None = None, key_file: str | None = None,
                      cert_data: bytes | str | None = None, key_data: bytes | str | None = None,
                      insecure_skip_tls_verify: bool = False) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` trusting the given CA (else the system store) and presenting the
    client certificate, from files or PEM data. PEM data is loaded through short-lived private
    temp files because ``ssl`` only loads key pairs from paths."""
    ca = _as_bytes(ca_data)
    ctx = ssl.create_default_context(cafile=ca_file, cadata=ca.decode() if ca else None)
    if insecure_skip_tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_data is not None or key_data is not None:
        if cert_data is None or key_data is None:
            raise ValueError("client certificate and key data must be given together")
        with tempfile.TemporaryDirectory(prefix="kubelite-tls-") as tmp:
            cpath, kpath = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            for path, data in ((cpath, cert_data), (kpath, key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(_as_bytes(data) or b"")
            ctx.load_cert_chain(cpath, kpath)
    elif cert_file is not None or key_file is not None:
        if cert_file is None or key_file is None:
            raise ValueError("client certificate and key files must be given together")
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class _HTTPStream:
    __slots__ = ("status", "headers", "_resp")

    def __init__(self, resp: "aiohttp.ClientResponse") -> None:
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp
        try:
            async for line in split_lines(self._resp.content.iter_any()):
                yield line
        except (aiohttp.ClientError, OSError) as e:
            raise TransportError(f"stream interrupted: {e}") from e

    async def close(self) -> None:
        # An unfinished stream cannot go back to the pool: drop the connection.
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


class HTTPTransport:
    """``Transport`` over HTTP(S) with aiohttp: one ``ClientSession`` with a keep-alive
    ``TCPConnector`` (``limit`` connections in total), created on first use inside the running
    loop. Authenticates with a client certificate, a bearer token (``token`` or ``token_file``,
    re-read every minute so rotated service-account tokens are picked up) or basic auth.

    Plain requests time out after ``timeout`` seconds. Streams have no total timeout; for
    watches the socket read timeout is the request's ``timeoutSeconds`` plus a margin so a dead
    connection is noticed.
    """

    def __init__(self, server: str, *, ca_data: bytes | str | None = None, ca_file: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None,
                 cert_data: bytes | str | None = None, key_data: bytes | str | None = None,
                 token: str | None = None, token_file: str | None = None,
                 username: str | None = None, password: str | None = None,
                 insecure_skip_tls_verify: bool = False, tls_server_name: str | None = None,
                 user_agent: str = "kubelite", limit: int = 100, timeout: float = 60.0,
                 headers: Mapping[str, str] | None = None) -> None:
        self.server = server.rstrip("/")
        self._tls = server.startswith("https://")
        self._ssl: ssl.SSLContext | bool = build_ssl_context(
            ca_data=ca_data, ca_file=ca_file, cert_file=cert_file, key_file=key_file,
            cert_data=cert_data, key_data=key_data,
            insecure_skip_tls_verify=insecure_skip_tls_verify) if self._tls else False
        self._server_hostname = tls_server_name
        self._headers: dict[str, str] = {"User-Agent": user_agent, **(headers or {})}
        self._auth: str | None = None
        if token:
            self._auth = f"Bearer {token}"
        elif username is not None:
            import base64
            cred = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._auth = f"Basic {cred}"
        self._token_file = token_file if not token else None
        self._token_read_at = -1e18
        self._limit = limit
        self._timeout = timeout
        self._session: "aiohttp.ClientSession | None" = None

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None,
                        **kwargs: Any) -> "HTTPTransport":
        """Build from a kubeconfig file (default ``$KUBECONFIG`` or ``~/.kube/config``)."""
        from kubelite.client.kubeconfig import load_kubeconfig
        return cls.from_config(load_kubeconfig(path, context=context), **kwargs)

    @classmethod
    def from_config(cls, cfg: "KubeConfig", **kwargs: Any) -> "HTTPTransport":
        return cls(cfg.server, ca_data=cfg.ca_data, ca_file=cfg.ca_file, cert_file=cfg.cert_file,
                   key_file=cfg.key_file, cert_data=cfg.cert_data, key_data=cfg.key_data,
                   token=cfg.token, token_file=cfg.token_file, username=cfg.username,
                   password=cfg.password, insecure_skip_tls_verify=cfg.insecure_skip_tls_verify,
                   tls_server_name=cfg.tls_server_name, **kwargs)

    def reload_client_certificate(self, cert_file: str, key_file: str) -> None:
        """Present a renewed client certificate from now on (the kubelet's certificate rotation):
        new connections handshake with it; open keep-alive connections keep the old one, still
        valid, until they close."""
        if isinstance(self._ssl, ssl.SSLContext):
            self._ssl.load_cert_chain(cert_file, key_file)

    def _get_session(self) -> "aiohttp.ClientSession":
        if self._session is None or self._session.closed:
            import aiohttp
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit,
                                             keepalive_timeout=60, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=self._timeout, connect=min(self._timeout, 30)))
        if self._token_file is not None and time.monotonic() - self._token_read_at > 60:
            self._reload_token()
        return self._session

    def _reload_token(self) -> None:
        assert self._token_file is not None
        try:
            with open(self._token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise TransportError(f"cannot read token file {self._token_file}: {e}") from e
        self._token_read_at = time.monotonic()
        self._auth = f"Bearer {token}"

    def _request_headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        return headers

    def _extra(self) -> dict[str, Any]:
        return {"server_hostname": self._server_hostname} if self._server_hostname else {}

    async def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                      body: bytes | None = None, content_type: str | None = None,
                      accept: str = "application/json") -> Response:
        import aiohttp
        session = self._get_session()
        headers = self._request_headers(accept)
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            async with session.request(method, self.server + path, params=query, data=body,
                                       headers=headers, **self._extra()) as resp:
                data = await resp.read()
                return Response(resp.status, resp.headers, data)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                     accept: str = "application/json") -> AsyncIterator[StreamResponse]:
        import aiohttp
        session = self._get_session()
        read_timeout: float | None = None
        if query and "timeoutSeconds" in query:
            read_timeout = float(query["timeoutSeconds"]) + 30.0
        timeout = aiohttp.ClientTimeout(total=None, connect=min(self._timeout, 30), sock_read=read_timeout)
        try:
            resp = await session.request(method, self.server + path, params=query,
                                         headers=self._request_headers(accept), timeout=timeout, **self._extra())
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        stream = _HTTPStream(resp)
        try:
            yield stream
        finally:
            await stream.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
