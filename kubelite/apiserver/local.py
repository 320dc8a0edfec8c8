"""In-process transport: components in the server process call ``ApiServer.handle`` directly.

Implements ``kubelite.client.transport.Transport`` without sockets, TLS or HTTP parsing, but
through exactly the same handlers (validation, admission, watch) that serve kubectl. The
caller acts as a given user (by default a system:masters identity, like kube-apiserver's
loopback client).
"""
from __future__ import annotations

import contextlib
from typing import AsyncIterator, Mapping

from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest, UserInfo
from kubelite.apiserver.server import ApiServer
from kubelite.client.transport import LineStream, Response


class LocalTransport:
    def __init__(self, api: ApiServer, user: UserInfo = LOOPBACK_MASTER, user_agent: str = "kubelite") -> None:
        self.api = api
        self.user = user
        self.user_agent = user_agent

    def _request(self, method: str, path: str, query: Mapping[str, str] | None, body: bytes | None,
                 content_type: str | None, accept: str) -> ApiRequest:
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        q = dict(query or {})
        return ApiRequest(method, path, q, headers, body or b"", self.user, {k: [v] for k, v in q.items()})

    async def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                      body: bytes | None = None, content_type: str | None = None,
                      accept: str = "application/json") -> Response:
        resp = await self.api.handle(self._request(method, path, query, body, content_type, accept))
        if resp.stream is not None:
            chunks = [c async for c in resp.stream]
            body_out = b"".join(chunks)
        else:
            body_out = resp.body
        return Response(resp.status, {"content-type": resp.content_type, **{k.lower(): v for k, v in resp.headers.items()}}, body_out)

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                     accept: str = "application/json") -> AsyncIterator[LineStream]:
        resp = await self.api.handle(self._request(method, path, query, None, None, accept))
        headers = {"content-type": resp.content_type}
        if resp.stream is None:
            ls = LineStream.from_body(resp.status, resp.body, headers)
        else:
            ls = LineStream(resp.status, resp.stream, headers, chunks=True)
        try:
            yield ls
        finally:
            await ls.close()

    async def close(self) -> None:
        return None
