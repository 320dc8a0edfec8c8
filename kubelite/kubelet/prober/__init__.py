"""Probes and lifecycle-hook actions: run one exec / httpGet / tcpSocket / grpc check against a
container and say whether it passed, with the message the kubelet puts into the Unhealthy
event (``HTTP probe failed with statuscode: 500``, ``dial tcp 127.0.0.1:81: connect:
connection refused``...). ``ProbeState`` applies successThreshold / failureThreshold.

Callers: the pod worker's probe loops (``kubelet.pods.worker``) and its postStart / preStop
hooks (which are the same actions with a different error wording).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Mapping

import aiohttp

from kubelite.kubelet.prober import grpc_health
from kubelite.kubelet.runtime.interface import RuntimeError_, RuntimeService


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p.get("containerPort") or 0)
    raise ValueError(f"couldn't find port {port!r} in the container's ports")


async def run_action(action: Mapping[str, Any], *, runtime: RuntimeService, container_id: str,
                     container: Mapping[str, Any], pod_ip: str, timeout: float) -> tuple[bool, str]:
    """One check. Returns (passed, message); ``message`` is the failure text (or exec output)."""
    try:
        if action.get("exec") is not None:
            cmd = [str(a) for a in (action["exec"].get("command") or ())]
            try:
                code, out, err = await runtime.exec_sync(container_id, cmd, timeout)
            except TimeoutError:
                return False, f"command {' '.join(repr(c) for c in cmd)} timed out"
            text = (out + err).decode("utf-8", "replace")
            return code == 0, text     # kubelet's Unhealthy message for exec is the command's output
        if action.get("httpGet") is not None:
            return await _http(action["httpGet"], container, pod_ip, timeout)
        if action.get("tcpSocket") is not None:
            t = action["tcpSocket"]
            host = t.get("host") or pod_ip
            port = resolve_port(t.get("port"), container)
            try:
                _, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            except TimeoutError:
                return False, f"dial tcp {host}:{port}: i/o timeout"
            except OSError as e:
                return False, f"dial tcp {host}:{port}: connect: {_oserror(e)}"
            w.close()
            return True, ""
        if action.get("grpc") is not None:
            g = action["grpc"]
            port = int(g.get("port") or 0)
            try:
                status = await grpc_health.check(pod_ip, port, g.get("service") or "", timeout)
            except TimeoutError:
                return False, f"timeout: health rpc did not complete within {timeout:g}s"
            except (OSError, asyncio.IncompleteReadError) as e:
                return False, f"timeout: failed to connect service \"{pod_ip}:{port}\" within {timeout:g}s: {e}"
            except ValueError as e:
                return False, str(e)
            if status != grpc_health.SERVING:
                return False, f"service unhealthy (responded with \"{grpc_health.STATUS_NAMES.get(status, status)}\")"
            return True, ""
        if action.get("sleep") is not None:
            await asyncio.sleep(float(action["sleep"].get("seconds") or 0))
            return True, ""
    except RuntimeError_ as e:
        return False, e.message
    except ValueError as e:
        return False, str(e)
    return False, "unknown probe handler"


def _oserror(e: OSError) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    return (e.strerror or str(e)).lower()


async def _http(h: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, timeout: float) -> tuple[bool, str]:
    host = h.get("host") or pod_ip
    port = resolve_port(h.get("port"), container)
    scheme = (h.get("scheme") or "HTTP").lower()
    path = h.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for hdr in h.get("httpHeaders") or ():
        headers[str(hdr.get("name"))] = str(hdr.get("value", ""))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            async with s.get(url, headers=headers, ssl=False, allow_redirects=True) as resp:
                if 200 <= resp.status < 400:
                    return True, ""
                return False, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except aiohttp.ClientConnectorError as e:
        return False, f'Get "{url}": dial tcp {host}:{port}: connect: {_oserror(e.os_error)}'
    except aiohttp.ClientError as e:
        return False, f'Get "{url}": {e}'


@dataclass
class ProbeState:
    """Consecutive results against the thresholds. ``result`` starts as ``initial`` (readiness
    and startup: failed until proven; liveness: passing) and flips only after
    ``success_threshold`` / ``failure_threshold`` consecutive results."""

    success_threshold: int
    failure_threshold: int
    result: bool
    _streak: int = 0
    _last: bool | None = None

    def failed_enough(self) -> bool:
        """The last ``failure_threshold`` results all failed (liveness/startup then kill)."""
        return self._last is False and self._streak >= self.failure_threshold

    def observe(self, passed: bool) -> bool:
        """Record one result; True if ``result`` changed."""
        self._streak = self._streak + 1 if passed == self._last else 1
        self._last = passed
        need = self.success_threshold if passed else self.failure_threshold
        if passed != self.result and self._streak >= need:
            self.result = passed
            return True
        return False


def probe_timing(probe: Mapping[str, Any]) -> tuple[float, float, float, int, int]:
    """(initialDelay, period, timeout, successThreshold, failureThreshold) with API defaults."""
    return (float(probe.get("initialDelaySeconds") or 0), float(probe.get("periodSeconds") or 10),
            float(probe.get("timeoutSeconds") or 1), int(probe.get("successThreshold") or 1),
            int(probe.get("failureThreshold") or 3))
