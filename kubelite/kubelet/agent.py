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
from kubelite.kubelet.runtime.interface import ImageService, RuntimeService

log = logging.getLogger("kubelite.kubelet.agent")


class NoRuntime(Exception):
    pass


def default_runtime(cfg: AgentConfig) -> tuple[RuntimeService, ImageService | None]:
    """The runtime named by ``cfg.runtime`` ("process": ``kubelet.runtime.process``, its state
    under ``<root_dir>/runtime/process``) and its image service."""
    if cfg.runtime == "process":
        try:
            mod = importlib.import_module("kubelite.kubelet.runtime.process")
        except ImportError as e:
            raise NoRuntime(f"the process runtime is not available: {e}") from None
        state_dir = mod.default_state_dir(cfg.root_dir) if hasattr(mod, "default_state_dir") \
            else cfg.root_dir / "runtime" / "process"
        images = mod.ProcessImageService() if hasattr(mod, "ProcessImageService") else None
        return mod.ProcessRuntime(state_dir), images
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
                    images: ImageService | None = None, on_ready: Any = None) -> None:
    """Register, then run the node loops, the Kubelet and the streaming server until cancelled.
    ``runtime`` None: the process runtime (``default_runtime``). ``on_ready(kubelet)`` is called
    once the Kubelet has synced and re-adopted what the runtime still runs."""
    cfg.root_dir.mkdir(parents=True, exist_ok=True)
    if runtime is None:
        rt, images = await asyncio.to_thread(default_runtime, cfg)
    else:
        rt = runtime
    node = NodeAgent(client, cfg, runtime_version=f"{rt.name}://{rt.version}")
    await node.register()
    kubelet = Kubelet(client, cfg, rt, images=images)
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
