"""The controller manager: kube-controller-manager's role in one object.

``ControllerManager(client, clock=..., options=..., enabled=...)`` builds every enabled
controller on one shared ``ControllerContext`` (one informer factory, so ten controllers that
watch pods share one pod watch) and ``run()`` runs them while holding the
``kube-system/kube-controller-manager`` Lease (``LeaderElector``): a second manager waits as a
hot standby and takes over when the Lease lapses. Leadership lost -> ``LeadershipLost`` is
raised after the controllers are cancelled, like kube-controller-manager exiting.

``REGISTRY`` is the one list of controllers: name -> ``"module:Class"``. ``resolve()`` imports
every entry and raises ``ControllerImportError`` naming the ones that fail, so a broken or
misspelt controller stops ``kubelite server`` at start-up instead of silently going missing
(tests/controllers/test_manager.py imports every entry). ``enabled`` follows ``--controllers``: None or ``{"*"}`` = all, names enable, ``-name``
disables (``{"*", "-cronjob"}``). A controller whose ``run()`` crashes is restarted with
back-off. Created by ``kubelite server`` (the server package).
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import socket
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from kubelite.client import Client, LeaderElector, SharedInformerFactory, WorkQueue
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"

#: controller name (kube-controller-manager's, where it has one) -> "module:Class"
REGISTRY: dict[str, str] = {
    "clusterrole-aggregation": "kubelite.controllers.clusterroleaggregation:ClusterRoleAggregationController",
    "cronjob": "kubelite.controllers.cronjob:CronJobController",
    "daemonset": "kubelite.controllers.daemonset:DaemonSetController",
    "deployment": "kubelite.controllers.deployment:DeploymentController",
    "endpoint": "kubelite.controllers.endpoints:EndpointsController",
    "endpointslice": "kubelite.controllers.endpointslice:EndpointSliceController",
    "endpointslicemirroring": "kubelite.controllers.endpointslice:EndpointSliceMirroringController",
    "garbagecollector": "kubelite.controllers.garbagecollector:GarbageCollector",
    "job": "kubelite.controllers.job:JobController",
    "namespace": "kubelite.controllers.namespace:NamespaceController",
    "nodelifecycle": "kubelite.controllers.nodelifecycle:NodeLifecycleController",
    "persistentvolume-binder": "kubelite.controllers.volume.pvbinder:PersistentVolumeBinder",
    "podgc": "kubelite.controllers.podgc:PodGCController",
    "replicaset": "kubelite.controllers.replicaset:ReplicaSetController",
    "replicationcontroller": "kubelite.controllers.replicaset:ReplicationControllerController",
    "resourcequota": "kubelite.controllers.resourcequota:ResourceQuotaController",
    "root-ca-cert-publisher": "kubelite.controllers.rootcacert:RootCACertPublisher",
    "serviceaccount": "kubelite.controllers.serviceaccount:ServiceAccountController",
    "statefulset": "kubelite.controllers.statefulset:StatefulSetController",
}


class ControllerImportError(Exception):
    """Registry entries that do not import (or are not Controllers): start-up must stop."""


def _import_class(spec: str) -> type[Controller]:
    module_name, _, class_name = spec.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    if not (inspect.isclass(cls) and issubclass(cls, Controller)):
        raise TypeError(f"{spec} is not a Controller")
    return cls


def resolve(registry: Mapping[str, str] = REGISTRY) -> dict[str, type[Controller]]:
    """Every registered controller class, by name; ``ControllerImportError`` if any fails."""
    out: dict[str, type[Controller]] = {}
    failed: list[str] = []
    for name, spec in registry.items():
        try:
            out[name] = _import_class(spec)
        except Exception as e:  # noqa: BLE001 - collected: the error names every broken entry
            failed.append(f"{name} ({spec}): {type(e).__name__}: {e}")
    if failed:
        raise ControllerImportError("controllers failed to load: " + "; ".join(failed))
    return out


def select(available: Iterable[str], enabled: set[str] | None) -> list[str]:
    """``--controllers`` semantics: None/"*" = all; "name" enables; "-name" disables."""
    names = sorted(available)
    if enabled is None:
        return names
    star = "*" in enabled
    disabled = {e[1:] for e in enabled if e.startswith("-")}
    wanted = {e for e in enabled if e != "*" and not e.startswith("-")}
    unknown = wanted - set(names)
    if unknown:
        log.warning("unknown or unavailable controllers requested: %s", ", ".join(sorted(unknown)))
    return [n for n in names if n not in disabled and (star or n in wanted)]


class ControllerManager:
    """Runs the enabled controllers on one shared context while holding the leader Lease.

    Options (all optional): ``leader_elect`` (default True), ``lease_duration`` /
    ``renew_deadline`` / ``retry_period`` (15/10/2 s), ``identity`` (default host + uuid),
    ``resync_seconds`` (informer resync, default 0); controllers read their own options from
    the same mapping (``ctx.options``)."""

    def __init__(self, client: Client, *, clock: Clock | None = None, options: Mapping[str, Any] | None = None,
                 enabled: set[str] | None = None,
                 registry: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.clock = clock or REAL_CLOCK
        self.options: dict[str, Any] = dict(options or {})
        self.classes = resolve(REGISTRY if registry is None else registry)
        self.names = select(self.classes, enabled)
        self.factory = SharedInformerFactory(client, resync=float(self.options.get("resync_seconds") or 0.0),
                                             clock=self.clock)
        self.ctx = ControllerContext(client=client, factory=self.factory, clock=self.clock, options=self.options)
        self.controllers: dict[str, Controller] = {}
        #: set once the controllers have been started (after leadership was acquired)
        self.started = asyncio.Event()
        identity = self.options.get("identity") or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.elector = LeaderElector(
            client, name=LEASE_NAME, namespace=LEASE_NAMESPACE, identity=str(identity), clock=self.clock,
            lease_duration=float(self.options.get("lease_duration") or 15.0),
            renew_deadline=float(self.options.get("renew_deadline") or 10.0),
            retry_period=float(self.options.get("retry_period") or 2.0))

    def build(self) -> dict[str, Controller]:
        """Instantiate the enabled controllers (idempotent). A constructor that fails is logged
        and that controller skipped."""
        for name in self.names:
            if name in self.controllers:
                continue
            try:
                self.controllers[name] = self.classes[name](self.ctx)
            except Exception:
                log.exception("controller %s failed to start", name)
        return self.controllers

    async def run(self) -> None:
        """Run until cancelled (or until leadership is lost: ``LeadershipLost``)."""
        try:
            if self.options.get("leader_elect", True):
                await self.elector.run(self.run_controllers)
            else:
                await self.run_controllers()
        finally:
            with contextlib.suppress(Exception):
                await self.factory.stop()
            for rec in list(self.ctx._recorders.values()):
                with contextlib.suppress(Exception):
                    await rec.stop(1.0)

    async def run_controllers(self) -> None:
        self.build()
        self.factory.start()
        async with asyncio.TaskGroup() as tg:
            for name, controller in self.controllers.items():
                tg.create_task(self._supervise(controller), name=f"controller:{name}")
            self.started.set()

    async def _supervise(self, controller: Controller) -> None:
        delay = 1.0
        while True:
            try:
                await controller.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s crashed; restarting in %.0fs", controller.name, delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 30.0)
                if controller.queue.shutting_down:
                    # run() shut its queue down on the way out; handlers enqueue via self.queue.
                    controller.queue = WorkQueue(controller.name, clock=controller.clock)
