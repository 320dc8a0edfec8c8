"""``Kubelet``: the pods half of the node agent. It ties together the informers (this node's
pods by ``spec.nodeName``; ConfigMaps, Secrets and Services for env and volumes; its own Node
for admission), one work queue of pod keys with a few workers running
``PodWorkers.sync`` (pods/worker.py), the event recorder, the volume manager and the runtime.

Started by ``agent.run_agent`` (beside the node's registration, lease and status loops) and by
tests directly on the fake runtime. On start it re-adopts what the runtime still runs (an agent
restart does not stop pods) and removes sandboxes of pods deleted meanwhile. It implements the
``PodResolver`` protocol the streaming server uses to find a pod's containers.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from kubelite.client import (CONFIGMAPS, NODES, PODS, SECRETS, SERVICES, Client, EventRecorder, ExponentialBackoff,
                             Informer, QueueShutDown, WorkQueue, object_key)
from kubelite.kubelet.config import AgentConfig, ResolvedContainer
from kubelite.kubelet.pods import envvars
from kubelite.kubelet.pods.status import rfc3339
from kubelite.kubelet.pods.worker import PodRecord, PodWorkers
from kubelite.kubelet.runtime.interface import ImageService, RuntimeService
from kubelite.kubelet.volumes import VolumeManager

log = logging.getLogger("kubelite.kubelet")

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


class Kubelet:
    def __init__(self, client: Client, cfg: AgentConfig, runtime: RuntimeService, *,
                 images: ImageService | None = None, workers: int = 8,
                 recorder: Any = None) -> None:
        self.client = client
        self.cfg = cfg
        self.runtime = runtime
        self.images = images if images is not None else (runtime if isinstance(runtime, ImageService) else None)
        self.node_name = cfg.node_name
        self.node_ip = cfg.node_ip
        self.n_workers = workers
        self.pod_informer = Informer(client, PODS, field_selector=f"spec.nodeName={cfg.node_name}")
        self.node_informer = Informer(client, NODES, field_selector=f"metadata.name={cfg.node_name}")
        self.cm_informer = Informer(client, CONFIGMAPS)
        self.secret_informer = Informer(client, SECRETS)
        self.svc_informer = Informer(client, SERVICES)
        self.svc_informer.add_index("namespace", lambda o: [(o.get("metadata") or {}).get("namespace", "")])
        self.queue: WorkQueue[str] = WorkQueue("kubelet-pods", rate_limiter=ExponentialBackoff(0.5, 30.0))
        self.recorder = recorder or EventRecorder(client, "kubelet", host=cfg.node_name)
        self.volumes = VolumeManager(client, cfg.pods_dir, self._lookup)
        self.workers = PodWorkers(self)
        self._ready = asyncio.Event()
        self.pod_informer.add_handler(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new),
                                      on_delete=self._on_pod)
        for inf in (self.cm_informer, self.secret_informer):
            inf.add_handler(on_update=lambda old, new: self._on_config(new), on_delete=self._on_config,
                            on_add=self._on_config)

    # -- informer handlers: they only enqueue ---------------------------------------------------

    def _on_pod(self, pod: Mapping[str, Any]) -> None:
        self.queue.add(object_key(pod))

    def _on_config(self, obj: Mapping[str, Any]) -> None:
        if not self._ready.is_set():
            return
        ns = (obj.get("metadata") or {}).get("namespace")
        for key in list(self.workers.records):
            if key.startswith(f"{ns}/"):
                self.queue.add(key)

    # -- what the workers read ------------------------------------------------------------------

    def _lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        inf = self.cm_informer if kind == "configmap" else self.secret_informer
        return inf.get(f"{namespace}/{name}")

    def node_object(self) -> Mapping[str, Any]:
        return self.node_informer.get(self.node_name) or {"metadata": {"name": self.node_name}}

    def allocatable(self) -> dict[str, str]:
        return dict(((self.node_object().get("status") or {}).get("allocatable")) or {})

    def now(self) -> str:
        return rfc3339(time.time())

    def log_dir(self, rec: PodRecord) -> Path:
        return self.cfg.logs_dir / f"{rec.namespace}_{rec.name}_{rec.uid}"

    def api_address(self) -> tuple[str, int] | None:
        """Where in-cluster clients reach the API server: the agent's configured server, else the
        node's IP with the ``kubernetes`` Service's target port (the embedded agent)."""
        url = self.cfg.api_server_url
        if url:
            parts = urlsplit(url)
            if parts.hostname:
                return parts.hostname, parts.port or 443
        svc = self.svc_informer.get("default/kubernetes")
        if svc is None:
            return None
        for p in (svc.get("spec") or {}).get("ports") or ():
            tp = p.get("targetPort")
            if isinstance(tp, int):
                return self.node_ip, tp
        return None

    def container_env(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[tuple[str, str]]:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        spec = pod.get("spec") or {}
        services = self.svc_informer.by_index("namespace", ns)
        if ns != "default":
            k = self.svc_informer.get("default/kubernetes")
            if k is not None:
                services = [*services, k]
        links = spec.get("enableServiceLinks")
        senv = envvars.service_env(services, ns, True if links is None else bool(links), self.api_address())
        return envvars.container_env(pod, container, lookup=lambda kind, name: self._lookup(kind, ns, name),
                                     services_env=senv, host_ip=self.node_ip, pod_ip=self.node_ip,
                                     node_allocatable=self.allocatable())

    # -- running ----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def run(self) -> None:
        """Until cancelled. Containers keep running when it stops (the runtime owns them)."""
        informers = (self.pod_informer, self.node_informer, self.cm_informer, self.secret_informer, self.svc_informer)
        try:
            async with asyncio.TaskGroup() as tg:
                for inf in informers:
                    tg.create_task(inf.run(), name=f"kubelet-informer:{inf.name}")
                for inf in informers:
                    await inf.wait_synced()
                await self.workers.adopt({(p.get("metadata") or {}).get("uid", ""): p for p in self.pod_informer.list()})
                for pod in self.pod_informer.list():
                    self.queue.add(object_key(pod))
                for i in range(self.n_workers):
                    tg.create_task(self._worker(), name=f"kubelet-pod-worker-{i}")
                self._ready.set()
        finally:
            self._ready.clear()
            self.queue.shutdown()
            await self.workers.shutdown()
            with contextlib.suppress(Exception):
                await self.recorder.flush(2.0)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self.workers.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - retried with back-off
                log.warning("kubelet: sync %s: %s: %s (retrying)", key, type(e).__name__, e,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    # -- PodResolver ----------------------------------------------------------------------------

    def _record(self, namespace: str, pod: str) -> PodRecord | None:
        return self.workers.records.get(f"{namespace}/{pod}")

    def resolve(self, namespace: str, pod: str, container: str | None) -> ResolvedContainer | None:
        rec = self._record(namespace, pod)
        if rec is None or rec.sandbox_id is None:
            return None
        if container is None:
            obj = self.pod_informer.get(rec.key) or {}
            container = ((obj.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
            if not container:
                names = [c.get("name") for c in (obj.get("spec") or {}).get("containers") or ()]
                container = names[0] if names else None
        if container is None or container not in rec.views:
            return None
        cur_log, prev_log = rec.log_paths.get(container, ("", ""))
        tty, stdin = rec.tty.get(container, (False, False))
        return ResolvedContainer(namespace=namespace, pod=pod, pod_uid=rec.uid, container=container,
                                 sandbox_id=rec.sandbox_id, container_id=rec.cids.get(container),
                                 log_path=cur_log or None, previous_container_id=rec.prev_cids.get(container),
                                 previous_log_path=prev_log or None, tty=tty, stdin=stdin)

    def sandbox_id(self, namespace: str, pod: str) -> str | None:
        rec = self._record(namespace, pod)
        return rec.sandbox_id if rec is not None else None

    def pods(self) -> list[tuple[str, str, str, str]]:
        return [(r.namespace, r.name, r.uid, r.sandbox_id) for r in self.workers.records.values()
                if r.sandbox_id and not r.terminal]
