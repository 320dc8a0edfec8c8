"""The audit log: who did what, as kube-apiserver's log backend writes it.

``--audit-policy-file`` is kube's ``audit.k8s.io/v1`` ``Policy``: an ordered list of rules, the
first that matches a request decides its level -- ``None`` (not logged), ``Metadata`` (who,
what, when, the outcome), ``Request`` (+ the request body), ``RequestResponse`` (+ the response
body). A rule matches on ``users``, ``userGroups``, ``verbs``, ``resources`` (group, resources
with ``pods/log``, ``pods/*``, ``*/status`` or ``*``, resourceNames), ``namespaces`` and
``nonResourceURLs`` (``/healthz*``); unset fields match everything, rules with ``resources``
match only resource requests and rules with ``nonResourceURLs`` only the others. No matching
rule: not logged. ``omitStages`` (policy-wide and per rule) drops stages.

``--audit-log-path`` receives one JSON ``audit.k8s.io/v1`` ``Event`` per line and stage
(``RequestReceived`` and ``ResponseComplete``; a watch logs ``ResponseStarted`` when its stream
opens and ``ResponseComplete`` when it ends), with kube's fields: auditID, stage, requestURI,
verb, user, impersonatedUser, sourceIPs, userAgent, objectRef, responseStatus, requestObject /
responseObject at the levels that include them, annotations (the authorization decision),
requestReceivedTimestamp and stageTimestamp. ``-`` writes to standard output.

Lines are built on the event loop (cheap: orjson, bodies embedded as they are) and written by
one writer thread from a bounded queue, so a slow disk never stalls a request; if the queue
fills, events are dropped and counted (logged once per burst) rather than blocking the server.
The server calls ``Auditor.serve(req, inner)`` around each request; the dispatcher tells it what
the request was about (``note_target``, ``note_impersonation``) through a context variable.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import logging
import queue
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import orjson
import yaml

from kubelite.apiserver.request import ApiRequest, ApiResponse, UserInfo

log = logging.getLogger(__name__)

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
QUEUE_LIMIT = 10000
_METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class AuditPolicyError(ValueError):
    """The policy file is unreadable or invalid (one line for the operator)."""


# -- the policy (pure) -------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()


@dataclass
class RequestAttrs:
    """What a rule is matched against (kube's authorizer.Attributes for the request)."""

    user: UserInfo
    verb: str
    path: str
    resource_request: bool = False
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def _resource_matches(gr: dict[str, Any], a: RequestAttrs) -> bool:
    if str(gr.get("group", "")) != a.group:
        return False
    names = gr.get("resourceNames") or []
    if names and a.name not in names:
        return False
    resources = gr.get("resources") or []
    if not resources:
        return True
    full = a.resource + (f"/{a.subresource}" if a.subresource else "")
    for r in resources:
        if r in ("*", full) or (r == f"{a.resource}/*" and a.subresource) or \
                (a.subresource and r == f"*/{a.subresource}"):
            return True
    return False


def rule_matches(rule: Rule, a: RequestAttrs) -> bool:
    if rule.users and a.user.name not in rule.users:
        return False
    if rule.user_groups and not set(rule.user_groups) & set(a.user.groups):
        return False
    if rule.verbs and a.verb not in rule.verbs:
        return False
    if rule.resources or rule.namespaces:
        if not a.resource_request:
            return False
        if rule.namespaces and a.namespace not in rule.namespaces:
            return False
        if rule.resources and not any(_resource_matches(gr, a) for gr in rule.resources):
            return False
    if rule.non_resource_urls:
        if a.resource_request:
            return False
        if not any(u == a.path or (u.endswith("*") and a.path.startswith(u[:-1])) for u in rule.non_resource_urls):
            return False
    return True


class Policy:
    def __init__(self, rules: list[Rule], omit_stages: tuple[str, ...] = ()) -> None:
        self.rules = rules
        self.omit_stages = omit_stages

    @classmethod
    def parse(cls, data: bytes) -> "Policy":
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise AuditPolicyError(f"not YAML: {e}") from None
        if not isinstance(doc, dict) or doc.get("kind") != "Policy" or \
                doc.get("apiVersion") not in ("audit.k8s.io/v1", "audit.k8s.io/v1beta1"):
            raise AuditPolicyError("expected kind Policy in apiVersion audit.k8s.io/v1")

        def strs(value: Any, where: str) -> tuple[str, ...]:
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise AuditPolicyError(f"{where}: must be a list of strings")
            return tuple(value)

        def stages(value: Any, where: str) -> tuple[str, ...]:
            out = strs(value, where)
            bad = [s for s in out if s not in STAGES]
            if bad:
                raise AuditPolicyError(f"{where}: unknown stage {bad[0]!r} (one of {', '.join(STAGES)})")
            return out

        rules = []
        for i, r in enumerate(doc.get("rules") or []):
            where = f"rules[{i}]"
            if not isinstance(r, dict) or r.get("level") not in LEVELS:
                raise AuditPolicyError(f"{where}.level: must be one of {', '.join(LEVELS)}")
            resources = r.get("resources") or []
            if not isinstance(resources, list) or not all(isinstance(g, dict) for g in resources):
                raise AuditPolicyError(f"{where}.resources: must be a list of {{group, resources, resourceNames}}")
            if r.get("nonResourceURLs") and (resources or r.get("namespaces")):
                raise AuditPolicyError(f"{where}: rules cannot apply to both regular resources and non-resource URLs")
            rules.append(Rule(level=r["level"], users=strs(r.get("users"), f"{where}.users"),
                              user_groups=strs(r.get("userGroups"), f"{where}.userGroups"),
                              verbs=strs(r.get("verbs"), f"{where}.verbs"), resources=tuple(resources),
                              namespaces=strs(r.get("namespaces"), f"{where}.namespaces"),
                              non_resource_urls=strs(r.get("nonResourceURLs"), f"{where}.nonResourceURLs"),
                              omit_stages=stages(r.get("omitStages"), f"{where}.omitStages")))
        return cls(rules, stages(doc.get("omitStages"), "omitStages"))

    def decide(self, a: RequestAttrs) -> tuple[str, frozenset[str]]:
        """(level, stages to omit) for a request: the first matching rule; none: "None"."""
        for rule in self.rules:
            if rule_matches(rule, a):
                return rule.level, frozenset(self.omit_stages) | frozenset(rule.omit_stages)
        return "None", frozenset()


# -- the writer (a thread: file IO never on the event loop) -------------------------------------

class LogWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_LIMIT)
        self.dropped = 0
        if path != "-":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # audit lines name users and may carry request bodies: owner-only, like the data dir
            Path(path).touch(mode=0o600, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="kubelite-audit-writer", daemon=True)
        self._thread.start()

    def write(self, line: bytes) -> None:
        try:
            self.queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("audit log %s cannot keep up: %d events dropped", self.path, self.dropped)

    def _run(self) -> None:
        f = sys.stdout.buffer if self.path == "-" else open(self.path, "ab")  # noqa: SIM115
        try:
            while True:
                line = self.queue.get()
                if line is None:
                    return
                batch = [line]
                while len(batch) < 512:  # whatever else is waiting goes in one write
                    try:
                        more = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        f.write(b"".join(batch))
                        return
                    batch.append(more)
                f.write(b"".join(batch))
                f.flush()
        finally:
            f.flush()
            if f is not sys.stdout.buffer:
                f.close()

    def close(self, timeout: float = 5.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout)


