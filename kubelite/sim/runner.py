"""``SimCluster``: N hollow kubelets in one process -- registration, heartbeats, and the pod
lifecycle of every pod bound to them.

Called by ``kubelite sim`` (over HTTPS) and by tests and benchmarks (in-process, on the API
server's LocalTransport); it reaches the cluster only through ``kubelite.client``. Shape:

- ``start()`` registers every node (create, or patch an existing one: labels, status; taints
  only at creation, like ``--register-with-taints``) with a bounded number of writes in flight,
  creates each node's Lease, starts two informers (our nodes by the simulated label; pods with
  ``spec.nodeName`` set) and the workers, and returns once all of that is done.
- Heartbeats: one work queue of ``("lease", i)`` / ``("status", i)`` keys whose delays are the
  timer heap. Lease i first renews at ``lease_interval * (i+1)/N`` and then every interval, so
  5,000 nodes at 10 s renew 500 a second instead of 5,000 at once. Node status (conditions'
  ``lastHeartbeatTime``) is patched every ``node_status_interval``, or at once when the node
  informer shows one of our conditions changed (the node lifecycle controller marking an
  unresponsive node Ready=Unknown).
- Pods: informer handlers only enqueue ``ns/name``; ``workers`` tasks run ``_sync_pod``
  (level-triggered, idempotent), so at most ``workers`` status writes are in flight. A pod's
  run-time expiry and deletion grace are ``add_after`` delays on the same queue, i.e. entries
  in the event loop's timer heap -- no task sleeps per pod.
- ``stop()`` (or cancelling ``run()``) stops everything; nodes stay registered and their
  Leases simply expire, exactly as when a real node dies.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from kubelite.api.helpers.podutil import TERMINAL_PHASES, is_pod_terminal
from kubelite.api.helpers.resources import check_fit, pod_requests
from kubelite.api.helpers.times import format_micro_time, format_time, try_parse_time
from kubelite.client import (LEASES, NAMESPACES, NODES, PODS, ApiError, Client, Clock, ExponentialBackoff,
                             Informer, QueueShutDown, Store, TransportError, WorkQueue, is_already_exists, is_conflict,
                             is_not_found, object_key)
from kubelite.client.clock import REAL_CLOCK
from kubelite.machinery.errors import StatusError
from kubelite.sim import nodes as N
from kubelite.sim import pods as P

log = logging.getLogger("kubelite.sim")

FIELD_MANAGER = "kubelite-sim"


def tune_gc() -> None:
    """Process-wide GC setting for a process hosting thousands of simulated nodes: freeze what
    exists (registration's objects live forever) and collect the young generation every 50,000
    allocations instead of 700. Measured in bench/sim_bench.py: with the default thresholds
    Python's full collections re-scan the growing caches dozens of times and take ~40% of the
    CPU while 10,000 pods start. Called by ``kubelite sim``; a library user decides for itself."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@dataclass
class SimStats:
    """Counters of what the simulated kubelets did (observability, tests, benchmarks)."""

    nodes_registered: int = 0
    lease_renewals: int = 0
    node_status_updates: int = 0
    pods_started: int = 0
    pods_completed: int = 0
    pods_rejected: int = 0
    pods_stopped: int = 0   # deleted pods whose containers were reported terminated
    pods_deleted: int = 0
    write_errors: int = 0


def _first_leaf(eg: BaseExceptionGroup) -> BaseException:
    exc: BaseException = eg
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class _SlimStore(Store):
    """An informer store that keeps ``transform(obj)`` instead of the object (client-go's
    informer transform): handlers still see full objects, the cache only what the sim reads."""

    __slots__ = ("_transform",)

    def __init__(self, transform: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        super().__init__()
        self._transform = transform

    def upsert(self, key: str, obj: dict[str, Any]) -> dict[str, Any] | None:
        return super().upsert(key, self._transform(obj))


def _node_identity(node: dict[str, Any]) -> dict[str, Any]:
    meta = node.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "uid": meta.get("uid"),
                         "resourceVersion": meta.get("resourceVersion")}}


