"""``kubelite agent``: join a cluster and run a node agent on this machine (k3s' ``agent``).

First the node's identity (``kubelite.server.join``: join token → pinned CA → client and serving
certificates in ``DATA_DIR/agent``), then the node agent itself,
``kubelite.kubelet.agent.run_agent(client, AgentConfig(...))``, talking to the API server over
HTTPS as ``system:node:<name>`` -- exactly the code the server's embedded agent runs. SIGINT and
SIGTERM stop it (pods keep running; a restarted agent re-adopts them).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kubelite.client import Client, HTTPTransport
from kubelite.server import jointoken
from kubelite.server.join import Identity, JoinError, default_node_ip, ensure_identity

log = logging.getLogger("kubelite.agent")


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
    token = None
    if opts.token:
        try:
            token = jointoken.parse(opts.token)
        except ValueError as e:
            raise JoinError(str(e)) from None
    if not opts.server.startswith("https://"):
        raise JoinError(f"the server URL must be https://HOST:PORT, not {opts.server!r}")
    node_ip = opts.node_ip or await asyncio.to_thread(default_node_ip, opts.server)
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
    client = Client(HTTPTransport.from_kubeconfig(str(identity.kubeconfig), user_agent="kubelet"),
                    field_manager="kubelet")
    task = asyncio.create_task(run_agent(client, cfg), name="node-agent")
    waiter = asyncio.create_task(stop.wait(), name="agent-stop")
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            t.cancel()
        for t in (task, waiter):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await client.close()