# -- per request ------------------------------------------------------------------------------

@dataclass
class _Context:
    req: ApiRequest
    received: dt.datetime
    audit_id: str
    user: UserInfo
    impersonated: UserInfo | None = None
    target: Any = None  # handlers.Target, once the dispatcher parsed the path
    decode: Callable[[bytes, str], Any] | None = None


_CURRENT: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("kubelite_audit", default=None)


def note_target(target: Any) -> None:
    """The dispatcher resolved a resource path (``handlers.Target``)."""
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.target = target


def note_impersonation(user: UserInfo) -> None:
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.impersonated = user


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user(u: UserInfo) -> dict[str, Any]:
    return u.as_user_info()


class Auditor:
    def __init__(self, policy: Policy | None = None, writer: LogWriter | None = None, *,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.policy = policy
        self.writer = writer
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.policy is not None and self.writer is not None

    @classmethod
    def from_files(cls, log_path: str, policy_file: Path | None) -> "Auditor":
        if not log_path:
            return cls()
        if policy_file is None:
            # kube-apiserver logs nothing without a policy; say so rather than stay silent
            log.warning("--audit-log-path without --audit-policy-file: nothing is audited (as kube-apiserver)")
            return cls()
        try:
            policy = Policy.parse(policy_file.read_bytes())
        except OSError as e:
            raise AuditPolicyError(f"{policy_file}: {e.strerror}") from None
        return cls(policy, LogWriter(log_path))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def serve(self, req: ApiRequest, inner: Callable[[ApiRequest], Awaitable[ApiResponse]], *,
                    decode: Callable[[bytes, str], Any] | None = None) -> ApiResponse:
        """Run ``inner(req)`` and log it; ``decode(body, content_type)`` turns a request body
        (JSON, YAML or protobuf, as the handlers accept it) into the logged requestObject."""
        ctx = _Context(req, self.clock(), str(uuid.uuid4()), req.user, decode=decode)
        token = _CURRENT.set(ctx)
        try:
            resp = await inner(req)
        finally:
            _CURRENT.reset(token)
        attrs = self._attrs(ctx)
        assert self.policy is not None
        level, omit = self.policy.decide(attrs)
        if level == "None":
            return resp
        resp.headers.setdefault("Audit-Id", ctx.audit_id)
        if "RequestReceived" not in omit:
            self._emit(ctx, attrs, level, "RequestReceived", None, ctx.received)
        if resp.stream is None:
            if "ResponseComplete" not in omit:
                self._emit(ctx, attrs, level, "ResponseComplete", resp, self.clock())
            return resp
        if "ResponseStarted" not in omit:
            self._emit(ctx, attrs, level, "ResponseStarted", resp, self.clock(), body=False)
        resp.stream = self._follow(resp.stream, ctx, attrs, level, omit, resp)
        return resp

    async def _follow(self, stream: AsyncIterator[bytes], ctx: _Context, attrs: RequestAttrs, level: str,
                      omit: frozenset[str], resp: ApiResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream:
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            if "ResponseComplete" not in omit:
                self._emit(ctx, attrs, level, "ResponseComplete", resp, self.clock(), body=False)

    def _attrs(self, ctx: _Context) -> RequestAttrs:
        user = ctx.impersonated or ctx.user
        t = ctx.target
        if t is None:
            return RequestAttrs(user, ctx.req.method.lower() if not ctx.req.path.startswith(("/api/", "/apis/"))
                                else _METHOD_VERBS.get(ctx.req.method, ctx.req.method.lower()), ctx.req.path)
        return RequestAttrs(user, t.verb, ctx.req.path, True, t.rt.group, t.rt.plural, t.subresource,
                            t.namespace or "", t.name)

    def _emit(self, ctx: _Context, a: RequestAttrs, level: str, stage: str, resp: ApiResponse | None,
              at: dt.datetime, *, body: bool = True) -> None:
        req = ctx.req
        query = "&".join(f"{k}={v}" for k, vs in (req.query_all or {}).items() for v in vs)
        ev: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": ctx.audit_id,
            "stage": stage, "requestURI": req.path + (f"?{query}" if query else ""), "verb": a.verb,
            "user": _user(ctx.user),
        }
        if ctx.impersonated is not None:
            ev["impersonatedUser"] = _user(ctx.impersonated)
        ips = [ip.strip() for ip in (req.headers.get("X-Forwarded-For") or "").split(",") if ip.strip()]
        if req.remote and req.remote not in ips:
            ips.append(req.remote)
        if ips:
            ev["sourceIPs"] = ips
        ua = req.headers.get("User-Agent") or req.headers.get("user-agent")
        if ua:
            ev["userAgent"] = ua
        if a.resource_request:
            ref: dict[str, Any] = {"resource": a.resource}
            if a.namespace:
                ref["namespace"] = a.namespace
            if a.name:
                ref["name"] = a.name
            ref["apiGroup"] = a.group
            ref["apiVersion"] = ctx.target.rt.version
            if a.subresource:
                ref["subresource"] = a.subresource
            ev["objectRef"] = ref
        if resp is not None:
            ev["responseStatus"] = _response_status(resp)
        if body and level in ("Request", "RequestResponse") and req.body:
            obj = _decoded_or_none(ctx, req)
            if obj is not None:
                ev["requestObject"] = obj
        if body and level == "RequestResponse" and resp is not None and resp.body \
                and resp.content_type.startswith("application/json"):
            ev["responseObject"] = orjson.Fragment(resp.body)  # server-made JSON, embedded as is
        ev["requestReceivedTimestamp"] = _ts(ctx.received)
        ev["stageTimestamp"] = _ts(at)
        if resp is not None:
            decision = "forbid" if resp.status == 403 else "allow"
            ev["annotations"] = {"authorization.k8s.io/decision": decision}
        assert self.writer is not None
        try:
            line = orjson.dumps(ev)
        except TypeError:  # a YAML body with a type JSON lacks (a set): log the event without it
            ev.pop("requestObject", None)
            line = orjson.dumps(ev)
        self.writer.write(line + b"\n")


def _decoded_or_none(ctx: _Context, req: ApiRequest) -> Any:
    if ctx.decode is not None:
        try:
            return ctx.decode(req.body, req.content_type)
        except Exception:  # noqa: BLE001 - a body the handlers refused: log the event without it
            return None
    try:
        return orjson.loads(req.body)
    except orjson.JSONDecodeError:
        return None


def _response_status(resp: ApiResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": {}, "code": resp.status}
    if resp.status >= 400 and resp.body:
        try:
            st = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            return out
        if isinstance(st, dict):
            for k in ("status", "message", "reason"):
                if k in st:
                    out[k] = st[k]
    return out