class _Node:
    __slots__ = ("index", "name", "ip", "cidr", "uid", "lease_rv", "conditions", "pool", "allocatable",
                 "used", "active", "gone")

    def __init__(self, index: int, name: str, ip: str, cidr: str, allocatable: dict[str, int]) -> None:
        self.index = index
        self.name = name
        self.ip = ip
        self.cidr = cidr
        self.uid: str | None = None
        self.lease_rv: str | None = None  # our Lease's resourceVersion: renewals are slim PUTs
        self.conditions: dict[str, tuple[str, str]] = {}  # condition_summary of the Node
        self.pool = P.PodIPPool(cidr)
        self.allocatable = allocatable
        self.used: dict[str, int] = {}
        self.active = 0
        self.gone = False  # the Node object was deleted: a kubelet then has nothing to report to


class _Pod:
    __slots__ = ("uid", "node", "state", "started", "delete_due", "exit_code", "stopped", "requests", "admitted")

    def __init__(self, uid: str, node: _Node) -> None:
        self.uid = uid
        self.node = node
        self.state = ""            # "" | running | Succeeded | Failed -- what we last wrote/saw
        self.started = 0.0         # clock.now() when the containers started
        self.delete_due: float | None = None
        self.exit_code = 0          # what the containers exit with when deletion stops them
        self.stopped = False        # their terminated status is written
        self.requests: dict[str, int] = {}
        self.admitted = False


