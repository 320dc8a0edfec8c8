"""The API server's side of node streaming: ``pods/log``, ``exec``, ``attach``, ``portforward``
and ``nodes/{name}/proxy/...`` proxied to the kubelet of the pod's node, as kube-apiserver does.

The kubelet is found from its Node: the ``InternalIP`` address (else ``Hostname``) and
``status.daemonEndpoints.kubeletEndpoint.Port``. The API server calls it over HTTPS with its own
client certificate (kube-apiserver's ``--kubelet-client-certificate``), verifying the kubelet's
serving certificate against the cluster CA. Logs stream through chunk by chunk; exec, attach and
port-forward are WebSocket upgrades relayed message by message (the channel protocol and the
tunnelled SPDY are the two ends' business, so every subprotocol passes unchanged). A kubelet
that cannot be reached is a 500 Status worded as kube-apiserver words it
(``Get "https://10.0.0.5:10250/...": dial tcp 10.0.0.5:10250: connect: connection refused``),
within a few seconds, never a hang.

Also here: the kubelet's rules for which container a log or stream request means, applied to
the pod's status (``container "web" in pod "p" is waiting to start: ContainerCreating``).
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, AsyncIterator
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from kubelite.apiserver.request import ApiResponse, json_response
from kubelite.machinery import errors

Obj = dict[str, Any]

CONNECT_TIMEOUT = 5.0
DEFAULT_KUBELET_PORT = 10250
#: request headers passed on to the kubelet for an upgrade (the rest are the API server's)
_UPGRADE_HEADERS = ("Sec-WebSocket-Protocol",)


def kubelet_client_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS towards kubelets: our client certificate, their serving certificates checked
    against the cluster CA."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# -- which container (pure) ---------------------------------------------------------------

def _all_containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return [c for k in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(k) or [] if isinstance(c, dict)]


def pick_container(pod: Obj, requested: str) -> str:
    """The container a request means: the named one (400 if the pod has none of that name),
    else the pod's only container (400 listing the choices if there are several)."""
    name = pod["metadata"]["name"]
    names = [c.get("name") for c in _all_containers(pod)]
    if requested:
        if requested not in names:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    regular = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if len(regular) == 1:
        return regular[0]
    init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
    eph = [c.get("name") for c in (pod.get("spec") or {}).get("ephemeralContainers") or []]
    msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(regular)}]"
    if init:
        msg += f" or one of the init containers: [{' '.join(init)}]"
    if eph:
        msg += f" or one of the ephemeral containers: [{' '.join(eph)}]"
    raise errors.bad_request(msg)


def _container_status(pod: Obj, container: str) -> Obj | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if isinstance(cs, dict) and cs.get("name") == container:
                return cs
    return None


def log_container_error(pod: Obj, container: str, previous: bool) -> str | None:
    """Why there are no logs to show for ``container`` (the kubelet's
    validateContainerLogStatus), or None if there are."""
    pod_name = pod["metadata"]["name"]
    cs = _container_status(pod, container)
    if cs is None:
        return f'container "{container}" in pod "{pod_name}" is waiting to start: ContainerCreating'
    state, last = cs.get("state") or {}, cs.get("lastState") or {}
    if previous:
        if not (last.get("terminated") or {}).get("containerID"):
            return f'previous terminated container "{container}" in pod "{pod_name}" not found'
        return None
    if state.get("running") is not None:
        return None
    if state.get("terminated") is not None:
        if (state["terminated"] or {}).get("containerID") or (last.get("terminated") or {}).get("containerID"):
            return None
        return f'container "{container}" in pod "{pod_name}" is terminated'
    if (last.get("terminated") or {}).get("containerID"):
        return None
    waiting = state.get("waiting")
    if waiting is not None:
        reason = (waiting or {}).get("reason") or ""
        if reason == "ErrImagePull":
            return f'container "{container}" in pod "{pod_name}" is waiting to start: image can\'t be pulled'
        if reason == "ImagePullBackOff":
            return f'container "{container}" in pod "{pod_name}" is waiting to start: trying and failing to pull image'
        return f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}'
    return f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet'


def stream_container_error(pod: Obj, container: str) -> str | None:
    """Why exec or attach cannot reach ``container``: it must be running."""
    cs = _container_status(pod, container)
    state = (cs or {}).get("state") or {}
    if state.get("running") is not None:
        return None
    pod_name = pod["metadata"]["name"]
    waiting = state.get("waiting")
    if cs is None or waiting is not None:
        reason = ((waiting or {}).get("reason") if waiting is not None else "") or "ContainerCreating"
        return f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}'
    return f'container "{container}" in pod "{pod_name}" is not running'


def kubelet_address(node: Obj) -> tuple[str, int]:
    status = node.get("status") or {}
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    host = addrs.get("InternalIP") or addrs.get("ExternalIP") or addrs.get("Hostname")
    name = node["metadata"]["name"]
    if not host:
        raise errors.StatusError(500, "", f'no preferred addresses found; known addresses: [] (node "{name}")')
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return host, int(port)


