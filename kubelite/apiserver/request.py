"""The API server's request and response values, independent of the HTTP library.

Handlers take an ``ApiRequest`` and return an ``ApiResponse``. The aiohttp adapter
(``kubelite.apiserver.http``) builds them from real HTTP requests; the in-process transport
(``kubelite.apiserver.local``) builds them directly, so in-process components (scheduler,
controllers, simulated nodes) go through exactly the same code as kubectl -- minus sockets.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

import orjson


@dataclass(frozen=True, slots=True)
class UserInfo:
    """Who is asking (authentication's output, authorization's input)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups

    def as_user_info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
LOOPBACK_MASTER = UserInfo("system:apiserver", ("system:masters", "system:authenticated"))

#: the user of the request being served (kube's request context): set by the server for each
#: resource request so write-path hooks (RBAC escalation checks) can judge the caller; unset
#: for the server's own writes (bootstrap), which are trusted
CURRENT_USER: ContextVar[UserInfo | None] = ContextVar("kubelite_current_user", default=None)


@dataclass(slots=True)
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    user: UserInfo = ANONYMOUS
    #: all values of repeated query parameters (dryRun=All&dryRun=All, exec command=...)
    query_all: Mapping[str, list[str]] = field(default_factory=dict)
    #: the client's address ("" in-process), for the audit log's sourceIPs
    remote: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", self.headers.get("content-type", ""))

    @property
    def accept(self) -> str:
        return self.headers.get("Accept", self.headers.get("accept", "")) or "application/json"


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: streamed body (watch, logs): chunks are written and flushed as they come
    stream: AsyncIterator[bytes] | None = None


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> ApiResponse:
    # a trailing newline, as Go's json.Encoder (kube-apiserver's serializer) writes it
    return ApiResponse(status, orjson.dumps(obj) + b"\n", "application/json", headers or {})