class SimCluster:
    """``nodes`` simulated nodes named ``{prefix}-0`` .. ``{prefix}-{nodes-1}``.

    ``pod_run_time``: seconds after which a running pod whose restartPolicy is not Always
    succeeds (None: pods run until deleted). ``pod_stop_time``: seconds a simulated container
    takes to exit after SIGTERM (like a process that handles it; capped by the pod's grace
    period), after which the pod object is removed. Capacity/labels/taints/zones/extended are validated
    at construction (``StatusError`` 400/422 on bad input); see ``nodes.node_options``.
    """

    def __init__(self, client: Client, *, nodes: int, prefix: str = "sim", cpu: str | int = "32",
                 memory: str = "256Gi", pods: int | str = 110, ephemeral_storage: str = "1Ti",
                 zones: Sequence[str] | str | None = None,
                 labels: Mapping[str, str] | Iterable[str] | None = None,
                 taints: Iterable[str | Mapping[str, Any]] | None = None,
                 extended: Mapping[str, Any] | Iterable[str] | None = None,
                 lease_interval: float = 10.0, lease_duration: int = 40, node_status_interval: float = 60.0,
                 pod_run_time: float | None = None, pod_stop_time: float = 1.0, workers: int = 200,
                 clock: Clock | None = None, field_manager: str = FIELD_MANAGER) -> None:
        if not isinstance(nodes, int) or nodes < 0:
            raise StatusError(422, "Invalid", f"nodes: Invalid value: {nodes!r}: must be a non-negative integer")
        N.require_positive("lease_interval", lease_interval)
        N.require_positive("lease_duration", lease_duration)
        N.require_positive("node_status_interval", node_status_interval)
        N.require_positive("workers", workers)
        if pod_run_time is not None:
            N.require_positive("pod_run_time", pod_run_time, allow_zero=True)
        self.client = client
        self.options = N.node_options(prefix=prefix, cpu=cpu, memory=memory, pods=pods,
                                      ephemeral_storage=ephemeral_storage, zones=zones, labels=labels,
                                      taints=taints, extended=extended)
        if nodes > self.options.max_slots:
            raise StatusError(422, "Invalid", f"nodes: Invalid value: {nodes}: the simulated address plan "
                                              f"holds at most {self.options.max_slots} nodes of this size")
        self.count = nodes
        self.lease_interval = float(lease_interval)
        self.lease_duration = int(lease_duration)
        self.node_status_interval = float(node_status_interval)
        self.pod_run_time = pod_run_time
        N.require_positive("pod_stop_time", pod_stop_time, allow_zero=True)
        self.pod_stop_time = float(pod_stop_time)
        self.workers = int(workers)
        self.clock: Clock = clock or REAL_CLOCK
        self.field_manager = field_manager
        self.stats = SimStats()
        self.boot_id = str(uuid.uuid4())  # a (re)started sim is a rebooted machine
        self._allocatable = P.milli_map(self.options.capacity)
        self._nodes: list[_Node] = []
        self._by_name: dict[str, _Node] = {}
        self._pods: dict[str, _Pod] = {}
        self._pod_queue, self._beat_queue = self._new_queues()
        self.pod_informer = Informer(client, PODS, field_selector="spec.nodeName!=", clock=self.clock)
        self.node_informer = Informer(client, NODES, label_selector=f"{N.SIM_LABEL}=true", clock=self.clock)
        # 5,000 cached Nodes would take ~60 MB and 10,000 full pods twice what slim ones do.
        self.pod_informer.store = _SlimStore(P.slim_pod)
        self.node_informer.store = _SlimStore(_node_identity)
        self.pod_informer.add_handler(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new),
                                      on_delete=self._on_pod)
        self.node_informer.add_handler(on_add=self._on_node, on_update=lambda old, new: self._on_node(new),
                                       on_delete=self._on_node_deleted)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lease_ns_checked = False

    # -- public -------------------------------------------------------------------------------

    @property
    def node_names(self) -> list[str]:
        return [N.node_name(self.options.prefix, i) for i in range(self.count)]

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Register the nodes and start heartbeats and pod handling; returns once every node
        is registered and the pod cache is synced. Raises what registration raised."""
        if self._task is not None:
            raise RuntimeError("SimCluster already started")
        self._task = asyncio.get_running_loop().create_task(self._serve(), name=f"sim:{self.options.prefix}")
        waiter = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            waiter.cancel()
            await self.stop()
            raise
        if not waiter.done():
            waiter.cancel()
        if not self._ready.is_set():
            task, self._task = self._task, None
            await task  # re-raises the registration error
            raise RuntimeError("SimCluster stopped before it was ready")

    async def stop(self) -> None:
        """Stop heartbeats and pod handling (idempotent). Nodes stay registered."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ready.clear()

    async def run(self) -> None:
        """``start()`` and serve until cancelled (then ``stop()``)."""
        await self.start()
        task = self._task
        try:
            if task is not None:
                await task
        finally:
            await self.stop()

    async def __aenter__(self) -> "SimCluster":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- serving --------------------------------------------------------------------------------

    def _new_queues(self) -> tuple[WorkQueue[str], WorkQueue[tuple[str, int]]]:
        # Heartbeat retries follow the kubelet's lease back-off: 200 ms doubling to 7 s.
        return (WorkQueue("sim-pods", clock=self.clock),
                WorkQueue("sim-heartbeats", clock=self.clock, rate_limiter=ExponentialBackoff(0.2, 7.0)))

    async def _serve(self) -> None:
        # A stopped sim may be started again: fresh queues, and state rebuilt from the API.
        self._pod_queue, self._beat_queue = self._new_queues()
        self._nodes, self._by_name, self._pods = [], {}, {}
        try:
            await self._register()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.node_informer.run(), name=self.node_informer.name)
                tg.create_task(self.pod_informer.run(), name=self.pod_informer.name)
                await self.pod_informer.wait_synced()
                await self.node_informer.wait_synced()
                self._adopt_running()
                self._schedule_heartbeats()
                for i in range(self.workers):
                    tg.create_task(self._worker(self._pod_queue, self._sync_pod), name=f"sim-pod-worker-{i}")
                for i in range(max(1, min(64, self.count))):
                    tg.create_task(self._worker(self._beat_queue, self._heartbeat), name=f"sim-heartbeat-{i}")
                self._ready.set()
        finally:
            self._pod_queue.shutdown()
            self._beat_queue.shutdown()

    async def _worker(self, queue: WorkQueue[Any], sync: Any) -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                await sync(key)
                queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure: retry with back-off
                self.stats.write_errors += 1
                log.log(logging.INFO if isinstance(e, StatusError) else logging.WARNING,
                        "sim: %s: %s: %s (retrying)", key, type(e).__name__, e)
                queue.add_rate_limited(key)
            finally:
                queue.done(key)

    def _now(self) -> str:
        return format_time(self.clock.wall())

    # -- registration -----------------------------------------------------------------------------

    async def _register(self) -> None:
        """Assign address slots (reusing each existing node's IP and podCIDR, skipping every
        slot another simulated node holds), then create/patch nodes and leases."""
        existing = {n["metadata"]["name"]: n for n in
                    (await self.client.list_all(NODES, label_selector=f"{N.SIM_LABEL}=true")).items}
        taken: set[int] = set()
        for n in existing.values():
            slot = N.node_ip_slot(N.node_addresses(n)[0] or "")
            if slot is not None:
                taken.add(slot)
        next_slot = 0
        opts = self.options
        for i in range(self.count):
            name = N.node_name(opts.prefix, i)
            ip, cidr = N.node_addresses(existing[name]) if name in existing else (None, None)
            if ip is None or cidr is None:
                while next_slot in taken:
                    next_slot += 1
                if next_slot >= opts.max_slots:
                    raise StatusError(422, "Invalid", "the simulated address plan is full: "
                                                      f"no node address left for {name}")
                taken.add(next_slot)
                ip = ip or N.slot_node_ip(next_slot)
                cidr = cidr or N.slot_pod_cidr(next_slot, opts.pod_block_prefix)
            node = _Node(i, name, ip, cidr, self._allocatable)
            self._nodes.append(node)
            self._by_name[name] = node
        sem = asyncio.Semaphore(self.workers)

        async def one(node: _Node) -> None:
            async with sem:
                await self._retrying(lambda: self._register_node(node, existing.get(node.name)))
                await self._retrying(lambda: self._ensure_lease(node))
                self.stats.nodes_registered += 1

        try:
            async with asyncio.TaskGroup() as tg:
                for node in self._nodes:
                    tg.create_task(one(node), name=f"sim-register-{node.name}")
        except BaseExceptionGroup as eg:  # report the first failure, not a group of 5,000
            raise _first_leaf(eg) from None

    async def _retrying(self, call: Callable[[], Awaitable[None]], attempts: int = 5) -> None:
        """Registration survives transient failures (connection resets, 5xx, 429) with
        back-off, 0.2 s doubling; a 4xx answer (forbidden, invalid) fails at once."""
        delay = 0.2
        for attempt in range(attempts):
            try:
                await call()
                return
            except (ApiError, TransportError) as e:
                permanent = isinstance(e, ApiError) and e.code < 500 and e.code != 429
                if permanent or attempt == attempts - 1:
                    raise
                log.info("sim: registration: %s; retrying in %.1fs", e, delay)
                await self.clock.sleep(delay)
                delay *= 2

    async def _register_node(self, node: _Node, current: dict[str, Any] | None) -> None:
        obj = N.build_node(self.options, node.index, ip=node.ip, pod_cidr=node.cidr, now=self._now(),
                           boot_id=self.boot_id)
        if current is None:
            try:
                created = await self.client.create(NODES, obj, field_manager=self.field_manager)
            except ApiError as e:
                if not is_already_exists(e):
                    raise
                current = await self.client.get(NODES, node.name)
            else:
                node.uid = created["metadata"].get("uid")
                node.conditions = N.condition_summary((created.get("status") or {}).get("conditions"))
                return
        # Re-registration (a restarted sim): refresh labels and status, keep taints and podCIDR.
        meta = obj["metadata"]
        patch: dict[str, Any] = {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}}
        if not (current.get("spec") or {}).get("podCIDR"):
            patch["spec"] = {"podCIDR": node.cidr, "podCIDRs": [node.cidr]}
        await self.client.patch(NODES, node.name, patch, field_manager=self.field_manager)
        status = obj["status"]
        status["conditions"] = N.node_conditions(
            self._now(), N.condition_summary((current.get("status") or {}).get("conditions")))
        updated = await self.client.patch(NODES, node.name, {"status": status}, subresource="status",
                                          field_manager=self.field_manager)
        node.uid = updated["metadata"].get("uid")
        node.conditions = N.condition_summary((updated.get("status") or {}).get("conditions"))

    async def _ensure_lease(self, node: _Node) -> None:
        """Create the node's Lease, or take over an existing one (a restarted sim)."""
        lease = N.build_lease(node.name, node.uid, format_micro_time(self.clock.wall()), self.lease_duration)
        for attempt in range(2):
            try:
                created = await self.client.create(LEASES, lease, field_manager=self.field_manager)
                node.lease_rv = created["metadata"].get("resourceVersion")
                return
            except ApiError as e:
                if is_already_exists(e):
                    break
                if is_not_found(e) and attempt == 0:  # no kube-node-lease namespace on this cluster
                    await self._ensure_lease_namespace()
                    continue
                raise
        current = await self.client.get(LEASES, node.name, namespace=N.NODE_LEASE_NAMESPACE)
        lease["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        updated = await self.client.update(LEASES, lease, field_manager=self.field_manager)
        node.lease_rv = updated["metadata"].get("resourceVersion")

    async def _ensure_lease_namespace(self) -> None:
        if self._lease_ns_checked:
            return
        self._lease_ns_checked = True
        try:
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": N.NODE_LEASE_NAMESPACE}})
        except ApiError as e:
            if not is_already_exists(e):
                raise

    # -- heartbeats -------------------------------------------------------------------------------

    def _schedule_heartbeats(self) -> None:
        n = max(1, self.count)
        for node in self._nodes:
            frac = (node.index + 1) / n
            self._beat_queue.add_after(("lease", node.index), self.lease_interval * frac)
            self._beat_queue.add_after(("status", node.index), self.node_status_interval * frac)

    async def _heartbeat(self, key: tuple[str, int]) -> None:
        kind, index = key
        node = self._nodes[index]
        if node.gone:
            return
        if kind == "lease":
            await self._renew_lease(node)
            self._beat_queue.add_after(key, self.lease_interval)
        else:
            await self._update_node_status(node)
            self._beat_queue.add_after(key, self.node_status_interval)

    async def _renew_lease(self, node: _Node) -> None:
        """PUT the Lease with a new renewTime, conditional on the resourceVersion of our last
        write. The body is rebuilt rather than cached (the server keeps managedFields when a
        request omits them), so 5,000 nodes hold 5,000 strings, not 5,000 Lease objects."""
        if node.lease_rv is None:
            await self._ensure_lease(node)
            self.stats.lease_renewals += 1
            return
        lease = N.build_lease(node.name, node.uid, format_micro_time(self.clock.wall()), self.lease_duration)
        lease["metadata"]["resourceVersion"] = node.lease_rv
        try:
            renewed = await self.client.update(LEASES, lease, field_manager=self.field_manager)
        except ApiError as e:
            if is_not_found(e):
                node.lease_rv = None
                await self._ensure_lease(node)
                self.stats.lease_renewals += 1
                return
            if not is_conflict(e):
                raise
            # Someone else wrote our Lease: renew over the latest version (the kubelet does too).
            latest = await self.client.get(LEASES, node.name, namespace=N.NODE_LEASE_NAMESPACE)
            lease["metadata"]["resourceVersion"] = latest["metadata"].get("resourceVersion")
            renewed = await self.client.update(LEASES, lease, field_manager=self.field_manager)
        node.lease_rv = renewed["metadata"].get("resourceVersion")
        self.stats.lease_renewals += 1

    async def _update_node_status(self, node: _Node) -> None:
        conditions = N.node_conditions(self._now(), node.conditions)
        try:
            updated = await self.client.patch(NODES, node.name, {"status": {"conditions": conditions}},
                                              subresource="status", field_manager=self.field_manager)
        except ApiError as e:
            if is_not_found(e):
                self._mark_gone(node)
                return
            raise
        node.conditions = N.condition_summary((updated.get("status") or {}).get("conditions"))
        self.stats.node_status_updates += 1

    def _on_node(self, obj: dict[str, Any]) -> None:
        node = self._by_name.get((obj.get("metadata") or {}).get("name", ""))
        if node is None or node.gone:
            return
        node.conditions = N.condition_summary((obj.get("status") or {}).get("conditions"))
        if not N.conditions_healthy(node.conditions):
            self._beat_queue.add(("status", node.index))

    def _on_node_deleted(self, obj: dict[str, Any]) -> None:
        node = self._by_name.get((obj.get("metadata") or {}).get("name", ""))
        if node is not None and node.uid == (obj.get("metadata") or {}).get("uid"):
            self._mark_gone(node)

    def _mark_gone(self, node: _Node) -> None:
        # A kubelet whose Node was deleted only logs errors; its pods are the pod GC's business.
        if not node.gone:
            log.info("sim: node %s was deleted; it stops reporting", node.name)
        node.gone = True

    # -- pods -------------------------------------------------------------------------------------

    def _on_pod(self, pod: dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self._by_name:
            self._pod_queue.add(object_key(pod))

    def _adopt_running(self) -> None:
        """Before any worker admits a pod, account for the pods a previous run already started
        (their IPs and resources), so admission and IP allocation see the true picture."""
        for pod in self.pod_informer.list():
            node = self._by_name.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is not None and P.is_running_ours(pod):
                st = self._pods[object_key(pod)] = _Pod(pod["metadata"].get("uid", ""), node)
                self._adopt(object_key(pod), st, pod)

    def _adopt(self, key: str, st: _Pod, pod: dict[str, Any]) -> None:
        status = pod.get("status") or {}
        if not P.uses_host_network(pod):
            st.node.pool.reserve(key, status.get("podIP", ""))
        self._admit(st, pod_requests(pod))
        st.state = "running"
        started = self.clock.now()
        start_time = try_parse_time(status.get("startTime"))
        if start_time is not None:
            started -= max(0.0, (self.clock.wall() - start_time).total_seconds())
        st.started = started

    def _admit(self, st: _Pod, requests: dict[str, int]) -> None:
        node = st.node
        for k, v in requests.items():
            node.used[k] = node.used.get(k, 0) + v
        node.active += 1
        st.requests = requests
        st.admitted = True

    def _release(self, key: str, st: _Pod) -> None:
        node = st.node
        node.pool.release(key)
        if st.admitted:
            for k, v in st.requests.items():
                node.used[k] = node.used.get(k, 0) - v
            node.active -= 1
            st.admitted = False

    async def _write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        await self.client.patch(PODS, meta["name"], P.status_patch(pod, status), namespace=meta["namespace"],
                                subresource="status", field_manager=self.field_manager)

    async def _sync_pod(self, key: str) -> None:
        pod = self.pod_informer.get(key)
        st = self._pods.get(key)
        uid = (pod.get("metadata") or {}).get("uid") if pod is not None else None
        if st is not None and st.uid != uid:  # deleted, or replaced by a namesake
            self._release(key, st)
            del self._pods[key]
            st = None
        if pod is None:
            return
        node = self._by_name.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None or node.gone:
            return
        if st is None:
            st = self._pods[key] = _Pod(uid or "", node)
        meta = pod["metadata"]
        now = self.clock.now()
        if meta.get("deletionTimestamp"):
            await self._sync_deleting(key, st, pod, now)
            return
        if is_pod_terminal(pod):
            self._release(key, st)
            st.state = pod["status"]["phase"]
            return
        if st.state in TERMINAL_PHASES:
            return  # our terminal write has not reached the cache yet
        if st.state == "":
            if P.is_running_ours(pod):
                self._adopt(key, st, pod)
            elif not await self._start_pod(key, st, pod, node):
                return
        elif P.has_readiness_gates(pod) and P.is_running_ours(pod) and P.ready_mismatch(pod):
            # a readiness gate flipped: re-evaluate Ready
            await self._write_status(pod, P.running_status(pod, pod_ip=pod["status"].get("podIP", ""),
                                                           host_ip=node.ip, now=self._now()))
        if self.pod_run_time is not None and not P.restart_always(pod):
            due = st.started + self.pod_run_time
            if now < due:
                self._pod_queue.add_after(key, due - now)
                return
            await self._write_status(pod, P.succeeded_status(pod, now=self._now()))
            st.state = "Succeeded"
            self._release(key, st)
            self.stats.pods_completed += 1

    async def _start_pod(self, key: str, st: _Pod, pod: dict[str, Any], node: _Node) -> bool:
        """Admit and start the pod (True), or reject it with phase Failed (False)."""
        if not st.admitted:
            requests = pod_requests(pod)
            rejection = check_fit(requests, node.allocatable, node.used, node.active)
            if rejection is not None:
                await self._write_status(pod, P.rejected_status(pod, *rejection, host_ip=node.ip, now=self._now()))
                st.state = "Failed"
                self.stats.pods_rejected += 1
                return False
            self._admit(st, requests)
        pod_ip = node.ip if P.uses_host_network(pod) else node.pool.allocate(key)
        if pod_ip is None:  # admission caps pods below the block size; only a foreign podCIDR can be smaller
            raise StatusError(503, "ServiceUnavailable", f"node {node.name}: pod network {node.cidr} is full")
        try:
            await self._write_status(pod, P.running_status(pod, pod_ip=pod_ip, host_ip=node.ip, now=self._now()))
        except ApiError as e:
            if is_not_found(e):
                return False
            raise
        st.state = "running"
        st.started = self.clock.now()
        self.stats.pods_started += 1
        return True

    async def _sync_deleting(self, key: str, st: _Pod, pod: dict[str, Any], now: float) -> None:
        """A pod marked for deletion, as the kubelet ends it: its containers get SIGTERM and
        stop after ``pod_stop_time`` -- exit code 0, reason Completed -- or are killed when the
        grace period ends first -- 137, reason Error; then the status reports them terminated
        (Ready and ContainersReady False, a terminal phase), and only then is the object
        removed for real (grace 0, uid precondition). A later, shorter grace wins. Pods that
        never ran (or already finished) have nothing to stop and go at once.

        Example: grace 30 s, stop time 1 s: at +1 s the pod shows Ready=False, containers
        terminated with exit code 0, phase Succeeded, and is deleted right after."""
        meta = pod["metadata"]
        grace = max(0, int(meta.get("deletionGracePeriodSeconds") or 0))
        running = st.state == "running"
        stop = min(grace, self.pod_stop_time) if running else 0.0
        due = now + stop
        if st.delete_due is None or due < st.delete_due:
            st.delete_due = due
            st.exit_code = 0 if self.pod_stop_time <= grace else 137
        if now < st.delete_due:
            self._pod_queue.add_after(key, st.delete_due - now)
            return
        if running and not st.stopped:
            # The containers are stopped and the sandbox gone: free the pod's resources and IP
            # before anyone can see it terminal -- the scheduler may bind a pod into that room
            # the moment it does, and admission must not still count this one.
            self._release(key, st)
            try:
                await self._write_status(pod, P.terminated_status(pod, now=self._now(), exit_code=st.exit_code))
            except ApiError as e:
                if not (is_not_found(e) or e.code == 409):  # gone already, or a namesake now
                    raise
            st.stopped = True
            self.stats.pods_stopped += 1
        try:
            await self.client.delete(PODS, meta["name"], namespace=meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": st.uid})
        except ApiError as e:
            if not (is_not_found(e) or e.code == 409):
                raise
        else:
            self.stats.pods_deleted += 1
        self._release(key, st)
        self._pods.pop(key, None)

    # -- introspection ----------------------------------------------------------------------------

    def node_ip(self, name: str) -> str | None:
        node = self._by_name.get(name)
        return node.ip if node else None

    def pod_cidr(self, name: str) -> str | None:
        node = self._by_name.get(name)
        return node.cidr if node else None

