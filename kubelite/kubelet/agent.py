"""``run_agent(client, cfg)``: the whole node agent -- Node registration, Lease and status
loops (node.py), the Kubelet's pod workers (kubelet.py) and, where it exists, the kubelet's
streaming/stats server (``kubelet.server``) -- until cancelled.

Called by ``kubelite server`` (the embedded agent, in-process transport, identity
``system:node:<name>``) and by ``kubelite agent`` (a joined machine, over HTTPS). Cancelling
stops the agent but not the pods: the runtime keeps them and the next start re-adopts them.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import ssl
from typing import Any

from kubelite.client import Client
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.kubelet import Kubelet
from kubelite.kubelet.node import NodeAgent
from kubelite.kubelet.runtime.interface import RuntimeService

log = logging.getLogger("kubelite.kubelet.agent")


class NoRuntime(Exception):
    pass


def default_runtime(cfg: AgentConfig) -> RuntimeService:
    """The runtime named by ``cfg.runtime`` ("process": ``kubelet.runtime.process``)."""
    if cfg.runtime == "process":
        try:
            mod = importlib.import_module("kubelite.kubelet.runtime.process")
        except ImportError as e:
            raise NoRuntime(f"the process runtime is not available: {e}") from None
        factory = getattr(mod, "ProcessRuntime", None)
        if factory is None:
            raise NoRuntime("kubelite.kubelet.runtime.process has no ProcessRuntime")
        return factory(cfg.root_dir / "runtime")  # type: ignore[no-any-return]
    raise NoRuntime(f"unknown container runtime {cfg.runtime!r}")


def _server_ssl(cfg: AgentConfig) -> ssl.SSLContext | None:
    if not (cfg.serving_cert and cfg.serving_key):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cfg.serving_cert), str(cfg.serving_key))
    if cfg.client_ca:
        ctx.load_verify_locations(str(cfg.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def _streaming_server(runtime: RuntimeService, kubelet: Kubelet, cfg: AgentConfig) -> Any:
    try:
        mod = importlib.import_module("kubelite.kubelet.server")
    except ImportError:
        return None
    cls = getattr(mod, "KubeletServer", None)
    if cls is None:
        return None
    server = cls(runtime=runtime, resolver=kubelet, node_name=cfg.node_name, host=cfg.node_ip, port=cfg.kubelet_port,
                 ssl_context=_server_ssl(cfg))
    await server.start()
    return server


async def run_agent(client: Client, cfg: AgentConfig, *, runtime: RuntimeService | None = None,
                    on_ready: Any = None) -> None:
    cfg.root_dir.mkdir(parents=True, exist_ok=True)
    rt = runtime if runtime is not None else default_runtime(cfg)
    node = NodeAgent(client, cfg, runtime_version=f"{rt.name}://{rt.version}")
    await node.register()
    kubelet = Kubelet(client, cfg, rt)
    server = None
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(node.run(), name="kubelet-node")
            kt = tg.create_task(kubelet.run(), name="kubelet-pods")
            ready = asyncio.ensure_future(kubelet.wait_ready())
            await asyncio.wait({ready, kt}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if kubelet.ready:
                server = await _streaming_server(rt, kubelet, cfg)
                log.info("node agent %s ready%s", cfg.node_name,
                         f", streaming on {cfg.node_ip}:{cfg.kubelet_port}" if server else "")
                if on_ready is not None:
                    on_ready(kubelet)
    finally:
        if server is not None:
            with contextlib.suppress(Exception):
                await server.stop()
