"""``kubelite agent``: join a cluster and run a node agent on this machine (k3s' ``agent``).

First the node's identity (``kubelite.server.join``: join token → pinned CA → client and serving
certificates in ``DATA_DIR/agent``), then the node agent itself,
``kubelite.kubelet.agent.run_agent(client, AgentConfig(...))``, talking to the API server over
HTTPS as ``system:node:<name>`` -- exactly the code the server's embedded agent runs -- while the
certificates are renewed in the background as they near their end. SIGINT and SIGTERM stop it
(pods keep running; a restarted agent re-adopts them).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kubelite.api.validation import is_dns1123_subdomain
from kubelite.client import Client, HTTPTransport
from kubelite.server import jointoken
from kubelite.server.join import Identity, JoinError, default_node_ip, ensure_identity, read_file, renewal_due

log = logging.getLogger("kubelite.agent")
RECHECK_SECONDS = 24 * 3600.0
RETRY_SECONDS = 60.0
MIN_WAIT_SECONDS = 60.0


@dataclass
class AgentOptions:
    server: str
    token: str | None
    node_name: str
    data_dir: Path
    node_ip: str | None = None
    kubelet_port: int = 10250
    csr_timeout: float = 300.0

    @property
    def root_dir(self) -> Path:
        return self.data_dir / "agent"


def _node_agent() -> Callable:  # noqa: ANN401 - run_agent(client, cfg)
    try:
        module = importlib.import_module("kubelite.kubelet.agent")
        return module.run_agent
    except (ImportError, AttributeError):
        raise JoinError("the node agent is not available in this build (kubelite.kubelet.agent.run_agent is "
                        "missing); the node identity is ready in the data dir") from None


async def run_agent_command(opts: AgentOptions, *, stop: asyncio.Event | None = None,
                            on_identity: Callable[[list[str]], None] | None = None) -> None:
    """Join (or rejoin) and run the node agent until ``stop`` or a signal. JoinError on failure."""
    problems = is_dns1123_subdomain(opts.node_name)
    if problems:
        raise JoinError(f"invalid node name {opts.node_name!r}: {problems[0]}")
    token = None
    if opts.token:
        try:
            token = jointoken.parse(opts.token)
        except ValueError as e:
            raise JoinError(str(e)) from None
    if not opts.server.startswith("https://"):
        raise JoinError(f"the server URL must be https://HOST:PORT, not {opts.server!r}")
    node_ip = opts.node_ip
    if not node_ip:
        node_ip = await asyncio.to_thread(default_node_ip, opts.server)
    identity = Identity(opts.root_dir)
    done = await ensure_identity(identity, server=opts.server, token=token, node_name=opts.node_name,
                                 node_ip=node_ip, timeout=opts.csr_timeout)
    if on_identity:
        on_identity(done)
    run_agent = _node_agent()
    from kubelite.kubelet.config import AgentConfig

    cfg = AgentConfig(node_name=opts.node_name, root_dir=opts.root_dir, node_ip=node_ip,
                      kubelet_port=opts.kubelet_port, serving_cert=identity.serving_cert,
                      serving_key=identity.serving_key, client_ca=identity.ca)
    if "api_server_url" in {f.name for f in dataclasses.fields(AgentConfig)}:
        cfg.api_server_url = opts.server  # type: ignore[attr-defined] # where pods reach the API
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    transport = HTTPTransport.from_kubeconfig(str(identity.kubeconfig), user_agent="kubelet")
    client = Client(transport, field_manager="kubelet")
    task = asyncio.create_task(run_agent(client, cfg), name="node-agent")
    rotation = asyncio.create_task(_rotate_certificates(identity, opts, token, node_ip, transport),
                                   name="certificate-rotation")
    waiter = asyncio.create_task(stop.wait(), name="agent-stop")
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, rotation, waiter):
            t.cancel()
        for t in (rotation, waiter):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        try:
            await task  # the node agent's own failure is the command's
        except asyncio.CancelledError:
            pass
        finally:
            await client.close()


async def _rotate_certificates(identity: Identity, opts: AgentOptions, token: jointoken.JoinToken | None,
                               node_ip: str, transport: HTTPTransport) -> None:
    """The kubelet's certificate manager: renew the node's certificates when they enter the last
    20 % of their life (checked at least daily), and present the new client certificate.
    A renewed serving certificate is on disk for the streaming server's next start."""
    while True:
        dues = [renewal_due(await asyncio.to_thread(read_file, p)) for p in (identity.client_cert, identity.serving_cert)]
        now = dt.datetime.now(dt.timezone.utc)
        wait = min([(d - now).total_seconds() for d in dues if d is not None] or [RECHECK_SECONDS])
        # at least a minute between rounds: a certificate capped by a CA about to expire is
        # always "due", and must not turn into a CSR a second
        await asyncio.sleep(min(max(wait, MIN_WAIT_SECONDS), RECHECK_SECONDS))
        try:
            done = await ensure_identity(identity, server=opts.server, token=token, node_name=opts.node_name,
                                         node_ip=node_ip, timeout=opts.csr_timeout)
        except (JoinError, OSError, ValueError) as e:  # the node keeps running on its current certificates
            log.warning("certificate rotation failed (retrying in %.0fs): %s", RETRY_SECONDS, e)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if "renewed client certificate" in done or "new client certificate" in done:
            transport.reload_client_certificate(str(identity.client_cert), str(identity.client_key))
        if any(not d.startswith("reused") for d in done):
            log.info("node certificates: %s", ", ".join(done))
