"""``kubelite server``: storage → API server → HTTPS listener → kubeconfig, then the
components that sit on the API (controllers, scheduler, node agent), each behind a switch.

Start order follows k3s: each component starts once the one it depends on is ready. SIGINT
and SIGTERM stop everything in reverse order; storage is closed last so no acknowledged write
is lost.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine

from aiohttp import web

from kubelite.apiserver.http import make_app, runner_options, server_ssl_context
from kubelite.apiserver import serviceaccounts
from kubelite.apiserver.nodeproxy import KubeletClient, kubelet_client_context
from kubelite.apiserver.audit import Auditor
from kubelite.apiserver.encryption import EncryptingStorage, EncryptionManager, ensure_config_file
from kubelite.apiserver.server import ApiServer
from kubelite.server import components, jointoken
from kubelite.server.filemodes import prepare_database, secure_state
from kubelite.server.kubeconfig import write_kubeconfig
from kubelite.server.tls import ClusterPKI, ensure_pki
from kubelite.storage.factory import open_storage

log = logging.getLogger("kubelite.server")


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kubelite")
    return Path.home() / ".local" / "share" / "kubelite"


@dataclass
class ServerConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    bind_address: str = "127.0.0.1"
    https_port: int = 6443
    kubeconfig: Path | None = None
    datastore_endpoint: str = ""
    disable_agent: bool = False
    disable_scheduler: bool = False
    disable_controllers: bool = False
    anonymous_auth: bool = True
    event_ttl: int = 3600  # seconds Events live after their last write (kube's --event-ttl)
    #: k3s' --secrets-encryption: encrypt Secrets with DATA_DIR/cred/encryption-config.json
    secrets_encryption: bool = False
    #: kube's --encryption-provider-config: an EncryptionConfiguration file of one's own
    encryption_provider_config: Path | None = None
    #: kube's --audit-log-path ("-" = stdout) and --audit-policy-file
    audit_log_path: str = ""
    audit_policy_file: Path | None = None
    node_name: str = ""                 # the embedded agent's node (default: the host name, lower-cased)
    node_ip: str = ""                   # its InternalIP (default: the bind address, 127.0.0.1 for 0.0.0.0)
    kubelet_args: dict[str, str] = field(default_factory=dict)   # --kubelet-arg KEY=VALUE

    @property
    def encryption_config_path(self) -> Path | None:
        if self.encryption_provider_config is not None:
            return self.encryption_provider_config
        return self.data_dir / "cred" / "encryption-config.json" if self.secrets_encryption else None

    @property
    def kubeconfig_path(self) -> Path:
        return self.kubeconfig or self.data_dir / "kubeconfig.yaml"


#: Components started after the API server: (name, config switch that disables it, factory).
#: A factory takes the ApiServer and the config and runs until cancelled.
ComponentFactory = Callable[[ApiServer, ServerConfig], Coroutine[Any, Any, None]]  # create_task needs a coroutine
COMPONENTS: list[tuple[str, str, ComponentFactory]] = [
    ("controller-manager", "disable_controllers",
     lambda api, cfg: components.controller_manager(api, {
         "data_dir": str(cfg.data_dir),
         # the CSR signer issues node and client certificates from the cluster CA (tls.py)
         "cluster_signing_cert_file": str(ClusterPKI(cfg.data_dir / "tls").ca_cert),
         "cluster_signing_key_file": str(ClusterPKI(cfg.data_dir / "tls").ca_key)})),
    ("scheduler", "disable_scheduler", lambda api, cfg: components.scheduler(api)),
    ("agent", "disable_agent", lambda api, cfg: components.agent(api, cfg)),
]


async def run_server(cfg: ServerConfig, *, stop: asyncio.Event | None = None,
                     on_ready: Callable[[ServerConfig], None] | None = None) -> None:
    secure_state(cfg.data_dir)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    if not cfg.disable_controllers:
        components.check_controllers()  # a controller that does not import stops start-up
    pki = ensure_pki(cfg.data_dir, cfg.bind_address)
    storage = open_storage(cfg.datastore_endpoint, str(cfg.data_dir))
    if getattr(storage, "path", None):
        prepare_database(storage.path)  # type: ignore[attr-defined]
    encryption = None
    if cfg.encryption_config_path is not None:
        if cfg.encryption_provider_config is None:
            ensure_config_file(cfg.encryption_config_path)
        encryption = EncryptionManager(cfg.encryption_config_path)  # EncryptionConfigError: refuse to start
        storage = EncryptingStorage(storage, encryption)
    host = "127.0.0.1" if cfg.bind_address in ("0.0.0.0", "::") else cfg.bind_address
    api = ApiServer(storage, server_address=f"{host}:{cfg.https_port}",
                    service_account_key=serviceaccounts.ensure_key(cfg.data_dir / "tls" / "sa.key"),
                    event_ttl=cfg.event_ttl)
    api.kubelet = KubeletClient(kubelet_client_context(str(pki.kubelet_client_cert), str(pki.kubelet_client_key),
                                                       str(pki.ca_cert)))
    api.anonymous_auth = cfg.anonymous_auth
    if encryption is not None:
        api.encryption = encryption
    api.audit = Auditor.from_files(cfg.audit_log_path, cfg.audit_policy_file)  # AuditPolicyError: refuse to start
    runner = web.AppRunner(make_app(api), access_log=None, handle_signals=False, shutdown_timeout=2.0,
                           **runner_options())
    await runner.setup()
    site = web.TCPSite(runner, cfg.bind_address, cfg.https_port,
                       ssl_context=server_ssl_context(str(pki.serving_cert), str(pki.serving_key), str(pki.ca_cert)),
                       reuse_address=True, backlog=1024)
    tasks: list[asyncio.Task[None]] = []
    try:
        await site.start()  # /readyz answers "not ready" until the API is up
        await api.start()
        api.encryption.start()
        await jointoken.install(api, cfg.data_dir, pki.ca_cert)  # DATA_DIR/node-token, /cacerts
        # Long-lived startup objects never need collecting; and young-generation collections
        # every 700 allocations dominate big LIST/decode work, so collect less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        write_kubeconfig(cfg.kubeconfig_path, pki, f"https://{host}:{cfg.https_port}")
        log.info("kubeconfig written to %s", cfg.kubeconfig_path)
        secure_state(cfg.data_dir, cfg.kubeconfig_path)
        for name, switch, factory in COMPONENTS:
            if getattr(cfg, switch, False):
                continue
            tasks.append(asyncio.create_task(factory(api, cfg), name=name))
        if on_ready:
            on_ready(cfg)
        await stop.wait()
    finally:
        for t in reversed(tasks):
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await api.encryption.stop()
        await api.hub.stop()  # ends every watch stream so the listener can close promptly
        await runner.cleanup()
        await api.stop()
        await asyncio.to_thread(api.audit.close)
