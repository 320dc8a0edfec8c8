"""The components ``kubelite server`` runs on top of the API server, each behind a switch.

Every component talks to the API through ``kubelite.client`` on the in-process transport
(same handlers as kubectl, no sockets), as its own identity so events and managedFields name
it. A component that fails is restarted after a short pause rather than taking the server
down; LeadershipLost (another replica took over) also lands here.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Awaitable, Callable

from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.request import UserInfo
from kubelite.apiserver.server import ApiServer
from kubelite.client import ApiError, Client

log = logging.getLogger(__name__)
RESTART_DELAY = 2.0


def _client(api: ApiServer, user: str, manager: str) -> Client:
    identity = UserInfo(user, ("system:masters", "system:authenticated"))
    return Client(LocalTransport(api, identity, user_agent=manager), field_manager=manager)


class ComponentStatus:
    """What /readyz knows of a component: running, or why not (set by ``supervise``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: str | None = "not started"

    async def check(self) -> str | None:
        return self.error


async def supervise(name: str, run: Callable[[], Awaitable[None]], status: ComponentStatus | None = None) -> None:
    """Run ``run`` until cancelled, restarting it after a failure; while it is down, ``status``
    says why (the component's /readyz check fails), and the log says it once per failure."""
    status = status or ComponentStatus(name)
    try:
        while True:
            status.error = None
            try:
                await run()
                status.error = "exited"
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - restart, never crash the server
                status.error = f"crashed ({type(e).__name__}: {e}); restarting"
                log.exception("%s stopped unexpectedly; restarting in %.0fs", name, RESTART_DELAY)
                await asyncio.sleep(RESTART_DELAY)
    finally:
        if status.error is None:
            status.error = "stopped"


async def controller_manager(api: ApiServer, options: dict | None = None) -> None:
    from kubelite.controllers.manager import ControllerManager

    status = ComponentStatus("controller-manager")
    current: list[ControllerManager] = []
    api.health.add("controller-manager", status.check)

    async def informers_synced() -> str | None:
        """The controllers' informers have their first full list (once this replica leads)."""
        if not current or not current[0].started.is_set():
            return None  # a standby (or starting) manager has no informers to wait for
        pending = [inf.resource.plural for inf in current[0].factory.informers if not inf.has_synced]
        return f"not synced: {', '.join(pending[:5])}" if pending else None

    api.health.add("informer-sync", informers_synced)

    async def run() -> None:
        client = _client(api, "system:kube-controller-manager", "kube-controller-manager")
        try:
            manager = ControllerManager(client, options=options or {})
            current[:] = [manager]
            await manager.run()
        finally:
            await client.close()

    await supervise("controller-manager", run, status)


async def scheduler(api: ApiServer) -> None:
    from kubelite.scheduler.scheduler import run_scheduler

    status = ComponentStatus("scheduler")
    api.health.add("scheduler", status.check)

    async def run() -> None:
        client = _client(api, "system:kube-scheduler", "default-scheduler")
        try:
            await run_scheduler(client)
        finally:
            await client.close()

    await supervise("scheduler", run, status)


def _duration(text: str) -> float:
    """``10s``, ``500ms``, ``1m`` or plain seconds -> seconds."""
    t = text.strip()
    for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix) and t[:-len(suffix)].replace(".", "", 1).isdigit():
            return float(t[:-len(suffix)]) * mult
    return float(t)


KUBELET_ARGS = ("port", "max-pods", "node-status-update-frequency", "node-lease-renew-interval", "node-labels")


def kubelet_settings(args: dict[str, str]) -> dict[str, Any]:
    """``--kubelet-arg`` KEY=VALUE pairs -> AgentConfig fields; ValueError names a bad one."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        try:
            if key == "port":
                out["kubelet_port"] = int(value)
                if not 0 < out["kubelet_port"] < 65536:
                    raise ValueError
            elif key == "max-pods":
                out["max_pods"] = int(value)
                if out["max_pods"] < 1:
                    raise ValueError
            elif key == "node-status-update-frequency":
                out["status_interval"] = _duration(value)
            elif key == "node-lease-renew-interval":
                out["lease_interval"] = _duration(value)
            elif key == "node-labels":
                out["node_labels"] = dict(kv.split("=", 1) for kv in value.split(",") if kv)
            else:
                raise KeyError(key)
        except KeyError:
            raise ValueError(f"unknown kubelet setting {key!r} (known: {', '.join(KUBELET_ARGS)})") from None
        except ValueError:
            raise ValueError(f"invalid value {value!r} for kubelet setting {key!r}") from None
        if key in ("node-status-update-frequency", "node-lease-renew-interval") and \
                out[{"node-status-update-frequency": "status_interval"}.get(key, "lease_interval")] <= 0:
            raise ValueError(f"invalid value {value!r} for kubelet setting {key!r}")
    return out


def agent_config(cfg: Any) -> Any:
    """The embedded agent's AgentConfig from the server's (node name = host name lower-cased,
    data under DATA_DIR/agent, the API server's own TLS pair and CA for the kubelet server)."""
    from kubelite.kubelet.config import AgentConfig
    from kubelite.server.tls import ensure_pki

    pki = ensure_pki(cfg.data_dir, cfg.bind_address)
    host = "127.0.0.1" if cfg.bind_address in ("0.0.0.0", "::") else cfg.bind_address
    agent = AgentConfig(node_name=(cfg.node_name or socket.gethostname()).lower(), root_dir=cfg.data_dir / "agent",
                        node_ip=cfg.node_ip or host, serving_cert=pki.serving_cert, serving_key=pki.serving_key,
                        client_ca=pki.ca_cert, api_server_url=f"https://{host}:{cfg.https_port}",
                        **kubelet_settings(dict(cfg.kubelet_args or {})))
    return agent


async def agent(api: ApiServer, cfg: Any) -> None:
    """The embedded node agent, as ``system:node:<name>`` in group ``system:nodes`` (RBAC's
    ``system:node`` role), on the in-process transport."""
    from kubelite.kubelet.agent import NoRuntime, run_agent

    acfg = agent_config(cfg)
    user = f"system:node:{acfg.node_name}"
    status = ComponentStatus("agent")
    api.health.add("agent", status.check)

    status = ComponentStatus("agent")
    api.health.add("agent", status.check)

    async def run() -> None:
        identity = UserInfo(user, ("system:nodes", "system:authenticated"))
        client = Client(LocalTransport(api, identity, user_agent="kubelet"), field_manager="kubelet")
        try:
            await run_agent(client, acfg)
        except NoRuntime as e:
            log.error("node agent disabled: %s", e)
        except ApiError as e:
            if e.code >= 500 or e.code == 429:
                raise                   # transient: supervise() retries
            # e.g. a host name that is no valid node name: say so once instead of retrying forever
            log.error("node agent disabled: registering node %r failed: %s (set --node-name)", acfg.node_name, e)
        finally:
            await client.close()

    await supervise("agent", run, status)


def check_controllers() -> None:
    """Import every registered controller now: a broken one stops start-up (one clear error)
    instead of a controller silently missing."""
    from kubelite.controllers.manager import resolve

    resolve()