# -- the client ------------------------------------------------------------------------------

class KubeletClient:
    """Calls kubelets. ``ssl_context`` None speaks plain HTTP (in-process tests only)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    def url(self, node: Obj, path: str, query: list[tuple[str, str]] | str = "") -> str:
        host, port = kubelet_address(node)
        if ":" in host:
            host = f"[{host}]"
        qs = query if isinstance(query, str) else urlencode(query)
        return f"{self.scheme}://{host}:{port}/{path.lstrip('/')}" + (f"?{qs}" if qs else "")

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_connect=CONNECT_TIMEOUT),
                connector=aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context is not None else False),
                auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
                      stream: bool = True) -> ApiResponse:
        """A plain request; the reply's body streams through (logs -f) when ``stream``."""
        try:
            resp = await self.session().request(method, url, data=body or None, headers=headers or {})
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
            raise dial_error(method, url, e) from None
        ctype = resp.headers.get("Content-Type", "application/octet-stream")
        if resp.status >= 400:
            data = await resp.read()
            resp.release()
            return _error_reply(resp.status, data, ctype)
        if not stream:
            data = await resp.read()
            resp.release()
            return ApiResponse(resp.status, data, ctype)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return  # the kubelet went away mid-stream: the stream simply ends
            finally:
                resp.close()

        return ApiResponse(resp.status, b"", ctype, stream=chunks())

    def relay_upgrade(self, url: str) -> ApiResponse:
        """A reply that, once the HTTP front end hands over the client's request, opens the
        WebSocket to the kubelet with the client's subprotocols and relays both ways."""

        async def run(request: web.Request) -> web.StreamResponse:
            offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
            try:
                upstream = await self.session().ws_connect(url, protocols=offered, max_msg_size=0, autoping=True,
                                                           autoclose=False)
            except aiohttp.WSServerHandshakeError as e:
                return _native(await self._refusal(url, e.status))
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                err = dial_error("GET", url, e)
                return _native(json_response(err.status(), err.code))
            ws = web.WebSocketResponse(protocols=(upstream.protocol,) if upstream.protocol else (),
                                       max_msg_size=0, autoping=True, autoclose=False)
            try:
                await ws.prepare(request)
                await _relay(ws, upstream)
            finally:
                await upstream.close()
                with contextlib.suppress(Exception):
                    await ws.close()
            return ws

        # what a transport that cannot upgrade (the in-process one) answers instead
        refusal = errors.bad_request("Upgrade request required").status()
        return ApiResponse(400, orjson.dumps(refusal), upgrade=run)

    async def _refusal(self, url: str, code: int) -> ApiResponse:
        """The kubelet refused the upgrade: ask again without upgrading for its Status (a
        WebSocket client library drops the body of a failed handshake)."""
        try:
            return await self.request("GET", url, stream=False)
        except errors.StatusError as e:
            return json_response(e.status(), e.code)


def dial_error(method: str, url: str, e: BaseException) -> errors.StatusError:
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    if isinstance(e, aiohttp.ClientConnectorError) and isinstance(e.os_error, ConnectionRefusedError):
        why = f"dial tcp {hostport}: connect: connection refused"
    elif isinstance(e, asyncio.TimeoutError) or "timeout" in type(e).__name__.lower():
        why = f"dial tcp {hostport}: i/o timeout"
    elif isinstance(e, aiohttp.ClientConnectorCertificateError):
        why = f"tls: failed to verify certificate: {e.certificate_error}"
    else:
        why = str(e) or type(e).__name__
    verb = method[:1] + method[1:].lower()
    return errors.StatusError(500, "", f'{verb} "{url}": {why}')


def _error_reply(code: int, data: bytes, ctype: str) -> ApiResponse:
    if ctype.startswith("application/json"):
        try:
            st = orjson.loads(data)
            if isinstance(st, dict) and st.get("kind") == "Status":
                return ApiResponse(code, data, "application/json")
        except orjson.JSONDecodeError:
            pass
    text = data.decode(errors="replace").strip()
    if not text or (code == 404 and text == "404: Not Found"):   # aiohttp's own page for no route
        text = "the server could not find the requested resource" if code == 404 else f"the kubelet answered {code}"
    reason = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(code, "")
    return json_response(errors.StatusError(code, reason, text).status(), code)


def _native(resp: ApiResponse) -> web.Response:
    return web.Response(status=resp.status, body=resp.body, headers={"Content-Type": resp.content_type})


async def _relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def pump(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type == WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await dst.send_str(msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        # one side closed: close the other with the same code (after what it already sent)
        code = src.close_code or 1000
        with contextlib.suppress(Exception):
            await dst.close(code=code)

    down = asyncio.create_task(pump(upstream, client))
    up = asyncio.create_task(pump(client, upstream))
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (down, up):
            t.cancel()
        for t in (down, up):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


def path_of(*segments: str) -> str:
    return "/".join(quote(s, safe="") for s in segments)
